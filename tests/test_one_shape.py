"""The "one shape" contracts: search-run directories read like any run, decoder parameters in their own
namespace, storage paths outside identities, the backend seam, and decoders added by plugins."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import csbench
from csbench import Cell, decode, make_problem
from csbench.cli import main
from csbench.config import Sweep
from csbench.harness import expand, run_sweep
from csbench.store import load_search_trials, run_status

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_status_export_report_on_a_minimal_m_out_directory(tmp_path, capsys):
    run = tmp_path / "mm"
    r = csbench.minimal_m("lasso", n=64, k=2, trials=6, seed=1, n_jobs=1, out=run)
    st = run_status(run)
    assert st["kind"] == "search" and st["trials_done"] == st["trials_total"] == 6
    assert st["by_decoder"] == {"lasso": {"trials": 6, "not_ok": 0}}
    rows = load_search_trials(run)
    assert len(rows) == 6 and list(rows["trial"]) == list(range(6))
    assert (rows["decoder"] == "lasso").all() and (rows["k"] == 2).all()
    np.testing.assert_array_equal(rows["critical"].to_numpy(float), r.critical)
    assert main(["status", str(run)]) == 0
    assert "trials  6/6" in capsys.readouterr().out
    assert main(["export", str(run)]) == 0
    exported = pd.read_csv(run / "results.csv")
    assert len(exported) == 6 and "critical" in exported
    assert main(["report", str(run)]) == 0
    text = (run / "report.md").read_text()
    assert "minimal_m" in text and f"| lasso | gaussian | binary | 64 | 2 | 6 | {r.m_star:g} |" in text


def test_export_parquet_of_an_auto_sweep(tmp_path):
    pytest.importorskip("pyarrow")
    sweep = Sweep.from_dict({"name": "auto", "n": 48, "k": 2, "m": "auto", "trials": 4,
                             "decoders": ["matched_filter"]})
    run_sweep(sweep, tmp_path / "a", progress=False)
    path = csbench.store.export(tmp_path / "a", "parquet")
    assert len(pd.read_parquet(path)) == 1


def test_auto_sweep_passes_a_decoder_parameter_named_like_a_study_option(tmp_path):
    """``seed`` is both a minimal-m option and trained_readout's parameter: the decoder's goes to the decoder."""
    sweep = Sweep.from_dict({
        "name": "ns", "encoder": "gaussian", "signal": "binary", "n": 12, "k": 1, "m": "auto", "trials": 2,
        "auto": {"m_max": 12},
        "decoders": [{"name": "trained_readout", "params": {"seed": 3, "n_samples": 64, "max_iter": 5}}],
    })
    out = run_sweep(sweep, tmp_path / "r", progress=False)
    assert json.loads(out["decoder_params"][0])["seed"] == 3
    assert out["params"][0]["seed"] == 3
    direct = csbench.minimal_m("trained_readout", n=12, k=1, trials=2, m_max=12, n_jobs=1,
                               decoder_params={"seed": 3, "n_samples": 64, "max_iter": 5})
    assert out["m_star"][0] == direct.m_star
    with pytest.raises(TypeError, match="given twice"):
        csbench.minimal_m("lasso", n=12, k=1, decoder_params={"tol": 1e-8}, tol=1e-8)


def test_cache_dir_is_not_part_of_a_cells_identity(tmp_path):
    keys = {Cell("toy", "binary", 6, 1, encoder_params={"cache_dir": d}).key()
            for d in (None, str(tmp_path / "a"), str(tmp_path / "b"))}
    assert len(keys) == 1
    assert Cell("toy", "binary", 6, 1, encoder_params={"seed": 1}).key() not in keys


def _counting_backend(tmp_path, monkeypatch):
    """A second backend whose OMP kernels are the numba ones, counting batch calls."""
    (tmp_path / "counting_omp.py").write_text(textwrap.dedent("""
        from csbench.kernels import omp as _numba
        from csbench.kernels.omp import *  # noqa: F401,F403
        calls = []

        def omp_batch(*args):
            calls.append(args[-2:])
            return _numba.omp_batch(*args)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from csbench.decoders.backend import BACKENDS, register_backend

    register_backend("counting", {"omp": "counting_omp"})
    monkeypatch.setitem(BACKENDS, "counting", BACKENDS["counting"])
    import counting_omp

    return counting_omp


