"""Per-trial success criteria and Wilson confidence intervals.

Every criterion is computed for every trial, so the criterion defining
"recovered" can be chosen after a run. Metrics are always finite.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

from ._validate import check_finite_array, check_float

#: Per-trial columns produced by :func:`score`.
CRITERIA = ("exact", "support", "n_wrong", "n_false_pos", "n_false_neg", "rel_err")


def score(X, X_hat, *, binary, tol=1e-3, support_tol=1e-3):
    """Score estimates against the truth, trial by trial.

    Parameters
    ----------
    X, X_hat : array, shape (T, n)
        Truth and estimates.
    binary : bool
        Binary {0,1} signals: a coordinate is decoded as ``1[x_hat_i >= 1/2]`` (seed 003).
    tol : float
        Real signals: ``exact`` means ``||x_hat - x||_2 <= tol ||x||_2`` and a
        coordinate is wrong when ``|x_hat_i - x_i| > tol ||x||_inf``.
    support_tol : float
        Real signals: estimated support ``{i : |x_hat_i| > support_tol ||x||_inf}``.

    Returns
    -------
    dict of arrays, shape (T,)
        ``exact`` (bool), ``support`` (bool, estimated support equals the true
        one), ``n_wrong`` (wrong coordinates), ``n_false_pos``/``n_false_neg``
        (support errors) and ``rel_err = ||x_hat - x|| / ||x||`` (``||x_hat||``
        when x = 0).
    """
    X = check_finite_array("X", X, ndim=2)
    X_hat = check_finite_array("X_hat", X_hat, ndim=2)
    if X.shape != X_hat.shape:
        raise ValueError(f"X and X_hat must have the same shape, got {X.shape} and {X_hat.shape}.")
    tol = check_float("tol", tol, low=0.0)
    support_tol = check_float("support_tol", support_tol, low=0.0)
    xnorm = np.linalg.norm(X, axis=1)
    err = np.linalg.norm(X_hat - X, axis=1)
    rel_err = err / np.where(xnorm > 0, xnorm, 1.0)
    true_supp = X != 0
    if binary:
        est = X_hat >= 0.5
        n_wrong = np.count_nonzero(est != true_supp, axis=1)
        exact = n_wrong == 0
    else:
        scale = np.abs(X).max(axis=1, initial=0.0)
        scale = np.where(scale > 0, scale, 1.0)[:, None]
        est = np.abs(X_hat) > support_tol * scale
        n_wrong = np.count_nonzero(np.abs(X_hat - X) > tol * scale, axis=1)
        exact = rel_err <= tol
    fp = np.count_nonzero(est & ~true_supp, axis=1)
    fn = np.count_nonzero(~est & true_supp, axis=1)
    return {
        "exact": exact,
        "support": (fp == 0) & (fn == 0),
        "n_wrong": n_wrong.astype(np.int64),
        "n_false_pos": fp.astype(np.int64),
        "n_false_neg": fn.astype(np.int64),
        "rel_err": rel_err,
    }


def wilson_interval(successes, trials, conf=0.95):
    """Wilson score interval for a binomial proportion (Wilson 1927).

    ``p_hat = s/N``, ``z = Phi^-1((1 + conf)/2)``;
    centre ``(p_hat + z^2/2N) / (1 + z^2/N)``, half-width
    ``z sqrt(p_hat (1 - p_hat)/N + z^2/4N^2) / (1 + z^2/N)``.
    Vectorised; returns ``(low, high)``. ``trials = 0`` gives ``(0, 1)``.
    """
    conf = check_float("conf", conf, low=0.0, high=1.0, low_open=True, high_open=True)
    s = np.asarray(successes, dtype=float)
    N = np.asarray(trials, dtype=float)
    if np.any(s < 0) or np.any(s > N):
        raise ValueError("successes must satisfy 0 <= successes <= trials.")
    z = norm.ppf(0.5 + conf / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(N > 0, s / N, 0.5)
        Nn = np.where(N > 0, N, 1.0)
        denom = 1 + z * z / Nn
        centre = (p + z * z / (2 * Nn)) / denom
        half = z * np.sqrt(p * (1 - p) / Nn + z * z / (4 * Nn * Nn)) / denom
    low = np.where(N > 0, np.clip(centre - half, 0, 1), 0.0)
    high = np.where(N > 0, np.clip(centre + half, 0, 1), 1.0)
    return low, high
