"""Confidence intervals for success rates when trials share a dictionary (a cluster).

When many signals are decoded with the same matrix A (a trained code, a real
dictionary, a toy model, a study over a few codes), the trials are independent
*given* A but not over A: the success probability ``p_g`` differs from one
dictionary to the next. Two targets, two intervals:

* **conditional on the dictionaries used** (the average of ``p_g`` over exactly
  these G matrices): the pooled counts are binomial-like given the matrices,
  and the Wilson interval of the pooled counts (:func:`conditional_interval`)
  is the right one. It says nothing about another dictionary.
* **over dictionaries** (the rate for a new dictionary drawn like these; what a
  "learned vs random codes" verdict is about): the between-dictionary
  variation counts, and with few dictionaries it dominates. Pooling G
  dictionaries x T signals into one Wilson interval as if G T independent
  trials is then too narrow (``tests/test_intervals.py`` measures its coverage).
  :func:`cluster_interval` (default) is the Wilson interval at the
  Korn-Graubard effective sample size; :func:`cluster_bootstrap_interval`
  resamples dictionaries.

Every function takes per-dictionary counts along the last axis and is
vectorised over the leading axes.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from ._validate import check_choice, check_float, check_int
from .metrics import wilson_interval

__all__ = ["cluster_bootstrap_interval", "cluster_difference_interval", "cluster_interval", "conditional_interval",
           "rate_interval"]


def _counts(successes, trials):
    s = np.asarray(successes, dtype=float)
    t = np.broadcast_to(np.asarray(trials, dtype=float), s.shape)
    if s.ndim == 0:
        raise ValueError("successes must have a last axis over dictionaries (clusters), got a scalar.")
    if np.any(t < 0) or np.any(s < 0) or np.any(s > t):
        raise ValueError("successes and trials must satisfy 0 <= successes <= trials for every dictionary.")
    return s, t


def conditional_interval(successes, trials, conf=0.95):
    """Wilson interval of the pooled counts: conditional on the dictionaries used.

    The target is ``sum_g t_g p_g / sum_g t_g`` for these G dictionaries (given
    the dictionaries, trials are independent). Not an interval for a new
    dictionary; see :func:`cluster_interval`.

    Returns ``(estimate, low, high)``.
    """
    s, t = _counts(successes, trials)
    S, N = s.sum(axis=-1), t.sum(axis=-1)
    low, high = wilson_interval(S, N, conf)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(N > 0, S / np.where(N > 0, N, 1.0), np.nan)
    return est, low, high


def cluster_interval(successes, trials, conf=0.95):
    """Interval for the rate over dictionaries: Wilson at the Korn-Graubard effective sample size.

    With ``p_hat = S/N`` (``S = sum_g s_g``, ``N = sum_g t_g``) and the
    cluster-robust (between-dictionary) variance of the ratio estimator

        v = G / (G - 1) * sum_g (s_g - p_hat t_g)^2 / N^2,

    the effective sample size is ``n_eff = p_hat (1 - p_hat) / v`` (capped at N;
    ``n_eff = N`` when ``v = 0``), then shrunk for the G - 1 degrees of freedom of v:
    ``n_eff* = n_eff (z / t_{G-1})^2`` with ``z`` and ``t_{G-1}`` the
    ``(1 + conf)/2`` quantiles. The interval is Wilson's for ``p_hat`` at
    ``n_eff*`` trials (Korn & Graubard 1998, *Survey Methodology* 24:193-201,
    with Wilson in place of Clopper-Pearson). With one trial per dictionary it is
    about the plain Wilson interval; with G = 1 it is (0, 1) (nothing is
    known about other dictionaries).

    Parameters
    ----------
    successes, trials : array_like, shape (..., G)
        Per-dictionary counts along the last axis (``trials`` broadcasts).
    conf : float
        Confidence level, 0 < conf < 1.

    Returns
    -------
    (estimate, low, high) : ndarrays of shape (...)
    """
    conf = check_float("conf", conf, low=0.0, high=1.0, low_open=True, high_open=True)
    s, t = _counts(successes, trials)
    N = t.sum(axis=-1)
    if s.shape[-1] < 2:
        est = np.where(N > 0, s.sum(axis=-1) / np.where(N > 0, N, 1.0), np.nan)
        return est, np.zeros_like(est), np.ones_like(est)
    p, v, G = _ratio_var(s, t)
    p = np.where(N > 0, p, 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(v > 0, p * (1 - p) / np.where(v > 0, v, 1.0), N)
    n_eff = np.minimum(n_eff, N)
    z = stats.norm.ppf(0.5 + conf / 2)
    tq = stats.t.ppf(0.5 + conf / 2, G - 1)
    n_star = n_eff * (z / tq) ** 2
    low, high = wilson_interval(p * n_star, n_star, conf)
    return np.where(N > 0, p, np.nan), low, high


def cluster_bootstrap_interval(successes, trials, conf=0.95, n_boot=2000, seed=0):
    """Percentile cluster bootstrap: resample the G dictionaries with replacement.

    Each replicate draws G dictionaries with replacement and recomputes the
    pooled rate ``sum s / sum t``; the interval is the ``(1 -+ conf)/2``
    percentiles of the replicates (Davison & Hinkley 1997, Sec. 3.8). It
    ignores the G - 1 degrees of freedom and so undercovers with few
    dictionaries (``tests/test_intervals.py`` measures it); prefer
    :func:`cluster_interval` there.

    Returns ``(estimate, low, high)``.
    """
    conf = check_float("conf", conf, low=0.0, high=1.0, low_open=True, high_open=True)
    n_boot = check_int("n_boot", n_boot, low=1)
    s, t = _counts(successes, trials)
    G = s.shape[-1]
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    idx = rng.integers(0, G, size=(n_boot, G))
    counts = np.zeros((n_boot, G))
    np.add.at(counts, (np.arange(n_boot)[:, None], idx), 1.0)  # multiplicity of each dictionary
    Sb = s @ counts.T  # (..., n_boot)
    Nb = t @ counts.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = Sb / Nb
    a = (1 - conf) / 2
    low, high = np.nanquantile(rates, [a, 1 - a], axis=-1)
    S, N = s.sum(axis=-1), t.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(N > 0, S / np.where(N > 0, N, 1.0), np.nan)
    return est, low, high


def _ratio_var(s, t):
    """``(p_hat, v, G)``: pooled rate and its cluster-robust variance (see :func:`cluster_interval`)."""
    G = s.shape[-1]
    S, N = s.sum(axis=-1), t.sum(axis=-1)
    Nn = np.where(N > 0, N, 1.0)
    p = S / Nn
    v = G / (G - 1) * ((s - p[..., None] * t) ** 2).sum(axis=-1) / Nn**2
    return p, v, G


def cluster_difference_interval(successes_a, trials_a, successes_b, trials_b, conf=0.95):
    """Interval for ``rate_a - rate_b`` over dictionaries, two independent sets of dictionaries.

    Each rate is the pooled ratio estimator with its cluster-robust variance
    ``v`` (:func:`cluster_interval`); the difference gets ``+- t_df sqrt(v_a + v_b)``
    with Welch-Satterthwaite degrees of freedom
    ``df = (v_a + v_b)^2 / (v_a^2/(G_a - 1) + v_b^2/(G_b - 1))`` (Welch 1947).
    When both variances are 0 the half-width is 0 (no between-dictionary
    spread was seen; with few dictionaries, read that with care). Needs
    G >= 2 dictionaries on each side.

    Returns ``(difference, low, high)``.
    """
    conf = check_float("conf", conf, low=0.0, high=1.0, low_open=True, high_open=True)
    sa, ta = _counts(successes_a, trials_a)
    sb, tb = _counts(successes_b, trials_b)
    if sa.shape[-1] < 2 or sb.shape[-1] < 2:
        raise ValueError(f"cluster_difference_interval needs >= 2 dictionaries per side, got "
                         f"{sa.shape[-1]} and {sb.shape[-1]}.")
    pa, va, Ga = _ratio_var(sa, ta)
    pb, vb, Gb = _ratio_var(sb, tb)
    v = va + vb
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(v > 0, v**2 / np.where(v > 0, va**2 / (Ga - 1) + vb**2 / (Gb - 1), 1.0), np.inf)
    half = stats.t.ppf(0.5 + conf / 2, np.maximum(df, 1.0)) * np.sqrt(v)
    d = pa - pb
    return d, np.maximum(d - half, -1.0), np.minimum(d + half, 1.0)


_METHODS = {"cluster": cluster_interval, "bootstrap": cluster_bootstrap_interval,
            "conditional": conditional_interval}
_LABELS = {"cluster": "over dictionaries (Korn-Graubard effective-size Wilson)",
           "bootstrap": "over dictionaries (cluster bootstrap)",
           "conditional": "conditional on the dictionaries used (Wilson on pooled trials)"}


def rate_interval(successes, trials, conf=0.95, method="cluster"):
    """Rate with an interval and a label saying which kind: ``(estimate, low, high, label)``.

    ``method`` in {"cluster" (default), "bootstrap", "conditional"}; see the
    module docstring. Counts are per dictionary along the last axis.
    """
    method = check_choice("method", method, list(_METHODS))
    est, low, high = _METHODS[method](successes, trials, conf)
    return est, low, high, _LABELS[method]
