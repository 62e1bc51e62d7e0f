"""Start-up costs a new user feels: numba cold start per decoder, ``csbench demo``, CLI start-up.

Each measurement runs in a fresh subprocess from the repository root (so it imports
this checkout's csbench):

* cold start of lasso, OMP and AMP: ``import csbench`` + the first ``decode`` call on
  a small problem, with an empty ``NUMBA_CACHE_DIR`` (compilation), then again in a
  new process with the cache just written (cache load);
* ``csbench demo`` end to end (wall time, empty numba cache);
* ``csbench --help`` and ``csbench list`` (best and median of ``--repeat`` runs).

The 1-minute load average is printed before and after: on a shared machine the
times are inflated by the load, so record it with the numbers (docs/benchmarks.md).

    python benchmarks/bench_startup.py                   # everything (~2-3 min on 2 idle cores)
    python benchmarks/bench_startup.py --skip-demo --json results/bench/startup.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
import csbench
t1 = time.perf_counter()
rng = np.random.default_rng(0)
A = rng.standard_normal((40, 100)) / np.sqrt(40)
x = np.zeros(100); x[:4] = 1.0
csbench.decode({name!r}, A, A @ x, k=4)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def _env(cache_dir):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1", NUMBA_CACHE_DIR=cache_dir)
    env.pop("CSBENCH_DEBUG", None)
    return env


def _cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run(cmd, env, cpu=False):
    """Run ``cmd`` from the repository root; return (wall s, stdout), or (wall s, cpu s, stdout)."""
    t0, c0 = time.perf_counter(), _cpu()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall, used = time.perf_counter() - t0, _cpu() - c0
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return (wall, used, r.stdout) if cpu else (wall, r.stdout)


def decoder_cold_start(name):
    """(import s, first call s with an empty cache, first call s from the cache, process wall s cold)."""
    with tempfile.TemporaryDirectory() as cache:
        wall, out = _run([sys.executable, "-c", FIRST_CALL.format(name=name)], _env(cache))
        imp, cold = map(float, out.split())
        _, out = _run([sys.executable, "-c", FIRST_CALL.format(name=name)], _env(cache))
        cached = float(out.split()[1])
    return imp, cold, cached, wall


def demo_time():
    """(wall s, CPU s) of ``csbench demo`` with an empty numba cache; CPU time is less sensitive to load."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        wall, cpu, _ = _run([sys.executable, "-m", "csbench", "demo", "--quiet", "--out", out], _env(cache), cpu=True)
    return wall, cpu


def cli_time(args, repeat):
    env = _env(os.environ.get("NUMBA_CACHE_DIR", tempfile.gettempdir()))
    times = [_run([sys.executable, "-m", "csbench", *args], env)[0] for _ in range(repeat)]
    return min(times), statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--decoders", nargs="+", default=["lasso", "omp", "amp"])
    p.add_argument("--skip-demo", action="store_true")
    p.add_argument("--repeat", type=int, default=5, help="runs of each CLI command (default 5)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    load0 = os.getloadavg()[0]
    res = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_before": load0}
    print(f"{os.cpu_count()} CPUs, 1-min load average {load0:.2f} before")
    print(f"{'what':<34}{'time (s)':>10}  notes")
    for what in (["--help"], ["list"]):
        best, med = cli_time(what, args.repeat)
        res[f"cli {' '.join(what)}"] = {"best": best, "median": med}
        print(f"{'csbench ' + ' '.join(what):<34}{best:>10.3f}  best of {args.repeat} (median {med:.3f})")
    total_cold = 0.0
    for name in args.decoders:
        imp, cold, cached, wall = decoder_cold_start(name)
        total_cold += cold
        res[f"decoder {name}"] = {"import": imp, "first_call_cold": cold, "first_call_cached": cached,
                                  "process_wall_cold": wall}
        print(f"{name + ' first call, empty cache':<34}{cold:>10.2f}  import {imp:.2f} s, "
              f"from cache {cached:.2f} s, process {wall:.2f} s")
    res["decoders_first_call_cold_total"] = total_cold
    print(f"{' + '.join(args.decoders) + ' (cold, total)':<34}{total_cold:>10.2f}  target < 15 s (issue 10, item 13)")
    if not args.skip_demo:
        wall, cpu = demo_time()
        res["demo"] = {"wall": wall, "cpu": cpu}
        print(f"{'csbench demo (empty cache)':<34}{wall:>10.2f}  CPU {cpu:.2f} s; target < 30 s (issue 10, item 14)")
    res["load_after"] = os.getloadavg()[0]
    print(f"1-min load average {res['load_after']:.2f} after")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
