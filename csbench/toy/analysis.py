"""Analyses of toy models and of any code W (numpy only).

Geometry (Elhage et al. 2022, *Toy Models of Superposition*, TMS): feature norms
``||W_i||``, feature dimensionality ``D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2``
(W^_i = W_i / ||W_i||), angles of the features in 2-D. Untied models:
``W_eff = W_out W_in``. Errors (seed 001): per-feature error conditional on the
feature being active and unconditional (Monte Carlo), the response to one
active feature (gains g+, g-; attenuation error), the split of the conditional
error into attenuation and interference, and the naive baseline in closed form.
"""
from __future__ import annotations

import numpy as np

from .data import sample_inputs, targets


def feature_norms(W):
    """``||W_i||`` for every column i of W (m, n)."""
    W = np.asarray(W, float)
    return np.sqrt(np.einsum("ij,ij->j", W, W))


def feature_dimensionality(W):
    """TMS feature dimensionality ``D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2`` (0 for a zero column).

    Sums to at most m over features; 1 for an orthogonal feature, 1/2 for an antipodal pair member.
    """
    W = np.asarray(W, float)
    sq = np.einsum("ij,ij->j", W, W)
    G = W.T @ W
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = (G**2).sum(axis=1) / np.where(sq > 0, sq, 1.0)  # sum_j (W_i.W_j)^2 / ||W_i||^2
        D = np.where(sq > 0, sq / np.where(denom > 0, denom, 1.0), 0.0)
    return D


def angles_2d(W, min_norm=0.1, merge_deg=1.0):
    """Angles of the features of a 2-D code and the polygon they form.

    Returns a dict: ``angles_deg`` (the angle of every column, in [0, 360)),
    ``represented`` (indices with norm >= ``min_norm``), ``angle_gaps_deg`` (the
    cyclic gaps between the sorted angles of the represented features),
    ``directions`` (number of distinct directions: features closer than
    ``merge_deg`` share one) and ``norms``.
    """
    W = np.asarray(W, float)
    if W.shape[0] != 2:
        raise ValueError(f"angles_2d needs a code with m = 2 rows, got shape {W.shape}.")
    norms = feature_norms(W)
    ang = np.degrees(np.arctan2(W[1], W[0])) % 360.0
    rep = np.flatnonzero(norms >= min_norm)
    a = np.sort(ang[rep])
    gaps = np.diff(np.append(a, a[0] + 360.0)) if len(a) else np.array([])
    directions = int((gaps >= merge_deg).sum()) if len(a) > 1 else len(a)
    return {"angles_deg": ang, "represented": rep, "angle_gaps_deg": gaps, "directions": directions, "norms": norms}


def weff_stats(W_in, W_out):
    """Statistics of ``W_eff = W_out W_in`` (n, n): its diagonal and off-diagonal entries."""
    We = np.asarray(W_out, float) @ np.asarray(W_in, float)
    d = np.diag(We)
    off = We[~np.eye(len(d), dtype=bool)]
    return {"diag_mean": float(d.mean()), "diag_std": float(d.std()), "diag_min": float(d.min()),
            "diag_max": float(d.max()), "offdiag_mean": float(off.mean()) if off.size else 0.0,
            "offdiag_abs_mean": float(np.abs(off).mean()) if off.size else 0.0,
            "offdiag_std": float(off.std()) if off.size else 0.0,
            "offdiag_max_abs": float(np.abs(off).max()) if off.size else 0.0}


def mean_abs_cos(W):
    """Mean |cos| between distinct feature directions (columns of W)."""
    W = np.asarray(W, float)
    U = W / np.where(feature_norms(W) > 0, feature_norms(W), 1.0)
    G = np.abs(U.T @ U)
    n = G.shape[0]
    return float((G.sum() - np.trace(G)) / (n * (n - 1))) if n > 1 else 0.0


def response(model, v):
    """Output of feature i when only feature i is active with value v, for every i: shape (len(v), n)."""
    n = model.spec.n
    v = np.atleast_1d(np.asarray(v, float))
    out = np.empty((len(v), n))
    for j, vj in enumerate(v):
        out[j] = np.diag(model.forward(vj * np.eye(n)))
    return out


def gains(model):
    """Secant gains of the response to one active feature: ``g+ = r(1) - r(0)``, ``g- = r(0) - r(-1)``.

    r_i(v) is feature i's output with only feature i active at value v. Without
    biases the response is linear on each side of 0 (ReLU hidden layer), so these
    are its exact slopes. Returns per-feature arrays ``g_plus``, ``g_minus`` and
    ``r_minus1`` = r(-1) (the output for a negative input).
    """
    r = response(model, [-1.0, 0.0, 1.0])
    return {"g_plus": r[2] - r[1], "g_minus": r[1] - r[0], "r_minus1": r[0]}


