"""Memory bounded everywhere a configuration can ask for it (issue 18, item 11).

Every case is costed against THE memory budget before any work and refused in one line naming the
parameter and the amount; the refusing process stays small (peak RSS measured in a subprocess).
"""
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from csbench._validate import MemoryBudgetError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each case, unrefused, would allocate 0.3 to several GB (budget 100 MB in the subprocess).
CASES = {
    "unit_draw": ("make_problem(Cell('unit', n=100_000, k=2), 300, 1, 0)",
                  r"^n=100000: one problem of encoder 'unit' at m=300, n=100000 \(dense matrices\) needs 7\d\d MiB"),
    "unit_trials": ("make_problem(Cell('unit', n=2000, k=2), 100, 1000, 0)",
                    r"^trials=1000: 1000 problems of encoder 'unit' at m=100, n=2000 \(dense matrices\) needs 1\.\d+ GiB"),
    "sweep_block": ("run_sweep(Sweep(decoders=['matched_filter'], n=64, k=2, m=[16], trials=300_000, block=300_000), "
                    "progress=False)", r"key 'trials': trials=300000: .*\(matrix-free: .*\) needs 1\.\d+ GiB"),
    "sweep_dense": ("run_sweep(Sweep(decoders=['lasso'], encoder='antipodal', n=20_000, k=2, m=[400], trials=4), "
                    "progress=False)", r"key 'n': n=20000: one problem of encoder 'antipodal' .* needs 3\d\d MiB"),
    "minimal_m_noise": ("csbench.minimal_m('lasso', n=64, k=2, trials=2, m_max=20_000_000, noise=0.1)",
                        r"^m_max=20000000: one trial .* \(a noise vector of m_max draws\) needs 3\d\d MiB"),
    "minimal_m_master": ("csbench.minimal_m('lasso', encoder='unit', n=100_000, k=2, trials=2, m_max=300)",
                         r"^m_max=300: one trial .* \(its master matrix at m_max rows\) needs 1\.\d+ GiB"),
    "maximal_k": ("csbench.maximal_k('lasso', n=100_000, m=300, trials=2)",
                  r"^m=300: one trial of the maximal-k search .* needs 9\d\d MiB"),
    "readout_n_samples": ("csbench.decode('trained_readout', np.eye(50, 200), np.ones((1, 50)), k=4, "
                          "n_samples=10**7)", r"^n_samples=10000000: the training set of trained_readout .* needs 5\.\d+ GiB"),
    "train_instances": ("cli_main(['train', SPEC])", r"instances=100000000: training 100000000 toy-model"),
}

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import csbench
    from csbench import Cell, make_problem
    from csbench.cli import main as cli_main
    from csbench.config import Sweep
    from csbench.harness import run_sweep
    SPEC = sys.argv[1]


    def peak_rss():  # VmHWM: this process image's peak RSS (ru_maxrss would carry the forking parent's over exec)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


    out = {}
    for name, code in json.loads(sys.argv[2]).items():
        try:
            exec(code)
            out[name] = ["no error", ""]
        except BaseException as exc:  # noqa: BLE001
            out[name] = [type(exc).__name__, str(exc)]
        if name == "train_instances":
            out[name] = ["cli", sys.stderr.getvalue() if hasattr(sys.stderr, "getvalue") else ""]
        out[name].append(peak_rss())
    print(json.dumps(out))
''')


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak RSS read from /proc (Linux)")
def test_each_memory_case_is_refused_before_allocating(tmp_path):
    spec = tmp_path / "toy.toml"
    spec.write_text("[model]\nn = 20\nm = 5\n[train]\ninstances = 100000000\n")
    env = {**os.environ, "CSBENCH_MEMORY_BUDGET": "100MB", "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    code = {k: v[0] for k, v in CASES.items()}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(spec), json.dumps(code)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    import re

    for name, (_, pattern) in CASES.items():
        kind, msg, rss = got[name]
        if name == "train_instances":  # the command prints one line and exits 2
            msg = proc.stderr
            assert "csbench: error: " + "instances=100000000" in msg and msg.count("csbench: error") == 1
        else:
            assert kind in ("MemoryBudgetError", "ConfigError"), (name, kind, msg)
            assert "\n" not in msg
        assert re.search(pattern, msg), (name, msg)
        assert "over the memory budget of 95.4 MiB" in msg, (name, msg)
        assert rss < 300 * 2**20, (name, rss / 2**20)  # peak RSS of the refusing process, after this case


def test_cost_formulas_are_upper_bounds_of_measured_peaks():
    """problem_bytes and training_bytes against tracemalloc peaks of the real work (small sizes)."""
    from csbench.decoders import decode
    from csbench.decoders.readouts import training_bytes
    from csbench.problems import Cell, make_problem, problem_bytes

    for enc in ("gaussian", "dct", "unit", "antipodal", "sparse"):
        for T, m in ((1, 200), (6, 100)):
            make_problem(Cell(enc, n=1000, k=2), m, 1, 0)
            tracemalloc.start()
            make_problem(Cell(enc, n=1000, k=2), m, T, 0)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            counted = problem_bytes(enc, T, m, 1000)
            assert peak <= counted <= 1.3 * peak, (enc, T, peak, counted)  # the peak, not a fraction of it
    A = np.random.default_rng(0).standard_normal((20, 100)) / np.sqrt(20)
    for noise in (0.0, 0.1):
        decode("trained_readout", A, np.ones((1, 20)), k=3, n_samples=100, max_iter=2, noise=noise)
        tracemalloc.start()
        decode("trained_readout", A, np.ones((1, 20)), k=3, n_samples=5000, max_iter=2, noise=noise)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        counted = training_bytes(5000, 100, 20, 3, noise)
        assert peak <= counted <= 1.6 * peak, (noise, peak, counted)


def test_the_budget_is_one_number_everywhere(monkeypatch):
    import csbench.problems
    from csbench import _validate

    assert csbench.problems.memory_budget is _validate.memory_budget
    monkeypatch.setenv("CSBENCH_MEMORY_BUDGET", "1MB")
    with pytest.raises(MemoryBudgetError, match="over the memory budget of 977 KiB"):
        csbench.decode("trained_readout", np.eye(5, 10), np.ones((1, 5)), k=2, n_samples=10**4)
    with pytest.raises(MemoryBudgetError, match=r"^n=1000: .* over the memory budget of 977 KiB"):
        csbench.make_problem(csbench.Cell("unit", n=1000, k=2), 200, 1, 0)
