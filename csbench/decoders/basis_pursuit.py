"""Basis pursuit (exact l1 reference) solved as a linear program with SciPy's HiGHS."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from .._validate import check_bool
from .base import DECODERS, DecodeResult, ERROR, MAX_ITER, OK


def _solve_one(A, y, nonneg):
    """min ||x||_1 s.t. A x = y (x >= 0 when ``nonneg``), via HiGHS.

    Signed case: x = u - v with u, v >= 0, minimise 1^T (u + v) s.t. [A, -A][u; v] = y.
    Returns (x, n_iter, status).
    """
    m, n = A.shape
    # Presolve finds nothing to remove in a dense random LP and costs 3-5x the solve.
    opts = {"presolve": False}
    if nonneg:
        res = linprog(np.ones(n), A_eq=A, b_eq=y, bounds=(0, None), method="highs-ds", options=opts)
    else:
        res = linprog(np.ones(2 * n), A_eq=np.hstack([A, -A]), b_eq=y, bounds=(0, None),
                      method="highs-ds", options=opts)
    nit = int(getattr(res, "nit", 0) or 0)
    if res.status == 0 and res.x is not None:
        x = res.x if nonneg else res.x[:n] - res.x[n:]
        return x, nit, OK
    return np.zeros(n), nit, MAX_ITER if res.status == 1 else ERROR


@DECODERS.register("basis_pursuit", "min ||x||_1 s.t. Ax = y (or x >= 0): exact LP via SciPy HiGHS",
                   checks={"nonneg": check_bool})
def basis_pursuit(A, Y, k, *, nonneg=False):
    """Basis pursuit ``min ||x||_1 s.t. A x = y`` (Chen, Donoho & Saunders 1998).

    ``nonneg=True`` solves ``min 1^T x s.t. A x = y, x >= 0``. Solved per trial
    by HiGHS (Huangfu & Hall 2018) through ``scipy.optimize.linprog``; an
    infeasible or failed LP gets status ``error`` (zeros returned), an
    iteration limit ``max_iter``. This is the reference the iterative l1
    decoders are checked against. ``k`` is ignored.
    """
    T, n = Y.shape[0], A.shape[-1]
    X = np.zeros((T, n))
    n_iter = np.zeros(T, np.int64)
    status = np.zeros(T, np.int8)
    for t in range(T):
        X[t], n_iter[t], status[t] = _solve_one(A if A.ndim == 2 else A[t], Y[t], bool(nonneg))
    return DecodeResult(X, n_iter, status)
