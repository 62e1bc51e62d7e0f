"""Matched-filter theory: when does thresholding ``A^T A x`` at 1/2 recover binary x?

Model: x in {0,1}^n has exactly k ones on a support S, ``y = A x``, and the
matched filter decodes ``x_hat_i = 1[a_i^T y > 1/2]`` (csbench decoder
``"matched_filter"``, rule ``"threshold"``). "Success" means every coordinate
is right (the ``exact`` criterion of :func:`csbench.score`).

Exact formula for the Gaussian ensemble (iid N(0, 1/m) entries)
----------------------------------------------------------------
Condition on y = sum_{j in S} a_j ~ N(0, (k/m) I_m) and let ``r = ||y||^2``,
so ``r = (k/m) V`` with ``V ~ chi^2_m``.

* Off support (i not in S) a_i is independent of y, so the scores
  ``a_i^T y`` are iid N(0, r/m): each is right with probability
  ``Phi(sqrt(m/r) / 2)``.
* On support write ``a_i = y/k + b_i``. The ``b_i`` are jointly Gaussian,
  independent of y (Cov(a_i, y) = I/m = Cov(y, y)/k), sum to zero and have
  ``Cov(b_i, b_j) = (delta_ij - 1/k) I / m``. Hence given y the scores are
  ``r/k + sqrt(r/m) (G_i - Gbar)`` with G ~ N(0, I_k), and all are right with
  probability ``Q_k(t) = P(min_i (G_i - Gbar) > t)``,
  ``t = (1/2 - r/k) sqrt(m/r)`` (:func:`sum_zero_orthant`).

Given y the two groups are independent, so

    P(success) = E_V[ Phi(m / (2 sqrt(k V)))^(n-k) * Q_k((m/2 - V) / sqrt(k V)) ].

The outer expectation is computed with adaptive quadrature (scipy ``quad``)
against the chi^2_m density; Q_k is exact for k <= 2 and accurate to ~1e-9
absolute otherwise (see :func:`sum_zero_orthant`), so the result is accurate to
about 1e-8 absolute. It is checked against Monte Carlo runs of csbench's
decoder in ``tests/test_matched_filter_theory.py``.
"""
from __future__ import annotations

import functools

import numpy as np
from numpy.polynomial import chebyshev
from scipy import fft, integrate, special
from scipy.stats import binom, chi2, norm

from .._validate import check_choice, check_float, check_int
from .coherence import cos_sf
from .counting import _nk, _out, check_counts

__all__ = [
    "chernoff_m", "sum_zero_orthant", "mf_success_probability", "mf_error_probabilities",
    "mf_expected_wrong", "mf_minimal_m", "mf_success_probability_bernoulli",
]

ENSEMBLES = ["gaussian", "unit", "rademacher"]
#: Largest k with an exact success probability for the +-1 ensemble (seed 003's string example has k = 3).
RADEMACHER_K_MAX = 3
_SQ2 = np.sqrt(2.0)
_TINY = 1e-20  # Q_k(t) is set to 1 where k P(G_1 - Gbar <= t) < _TINY
_K_RECURSION = 9  # k <= 9: recursion in k; k > 9: saddle-point contour integral
_NODES = 128


def chernoff_m(n, k, p=1.0):
    """Chernoff / Johnson-Lindenstrauss sufficient m for the matched filter: ``8 k (ln n + ln(1/p))``.

    With ``m >= 8 k (ln n + ln(1/p))`` the matched filter recovers every
    coordinate of a k-sparse binary x with probability >= 1 - p (seed 003:
    Chernoff bound ``P(|<w_i, sum_j w_j>| >= 1/2) <= exp(-m/(8k))`` per
    coordinate, union bound over n), for ``0 < p <= 1``. The default ``p = 1``
    gives ``8 k ln n``, the m at which the union bound ``n exp(-m/(8k))``
    reaches 1, i.e. where it *starts* to guarantee anything (the line drawn in
    plots and reports as "8k ln n"); it is not a success probability.
    """
    n = check_counts("n", n, low=1)
    k = check_counts("k", k, low=0)
    p = np.asarray(p, dtype=float)
    if not ((p > 0) & (p <= 1)).all():
        raise ValueError(f"p={p!r} is out of range; allowed: 0 < p <= 1 (the failure probability "
                         f"the bound guarantees; p = 1 gives 8 k ln n).")
    return _out(8.0 * k * (np.log(n) + np.log(1.0 / p)))


