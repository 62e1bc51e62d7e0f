"""Closed forms for toy models: the 1-sparse binary loss (seed 002) and its circle solutions.

For the tied model without bias on the identity data set (every input one-hot,
binary), the output for input e_i is ``act(W^T W_i)``, so the summed squared error
over the data set is (seed 002, after TMS)

    L(W) = sum_i (act(||W_i||^2) - 1)^2 + sum_{i != j} act(W_i . W_j)^2.

With ReLU, d features spread evenly on a circle of radius r (and the other n - d
at 0, costing 1 each) give ``L = (n - d) + d [(1 - r^2)^2 + r^4 S_d]`` with
``S_d = sum_{0 < |s| < d/4} cos^2(2 pi s / d)`` (the neighbours at positive cosine);
the best r^2 = 1 / (1 + S_d) gives ``L = n - d + d S_d / (1 + S_d)``
(:func:`circle_loss`). Seed 002's formula ``sum_{|s| <= floor(d/4)} cos^2(2 pi s / d)``
(:func:`circle_loss_seed`) assumes unit norms and counts the s = 0 term.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import erf

from .model import activate


def _dact(name, z):
    if name == "relu":
        return (z > 0).astype(float)
    if name == "gelu":
        return 0.5 * (1.0 + erf(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    return np.ones_like(z)


def one_sparse_loss(W, activation="relu", grad=False):
    """``L(W) = sum_{i,j} (act(W_i . W_j) - delta_ij)^2`` for W (m, n); with ``grad=True`` also dL/dW."""
    W = np.asarray(W, float)
    G = W.T @ W
    R = activate(activation, G) - np.eye(G.shape[0])
    L = float((R * R).sum())
    if not grad:
        return L
    D = 2.0 * R * _dact(activation, G)  # dL/dG
    return L, W @ (D + D.T)


def minimise_one_sparse_loss(n, m, activation="relu", restarts=20, seed=0):
    """Direct minimisation of :func:`one_sparse_loss` (L-BFGS from ``restarts`` random starts).

    Returns ``(W_best, L_best, all_losses)``; starts are N(0, 1/m) matrices from
    ``SeedSequence(seed)``.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    best, losses = None, []

    def f(w):
        L, g = one_sparse_loss(w.reshape(m, n), activation, grad=True)
        return L, g.ravel()

    for _ in range(restarts):
        w0 = rng.standard_normal(m * n) / np.sqrt(m)
        res = minimize(f, w0, jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15})
        losses.append(float(res.fun))
        if best is None or res.fun < best[1]:
            best = (res.x.reshape(m, n), float(res.fun))
    return best[0], best[1], np.array(losses)


def _S(d):
    s = np.arange(1, d)
    c = np.cos(2 * np.pi * s / d)
    return float((np.where(c > 1e-12, c, 0.0) ** 2).sum())  # neighbours with positive cosine (both sides)


def circle_loss_seed(d):
    """Seed 002's circle loss ``sum_{s=-floor(d/4)}^{floor(d/4)} cos^2(2 pi s / d)`` (as written)."""
    s = np.arange(-(d // 4), d // 4 + 1)
    return float((np.cos(2 * np.pi * s / d) ** 2).sum())


def circle_loss(d, n, radius=None):
    """ReLU loss of d features evenly on a circle, the other n - d at zero (module docstring).

    ``radius=None`` uses the optimal ``r^2 = 1 / (1 + S_d)``; ``radius=1`` gives unit norms.
    """
    if not 1 <= d <= n:
        raise ValueError(f"d={d} is out of range; allowed: 1 <= d <= n={n}.")
    S = _S(d)
    r2 = 1.0 / (1.0 + S) if radius is None else float(radius) ** 2
    return (n - d) + d * ((1.0 - r2) ** 2 + r2 * r2 * S)
