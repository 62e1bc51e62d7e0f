"""Statistics on minimal-m measurements: quantiles with confidence intervals,
logistic success curves, and scaling constants ``m* ~ c f(n, k)``.

Everything here works on numbers and tables (never runs a decoder).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, stats

from ._validate import check_choice, check_float, check_int
from .theory import log2_binom


def _alpha(conf):
    return 1.0 - check_float("conf", conf, low=0.0, high=1.0, low_open=True, high_open=True)


# --------------------------------------------------------------------------- quantiles
def quantile_ci(values, q=0.5, conf=0.95):
    """Sample q-quantile with a distribution-free order-statistic confidence interval.

    The estimate is the smallest value ``v`` with empirical CDF ``F_N(v) >= q``
    (for critical m: the smallest m at which at least a fraction q of the trials
    succeed). With ``B ~ Binomial(N, q)`` and order statistics ``X_(1) <= ... <= X_(N)``,
    ``P(X_(l) <= xi_q <= X_(u)) >= P(l <= B <= u - 1)``; ``l`` is the largest rank
    with ``P(B < l) <= alpha/2`` and ``u`` the smallest with ``P(B >= u) <= alpha/2``
    (Hahn & Meeker 1991, Sec. 5.2; conservative for ties). A rank below 1 gives
    ``low = -inf``, a rank above N gives ``high = +inf``. ``+inf`` entries (censored
    values) are allowed.

    Returns
    -------
    (estimate, low, high, coverage) : floats
        ``coverage`` is the exact binomial coverage ``P(l <= B <= u - 1)`` (>= conf).
    """
    q = check_float("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    alpha = _alpha(conf)
    x = np.sort(np.asarray(values, dtype=float))
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {x.shape}.")
    if np.isnan(x).any():
        raise ValueError("values contains NaN; allowed: finite numbers or +inf (censored).")
    N = x.size
    est = x[int(np.ceil(q * N - 1e-12)) - 1]
    cdf = stats.binom.cdf(np.arange(N + 1), N, q)  # cdf[j] = P(B <= j)
    below = np.nonzero(cdf <= alpha / 2)[0]
    l = int(below[-1]) + 1 if below.size else 0  # P(B < l) = cdf[l-1] <= alpha/2
    above = np.nonzero(cdf >= 1 - alpha / 2)[0]
    u = int(above[0]) + 1  # P(B >= u) = 1 - cdf[u-1] <= alpha/2
    low = x[l - 1] if l >= 1 else -np.inf
    high = x[u - 1] if u <= N else np.inf
    coverage = float(cdf[u - 1] - (cdf[l - 1] if l >= 1 else 0.0))
    return float(est), float(low), float(high), coverage


# --------------------------------------------------------------------------- logistic
@dataclass(frozen=True)
class LogisticFit:
    """``P(success | m) = 1 / (1 + exp(-(b0 + b1 ln m)))`` fitted by maximum likelihood."""

    b0: float
    b1: float
    cov: np.ndarray

    def m_at(self, q=0.5, conf=0.95):
        """``m_q = exp((logit q - b0) / b1)`` with a delta-method interval on ``ln m_q``.

        Returns ``(m_q, low, high)``; ``nan`` if the slope is not positive; ``high = inf`` when the
        interval on ``ln m_q`` exceeds float range (a nearly separated fit with a huge variance).
        """
        q = check_float("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
        if not self.b1 > 0:
            return np.nan, np.nan, np.nan
        L = np.log(q / (1 - q))
        t = (L - self.b0) / self.b1
        grad = np.array([-1.0 / self.b1, -t / self.b1])
        se = float(np.sqrt(max(grad @ self.cov @ grad, 0.0)))
        z = stats.norm.ppf(1 - _alpha(conf) / 2)
        with np.errstate(over="ignore"):  # exp(> 709) is inf: an unbounded interval, said in the docstring
            return float(np.exp(t)), float(np.exp(t - z * se)), float(np.exp(t + z * se))


def logistic_fit(m, successes, trials):
    """Binomial logistic regression of success on ``ln m`` (maximum likelihood).

    Parameters
    ----------
    m, successes, trials : array-like, same length
        Grid of m values, successes and trials at each.

    Returns
    -------
    LogisticFit
        Coefficients and their covariance (inverse Fisher information). With
        perfectly separated data the likelihood has no maximum; the slope is
        then capped (``|b1| <= 200``) and the covariance is large.
    """
    x = np.log(np.asarray(m, dtype=float))
    s = np.asarray(successes, dtype=float)
    N = np.asarray(trials, dtype=float)
    if not (x.shape == s.shape == N.shape) or x.size < 2:
        raise ValueError("m, successes and trials must have the same length >= 2.")
    X = np.column_stack([np.ones_like(x), x - x.mean()])

    def nll(b):
        eta = X @ b
        return float(np.sum(N * np.logaddexp(0.0, eta) - s * eta))

    def grad(b):
        p = stats.logistic.cdf(X @ b)
        return X.T @ (N * p - s)

    res = optimize.minimize(nll, np.zeros(2), jac=grad, method="L-BFGS-B",
                            bounds=[(-500, 500), (-200, 200)])
    b = res.x
    p = stats.logistic.cdf(X @ b)
    info = X.T @ (X * (N * p * (1 - p))[:, None])
    cov_c = np.linalg.pinv(info)
    # back to the uncentred intercept: b0 = c0 - c1 * mean(x)
    J = np.array([[1.0, -x.mean()], [0.0, 1.0]])
    return LogisticFit(float(b[0] - b[1] * x.mean()), float(b[1]), J @ cov_c @ J.T)


# --------------------------------------------------------------------------- scaling laws
def _k_ln_n(n, k):
    return k * np.log(n)


def _k_log2_en_k(n, k):
    return k * np.log2(np.e * n / k)


def _k_log2_n_k(n, k):
    return k * np.log2(n / k)


#: Scaling laws ``f(n, k)`` for ``m* ~ c f(n, k)``: name -> (function, label).
SCALES = {
    "k_ln_n": (_k_ln_n, "k ln n"),
    "k_log2_en_k": (_k_log2_en_k, "k log2(e n/k)"),
    "k_log2_n_k": (_k_log2_n_k, "k log2(n/k)"),
    "log2_binom": (log2_binom, "log2 C(n,k)"),
}


def scaling_x(n, k, scale):
    """``f(n, k)`` of a named scaling law (see :data:`SCALES`), vectorised."""
    check_choice("scale", scale, SCALES)
    return np.asarray(SCALES[scale][0](np.asarray(n, dtype=float), np.asarray(k, dtype=float)), dtype=float)


@dataclass(frozen=True)
class ConstantFit:
    """``y ~ c x`` through the origin: estimate, interval and goodness of fit."""

    c: float
    low: float
    high: float
    se: float
    chi2: float
    dof: int
    n_points: int
    method: str
    note: str = ""

    def to_dict(self):
        return asdict(self)


def _sigma_from_ci(y, low, high, z):
    """Standard deviations from (possibly asymmetric) intervals: half the width / z."""
    sig = (np.asarray(high, float) - np.asarray(low, float)) / (2 * z)
    return sig


#: Fewest points for which :func:`fit_constant` estimates the scatter about ``y = c x`` (Birge ratio).
MIN_POINTS_SCATTER = 3


def fit_constant(x, y, low=None, high=None, conf=0.95):
    """Weighted least squares through the origin, ``y_i = c x_i + e_i``.

    ``sigma_i = (high_i - low_i) / (2 z)`` from each point's confidence interval
    (unit weights when no intervals are given), weights ``w_i = 1/sigma_i^2``:

    ``c = sum w x y / sum w x^2``, ``se = sqrt(1 / sum w x^2) * max(1, sqrt(chi2/dof))``,
    ``chi2 = sum w (y - c x)^2``, ``dof = N - 1``. The Birge-ratio inflation
    ``sqrt(chi2/dof)`` widens the interval when the scatter exceeds the quoted
    errors (model misfit). The interval is ``c +- t_{dof} se`` (``z`` when the
    inflation factor is 1 and intervals were given). Points with an infinite
    or zero-width interval are dropped (censored) or given the smallest
    positive width, respectively. Returns :class:`ConstantFit`.

    Fewer than ``MIN_POINTS_SCATTER`` = 3 points cannot test the scaling law:
    the scatter estimate ``chi2/dof`` has at most one degree of freedom
    (``t_1 = 12.7`` at 95 %, which printed negative lower bounds for a
    positive c from two points). Then no Birge inflation is applied: with
    intervals the result uses the quoted errors only (``z``), without them
    the interval is ``nan``; ``note`` says so.
    """
    alpha = _alpha(conf)
    z = stats.norm.ppf(1 - alpha / 2)
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if low is None or high is None:
        sig = np.ones_like(y)
        weighted = False
    else:
        sig = _sigma_from_ci(y, low, high, z)
        weighted = True
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(sig) & (x > 0)
    x, y, sig = x[keep], y[keep], sig[keep]
    N = x.size
    if N == 0:
        raise ValueError("fit_constant needs at least one point with finite y and interval.")
    pos = sig[sig > 0]
    sig = np.where(sig > 0, sig, pos.min() if pos.size else 1.0)
    w = 1.0 / sig**2
    sxx = float(np.sum(w * x * x))
    c = float(np.sum(w * x * y) / sxx)
    chi2 = float(np.sum(w * (y - c * x) ** 2))
    dof = N - 1
    if N < MIN_POINTS_SCATTER:
        note = (f"{N} point{'s' if N > 1 else ''}: too few to test the scaling law (need >= {MIN_POINTS_SCATTER}); "
                + ("interval from the points' own intervals only" if weighted else "no interval"))
        se = float(np.sqrt(1.0 / sxx)) if weighted else np.nan
        return ConstantFit(c, c - z * se, c + z * se, se, chi2, dof, N, "wls", note)
    birge = np.sqrt(chi2 / dof)
    inflate = max(1.0, birge) if weighted else birge
    se = float(np.sqrt(1.0 / sxx) * inflate)
    crit = z if (weighted and birge <= 1.0) else stats.t.ppf(1 - alpha / 2, dof)
    return ConstantFit(c, c - crit * se, c + crit * se, se, chi2, dof, N, "wls")


def bootstrap_constant(x, critical, q=0.5, low=None, high=None, conf=0.95, n_boot=1000, seed=0):
    """Bootstrap over trials of the constant ``c`` in ``m*_q ~ c x``.

    ``critical[i]`` holds the per-trial critical m of point i. Each replicate
    resamples the trials of every point with replacement, recomputes ``m*_q``
    (:func:`quantile_ci`) and refits ``c`` with the weights of the original fit
    (:func:`fit_constant`, intervals ``low``/``high`` if given). The interval is
    the percentile interval of the replicates (Efron & Tibshirani 1993, ch. 13).
    """
    n_boot = check_int("n_boot", n_boot, low=10)
    alpha = _alpha(conf)
    x = np.asarray(x, float)
    crit = [np.asarray(c, float) for c in critical]
    if len(crit) != x.size:
        raise ValueError(f"critical has {len(crit)} points but x has {x.size}.")
    y = np.array([quantile_ci(c, q, conf)[0] for c in crit])
    base = fit_constant(x, y, low, high, conf)
    z = stats.norm.ppf(1 - alpha / 2)
    sig = np.ones_like(y) if low is None or high is None else _sigma_from_ci(y, low, high, z)
    pos = sig[(sig > 0) & np.isfinite(sig)]
    sig = np.where((sig > 0) & np.isfinite(sig), sig, pos.min() if pos.size else 1.0)
    w = 1.0 / sig**2
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        yb = np.array([quantile_ci(rng.choice(c, c.size), q, conf)[0] for c in crit])
        ok = np.isfinite(yb) & (x > 0)
        reps[b] = np.sum((w * x * yb)[ok]) / np.sum((w * x * x)[ok])
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    note = (f"{base.n_points} point{'s' if base.n_points > 1 else ''}: the bootstrap resamples trials only and "
            "cannot test the scaling law" if base.n_points < MIN_POINTS_SCATTER else "")
    return ConstantFit(base.c, float(lo), float(hi), float(reps.std(ddof=1)), base.chi2, base.dof,
                       base.n_points, "bootstrap", note)


def fit_scaling(table, scale="log2_binom", by=("decoder",), y="m_star", method="wls", q=0.5,
                conf=0.95, n_boot=1000, seed=0):
    """Fit ``m* ~ c f(n, k)`` per group of a minimal-m table.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (decoder, n, k) with columns ``n``, ``k``, ``y`` (default
        ``m_star``), ``ci_low``, ``ci_high``; ``method="bootstrap"`` also needs
        ``critical`` (per-trial critical m, a list per row).
    scale : str
        A key of :data:`SCALES`.
    by : sequence of str
        Grouping columns (one fit per group).

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``scale``, ``c``, ``c_low``, ``c_high``, ``se``,
        ``chi2_dof``, ``n_points``, ``method``, ``note`` (non-empty when there are
        too few points to test the law, see :func:`fit_constant`).
    """
    import pandas as pd

    check_choice("method", method, ["wls", "bootstrap"])
    check_choice("scale", scale, SCALES)
    rows = []
    groups = table.groupby(list(by), sort=True) if by else [((), table)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        xs = scaling_x(g["n"].to_numpy(), g["k"].to_numpy(), scale)
        lo = g["ci_low"].to_numpy(float) if "ci_low" in g else None
        hi = g["ci_high"].to_numpy(float) if "ci_high" in g else None
        if method == "bootstrap":
            f = bootstrap_constant(xs, list(g["critical"]), q, lo, hi, conf, n_boot, seed)
        else:
            f = fit_constant(xs, g[y].to_numpy(float), lo, hi, conf)
        rows.append({**dict(zip(by, key)), "scale": scale, "c": f.c, "c_low": f.low, "c_high": f.high,
                     "se": f.se, "chi2_dof": f.chi2 / f.dof if f.dof else np.nan,
                     "n_points": f.n_points, "method": f.method, "note": f.note})
    return pd.DataFrame(rows)
