# ruff: noqa  (profiling scripts, kept as run)
"""OMP selection: the running-maximum loop (_select) against the masked, vectorised one (_select_masked).

Profiling scripts of issue 19's second round (docs/benchmarks.md); one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.
"""
import time, numpy as np
from numba import njit
import csbench.kernels.omp as K
@njit
def r1(c, inv, chosen, steps):
    s = 0
    for _ in range(steps):
        j, v = K._select(c, inv, chosen, False); s += j
    return s
@njit
def r2(c, inv, sc, steps):
    s = 0
    for _ in range(steps):
        j, v = K._select_masked(c, inv, sc, False); s += j
    return s
n = 4096
rng = np.random.default_rng(0)
for dt in (np.float64, np.float32):
    c = rng.standard_normal(n).astype(dt); inv = np.ones(n); ch = np.zeros(n, np.bool_); sc = np.empty(n)
    assert K._select(c, inv, ch, False) == K._select_masked(c, inv, sc, False)
    r1(c, inv, ch, 1); r2(c, inv, sc, 1)
    for rep in range(2):
        t = time.process_time(); r1(c, inv, ch, 5000); t1 = (time.process_time() - t) / 5000
        t = time.process_time(); r2(c, inv, sc, 5000); t2 = (time.process_time() - t) / 5000
        print(dt.__name__, f"select {1e6*t1:.2f} us, masked {1e6*t2:.2f} us")