def test_backend_seam_selects_kernels_without_changing_results_or_task_keys(tmp_path, monkeypatch):
    from csbench.decoders.backend import use_backend

    mod = _counting_backend(tmp_path, monkeypatch)
    meas, _ = make_problem(Cell("gaussian", "binary", 64, 3), 24, 4, seed=2)
    ref = decode("omp", meas.A, meas.Y, k=3)
    sweep = Sweep.from_dict({"name": "b", "n": 64, "k": 3, "m": [24], "trials": 4, "decoders": ["omp"]})
    keys = [t.key() for t in expand(sweep)]
    with use_backend("counting"):
        got = decode("omp", meas.A, meas.Y, k=3)
        assert [t.key() for t in expand(sweep)] == keys
    assert mod.calls, "the counting backend's kernel was not called"
    n_calls = len(mod.calls)
    decode("omp", meas.A, meas.Y, k=3)  # back on numba
    assert len(mod.calls) == n_calls
    for a, b in zip((ref.X_hat, ref.n_iter, ref.status), (got.X_hat, got.n_iter, got.status)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="backend='nope'; allowed"):
        with use_backend("nope"):
            pass


def test_a_plugin_decoder_runs_through_decode_a_sweep_and_minimal_m(tmp_path):
    """A package registers a decoder through the entry-point group ``csbench.decoders``: csbench's files untouched."""
    site = tmp_path / "site"
    (site / "my_plugin").mkdir(parents=True)
    (site / "my_plugin" / "__init__.py").write_text(textwrap.dedent('''
        import numpy as np
        import csbench
        from csbench.decoders.base import one_shot

        @csbench.DECODERS.register("plugin_threshold", "A^T y >= 1/2, from a plugin")
        def plugin_threshold(A, Y, k, *, threshold=0.5):
            Xp = Y @ A if A.ndim == 2 else np.einsum("tm,tmn->tn", Y, A)
            return one_shot((Xp >= threshold).astype(float))
    '''))
    dist = site / "my_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[csbench.decoders]\nplugin_threshold = my_plugin\n")
    script = textwrap.dedent(f'''
        import numpy as np, csbench
        from csbench.config import Sweep
        meas, _ = csbench.make_problem(csbench.Cell(n=64, k=2), 40, 3, seed=1)
        a = csbench.decode("plugin_threshold", meas.A, meas.Y).X_hat
        b = csbench.decode("matched_filter", meas.A, meas.Y).X_hat
        assert np.array_equal(a, b)
        sweep = Sweep.from_dict({{"name": "p", "n": 64, "k": 2, "m": [20, 40], "trials": 3,
                                  "decoders": ["plugin_threshold", "matched_filter"]}})
        df = csbench.run_sweep(sweep, {str(tmp_path / "run")!r}, progress=False)
        e = df.pivot_table(index=["m", "trial"], columns="decoder", values="exact")
        assert (e["plugin_threshold"] == e["matched_filter"]).all()
        r = csbench.minimal_m("plugin_threshold", n=64, k=2, trials=4, n_jobs=1, m_max=200)
        print(r.m_star)
    ''')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), ROOT])}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) > 0
    listed = subprocess.run([sys.executable, "-m", "csbench", "list"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert "plugin_threshold" in listed.stdout


def test_a_run_directory_holds_one_kind_of_run(tmp_path):
    from csbench.config import ConfigError

    csbench.minimal_m("matched_filter", n=48, k=2, trials=3, n_jobs=1, out=tmp_path / "s")
    sweep = Sweep.from_dict({"name": "g", "n": 48, "k": 2, "m": [20], "trials": 3, "decoders": ["lasso"]})
    with pytest.raises(ConfigError, match="holds a minimal-m / maximal-k search run, not a sweep"):
        run_sweep(sweep, tmp_path / "s", progress=False)
    run_sweep(sweep, tmp_path / "g", progress=False)
    with pytest.raises(ConfigError, match="holds a sweep run, not a search"):
        csbench.minimal_m("matched_filter", n=48, k=2, trials=3, n_jobs=1, out=tmp_path / "g")
    with pytest.raises(ConfigError, match="holds different searches"):
        csbench.minimal_m("matched_filter", n=48, k=3, trials=4, n_jobs=1, out=tmp_path / "s")
    # the same study at another k (a multi-k command) adds its search to the directory
    csbench.minimal_m("matched_filter", n=48, k=3, trials=3, n_jobs=1, out=tmp_path / "s")
    assert len(csbench.driver.load_search_results(tmp_path / "s")) == 2
