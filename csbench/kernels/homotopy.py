"""Numba kernel for the lasso homotopy (LARS-lasso): the exact solution path from lam_max down to lam.

Problem (one trial)::

    min_x  1/2 ||y - A x||^2 + lam ||x||_1        (optionally x >= 0)

The solution is piecewise linear in lam (Osborne, Presnell & Turlach 2000;
Efron, Hastie, Johnstone & Tibshirani 2004). On a piece with active set S and
signs s (``c = A^T (y - A x)``, ``c_S = lam s``, ``|c_j| <= lam`` elsewhere)::

    x_S(lam - t) = x_S(lam) + t d,   d = G_SS^{-1} s,   G_SS = A_S^T A_S
    c(lam - t)   = c(lam) - t a,     a = A^T A_S d

The next kink is the smallest t > 0 at which an inactive ``|c_j|`` reaches
``lam - t`` (j enters with the sign of c_j; with x >= 0 only ``c_j = lam - t``
counts) or an active ``x_j`` reaches 0 (j leaves). Each step costs one pass
over A for ``a`` (``O(n |S|)`` from ``G = A^T A`` in Gram mode) plus
``O(|S|^2)`` for the triangular solves; the upper Cholesky factor R of
``G_SS`` is updated when a feature enters (a new column, one triangular solve)
and downdated when one leaves (Givens rotations). The path is
finite; below the l1 phase transition it has a few times m kinks (measured
(n, m, k) = (1000, 200, 60), lam = 1e-3 lam_max: ~300), far above it about k.

With |S| = m (A_S square) no feature can enter at lam > 0, so entries are
not considered then. A feature whose column is numerically dependent on the
active ones (pivot ``< DEP_TOL * ||a_j||^2``, e.g. duplicate or antipodal
columns) stops the path: the kernel then returns the exact solution at the
lam reached, for another solver to finish.

Kernels take arrays and scalars and write into preallocated outputs; no Python
objects, RNG or I/O; no fastmath.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: Relative pivot below which an entering column counts as dependent on the active set.
DEP_TOL = 1e-12


@njit(cache=True)
def back_solve(M, s, b):
    """Solve ``R[:s, :s] z = b[:s]`` in place (R upper triangular, in M)."""
    for k in range(s - 1, -1, -1):
        rk = M[k]
        acc = b[k]
        for j in range(k + 1, s):
            acc -= rk[j] * b[j]
        b[k] = acc / rk[k]


@njit(cache=True)
def forward_solve(M, s, b):
    """Solve ``R[:s, :s]^T w = b[:s]`` in place (R upper triangular, in M)."""
    for k in range(s):
        b[k] /= M[k, k]
        wk = b[k]
        rk = M[k]
        for j in range(k + 1, s):
            b[j] -= rk[j] * wk


@njit(cache=True)
def chol_delete(R, s, q):
    """Downdate the upper Cholesky factor ``R[:s, :s]`` of G for G without row and column q.

    Removes column q (the factor becomes upper Hessenberg from column q on)
    and restores triangularity with Givens rotations of rows (k, k + 1),
    ``k = q .. s - 2``, which leave ``R^T R`` unchanged (Golub & Van Loan,
    Matrix Computations, 4th ed., sec. 6.5.2). The result is ``R[:s-1, :s-1]``.
    """
    for i in range(s):
        row = R[i]
        for j in range(q, s - 1):
            row[j] = row[j + 1]
    for k in range(q, s - 1):
        rk = R[k]
        rn = R[k + 1]
        f = rk[k]
        g = rn[k]
        h = np.hypot(f, g)
        cs = f / h
        sn = g / h
        rk[k] = h
        rn[k] = 0.0
        for j in range(k + 1, s - 1):
            t1 = rk[j]
            t2 = rn[j]
            rk[j] = cs * t1 + sn * t2
            rn[j] = cs * t2 - sn * t1


@njit(cache=True)
def homotopy_one(A, y, c, lam, positive, max_steps, G, x):
    """Follow the lasso path from ``lam_max`` down to ``lam``; ``x`` receives the solution.

    Parameters
    ----------
    A : (m, n) float64
    y : (m,) float64
    c : (n,) float64
        ``A^T y``.
    lam : float > 0
        Target regularisation.
    positive : bool
        Constrain x >= 0.
    max_steps : int
        Cap on the number of path steps (kinks).
    G : (n, n) or (0, 0) float64
        ``A^T A`` (Gram mode) or an empty array.
    x : (n,) float64, out
        The path solution at the smallest lam reached (overwritten; 0 at ``lam_max``).

    Returns
    -------
    (steps, lam_reached) : (int, float)
        ``lam_reached == lam`` if the path got there; larger if it stopped at a
        dependent column or after ``max_steps`` steps (x is then the solution at
        ``lam_reached``).
    """
    m, n = A.shape
    gram = G.shape[0] > 0
    x[:] = 0.0
    cur = 0.0  # lam_max and the first feature to enter
    enter = -1
    for j in range(n):
        v = c[j] if positive else abs(c[j])
        if v > cur:
            cur = v
            enter = j
    if cur <= lam:
        return 0, lam
    cap = min(m, n)
    R = np.zeros((cap, cap))
    Ac = np.empty((0 if gram else cap, m))  # active columns, one per row
    act = np.empty(cap, np.int64)
    sg = np.empty(cap)
    xs = np.empty(cap)
    d = np.empty(cap)
    pos = np.full(n, -1, np.int64)
    cc = c.copy()
    a = np.empty(n)
    u = np.empty(m)
    s = 0
    sign = 1.0 if (positive or c[enter] > 0.0) else -1.0
    dropped = -1
    steps = 0
    while True:
        if enter >= 0:  # add column `enter` to the factor: R^T w = A_S^T a_j, pivot ||a_j||^2 - ||w||^2
            w = R[:s, s]
            if gram:
                Gj = G[enter]
                diag = Gj[enter]
                for q in range(s):
                    d[q] = Gj[act[q]]
            else:
                col = Ac[s]
                diag = 0.0
                for i in range(m):
                    col[i] = A[i, enter]
                    diag += col[i] * col[i]
                for q in range(s):
                    acc = 0.0
                    aq = Ac[q]
                    for i in range(m):
                        acc += aq[i] * col[i]
                    d[q] = acc
            forward_solve(R, s, d)
            piv = diag
            for q in range(s):
                piv -= d[q] * d[q]
            if not piv > DEP_TOL * diag:
                break
            for q in range(s):
                w[q] = d[q]
            R[s, s] = np.sqrt(piv)
            act[s] = enter
            sg[s] = sign
            xs[s] = 0.0
            pos[enter] = s
            s += 1
        if steps >= max_steps:
            break
        steps += 1
        # direction d = G_SS^{-1} s and a = A^T A_S d
        for q in range(s):
            d[q] = sg[q]
        forward_solve(R, s, d)
        back_solve(R, s, d)
        if gram:
            a[:] = 0.0
            for q in range(s):
                dq = d[q]
                Gq = G[act[q]]
                for j in range(n):
                    a[j] += dq * Gq[j]
        else:
            u[:] = 0.0
            for q in range(s):
                dq = d[q]
                aq = Ac[q]
                for i in range(m):
                    u[i] += dq * aq[i]
            a[:] = 0.0
            for i in range(m):
                ui = u[i]
                row = A[i]
                for j in range(n):
                    a[j] += ui * row[j]
        # next kink: t <= cur - lam
        t = cur - lam
        enter = -1
        drop = -1
        for q in range(s):
            if xs[q] * d[q] < 0.0:
                tq = -xs[q] / d[q]
                if tq < t:
                    t = tq
                    drop = q
        if s < m:
            for j in range(n):
                if pos[j] >= 0 or j == dropped:
                    continue
                aj = a[j]
                cj = cc[j]
                if aj < 1.0:
                    tj = max(cur - cj, 0.0) / (1.0 - aj)
                    if tj < t:
                        t = tj
                        enter = j
                        sign = 1.0
                if not positive and aj > -1.0:
                    tj = max(cur + cj, 0.0) / (1.0 + aj)
                    if tj < t:
                        t = tj
                        enter = j
                        sign = -1.0
        if enter >= 0:
            drop = -1
        for q in range(s):
            xs[q] += t * d[q]
        for j in range(n):
            cc[j] -= t * a[j]
        cur -= t
        dropped = -1
        if drop >= 0:  # leaves with c_j = s_j lam exactly
            j = act[drop]
            dropped = j
            pos[j] = -1
            cc[j] = sg[drop] * cur
            chol_delete(R, s, drop)
            for q in range(drop, s - 1):
                act[q] = act[q + 1]
                sg[q] = sg[q + 1]
                xs[q] = xs[q + 1]
                pos[act[q]] = q
                if not gram:
                    Ac[q, :] = Ac[q + 1]
            s -= 1
        elif enter < 0:
            cur = lam
            break
    # x_S = G_SS^{-1} (A_S^T y - cur s): exact on the final pattern
    for q in range(s):
        d[q] = c[act[q]] - cur * sg[q]
    forward_solve(R, s, d)
    back_solve(R, s, d)
    for q in range(s):
        x[act[q]] = d[q]
    return steps, cur
