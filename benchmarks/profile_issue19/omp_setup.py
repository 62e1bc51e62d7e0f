# ruff: noqa  (profiling scripts, kept as run)
"""OMP Gram mode, kernel only (G and A^T Y given): this tree's kernel against a saved copy of an earlier one,
interleaved, float64 and float32, at s_max = 1 (the per-signal set-up and one selection) and k = 8, 32.

    PYTHONPATH=$PWD python benchmarks/profile_issue19/omp_setup.py T DIR_WITH_omp_before.py

Third round of issue 19 (docs/benchmarks.md); one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.
The old kernel's copy: ``sed 's/^from ._linalg import/from csbench.kernels._linalg import/' csbench/kernels/omp.py``
(at the earlier commit) saved as ``DIR/omp_before.py``.
"""
import os, sys, time
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
T = int(sys.argv[1]); sys.path.insert(0, sys.argv[2])
from bench_shared_dictionary import problem
from csbench.decoders.omp import shared_products
from csbench.kernels import omp as new
import omp_before as old


def run(mod, A, Y, G, B, nsq, s, single, X):
    n_iter = np.zeros(T, np.int64); st = np.zeros(T, np.int8); sel = np.empty((T, s), np.int64)
    fl, dep = (mod.CORR_FLOOR32, mod.DEP_TOL32) if single else (mod.CORR_FLOOR, mod.DEP_TOL)
    mod.omp_batch(A[None], Y, G, B, nsq, np.int64(s), -1.0, fl, dep, X, n_iter, st, sel, np.int64(0), np.int64(T))
    return X, n_iter, st, sel


for (n, m) in [(1536, 384), (4096, 384)]:
    for k in (1, 8, 32):
        out = {}
        for dt in (np.float64, np.float32):
            A, Y, _ = problem(n, m, max(k, 8), T, dt)
            G, B = shared_products(A, Y); nsq = np.ascontiguousarray(np.diagonal(G))
            res, ts = {}, {}
            for rnd in range(3):
                for name, mod in (("before", old), ("after", new)):
                    X = np.empty((T, n), dt if name == "after" else np.float64)
                    if rnd == 0:
                        run(mod, A, Y[:4], G, B[:4], nsq, k, dt == np.float32, X[:4])
                    c = time.process_time(); r = run(mod, A, Y, G, B, nsq, k, dt == np.float32, X); ts.setdefault(name, []).append(time.process_time() - c)
                    res[name] = r
            same = all(np.array_equal(a, b) for a, b in zip(res["before"][1:], res["after"][1:])) and np.array_equal(res["before"][0].astype(dt), res["after"][0])  # X: the old kernel's float64 X rounded as decode() did
            tb, ta = min(ts["before"]), min(ts["after"])
            out[dt] = (tb, ta)
            print(f"({n},{m}) s_max={k:2d} {np.dtype(dt).name}: before {1e6*tb/T:7.2f} us/signal, after {1e6*ta/T:7.2f}, before/after {tb/ta:.2f}, identical {same}", flush=True)
        print(f"   f64/f32 before {out[np.float64][0]/out[np.float32][0]:.2f}  after {out[np.float64][1]/out[np.float32][1]:.2f}", flush=True)
print("load", os.getloadavg())