def _value_quadrature(values, nodes=64):
    """Nodes and weights of the distribution of an active value (integrates E[f(v)])."""
    if values == "binary":
        return np.array([1.0]), np.array([1.0])
    t, w = np.polynomial.legendre.leggauss(nodes)
    pos, wpos = (t + 1) / 2, w / 2  # U(0, 1)
    if values == "positive":
        return pos, wpos
    return np.concatenate([-pos, pos]), np.concatenate([wpos, wpos]) / 2  # U(-1, 1), split at the kink 0


def attenuation_error(model, q=None):
    """Per-feature ``E_v |r_i(v) - t(v)|^q`` with feature i the only active one (no interference).

    Gauss-Legendre quadrature over the active-value distribution (64 nodes per
    side of 0): exact for responses linear on each side of 0 (no biases).
    """
    spec = model.spec
    q = spec.q if q is None else q
    if spec.data == "identity":
        v, w = np.array([1.0]), np.array([1.0])
    else:
        v, w = _value_quadrature(spec.values)
    r = response(model, v)
    t = targets(spec, v)[:, None]
    return w @ np.abs(r - t) ** q


def per_feature_error(model, rng, samples=200_000, q=None, p=None, chunk=20_000):
    """Monte Carlo per-feature error of ``model`` on its data distribution.

    Returns a dict of arrays (n,): ``active`` = E[|x'_i - t_i|^q | x_i != 0] with its
    standard error ``active_se``, ``unconditional`` = E|x'_i - t_i|^q, and ``n_active``.
    ``p`` overrides the spec's p (a sparsity sweep of a trained model).
    """
    spec = model.spec if p is None else model.spec.replace(p=p)
    q = spec.q if q is None else q
    n = spec.n
    s1, s2, cnt, tot = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    done = 0
    while done < samples:
        b = min(chunk, samples - done)
        X = sample_inputs(spec, rng, b, dtype=np.float64)
        E = np.abs(model.forward(X) - targets(spec, X)) ** q
        act = X != 0
        s1 += np.where(act, E, 0).sum(0)
        s2 += np.where(act, E**2, 0).sum(0)
        cnt += act.sum(0)
        tot += E.sum(0)
        done += b
    c = np.maximum(cnt, 1)
    mean = s1 / c
    var = np.maximum(s2 / c - mean**2, 0.0)
    return {"active": mean, "active_se": np.sqrt(var / np.maximum(cnt - 1, 1)),
            "unconditional": tot / samples, "n_active": cnt}


def error_split(model, rng, samples=200_000, q=None):
    """Split of the mean conditional error into attenuation (one feature active) and interference.

    ``attenuation`` = mean_i of :func:`attenuation_error`; ``total`` = mean_i of the
    Monte Carlo conditional error; ``interference = total - attenuation`` and its share.
    """
    att = float(attenuation_error(model, q).mean())
    tot = float(per_feature_error(model, rng, samples, q)["active"].mean())
    return {"attenuation": att, "interference": tot - att, "total": tot,
            "interference_share": (tot - att) / tot if tot > 0 else 0.0}


def active_target_moment(spec, q=None):
    """``E[|t(v)|^q]`` for an active value v: 1/(q+1) for U(0,1) and for U(-1,1) with target x,
    1/(2(q+1)) for U(-1,1) with target ReLU(x), 1 for binary values."""
    q = spec.q if q is None else q
    if spec.data == "identity" or spec.values == "binary":
        return 1.0
    if spec.values == "signed" and spec.target == "relu":
        return 1.0 / (2.0 * (q + 1))
    return 1.0 / (q + 1)


def naive_baseline(spec, q=None, kept=None):
    """Closed-form error of the naive model: ``kept`` features (default m) exact, the rest output 0.

    The kept features are those with the largest ``I_i p_i`` (ties: lowest index).
    An ignored feature errs by ``|t(v)|`` when active, so its conditional error is
    ``E|t(v)|^q`` (:func:`active_target_moment`) and its unconditional error is
    ``p_i E|t(v)|^q``; kept features err by 0. Seed 001 (U(-1,1), target ReLU,
    m = 10 of n = 100): MSE_active = 0.9 / 6 = 0.15, L4_active = 0.9 / 10 = 0.09.
    """
    kept = min(spec.m, spec.n) if kept is None else kept
    c = active_target_moment(spec, q)
    order = np.lexsort((np.arange(spec.n), -(spec.importance_vector() * spec.p_vector())))
    active = np.full(spec.n, c)
    active[order[:kept]] = 0.0
    unc = spec.p_vector() * active
    return {"active": active, "unconditional": unc, "mean_active": float(active.mean()),
            "mean_unconditional": float(unc.mean()), "kept": np.sort(order[:kept])}
