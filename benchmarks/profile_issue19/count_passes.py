# ruff: noqa  (profiling scripts, kept as run)
"""Fresh A: passes of the lasso over A per problem (A^T y and one A^T r per outer step), from a copy of the kernel that counts them
(written to a temporary directory from csbench/kernels/lasso.py by _write_counting_copy).

Profiling scripts of issue 19's second round (docs/benchmarks.md); one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.
"""
import os
import sys, time, numpy as np
import tempfile
_TMP = tempfile.mkdtemp()
sys.path.insert(0, _TMP)
sys.path.insert(0, os.path.dirname(__file__))
import csbench
from csbench.kernels import lasso as K
def _write_counting_copy(path):
    """A copy of csbench/kernels/lasso.py whose lasso_batch counts its passes over A (``passes``) and the
    column gathers of its working sets, as a fraction of a pass (``gath``); numba cache off."""
    import csbench.kernels.lasso as src

    s = open(src.__file__).read()
    s = s.replace("from ._linalg import", "from csbench.kernels._linalg import")
    s = s.replace("lam_used,\n                t0, t1):", "lam_used,\n                passes, gath, t0, t1):")
    s = s.replace("            at_mul(A, y, c)\n", "            at_mul(A, y, c)\n            passes[t] += 1\n")
    s = s.replace("                at_mul(A, r, g)\n", "                at_mul(A, r, g)\n                passes[t] += 1\n")
    s = s.replace("            _ws_gram(A, G, ws, p, kept, kpos, Gold, Awold, Gw, Aw)\n",
                  "            _ws_gram(A, G, ws, p, kept, kpos, Gold, Awold, Gw, Aw)\n"
                  "            gath[t] += min(p - kept, n // 8) / (n / 8.0)\n")
    assert s.count("passes[t] += 1") == 2 and "gath[t]" in s and "passes, gath, t0" in s
    open(path, "w").write(s.replace("cache=True", "cache=False"))


_write_counting_copy(os.path.join(_TMP, "lasso_count.py"))
import lasso_count as L  # noqa: E402


def prob(n, m, k, T, seed=0):
    rng = np.random.default_rng(np.random.SeedSequence([seed, n, m, k]))
    A = rng.standard_normal((T, m, n)) / np.sqrt(m)
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    Y = np.einsum("tmn,tn->tm", A, X)
    return A, Y
if __name__ == "__main__":
  for (n, m, k) in [(1000, 200, 10), (1000, 300, 40), (10000, 400, 20)]:
    T = 20
    A, Y = prob(n, m, k, T)
    X = np.zeros((T, n)); n_iter = np.zeros(T, np.int64); st = np.zeros(T, np.int8); lu = np.zeros(T)
    passes = np.zeros(T); gath = np.zeros(T)
    L.lasso_batch(A, Y, np.arange(T), np.full(T, 0.01), True, False, 1e-8, np.full(T, K.SWITCH_EPOCHS, np.int64), K.WS_START,
                  int(K.SWITCH_NNZ * m), np.empty((0, 0)), np.empty((0, 0)), X, n_iter, st, lu, passes, gath, 0, T)
    r = csbench.decode("lasso", A, Y, lam_ratio=0.01)
    print((n, m, k), "passes over A (A^T y + one A^T r per outer step, the last being the final gap check): mean", passes.mean(),
          "min", passes.min(), "max", passes.max(), "| column-gather fraction of a pass", round(gath.mean(), 2), "| epochs", n_iter.mean(),
          "| same X as decode:", np.allclose(X, r.X_hat, atol=1e-12), "statuses", np.bincount(st.astype(int) + 1))
