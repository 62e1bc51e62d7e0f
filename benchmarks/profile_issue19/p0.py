# ruff: noqa  (profiling scripts, kept as run)
"""Fresh A: the lasso's time, passes and epochs against the smallest working-set size p0 (WS_START = 16).

Profiling scripts of issue 19's second round (docs/benchmarks.md); one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.
"""
import os
import sys, time, numpy as np
sys.path.insert(0, "/tmp/spd"); sys.path.insert(0, os.path.dirname(__file__))
from csbench.kernels import lasso as K
from count_passes import L, prob
def run(mod, A, Y, p0, extra=()):
    T, m, n = A.shape
    X = np.zeros((T, n)); n_iter = np.zeros(T, np.int64); st = np.zeros(T, np.int8); lu = np.zeros(T)
    mod.lasso_batch(A, Y, np.arange(T), np.full(T, 0.01), True, False, 1e-8, np.full(T, K.SWITCH_EPOCHS, np.int64), p0,
                    int(K.SWITCH_NNZ * m), np.empty((0, 0)), np.empty((0, 0)), X, n_iter, st, lu, *extra, 0, T)
    return X, n_iter, st
for (n, m, k) in [(1000, 200, 10), (1000, 300, 40), (10000, 400, 20)]:
    T = 40 if n < 5000 else 10
    A, Y = prob(n, m, k, T, seed=1)
    base = None
    for p0 in (16, 32, 64, 96):
        passes = np.zeros(T); gath = np.zeros(T)
        Xc, _, _ = run(L, A, Y, p0, (passes, gath))
        run(K, A, Y, p0)
        ts = []
        for _ in range(3):
            c = time.process_time(); X, it, st = run(K, A, Y, p0); ts.append(time.process_time() - c)
        if base is None: base = X
        print((n, m, k), "p0", p0, f"ms/problem {1e3*min(ts)/T:.3f}", "passes", passes.mean(), "gather", round(gath.mean(), 2), "epochs", it.mean(), "max|dx| vs p0=16", f"{np.abs(X-base).max():.1e}", flush=True)