# --------------------------------------------------------------------------------------
# Q_k(t) = P(min_i (G_i - Gbar) > t), G ~ N(0, I_k)
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _gauss_legendre(nodes):
    return np.polynomial.legendre.leggauss(nodes)


def _t_low(k):
    """Below this t, ``1 - Q_k(t) <= k P(G_1 - Gbar <= t) < _TINY``."""
    return norm.ppf(_TINY / k) * np.sqrt((k - 1.0) / k)


@functools.lru_cache(maxsize=None)
def _recursion_levels(kmax):
    """Chebyshev interpolants of Q_3 .. Q_kmax on [t_low(j), 0] (one per level).

    Splitting off the last coordinate, ``D = G_k - mean(G_1..G_{k-1}) ~ N(0, k/(k-1))``
    is independent of the sum-zero part of the first k-1 coordinates, and
    ``Q_k(t) = int_{kt/(k-1)}^{-kt} phi_D(d) Q_{k-1}(t + d/k) dd``
    (Gauss-Legendre, 128 nodes; interpolation at 128 Chebyshev points).
    """
    xg, wg = _gauss_legendre(_NODES)
    cheb = np.cos(np.pi * (np.arange(_NODES) + 0.5) / _NODES)
    levels = {}
    for k in range(3, kmax + 1):
        lo = _t_low(k)
        t = lo + (cheb + 1.0) / 2.0 * (-lo)
        a, b = k * t / (k - 1.0), -k * t
        d = a[:, None] + (xg[None, :] + 1.0) / 2.0 * (b - a)[:, None]
        sd = np.sqrt(k / (k - 1.0))
        f = norm.pdf(d / sd) / sd * _q_small(k - 1, t[:, None] + d / k, levels)
        q = (f * wg).sum(axis=1) * (b - a) / 2.0
        coef = fft.dct(q, type=2) / _NODES  # interpolant at Chebyshev nodes of the 1st kind
        coef[0] /= 2.0
        levels[k] = (lo, coef)
    return levels


def _q_small(k, t, levels):
    """Q_k(t) for k <= _K_RECURSION (closed forms for k <= 2, interpolants otherwise)."""
    t = np.asarray(t, dtype=float)
    if k <= 1:
        return np.where(t < 0, 1.0, 0.0) if k == 1 else np.ones_like(t)
    if k == 2:  # G_1 - Gbar = (G_1 - G_2)/2: P(|N(0, 1/2)| < -t) = erf(-t)
        return np.where(t < 0, special.erf(-np.minimum(t, 0.0)), 0.0)
    lo, coef = levels[k]
    inner = chebyshev.chebval(np.clip(2.0 * (t - lo) / (-lo) - 1.0, -1.0, 1.0), coef)
    return np.where(t >= 0, 0.0, np.where(t < lo, 1.0, np.clip(inner, 0.0, 1.0)))


def _log_faddeeva(z):
    """``log w(z)`` (any branch) for the Faddeeva function, without overflow below the real axis."""
    z = np.asarray(z, dtype=complex)
    out = np.empty_like(z)
    up = z.imag >= 0
    out[up] = np.log(special.wofz(z[up]))
    # Im z < 0: w(z) = 2 exp(-z^2) - w(-z), with |w(-z)| <= 1
    big = ~up & (z.imag ** 2 > z.real ** 2)
    zb = z[big]
    out[big] = -zb * zb + np.log(2.0 - special.wofz(-zb) * np.exp(zb * zb))
    small = ~up & ~big
    zs = z[small]
    out[small] = np.log(2.0 * np.exp(-zs * zs) - special.wofz(-zs))
    return out


def _inv_mills(a):
    """``phi(a) / (1 - Phi(a))``, stable for all a."""
    return np.sqrt(2.0 / np.pi) / special.erfcx(a / _SQ2)


