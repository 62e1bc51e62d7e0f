"""Matrix-free decoders against their dense selves: time and peak memory on the same problems.

Each (decoder, n, path) runs in a fresh subprocess, with one BLAS and one numba
thread: the problem (Gaussian A / sqrt(m) shared by T trials, k-sparse x) is
built, the path is warmed up (JIT, caches) on a small problem, then one
batched ``decode`` is timed and its extra peak memory is the growth of the
process's peak RSS (``ru_maxrss``) during that call. Paths:

* ``dense``   -- ``decode(name, A, Y)`` on the ndarray;
* ``op``      -- ``decode(name, DenseOperator(A), Y)`` (same A, BLAS products);
* ``gen``     -- ``csbench.operators.GeneratedOperator("gaussian", key, m, n)`` if it
  exists: the matrix is never stored, and the dense paths then use that same
  matrix (its columns), so all paths solve the same problems.

The same seed gives the same problem on every path; the script checks that
the estimates agree (max |x_op - x_dense|) and prints the time ratio op/dense.

    python benchmarks/bench_matrix_free.py                       # n = 2^12, 2^14, 2^15 at m = 500 (~5 min)
    python benchmarks/bench_matrix_free.py --n 4096 --trials 2   # quick
    python benchmarks/bench_matrix_free.py --json results/bench/matrix_free.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's csbench, in this process and (cwd) in the children

#: (decoder, params, signal) benchmarked.
DECODERS = [("matched_filter", {}, "binary"), ("amp", {}, "signed"), ("omp", {}, "signed"),
            ("lasso", {"tol": 1e-10}, "signed")]

CHILD = r"""
import json, resource, sys, time
import numpy as np
from csbench import decode
from csbench import operators

name, params, signal, n, m, k, T, path = json.loads(sys.argv[1])

GEN = getattr(operators, "GeneratedOperator", None)
KEY = (np.uint64(2026), np.uint64(9))

def problem(n, m, k, T):
    rng = np.random.default_rng(np.random.SeedSequence([2026, n, m, k]))
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = 1.0 if signal == "binary" else rng.choice([-1.0, 1.0], k)
    if path == "gen":
        return GEN("gaussian", KEY, m, n), X
    A = np.empty((m, n))
    if GEN is not None:  # the generated matrix itself, so that all paths solve the same problems
        g = GEN("gaussian", KEY, m, n)
        for s in range(0, n, 4096):
            A[:, s:s + 4096] = g.columns(np.arange(s, min(n, s + 4096)))
    else:
        rng.standard_normal(out=A)
        A /= np.sqrt(m)
    return (A if path == "dense" else operators.DenseOperator(A)), X

def run(n, m, k, T):
    Aop, X = problem(n, m, k, T)
    cols = (lambda S: Aop[:, S]) if isinstance(Aop, np.ndarray) else Aop.columns
    Y = np.stack([cols(np.flatnonzero(x)) @ x[np.flatnonzero(x)] for x in X])  # the same bits on every path
    return Aop, Y

Aop, Y = run(512, 100, 5, 1)
decode(name, Aop, Y, k=5, **params)  # warm-up: JIT and caches
del Aop
Aop, Y = run(n, m, k, T)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
res = decode(name, Aop, Y, k=k, **params)
dt = time.perf_counter() - t0
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
np.save(sys.argv[2], res.X_hat)
print(json.dumps({"seconds": dt, "extra_peak_mb": (rss1 - rss0) / 1024, "peak_mb": rss1 / 1024,
                  "n_iter": res.n_iter.tolist(), "status": res.status_names.tolist()}))
"""


def run_child(args, out):
    r = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args), out], capture_output=True, text=True,
                       timeout=3600, cwd=ROOT)
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    import tempfile

    import numpy as np

    from csbench import operators

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[4096, 16384, 32768])
    ap.add_argument("--m", type=int, default=500)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--decoders", nargs="+", default=[d[0] for d in DECODERS])
    ap.add_argument("--json", help="write the rows to this file")
    a = ap.parse_args(argv)
    paths = ["dense", "op"] + (["gen"] if hasattr(operators, "GeneratedOperator") else [])
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; m = {a.m}, k = {a.k}, T = {a.trials}; one BLAS / numba thread")
    print(f"{'decoder':15s} {'n':>6s} {'path':5s} {'s/trial':>9s} {'ratio':>6s} {'extra MB':>9s} "
          f"{'peak MB':>8s} {'max|dx|':>9s}  status")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, params, signal in DECODERS:
            if name not in a.decoders:
                continue
            for n in a.n:
                base = None
                for path in paths:
                    out = os.path.join(tmp, f"{name}-{n}-{path}.npy")
                    row = {"decoder": name, "params": params, "n": n, "m": a.m, "k": a.k, "trials": a.trials,
                           "path": path, **run_child([name, params, signal, n, a.m, a.k, a.trials, path], out)}
                    if "error" in row:
                        print(f"{name:15s} {n:6d} {path:5s} error: {row['error']}")
                        rows.append(row)
                        continue
                    X = np.load(out)
                    if path == "dense":
                        base, t_dense = X, row["seconds"]
                    row["ratio"] = row["seconds"] / t_dense if base is not None else None
                    row["max_abs_diff"] = float(np.abs(X - base).max()) if base is not None else None
                    rows.append(row)
                    st = sorted(set(row["status"]))
                    print(f"{name:15s} {n:6d} {path:5s} {row['seconds'] / a.trials:9.4f} {row['ratio']:6.2f} "
                          f"{row['extra_peak_mb']:9.1f} {row['peak_mb']:8.0f} {row['max_abs_diff']:9.2e}  {st}",
                          flush=True)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
