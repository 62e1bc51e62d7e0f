# ruff: noqa  (profiling scripts, kept as run)
"""OMP's per-step parts at n = 4096, k = 32: selection, correlation update, G row copy, per dtype of G and of the stored rows.

Profiling scripts of issue 19's second round (docs/benchmarks.md); one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.
"""
import time, numpy as np
from numba import njit
import csbench.kernels.omp as K
from csbench.kernels._linalg import copy_n

@njit
def run_select(c, inv, chosen, steps):
    s = 0
    for _ in range(steps):
        j, v = K._select(c, inv, chosen, False); s += j
    return s
@njit
def run_corr(c, b, Gc, xs, k, reps):
    for _ in range(reps):
        for ns in range(1, k + 1):
            K._corr_update(c, b, Gc, xs, ns)
@njit
def run_copy(Gc, G, rows):
    n = G.shape[1]
    for q in range(rows.shape[0]):
        copy_n(Gc[q % Gc.shape[0]], G[rows[q]], n)

n, k = 4096, 32
rng = np.random.default_rng(0)
for dt in (np.float64, np.float32):
    G = rng.standard_normal((n, n)).astype(dt)
    c = rng.standard_normal(n); inv = np.ones(n); chosen = np.zeros(n, np.bool_)
    run_select(c, inv, chosen, 1)
    t = time.process_time(); run_select(c, inv, chosen, 2000); ts = (time.process_time() - t) / 2000
    for gcdt in (np.float64, np.float32):
        Gc = rng.standard_normal((k, n)).astype(gcdt); b = rng.standard_normal(n).astype(gcdt); cc = np.zeros(n, gcdt); xs = rng.standard_normal(k).astype(gcdt)
        run_corr(cc, b, Gc, xs, k, 1)
        t = time.process_time(); run_corr(cc, b, Gc, xs, k, 50); tc = (time.process_time() - t) / 50 / k
        rows = rng.integers(0, n, 4000)
        run_copy(Gc, G, rows[:10])
        t = time.process_time(); run_copy(Gc, G, rows); tcp = (time.process_time() - t) / 4000
        print(f"G {dt.__name__} Gc {gcdt.__name__}: per step: select {1e6*ts:.2f} us, corr_update(avg ns={k/2+.5}) {1e6*tc:.2f} us, copy G row {1e6*tcp:.2f} us")