def _q_contour(k, t):
    """Q_k(t) (t < 0) by a saddle-point contour integral (accurate for k >= 10).

    G - Gbar has the law of G given sum(G) = 0, so ``Q_k(t)`` is ``sqrt(2 pi k)``
    times the density at 0 of ``sum_i G_i 1{G_i > t}``-restricted sums; by
    Laplace inversion ``Q_k(t) = sqrt(k / 2pi) int M(c + i w)^k dw`` over the
    real line, with ``M(s) = E[exp(s G) 1{G > t}] = exp(s^2/2) Phi(s - t)``
    (entire, so any c works). The line Re s = c passes through the saddle
    point (``c + phi(t-c)/Phi(c-t) = 0``), where the integrand is a narrow bell;
    64-point Gauss-Legendre on [0, 14 / (sigma sqrt k)] captures it. The
    neglected oscillating tail decays like w^-k: < 4e-12 absolute for k >= 10
    (measured against the recursion).
    """
    t = np.asarray(t, dtype=float)
    lo = np.minimum(t, t - 1.0 / np.abs(t) - 1.0)
    hi = np.zeros_like(t)
    for _ in range(70):  # bisection for the saddle point c in (lo, 0)
        mid = 0.5 * (lo + hi)
        neg = mid + _inv_mills(t - mid) < 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    c = 0.5 * (lo + hi)
    lam = _inv_mills(t - c)
    a = t - c  # variance of N(c, 1) truncated to (t, inf), ~1/(a^2 + 6) for large a (no cancellation)
    var = np.where(a > 4.0, 1.0 / (a * a + 6.0), 1.0 + a * lam - lam * lam)
    y = (t - c) / _SQ2
    log_w0 = _log_faddeeva(1j * y).real
    xg, wg = _gauss_legendre(64)
    width = 14.0 / np.sqrt(k * var)
    w = (xg[None, :] + 1.0) / 2.0 * width[:, None]
    log_w = _log_faddeeva((w / _SQ2 + 1j * y[:, None]).ravel()).reshape(w.shape)
    f = np.exp(k * (1j * w * t[:, None] + log_w - log_w0[:, None])).real
    core = (f * wg).sum(axis=1) * width / 2.0
    log_m0 = c * t - t * t / 2.0 + log_w0 - np.log(2.0)  # log M(c)
    return np.sqrt(2.0 * k / np.pi) * np.exp(k * log_m0) * core


def sum_zero_orthant(k, t):
    """``Q_k(t) = P(min_i (G_i - Gbar) > t)`` for ``G ~ N(0, I_k)``, ``Gbar`` its mean.

    The probability that a sum-zero (equicorrelated, correlation -1/(k-1))
    Gaussian vector lies above t in every coordinate; the on-support factor of
    :func:`mf_success_probability`. Vectorised over t.

    * ``Q_0 = 1``, ``Q_1(t) = 1[t < 0]``, ``Q_2(t) = erf(-t)`` for t < 0 (exact);
    * ``Q_k(t) = 0`` for ``t >= 0`` (the coordinates sum to zero);
    * ``3 <= k <= 9``: recursion in k, ``Q_k(t) = E_D[1{D > kt/(k-1)} Q_{k-1}(t + D/k)]``
      with ``D ~ N(0, k/(k-1))``, on Chebyshev interpolants;
    * ``k >= 10``: saddle-point contour integral (``_q_contour``).

    Absolute accuracy: better than 1e-9 for all t (measured: the two methods
    agree to < 4e-12 at k = 10 and to 3e-7 / 3e-10 at k = 5 / 8, where the
    contour integral is the less accurate one; both agree with Monte Carlo).
    """
    k = check_int("k", k, low=0)
    t = np.asarray(t, dtype=float)
    if np.isnan(t).any():
        raise ValueError("t contains NaN; allowed: real numbers.")
    if k <= _K_RECURSION:
        levels = _recursion_levels(_K_RECURSION) if k >= 3 else {}
        return _out(_q_small(k, t, levels))
    out = np.where(t >= 0, 0.0, 1.0)
    mid = (t < 0) & (t >= _t_low(k))
    if mid.any():
        out[mid] = np.clip(_q_contour(k, t[mid]), 0.0, 1.0)
    return _out(out)


