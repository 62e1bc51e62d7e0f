"""The l1 weak phase transition and the Bayes-optimal AMP threshold for binary signals.

Conventions: ``delta = m / n`` (undersampling), ``rho = k / m`` (sparsity per
measurement), ``eps = k / n = rho * delta`` (density). ``Phi``/``phi`` are the
standard normal cdf/pdf.

References
----------
.. [DMM09] D. L. Donoho, A. Maleki, A. Montanari, "Message-passing algorithms
   for compressed sensing", PNAS 106 (45), 18914-18919, 2009 (eq. 5 and Fig. 1).
.. [DT09] D. L. Donoho, J. Tanner, "Counting faces of randomly projected
   polytopes when the projection radically lowers dimension", JAMS 22, 2009.
.. [ALMT14] D. Amelunxen, M. Lotz, M. McCoy, J. Tropp, "Living on the edge:
   phase transitions in convex programs with random data", Inf. Inference 3, 2014.
.. [KMS12] F. Krzakala, M. Mezard, F. Sausset, Y. Sun, L. Zdeborova,
   "Probabilistic reconstruction in compressed sensing", J. Stat. Mech. P08009, 2012.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq, minimize_scalar
from scipy.special import expit, ndtr

from .._validate import check_float, check_int

_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _phi(z):
    return np.exp(-0.5 * z * z) / _SQRT_2PI


def soft_threshold_risk0(z):
    """``M(z) = (1 + z^2) Phi(-z) - z phi(z)``: ``E[eta(Z; z)^2]`` for one tail, Z ~ N(0, 1).

    ``eta(u; z) = sign(u) max(|u| - z, 0)`` is soft thresholding; the signed
    risk at zero is ``2 M(z)``, the one-sided (``x >= 0``) risk ``M(z)``.
    """
    z = np.asarray(z, dtype=float)
    return (1.0 + z * z) * ndtr(-z) - z * _phi(z)


def _kappa(nonneg):
    return 1.0 if nonneg else 2.0


def _rho_of_z(z, delta, kappa):
    M = kappa * soft_threshold_risk0(z)
    return (1.0 - M / delta) / (1.0 + z * z - M)


def _argmax_rho(delta, kappa):
    """Return ``(z*, rho*)``: maximise :func:`_rho_of_z` over z > 0 (grid, then Brent)."""
    if delta >= 1.0:
        return 0.0, 1.0
    grid = np.linspace(1e-6, 40.0, 4001)
    vals = _rho_of_z(grid, delta, kappa)
    i = int(np.argmax(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(lambda z: -_rho_of_z(z, delta, kappa), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-12})
    return float(res.x), float(-res.fun)


def _vectorise(delta, nonneg, which):
    d = np.asarray(delta, dtype=float)
    if d.size and (not np.all(np.isfinite(d)) or np.any(d <= 0.0) or np.any(d > 1.0)):
        bad = d.ravel()[~(np.isfinite(d.ravel()) & (d.ravel() > 0.0) & (d.ravel() <= 1.0))][0]
        raise ValueError(f"delta={float(bad)!r} is out of range; allowed: 0 < delta <= 1. delta is the "
                         f"undersampling ratio m/n (did you pass n/m?).")
    kappa = _kappa(bool(nonneg))
    out = np.array([_argmax_rho(float(v), kappa)[which] for v in d.ravel()])
    out = out.reshape(d.shape)
    return float(out) if out.ndim == 0 else out


def minimax_threshold(delta, nonneg=False):
    """Minimax soft-threshold parameter ``tau(delta)`` of AMP, in units of the noise level.

    ``tau(delta)`` is the maximiser z of the formula in :func:`rho_weak` [DMM09];
    AMP thresholds at ``tau * sigma_t`` where ``sigma_t`` is the effective noise
    level. ``tau = 0`` at ``delta = 1``. Vectorised over ``0 < delta <= 1``; other
    values raise (``delta = m/n``: passing n/m is the usual slip).
    Examples: ``tau(0.5) = 0.877`` (signed), ``0.506`` (``nonneg=True``).
    """
    return _vectorise(delta, nonneg, 0)


def rho_weak(delta, nonneg=False):
    """Weak l1 phase transition ``rho_W(delta)`` (Donoho-Tanner) via the DMM minimax formula.

    .. math::

        \\rho_W(\\delta) = \\max_{z \\ge 0}
        \\frac{1 - (\\kappa/\\delta)\\,M(z)}{1 + z^2 - \\kappa\\,M(z)},\\qquad
        M(z) = (1+z^2)\\Phi(-z) - z\\phi(z),

    with ``kappa = 2`` for signed signals (cross-polytope) and ``kappa = 1`` for
    nonnegative signals (simplex) [DMM09, eq. 5]; ``rho_W(1) = 1``; ``0 < delta <= 1``
    (``delta = m/n``; larger values raise, as n/m passed for m/n would).
    Below the curve (``k/m < rho_W(m/n)``) l1 minimisation and AMP with the
    minimax threshold recover k-sparse x as n grows; above it they fail.
    Equivalently ``delta = min_tau [eps (1+tau^2) + (1-eps) kappa M(tau)]`` with
    ``eps = rho delta`` (statistical dimension of the l1 descent cone, [ALMT14]).
    Values: ``rho_W(0.5) = 0.3857`` signed, ``0.5582`` nonnegative;
    ``rho_W ~ 1 / (2 ln(1/delta))`` as ``delta -> 0`` [DT09].
    """
    return _vectorise(delta, nonneg, 1)


def m_weak(n, k, nonneg=False):
    """The m at which ``k/m = rho_W(m/n)``: predicted minimal m for l1 / AMP recovery.

    Solved with Brent's method on ``m`` in ``(k, n)`` (continuous m; round up for
    an integer). Returns 0 for k = 0 and n for k = n.
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=0, high=n)
    if k == 0:
        return 0.0
    if k == n:
        return float(n)
    kappa = _kappa(bool(nonneg))
    return brentq(lambda m: _argmax_rho(m / n, kappa)[1] - k / m, k, n, xtol=1e-10, rtol=1e-14)


