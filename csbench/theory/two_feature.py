"""Seed 004, Theorem 3 in its own model: two binary features in one dimension, optimised exactly.

Model (seed 004, "Antipodal pairs"): features ``x = (x_1, x_2)``, each 1
independently with probability ``rho = k/n`` (= 1 - S), stored in one
dimension ``h = w_1 x_1 + w_2 x_2`` and read out as
``x''_i = ReLU(w_i h + b_i)``; the loss is the expected squared error per pair

    L(w, b) = E sum_i (x''_i - x_i)^2
            = sum_{x in {0,1}^2} rho^{|x|} (1 - rho)^{2 - |x|} sum_i (x''_i - x_i)^2,

an exact sum over the four inputs. The seed has no bias (``b = 0``); Toy Models
of Superposition (and ``experiments/toy_phase_diagrams.py``) train with one.

No bias: derivation of the optimum
---------------------------------
With ``q = rho (1 - rho)`` and, by the symmetries ``w -> -w`` and
``w_1 <-> w_2``, ``w = (a, +-c)`` with ``a >= c >= 0``:

* antipodal (``w_1 w_2 < 0``; ``(1, 1)`` gives ``h = a - c >= 0``, so feature 2
  reads 0)::

      L = q [(a^2 - 1)^2 + (c^2 - 1)^2] + rho^2 [(a^2 - a c - 1)^2 + 1].

  At ``a = c = 1`` this is the seed's ``2 rho^2``; the minimum is slightly
  below it and asymmetric (``a != c``, e.g. ``rho = 0.1``: w = (1.027, -0.972),
  L = 0.019446 < 0.02), found by minimising the quartic numerically.
* stacked (``w_1 w_2 > 0``, both features on the same direction)::

      L = q [(a^2 - 1)^2 + (c^2 - 1)^2 + 2 a^2 c^2]
          + rho^2 [(a^2 + a c - 1)^2 + (c^2 + a c - 1)^2].

  On the diagonal ``a^2 = c^2 = u`` the derivative is
  ``4 (2u - 1)(q + 2 rho^2)``, zero at ``u = 1/2``: ``w = (1, 1)/sqrt 2``,
  which reads each single feature as 1/2 (error 1/2 per single-active input)
  and the pair ``(1, 1)`` exactly, so ``L = 2 q * 1/2 = rho (1 - rho)``.
  The exhaustive search confirms this is the stacked minimum for every rho
  tested.
* one direction (``c = 0``, the seed's alternative): ``L = rho``, always worse
  than stacked (``rho (1 - rho) < rho``), so it is never optimal.

Every minimiser has ``|w_i| <= sqrt 2``: otherwise ``q (w_i^2 - 1)^2 > q``,
above the stacked value ``q``. :func:`two_feature_optimum` therefore searches a
grid of spacing ~0.0035 over ``[-sqrt 2, sqrt 2]^2`` (exhaustive on the compact
set holding the minimiser) and polishes the best grid points with
Nelder-Mead on the exact loss. The antipodal pair wins for
``rho < rho* = 0.3661`` (:func:`antipodal_switch_point`, the root of
``min L_antipodal(rho) = rho (1 - rho)``); above it the stacked direction wins.
So the seed's rule "antipodal iff k/n <= 1/2" (:func:`~csbench.theory.use_antipodal`)
compares with the wrong alternative; in its own model the switch is at 0.366.

With a bias
-----------
The same search over ``(w, b)`` (a grid on ``[-1.5, 1.5]^2 x [-1, 1]^2``, then
polishing; a dense search, not a proof). At ``rho >= 0.5`` the optimum is an
asymmetric stacked solution, e.g. ``rho = 0.5``: ``|w| = (0.996, 0.412)``, biases
``(-0.268, +0.209)``, L = 0.2430, below the 0.2500 = rho (1 - rho) of "one
feature exact, the other at its mean".
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq, minimize

__all__ = ["TwoFeatureOptimum", "antipodal_switch_point", "two_feature_loss", "two_feature_optimum"]

_INPUTS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
_WMAX = float(np.sqrt(2.0))


def _check_rho(rho):
    rho = float(rho)
    if not 0.0 < rho < 1.0:
        raise ValueError(f"rho={rho!r} is outside the allowed range 0 < rho < 1")
    return rho


def two_feature_loss(w, rho, b=None):
    """Exact expected loss ``E sum_i (ReLU(w_i h + b_i) - x_i)^2``, ``h = w . x``, x two Bernoulli(rho) bits.

    Parameters
    ----------
    w : array_like, shape (..., 2)
        Feature directions (one dimension, so scalars), broadcast over leading axes.
    rho : float
        Probability each feature is active, 0 < rho < 1.
    b : array_like, shape (..., 2), optional
        Biases; None (default) is the seed's model without bias.

    Returns
    -------
    ndarray, shape (...)
        The sum over the four inputs weighted by ``rho^{|x|} (1-rho)^{2-|x|}``.
    """
    rho = _check_rho(rho)
    w = np.asarray(w, dtype=float)
    if w.shape[-1:] != (2,):
        raise ValueError(f"w has shape {w.shape}; its last axis must have length 2")
    b = np.zeros_like(w) if b is None else np.broadcast_to(np.asarray(b, dtype=float), w.shape)
    loss = np.zeros(w.shape[:-1])
    for x in _INPUTS:
        prob = np.prod(np.where(x == 1.0, rho, 1.0 - rho))
        h = w @ x
        out = np.maximum(w * h[..., None] + b, 0.0)
        loss = loss + prob * ((out - x) ** 2).sum(axis=-1)
    return loss


class TwoFeatureOptimum(NamedTuple):
    """Result of :func:`two_feature_optimum`: the loss, the minimiser and its kind."""

    loss: float
    w: np.ndarray
    b: np.ndarray
    kind: str  # "antipodal" (w_1 w_2 < 0), "stacked" (w_1 w_2 > 0) or "one" (a w_i ~ 0)


def _kind(w, tol=1e-3):
    if min(abs(w[0]), abs(w[1])) < tol:
        return "one"
    return "antipodal" if w[0] * w[1] < 0 else "stacked"


def _polish(fun, starts):
    best = None
    for x0 in starts:
        r = minimize(fun, x0, method="Nelder-Mead",
                     options={"xatol": 1e-11, "fatol": 1e-15, "maxiter": 40000, "maxfev": 40000})
        if best is None or r.fun < best.fun:
            best = r
    return best


def _region_min(rho, region, grid=401):
    """Minimum of the no-bias loss over w_1 >= 0 and sign(w_2) in {-1 (antipodal), +1 (stacked)}."""
    a = np.linspace(0.0, _WMAX, grid)
    c = a * (1.0 if region == "stacked" else -1.0)
    W = np.stack(np.meshgrid(a, c, indexing="ij"), axis=-1)
    L = two_feature_loss(W, rho)
    order = np.argsort(L, axis=None)[:3]
    sign = 1.0 if region == "stacked" else -1.0

    def fun(v):  # keep the region: w_1 = |v_0|, w_2 = sign |v_1|
        return float(two_feature_loss(np.array([abs(v[0]), sign * abs(v[1])]), rho))

    starts = [np.abs(W.reshape(-1, 2)[i]) for i in order]
    r = _polish(fun, starts)
    w = np.array([abs(r.x[0]), sign * abs(r.x[1])])
    return float(r.fun), w


def two_feature_optimum(rho, bias=False):
    """Global minimiser of :func:`two_feature_loss` for seed 004's two-feature, one-dimension model.

    Parameters
    ----------
    rho : float
        Probability each feature is active (k/n), 0 < rho < 1.
    bias : bool
        False (default): the seed's model ``ReLU(w_i h)``, searched exhaustively
        (see the module docstring for the bound and the derivation). True:
        ``ReLU(w_i h + b_i)``, a dense grid search plus polishing (not a proof).

    Returns
    -------
    TwoFeatureOptimum
        ``loss``, ``w`` (w_1 >= 0), ``b`` and ``kind`` in {"antipodal", "stacked", "one"}.

    Examples
    --------
    >>> round(two_feature_optimum(0.1).loss, 5), two_feature_optimum(0.1).kind
    (0.01945, 'antipodal')
    >>> round(two_feature_optimum(0.4).loss, 5), two_feature_optimum(0.4).kind
    (0.24, 'stacked')
    """
    rho = _check_rho(rho)
    if not bias:
        la, wa = _region_min(rho, "antipodal")
        ls, ws = _region_min(rho, "stacked")
        loss, w = (la, wa) if la <= ls else (ls, ws)
        return TwoFeatureOptimum(loss, w, np.zeros(2), _kind(w))
    g_w = np.linspace(-1.5, 1.5, 31)
    g_b = np.linspace(-1.0, 1.0, 21)
    P = np.stack(np.meshgrid(g_w, g_w, g_b, g_b, indexing="ij"), axis=-1).reshape(-1, 4)
    P = P[P[:, 0] >= 0]  # w -> -w (with h -> -h) leaves the read-outs w_i h unchanged
    L = two_feature_loss(P[:, :2], rho, P[:, 2:])
    starts = P[np.argsort(L)[:12]]
    r = _polish(lambda v: float(two_feature_loss(v[:2], rho, v[2:])), starts)
    w, b = r.x[:2].copy(), r.x[2:].copy()
    if w[0] < 0:
        w = -w
    return TwoFeatureOptimum(float(r.fun), w, b, _kind(w))


def antipodal_switch_point(xtol=1e-10):
    """``rho*`` where the best antipodal pair and the stacked direction tie (no bias): 0.3661.

    Root in (0.2, 0.5) of ``min_{w_1 w_2 < 0} L(w; rho) - rho (1 - rho)``; the
    antipodal pair is optimal below it, the stacked direction ``(1, 1)/sqrt 2``
    above (module docstring). Seed 004's Theorem 3 puts the switch at 1/2
    against "one direction" (``L = rho``), which is never optimal here.
    """
    return float(brentq(lambda r: _region_min(r, "antipodal")[0] - r * (1.0 - r), 0.2, 0.5, xtol=xtol))
