"""Plain-numpy reference VAMP (Rangan, Schniter & Fletcher 2019, Algorithm 1), for tests only.

The LMMSE step is the direct form ``x2 = (gw A^T A + gamma2 I)^{-1} (gw A^T y + gamma2 r2)``,
``alpha2 = gamma2 tr[(gw A^T A + gamma2 I)^{-1}] / n`` (a dense solve and inverse, no SVD), so it
checks the kernel's SVD form independently. Denoisers written from their posterior formulas.
Clipping, damping, EM and stopping rules as documented in ``csbench.decoders.vamp``.
"""
import numpy as np
from scipy.special import expit

OK, MAX_ITER, DIVERGED, NONFINITE = 0, 1, 2, 3
ALPHA_MIN = 1e-11


def denoise(r, gamma, kind, tau=0.0, eps=0.1, var_x=1.0):
    """``(x, alpha, pi_sum, second_sum)`` of the denoiser at noise variance 1/gamma."""
    v = 1.0 / gamma
    if kind in ("soft", "soft_nonneg"):
        th = tau * np.sqrt(v)
        x = np.maximum(r - th, 0.0) if kind == "soft_nonneg" else np.sign(r) * np.maximum(np.abs(r) - th, 0.0)
        return x, np.mean(x != 0), 0.0, 0.0
    if kind == "binary":
        # P(x=1|r) / P(x=0|r) = eps/(1-eps) exp(-((r-1)^2 - r^2)/(2v))
        x = expit(np.log(eps / (1 - eps)) + (2 * r - 1) / (2 * v))
        return x, np.mean(x * (1 - x)) / v, 0.0, 0.0
    # Bernoulli-Gaussian: N(r; 0, var_x + v) vs N(r; 0, v)
    lon = np.log(eps) - 0.5 * np.log(var_x + v) - r**2 / (2 * (var_x + v))
    loff = np.log(1 - eps) - 0.5 * np.log(v) - r**2 / (2 * v)
    pi = expit(lon - loff)
    mon = r * var_x / (var_x + v)
    von = var_x * v / (var_x + v)
    x = pi * mon
    sec = pi * (mon**2 + von)
    return x, np.mean(sec - x**2) / v, pi.sum(), sec.sum()


def vamp(A, y, kind, gamma_w, gamma0, tau=0.0, eps=0.1, var_x=1.0, em=False, damping=0.0, max_iter=500,
         tol=1e-8, blowup=1e3):
    """Return ``(x1, status, n_iter)``."""
    _m, n = A.shape
    AtA, Aty = A.T @ A, A.T @ y
    U = np.linalg.svd(A, full_matrices=False)[0]
    ynorm = np.linalg.norm(y)
    x = np.zeros(n)
    if ynorm == 0:
        return x, OK, 0
    r2, g2 = np.zeros(n), gamma0
    for it in range(1, max_iter + 1):
        Q = gamma_w * AtA + g2 * np.eye(n)
        x2 = np.linalg.solve(Q, gamma_w * Aty + g2 * r2)
        a2 = g2 * np.trace(np.linalg.inv(Q)) / n
        a2 = min(max(a2, ALPHA_MIN), 1 - ALPHA_MIN)
        g1 = g2 * (1 - a2) / a2
        if not (np.isfinite(g1) and g1 > 0):
            return x, DIVERGED, it - 1
        r1 = (x2 - a2 * r2) / (1 - a2)
        x1, a1, ps, ss = denoise(r1, g1, kind, tau, eps, var_x)
        if em and kind == "bg" and ps > 0:
            eps = min(max(ps / n, 1e-6), 1 - 1e-6)
            var_x = max(ss / ps, 1e-12)
        a1 = min(max(a1, ALPHA_MIN), 1 - ALPHA_MIN)
        if not np.all(np.isfinite(x1)):
            return x, NONFINITE, it - 1
        dx = np.linalg.norm(x1 - x)
        x = x1
        if it > 1 and dx <= tol * np.linalg.norm(x1):
            return x, OK, it
        # ||U^T (y - A x1)||: the part of y - A x1 in the column space of A
        if not np.linalg.norm(U.T @ (y - A @ x1)) <= blowup * ynorm:
            return x, DIVERGED, it
        g2_new = g1 * (1 - a1) / a1
        if not (np.isfinite(g2_new) and g2_new > 0):
            return x, DIVERGED, it
        r2_new = (x1 - a1 * r1) / (1 - a1)
        if damping > 0 and it > 1:  # damp the message (r2, gamma2); gamma2 through its standard deviation
            r2 = (1 - damping) * r2_new + damping * r2
            g2 = ((1 - damping) * g2_new**-0.5 + damping * g2**-0.5) ** -2
        else:
            r2, g2 = r2_new, g2_new
    return x, MAX_ITER, max_iter