# --------------------------------------------------------------------------------------
# Expectations over the distribution of ||y||^2
# --------------------------------------------------------------------------------------
def _chi2_expect(df, func, tail=1e-16):
    """``E[func(V)]`` for ``V ~ chi^2_df`` (quad over the central 1 - 2*tail mass)."""
    lo, hi = chi2.ppf(tail, df), chi2.isf(tail, df)
    const = -(df / 2.0) * np.log(2.0) - special.gammaln(df / 2.0)

    def integrand(v):
        return np.exp((df / 2.0 - 1.0) * np.log(v) - v / 2.0 + const) * func(v)

    pts = [p for p in (df - 2 * np.sqrt(2 * df), df, df + 2 * np.sqrt(2 * df)) if lo < p < hi]
    return integrate.quad(integrand, lo, hi, points=pts, limit=400, epsabs=1e-12, epsrel=1e-10)[0]


def _unit_r_expect(j, m, func):
    """``E[func(R)]`` with ``R = ||u_1 + ... + u_j||^2``, u iid uniform on S^{m-1}.

    Exact for j <= 2 (``R = 2 + 2c``, c the cosine of two uniform vectors);
    for j >= 3 R is approximated by the moment-matched scaled chi-square
    ``((j-1)/m) chi^2_nu``, ``nu = j m / (j-1)`` (E R = j and Var R = 2 j (j-1)/m
    are exact; the Gaussian ensemble has ``R = (j/m) chi^2_m``).
    """
    if j <= 1:
        return float(func(float(j)))
    if j == 2:  # c = cos(theta), theta has density sin^(m-2)(theta) / B(1/2, (m-1)/2) on [0, pi]
        const = special.betaln(0.5, (m - 1.0) / 2.0)

        def integrand(theta):
            return np.exp((m - 2.0) * np.log(np.sin(theta)) - const) * func(2.0 + 2.0 * np.cos(theta))

        s = 1.0 / np.sqrt(m)
        pts = [p for p in np.pi / 2 + np.array([-8 * s, -s, 0.0, s, 8 * s]) if 0 < p < np.pi]
        return integrate.quad(integrand, 0.0, np.pi, points=pts, limit=400, epsabs=1e-12, epsrel=1e-10)[0]
    scale = (j - 1.0) / m
    return _chi2_expect(j * m / (j - 1.0), lambda v: func(scale * v))


def _log_unit_offsupport(R, m):
    """``log P(<a, y> <= 1/2)`` for a uniform unit a independent of y, ``||y||^2 = R``."""
    x = 0.5 / np.sqrt(R) if R > 0 else np.inf
    return np.log1p(-cos_sf(x, m)) if x < 1 else 0.0


