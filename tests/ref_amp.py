"""Plain-numpy reference AMP (one trial), written independently of csbench.kernels.amp.

Same iteration and stopping rules as documented in ``csbench.decoders.amp``;
vectorised numpy with BLAS matrix-vector products (so results agree with the
numba kernel to rounding, not bit for bit). Also the baseline for speed.
"""
import numpy as np
from scipy.special import expit

OK, MAX_ITER, DIVERGED = 0, 1, 2


def eta(r, theta, denoiser, v=None, eps=None):
    """Denoiser and its derivative: ``(eta(r), eta'(r))``."""
    if denoiser == "soft":
        e = np.sign(r) * np.maximum(np.abs(r) - theta, 0.0)
        return e, (np.abs(r) > theta).astype(float)
    if denoiser == "soft_nonneg":
        return np.maximum(r - theta, 0.0), (r > theta).astype(float)
    p = expit((r - 0.5) / v + np.log(eps / (1 - eps)))
    return p, p * (1 - p) / v


def ref_amp(A, y, denoiser="soft", tau=1.0, eps=None, damping=0.0, max_iter=1000, tol=1e-9):
    """Return ``(x, n_iter, status)``; see ``csbench.kernels.amp.amp_batch``."""
    m, n = A.shape
    x = np.zeros(n)
    z = y.copy()
    ynorm = np.linalg.norm(y)
    if ynorm == 0:
        return x, 0, OK
    with np.errstate(all="ignore"):
        for it in range(1, max_iter + 1):
            s2 = z @ z / m
            r = x + A.T @ z
            xn, d = eta(r, tau * np.sqrt(s2), denoiser, max(s2, 1e-300), eps)
            xn = (1 - damping) * xn + damping * x
            if not np.all(np.isfinite(xn)) or not np.isfinite(np.sum(d)):
                return x, it - 1, DIVERGED
            res = y - A @ xn
            zn = res + z * d.sum() / m
            zn = (1 - damping) * zn + damping * z
            if not np.all(np.isfinite(zn)):
                return x, it - 1, DIVERGED
            dx = np.linalg.norm(xn - x)
            x, z = xn, zn
            if np.linalg.norm(z) > 1e3 * ynorm:
                return x, it, DIVERGED
            if dx <= tol * np.linalg.norm(x) or np.linalg.norm(res) <= tol * ynorm:
                return x, it, OK
    return x, max_iter, MAX_ITER
