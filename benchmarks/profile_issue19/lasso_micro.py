# ruff: noqa  (profiling scripts, kept as run)
"""The lasso's Gram-mode parts at n = 4096: the full gradient over 32 rows of G (row by row and four rows per pass) and the 48 x 48 working-set gather.

Profiling scripts of issue 19's second round (docs/benchmarks.md); one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.
"""
import time, numpy as np
from numba import njit
import csbench.kernels.lasso as K
@njit
def grad(G, c, x, supp, nnz, g, reps):
    n = c.shape[0]
    for _ in range(reps):
        for b in range(n): g[b] = c[b]
        for q in range(nnz):
            xj = x[supp[q]]; Gj = G[supp[q]]
            for b in range(n): g[b] -= xj * Gj[b]
@njit
def gather(G, wss, p, Gw, reps):
    for r in range(reps):
        ws = wss[r % wss.shape[0]]
        for a in range(p):
            ja = ws[a]
            for b in range(p):
                Gw[a, b] = G[ja, ws[b]]
n, p, nnz = 4096, 48, 32
rng = np.random.default_rng(0)
for dt in (np.float64, np.float32):
    G = rng.standard_normal((n, n)).astype(dt)
    c = rng.standard_normal(n); x = rng.standard_normal(n); g = np.empty(n)
    supps = rng.integers(0, n, (200, nnz))
    wss = np.sort(rng.integers(0, n, (200, p)), axis=1)
    Gw = np.empty((p, p))
    grad(G, c, x, supps[0], nnz, g, 1); gather(G, wss, p, Gw, 1)
    t = time.process_time()
    for s in supps: grad(G, c, x, s, nnz, g, 1)
    tg = (time.process_time() - t) / 200
    t = time.process_time(); gather(G, wss, p, Gw, 200); tw = (time.process_time() - t) / 200
    print(dt.__name__, f"gradient c - G x over 32 random rows: {1e6*tg:.1f} us; gather 48x48 from G: {1e6*tw:.1f} us")

@njit
def grad4(G, c, x, supp, nnz, g, reps):  # the kernel's four-rows-per-pass gradient
    for _ in range(reps):
        K._gram_gradient(g, c, G, x, supp, nnz)
for dt in (np.float64, np.float32):
    G = rng.standard_normal((n, n)).astype(dt)
    c = rng.standard_normal(n); x = rng.standard_normal(n); g = np.empty(n)
    supps = rng.integers(0, n, (200, nnz))
    for f in (grad, grad4):
        f(G, c, x, supps[0], nnz, g, 1)
        t = time.process_time()
        for s in supps: f(G, c, x, s, nnz, g, 1)
        print(dt.__name__, f.__name__ if hasattr(f, "__name__") else f, f"{1e6*(time.process_time() - t)/200:.1f} us")
