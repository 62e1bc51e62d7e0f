"""First-call latency of the numba decoders with an empty numba cache (cold) and a filled one (warm).

Each measurement is a fresh subprocess with ``NUMBA_CACHE_DIR`` pointing at a new
temporary directory (cold) or at the directory the cold run filled (warm); the
subprocess imports csbench and calls each decoder once on a small problem (m, n, k, T) = (20, 40, 3, 2), first
with a shared A (m, n), then with a per-trial A (T, m, n), and prints the wall time
of every call::

    python benchmarks/bench_coldstart.py                  # lasso, omp, amp, cold then warm
    python benchmarks/bench_coldstart.py --decoders lasso --repeat 2
    python benchmarks/bench_coldstart.py --json results/bench/coldstart.json
    python benchmarks/bench_coldstart.py --problem 60,200,3,2      # a problem CD solves alone (no homotopy)
    python benchmarks/bench_coldstart.py --precompiled              # + `csbench compile`, then the first calls

"Total" is the sum of the first calls (the time a new user waits), without the
import; "cpu" is the process CPU time of the same calls (compilation is
single-threaded, so on a loaded machine it is the steadier number). One numba
thread and one BLAS thread, as in ``bench_decoders.py``. ``--src DIR`` measures
the csbench package found in DIR instead (e.g. an older checkout, for a
before/after pair run back to back).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import csbench
t_import = time.perf_counter() - t0
out = {"import": t_import}
rng = np.random.default_rng(0)
m, n, k, T = (int(v) for v in sys.argv[2].split(","))
A = rng.standard_normal((T, m, n)) / np.sqrt(m)
X = np.zeros((T, n)); X[:, :k] = 1.0
Y = np.einsum("tmn,tn->tm", A, X)
Ys = X @ A[0].T
cpu = {}
for name in sys.argv[1].split(","):
    for label, a, y in ((" shared", A[0], Ys), (" per-trial", A, Y)):
        t, c = time.perf_counter(), time.process_time()
        csbench.decode(name, a, y, k=k)
        out[name + label] = time.perf_counter() - t
        cpu[name + label] = time.process_time() - c
out["cpu"] = cpu
print(json.dumps(out))
"""


def _env(cache_dir):
    """The subprocesses' environment: numba cache ``cache_dir``, one numba and one BLAS thread."""
    return dict(os.environ, NUMBA_CACHE_DIR=cache_dir, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                OMP_NUM_THREADS="1")


def run(decoders, cache_dir, src, problem="20,40,3,2"):
    env = _env(cache_dir)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, ",".join(decoders), problem], env=env, capture_output=True,
                          text=True, check=True, cwd=src)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process"] = time.perf_counter() - t
    return res


def precompile(cache_dir, src):
    """Run ``csbench compile`` into ``cache_dir``; return its wall seconds and the CPU seconds of its processes."""
    env = _env(cache_dir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "csbench", "compile", "--quiet"], env=env, capture_output=True, text=True,
                   check=True, cwd=src)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": time.perf_counter() - t,
            "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--decoders", default="lasso,omp,amp", help="comma-separated decoder names")
    p.add_argument("--repeat", type=int, default=1, help="cold runs (each with a new empty cache)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--problem", default="20,40,3,2", metavar="M,N,K,T",
                   help="problem size (default 20,40,3,2: the lasso's CD hands this one over to the homotopy, "
                        "so both lasso kernels compile; 60,200,3,2 is solved by CD alone)")
    p.add_argument("--precompiled", action="store_true",
                   help="also run `csbench compile` into a new empty cache, then the first calls with it")
    p.add_argument("--src", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   help="directory holding the csbench package to measure (default: this checkout)")
    args = p.parse_args()
    decoders = args.decoders.split(",")
    rows = []
    for r in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            cold = run(decoders, d, args.src, args.problem)
            warm = run(decoders, d, args.src, args.problem)
        row = {"cold": cold, "warm": warm}
        if args.precompiled:
            with tempfile.TemporaryDirectory() as d:
                row["compile"] = precompile(d, args.src)
                row["precompiled"] = run(decoders, d, args.src, args.problem)
        rows.append(row)
        keys = list(cold["cpu"])
        pre = row.get("precompiled")
        print(f"run {r + 1} (m, n, k, T = {args.problem}; load average {os.getloadavg()[0]:.1f}): "
              f"import {cold['import']:.2f} s (cold), {warm['import']:.2f} s (warm)")
        print(f"{'first call':<22}{'cold s':>9}{'cold cpu s':>12}{'warm s':>9}"
              + (f"{'after compile s':>17}" if pre else ""))
        for key in keys:
            print(f"{key:<22}{cold[key]:>9.2f}{cold['cpu'][key]:>12.2f}{warm[key]:>9.3f}"
                  + (f"{pre[key]:>17.3f}" if pre else ""))
        print(f"{'total (calls)':<22}{sum(cold[k] for k in keys):>9.2f}{sum(cold['cpu'].values()):>12.2f}"
              f"{sum(warm[k] for k in keys):>9.3f}" + (f"{sum(pre[k] for k in keys):>17.3f}" if pre else ""))
        print(f"{'whole process':<22}{cold['process']:>9.2f}{warm['process']:>9.3f}"
              + (f"{pre['process']:>17.3f}" if pre else ""))
        if pre:
            c = row["compile"]
            print(f"csbench compile (empty cache): {c['wall']:.1f} s wall, {c['cpu']:.1f} CPU s in its workers")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"decoders": decoders, "src": args.src, "problem": args.problem, "runs": rows,
                       "load": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
    main()