def m_small_delta(n, k):
    """Small-delta form of :func:`m_weak`: the fixed point ``m = 2 k ln(n/m)``.

    Follows from ``rho_W(delta) ~ 1/(2 ln(1/delta))`` [DT09]: ``k/m = 1/(2 ln(n/m))``.
    ``m - 2 k ln(n/m)`` increases from -inf to n on ``(0, n]``, so the root is
    unique; solved by Brent's method. Returns 0 for k = 0. The approach to
    :func:`m_weak` is slow (log-log corrections): 1.2% apart at n = 1e6, k = 100.
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=0, high=n)
    if k == 0:
        return 0.0
    f = lambda m: m - 2.0 * k * np.log(n / m)  # increasing; f(0+) < 0, f(n) = n > 0
    return brentq(f, 1e-300, float(n), xtol=1e-12, rtol=1e-14)


# --- Bayes-optimal AMP for x in {0, 1}^n --------------------------------------------------


def _gauss_expect(g, centre):
    """``E[g(Z)]``, Z ~ N(0, 1), by adaptive quadrature on [-40, 40] with a break at ``centre``."""
    f = lambda z: g(z) * _phi(z)
    c = min(max(centre, -39.0), 39.0)
    opts = {"epsabs": 0.0, "epsrel": 1e-11, "limit": 200}
    return quad(f, -40.0, c, **opts)[0] + quad(f, c, 40.0, **opts)[0]


def _binary_mmse_scalar(v, eps):
    if v == 0.0:
        return 0.0
    s = np.sqrt(v)
    L = np.log(eps / (1.0 - eps))
    # X = 0: error E[X|R]^2, R = s Z; X = 1: error (1 - E[X|R])^2, R = 1 + s Z.
    # Each integrand switches at the logistic's centre; splitting there keeps quad accurate.
    e0 = _gauss_expect(lambda z: expit(z / s - 0.5 / v + L) ** 2, s * (0.5 / v - L))
    e1 = _gauss_expect(lambda z: expit(-(z / s + 0.5 / v + L)) ** 2, -s * (0.5 / v + L))
    return (1.0 - eps) * e0 + eps * e1


def binary_mmse(*, eps, v):
    """``mmse(v) = E[(X - E[X|R])^2]`` for ``X ~ Bernoulli(eps)``, ``R = X + sqrt(v) Z``.

    Computed as ``(1-eps) E[E[X|sqrt(v) Z]^2] + eps E[(1 - E[X|1 + sqrt(v) Z])^2]``
    (no cancellation, accurate also where mmse is tiny), each term by adaptive
    quadrature (``scipy.integrate.quad``, relative tolerance 1e-11); vectorised
    over ``v > 0``. Keyword-only, like :func:`binary_state_evolution` and
    :func:`bayes_binary_threshold` (common parameters in the order eps, delta, noise).
    """
    eps = check_float("eps", eps, low=0.0, high=1.0, low_open=True, high_open=True)
    out = np.vectorize(_binary_mmse_scalar, otypes=[float])(np.asarray(v, dtype=float), eps)
    return float(out) if out.ndim == 0 else out


def binary_state_evolution(*, eps, delta, noise=0.0, n_iter=1000):
    """State evolution of Bayes-optimal AMP for binary signals (uninformative start).

    ``v_0 = noise^2 + eps/delta`` (x^0 = 0, ``E X^2 = eps``) and
    ``v_{t+1} = noise^2 + mmse(v_t)/delta`` [KMS12]. Returns the array of
    ``(1/delta) mmse(v_t)`` (the per-coordinate MSE of x^{t+1}, scaled to y units),
    ``t = 0..n_iter-1``. Keyword-only (see :func:`binary_mmse`).
    """
    delta = check_float("delta", delta, low=0.0, low_open=True)
    eps = check_float("eps", eps, low=0.0, high=1.0, low_open=True, high_open=True)
    noise = check_float("noise", noise, low=0.0)
    n_iter = check_int("n_iter", n_iter, low=1)
    v = noise**2 + eps / delta
    out = np.empty(n_iter)
    for t in range(n_iter):
        out[t] = binary_mmse(eps=eps, v=v) / delta
        v = noise**2 + out[t]
    return out


def bayes_binary_threshold(*, eps):
    """Algorithmic threshold ``delta_alg(eps)`` of Bayes-optimal AMP for x in {0,1}^n.

    Noiseless state evolution from the uninformative start,
    ``v_{t+1} = mmse(v_t) / delta`` with ``v_0 = eps / delta`` (see
    :func:`binary_state_evolution`), converges to ``v = 0`` (exact recovery) iff
    ``mmse(v) < delta v`` for every ``0 < v <= v_0``. Since ``mmse(v) < eps``
    the condition holds automatically for ``v >= v_0``, hence exactly

    .. math:: \\delta_{alg}(\\epsilon) = \\sup_{v > 0} \\mathrm{mmse}(v) / v.

    At ``delta > delta_alg`` AMP's state evolution reaches zero MSE; below, it
    stalls at a fixed point with MSE > 0. ``eps = k/n``; the predicted minimal
    measurement count is ``m = delta_alg n``. The sup is attained in the
    interior (``mmse(v)/v -> 0`` at both ends); found by a log-grid and Brent.
    Keyword-only (see :func:`binary_mmse`).
    """
    eps = check_float("eps", eps, low=0.0, high=1.0, low_open=True, high_open=True)
    g = lambda lv: -binary_mmse(eps=eps, v=np.exp(lv)) / np.exp(lv)
    grid = np.linspace(np.log(1e-3), np.log(1e3), 121)
    i = int(np.argmin(g(grid)))
    res = minimize_scalar(g, bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
                          method="bounded", options={"xatol": 1e-12})
    return float(-res.fun)