# --------------------------------------------------------------------------------------
# The +-1/sqrt(m) (Rademacher) ensemble: exact binomial tails
# --------------------------------------------------------------------------------------
def _ceil_div(a, b):
    return -((-a) // b)


def _rad_errors(k, m):
    """Exact ``(p_fp, p_fn)`` for entries ``+-1/sqrt(m)``, decision ``1[score >= 1/2]``.

    Off the support ``m a_i^T y = sum_{j in S, r} s_ir s_jr`` is a sum of ``k m``
    iid signs, ``2B - k m`` with ``B ~ Bin(k m, 1/2)`` (seed 003's "sum of
    independent Rademacher variables"): wrong iff ``4B >= m + 2 k m``. On it
    ``m a_i^T y = m + 2B - (k-1) m``, ``B ~ Bin((k-1) m, 1/2)``: wrong iff
    ``4B < (2k - 3) m``.
    """
    if k == 0:
        return 0.0, 0.0
    fp = binom.sf(_ceil_div(m + 2 * k * m, 4) - 1, k * m, 0.5)
    fn = binom.cdf(_ceil_div((2 * k - 3) * m, 4) - 1, (k - 1) * m, 0.5) if k > 1 else 0.0
    return float(fp), float(fn)


def _rad_success(n, k, m):
    """Exact ``P(success)`` for the +-1 ensemble, k <= 3 (see :func:`mf_success_probability`)."""
    if k > RADEMACHER_K_MAX:
        raise ValueError(f"k={k} is out of range for ensemble='rademacher'; allowed: 0 <= k <= "
                         f"{RADEMACHER_K_MAX} (exact success probability). Per-coordinate error "
                         f"probabilities are exact for every k: "
                         f"mf_error_probabilities(n, k, m, 'rademacher').")
    off = n - k
    if k == 0:
        return 1.0
    if k == 1:  # the n - 1 off-support scores are iid given y whatever y is
        return float(np.exp(off * np.log1p(-_rad_errors(1, m)[0])))
    if k == 2:  # c rows where the two support columns agree: on-support scores 2c/m
        c = np.arange(m + 1)
        fail = binom.sf(_ceil_div(m + 4 * c, 8) - 1, c, 0.5)  # 2 (2B - c) / m >= 1/2, B ~ Bin(c, 1/2)
        terms = binom.pmf(c, m, 0.5) * (4 * c >= m) * np.exp(off * np.log1p(-np.minimum(fail, 1.0)))
        return float(terms.sum())
    # k = 3: c0 rows with three equal signs (|y_r| = 3, probability 1/4); each other row has an
    # odd one out j (|y_r| = 1), counts (c1, c2, c3) ~ Multinomial(m - c0, 1/3).
    # On-support m a_i^T y = m + 2 c0 - 2 c_i; off-support 3 (2 B1 - c0) + (2 B2 - M).
    total = 0.0
    for c0 in range(m + 1):
        M = m - c0
        L = (m + 4 * c0) // 4  # on-support right iff every c_i <= L
        c1 = np.arange(min(L, M) + 1)
        c2_lo = np.maximum(M - c1 - L, 0)
        on = binom.pmf(c1, M, 1.0 / 3.0) * (binom.cdf(L, M - c1, 0.5) - binom.cdf(c2_lo - 1, M - c1, 0.5))
        on = on[c2_lo <= np.minimum(L, M - c1)].sum()
        if on <= 0.0:
            continue
        b1 = np.arange(c0 + 1)
        thresh = _ceil_div(m + 6 * c0 + 2 * M - 12 * b1, 4)  # off-support wrong iff B2 >= thresh
        fail = (binom.pmf(b1, c0, 0.5) * binom.sf(thresh - 1, M, 0.5)).sum()
        total += binom.pmf(c0, m, 0.25) * on * np.exp(off * np.log1p(-min(fail, 1.0)))
    return float(total)


def _success_one(n, k, m, ensemble):
    if k == 0:
        return 1.0
    if ensemble == "rademacher":
        return _rad_success(n, k, m)
    if ensemble == "gaussian":
        def g(v):
            s = np.sqrt(k * v)
            off = (n - k) * special.log_ndtr(m / (2.0 * s)) if n > k else 0.0
            return np.exp(off) * float(sum_zero_orthant(k, (m / 2.0 - v) / s))

        return _chi2_expect(m, g)

    def g_unit(R):
        if k <= 2:  # on-support scores equal R/k exactly
            on = 1.0 if R > k / 2.0 else 0.0
        else:
            on = float(sum_zero_orthant(k, (0.5 - R / k) * np.sqrt(m / (k - 2.0))))
        return np.exp((n - k) * _log_unit_offsupport(R, m)) * on if on > 0 else 0.0

    return _unit_r_expect(k, m, g_unit)


def _check(n, k, m, ensemble):
    check_choice("ensemble", ensemble, ENSEMBLES)
    n, k = _nk(n, k)
    m = check_counts("m", m, low=2 if ensemble == "unit" else 1)
    return np.broadcast_arrays(n, k, m)


def mf_success_probability(n, k, m, ensemble="gaussian"):
    """Probability that the matched filter recovers every coordinate of a k-sparse binary x.

    Parameters
    ----------
    n, k, m : int or array of int
        Features, active features (0 <= k <= n), measurements (broadcast).
    ensemble : {"gaussian", "unit", "rademacher"}
        ``"gaussian"``: iid N(0, 1/m) entries (exact formula in the module
        docstring, accuracy ~1e-8). ``"unit"``: columns uniform on the sphere
        (m >= 2). Given ``R = ||y||^2`` the off-support scores are iid
        ``sqrt(R) c`` with c the exact cosine law, so

            P = E_R[ F_c(1 / (2 sqrt R))^(n-k) * q(R) ],

        exact for k <= 2 (on-support scores equal R/k). For k >= 3 two
        approximations: the law of R is the moment-matched scaled chi-square
        of ``_unit_r_expect``, and the pair cosines are treated as iid
        N(0, 1/m), giving on-support scores ``R/k + sqrt((k-2)/m)(G_i - Gbar)``
        and ``q(R) = Q_k((1/2 - R/k) sqrt(m/(k-2)))``. Where it holds: it
        overestimates P by 0.9e-3 to 2.3e-3 absolute (about 1 % relative) for
        k = 3..5, n = 64..1000, P = 0.01..0.65, measured against a conditional
        Monte Carlo (``experiments/mf_unit_approximation.py``: support columns
        drawn exactly, exact off-support factor, 200 000 draws, SE <= 4e-4):
        2.3e-3 at (n, k, m) = (100, 3, 60), 2.3e-3 at (100, 4, 80), 0.9e-3 at
        (512, 3, 90), 1.5e-3 at (1000, 3, 120). An earlier docstring claimed at
        most 1.1e-3; that was not true at small n.
        For errors below 1e-3 use a Monte Carlo (or the exact ``"gaussian"`` value,
        a different ensemble). ``"rademacher"``: iid entries ``+-1/sqrt(m)``
        (csbench's ``rademacher`` encoder; seed 003's hashed string vectors),
        exact for ``k <= 3`` (:data:`RADEMACHER_K_MAX`; seed 003's string example
        has k = 3) by binomial and multinomial sums over the rows of the support
        block: k = 1, ``P = (1 - p_fp)^(n-1)``; k = 2, over the number c ~ Bin(m, 1/2)
        of rows where the support columns agree (on-support scores 2c/m); k = 3,
        over c0 ~ Bin(m, 1/4) rows with three equal signs and the multinomial
        counts of the odd one out (on-support scores ``(m + 2 c0 - 2 c_i)/m``);
        given these counts the off-support scores are iid sums of signs.
        Lattice scores make the tie rule matter: here a coordinate is decoded as 1
        when its score is ``>= 1/2`` (seed 003's rule); for odd m ties cannot occur.

    Returns
    -------
    float or ndarray
        ``P(x_hat = x)`` with ``x_hat_i = 1[a_i^T A x > 1/2]`` (``>= 1/2`` for
        ``"rademacher"``; the same for the continuous ensembles).
    """
    n, k, m = _check(n, k, m, ensemble)
    vals = np.vectorize(lambda a, b, c: _success_one(int(a), int(b), int(c), ensemble),
                        otypes=[float])(n, k, m)
    return _out(np.clip(vals, 0.0, 1.0))


def _errors_one(n, k, m, ensemble):
    if ensemble == "rademacher":
        return _rad_errors(k, m)
    if ensemble == "gaussian":
        # false positive: a_i^T y ~ N(0, r/m), r = k V / m
        fp = _chi2_expect(m, lambda v: special.ndtr(-m / (2.0 * np.sqrt(k * v)))) if k > 0 else 0.0
        # false negative: ||a_i||^2 = U/m plus N(0, (U/m)(k-1)/m) given U ~ chi^2_m
        if k == 0:
            fn = 0.0
        elif k == 1:
            fn = chi2.cdf(m / 2.0, m)
        else:
            fn = _chi2_expect(m, lambda u: special.ndtr((m / 2.0 - u) / np.sqrt(u * (k - 1.0))))
        return fp, fn
    # unit: off-support score sqrt(R_k) c; on-support 1 + sqrt(R_{k-1}) c (c symmetric)
    fp = _unit_r_expect(k, m, lambda R: cos_sf(0.5 / np.sqrt(R), m) if R > 0.25 else 0.0)
    fn = _unit_r_expect(k - 1, m, lambda R: cos_sf(0.5 / np.sqrt(R), m) if R > 0.25 else 0.0) if k else 0.0
    return fp, fn


def mf_error_probabilities(n, k, m, ensemble="gaussian"):
    """Per-coordinate error probabilities of the matched filter: ``(p_false_pos, p_false_neg)``.

    ``p_false_pos = P(a_i^T y > 1/2)`` for i off the support and
    ``p_false_neg = P(a_i^T y <= 1/2)`` for i on it. Gaussian ensemble (exact):
    ``p_fp = E_V[Phi(-m / (2 sqrt(k V)))]``, ``V ~ chi^2_m``, and, since
    ``a_i^T y = ||a_i||^2 + N(0, ||a_i||^2 (k-1)/m)`` given ``||a_i||^2 = U/m``,
    ``p_fn = E_U[Phi((m/2 - U) / sqrt(U (k-1)))]``, ``U ~ chi^2_m`` (k = 1:
    ``P(U <= m/2)``). Unit ensemble: ``p_fp = E[P(c > 1/(2 sqrt(R_k)))]`` and
    ``p_fn = E[P(c > 1/(2 sqrt(R_{k-1})))]`` with c the exact cosine law and
    ``R_j`` the squared norm of a sum of j unit columns (exact for j <= 2,
    moment-matched otherwise; see :func:`mf_success_probability`).
    ``p_fp`` is 0 for k = 0, ``p_fn`` is 0 for k = 0. Union bound:
    ``1 - P(success) <= (n-k) p_fp + k p_fn`` (:func:`mf_expected_wrong`).
    """
    n, k, m = _check(n, k, m, ensemble)
    fp, fn = np.vectorize(lambda a, b, c: _errors_one(int(a), int(b), int(c), ensemble),
                          otypes=[float, float])(n, k, m)
    return _out(fp), _out(fn)


def mf_expected_wrong(n, k, m, ensemble="gaussian"):
    """Expected number of wrong coordinates ``(n - k) p_fp + k p_fn`` (see :func:`mf_error_probabilities`).

    Comparable with the mean of ``score(...)["n_wrong"]``.
    """
    fp, fn = mf_error_probabilities(n, k, m, ensemble)
    n, k, _ = _check(n, k, m, ensemble)
    return _out((n - k) * fp + k * fn)


def mf_success_probability_bernoulli(n, p, m, ensemble="gaussian", tail=1e-13):
    """Success probability of the matched filter for independent binary features.

    Each ``x_i`` is 1 with probability p, independently (seed 004, Theorem 3's
    model; csbench's ``bernoulli`` signal with ``values="one"``), so the number
    of active features is ``K ~ Bin(n, p)`` and, given K = k, x is a uniform
    k-sparse binary vector:

        P = sum_k Bin(n, p)(k) * mf_success_probability(n, k, m, ensemble).

    The sum runs over the central ``1 - tail`` of the binomial (the rest adds at
    most ``tail``). Scalars ``n >= 1``, ``0 <= p <= 1``, ``m``; ``"rademacher"``
    needs ``P(K > 3) < tail``.
    """
    check_choice("ensemble", ensemble, ENSEMBLES)
    n = check_int("n", n, low=1)
    p = check_float("p", p, low=0.0, high=1.0)
    m = check_int("m", m, low=2 if ensemble == "unit" else 1)
    tail = check_float("tail", tail, low=0.0, high=1.0, low_open=True, high_open=True)
    lo, hi = int(binom.ppf(tail / 2, n, p)), int(binom.isf(tail / 2, n, p))
    ks = np.arange(max(lo - 1, 0), min(hi + 1, n) + 1)
    if ensemble == "rademacher" and ks[-1] > RADEMACHER_K_MAX:
        raise ValueError(f"p={p} needs k up to {ks[-1]} > {RADEMACHER_K_MAX} for ensemble='rademacher' "
                         f"(exact for k <= {RADEMACHER_K_MAX} only); allowed: p with P(K > 3) < tail.")
    probs = np.array([_success_one(n, int(k), m, ensemble) for k in ks])
    return float(np.clip((binom.pmf(ks, n, p) * probs).sum(), 0.0, 1.0))


def mf_minimal_m(n, k, q=0.5, ensemble="gaussian", m_max=2**24):
    """Smallest m with ``mf_success_probability(n, k, m, ensemble) >= q``.

    Doubling search from m = 1 (2 for ``"unit"``), then bisection; assumes the
    success probability increases with m (it does on every grid the tests check).
    Compare with the measured minimal m at success rate q (``m*_q``) and with
    ``chernoff_m(n, k, 1 - q)``, a sufficient but loose value.

    Parameters
    ----------
    n, k : int
        Scalars, ``0 <= k <= n``.
    q : float
        Target success probability, ``0 < q < 1``.
    """
    check_choice("ensemble", ensemble, ENSEMBLES)
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=0, high=n)
    q = check_float("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    m_max = check_int("m_max", m_max, low=2)
    first = 2 if ensemble == "unit" else 1

    def ok(m):
        return _success_one(n, k, m, ensemble) >= q

    if ok(first):
        return first
    lo, hi = first, 2 * first
    while not ok(hi):
        lo, hi = hi, 2 * hi
        if hi > m_max:
            raise ValueError(f"no m <= m_max={m_max} reaches success probability q={q}.")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi
