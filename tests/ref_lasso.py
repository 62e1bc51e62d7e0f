"""Plain-numpy reference lasso (one trial), written independently of csbench.kernels.lasso.

Cyclic coordinate descent over all n coordinates with the residual kept up to
date (Friedman, Hastie & Tibshirani 2010), no working sets, no Gram matrix;
stops on the same duality gap as ``csbench.decoders.lasso``:
``P(x) - D(s r) <= tol * ||y||^2 / 2`` with ``s = min(1, lam / ||A^T r||_inf)``
(``max_j a_j.r`` if positive). Slow; for tests only.
"""
import numpy as np


def duality_gap(A, y, x, lam, positive=False):
    """``P(x) - D(theta)`` at the rescaled residual ``theta = s r``."""
    r = y - A @ x
    g = A.T @ r
    gmax = max(g.max(), 0.0) if positive else np.abs(g).max()
    s = min(1.0, lam / gmax) if gmax > 0 else 1.0
    primal = 0.5 * r @ r + lam * np.abs(x).sum()
    dual = s * (y @ r) - 0.5 * s * s * (r @ r)
    return primal - dual


def ref_lasso(A, y, lam, positive=False, tol=1e-12, max_epochs=100_000):
    """Return ``(x, epochs)`` minimising ``1/2 ||y - A x||^2 + lam ||x||_1`` (x >= 0 if positive)."""
    m, n = A.shape
    x = np.zeros(n)
    r = y.astype(float).copy()
    sq = (A * A).sum(0)
    target = tol * 0.5 * (y @ y)
    for epoch in range(1, max_epochs + 1):
        for j in range(n):
            if sq[j] == 0:
                continue
            v = x[j] + A[:, j] @ r / sq[j]
            t = lam / sq[j]
            new = max(v - t, 0.0) if positive else np.sign(v) * max(abs(v) - t, 0.0)
            if new != x[j]:
                r -= (new - x[j]) * A[:, j]
                x[j] = new
        if duality_gap(A, y, x, lam, positive) <= target:
            return x, epoch
    return x, max_epochs
