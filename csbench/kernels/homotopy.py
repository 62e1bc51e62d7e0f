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
def _gram_col(A, G, Ac, act, s, j, w):
    """``w[:s] = A_S^T a_j`` and, without G, ``Ac[s] = a_j``; returns ``||a_j||^2``."""
    if G.shape[0] > 0:
        Gj = G[j]
        for q in range(s):
            w[q] = Gj[act[q]]
        return Gj[j]
    col = Ac[s]
    diag = 0.0
    for i in range(A.shape[0]):
        col[i] = A[i, j]
        diag += col[i] * col[i]
    for q in range(s):
        acc = 0.0
        aq = Ac[q]
        for i in range(A.shape[0]):
            acc += aq[i] * col[i]
        w[q] = acc
    return diag


@njit(cache=True)
def _direction(A, G, Ac, act, R, sg, s, d, u, a):
    """``d = G_SS^{-1} s`` and ``a = A^T A_S d`` (``= G[:, S] d`` in Gram mode)."""
    for q in range(s):
        d[q] = sg[q]
    forward_solve(R, s, d)
    back_solve(R, s, d)
    a[:] = 0.0
    if G.shape[0] > 0:
        for q in range(s):
            dq = d[q]
            Gq = G[act[q]]
            for j in range(a.shape[0]):
                a[j] += dq * Gq[j]
        return
    u[:] = 0.0
    for q in range(s):
        dq = d[q]
        aq = Ac[q]
        for i in range(u.shape[0]):
            u[i] += dq * aq[i]
    m = u.shape[0]
    m4 = m - m % 4
    for i in range(0, m4, 4):  # four rows at a time: a is loaded and stored m / 4 times
        u0, u1, u2, u3 = u[i], u[i + 1], u[i + 2], u[i + 3]
        r0, r1, r2, r3 = A[i], A[i + 1], A[i + 2], A[i + 3]
        for j in range(a.shape[0]):
            a[j] += u0 * r0[j] + u1 * r1[j] + u2 * r2[j] + u3 * r3[j]
    for i in range(m4, m):
        ui = u[i]
        row = A[i]
        for j in range(a.shape[0]):
            a[j] += ui * row[j]


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
        The path solution at the smallest lam reached (overwritten).

    Returns
    -------
    (steps, lam_reached) : (int, float)
        ``lam_reached == lam`` if the path got there, larger if it stopped
        after ``max_steps`` steps (x is then the solution at ``lam_reached``).
    """
    m, n = A.shape
    x[:] = 0.0
    cur = 0.0  # lam_max
    for j in range(n):
        cur = max(cur, c[j] if positive else abs(c[j]))
    if cur <= lam:
        return 0, lam
    cap = min(m, n)
    R = np.zeros((cap, cap))  # upper Cholesky factor of G_SS in R[:s, :s]
    Ac = np.empty((0 if G.shape[0] > 0 else cap, m))  # a_j for the active j (row s: an entering candidate)
    act = np.empty(cap, np.int64)
    sg = np.empty(cap)
    xs = np.empty(cap)
    d = np.empty(cap)
    w = np.empty(cap)
    pos = np.full(n, -1, np.int64)  # position in the active set, -1 if inactive, -2 if blocked
    blocked = np.empty(n, np.int64)
    nb = 0
    cc = c.copy()
    a = np.zeros(n)
    u = np.empty(m)
    s = 0
    dropped = -1
    steps = 0
    while True:
        if s > 0:  # the first feature enters at lam_max without a step
            if steps >= max_steps:
                break
            steps += 1
            _direction(A, G, Ac, act, R, sg, s, d, u, a)
        # next kink t <= cur - lam; an entering column dependent on A_S is blocked and the search repeated
        while True:
            t = cur - lam
            enter = -1
            drop = -1
            sign = 1.0
            for q in range(s):  # x_q moves against its sign (at once if it has just entered, or by a tie)
                if sg[q] * d[q] < 0.0 and max(-xs[q] / d[q], 0.0) < t:
                    t = max(-xs[q] / d[q], 0.0)
                    drop = q
            if s < cap:
                for j in range(n):
                    if pos[j] != -1 or j == dropped:
                        continue
                    aj = a[j]
                    cj = cc[j]
                    if aj < 1.0 and max(cur - cj, 0.0) < t * (1.0 - aj):
                        t = max(cur - cj, 0.0) / (1.0 - aj)
                        enter = j
                        sign = 1.0
                    if not positive and aj > -1.0 and max(cur + cj, 0.0) < t * (1.0 + aj):
                        t = max(cur + cj, 0.0) / (1.0 + aj)
                        enter = j
                        sign = -1.0
            if enter < 0:
                break
            drop = -1
            diag = _gram_col(A, G, Ac, act, s, enter, w)
            forward_solve(R, s, w)
            piv = diag
            for q in range(s):
                piv -= w[q] * w[q]
            if piv > DEP_TOL * diag:
                break
            pos[enter] = -2
            blocked[nb] = enter
            nb += 1
        for q in range(s):
            xs[q] += t * d[q]
        for j in range(n):
            cc[j] -= t * a[j]
        cur -= t
        dropped = -1
        if enter >= 0:
            for q in range(s):
                R[q, s] = w[q]
            R[s, s] = np.sqrt(piv)
            act[s] = enter
            sg[s] = sign
            xs[s] = 0.0
            pos[enter] = s
            s += 1
        elif drop >= 0:  # leaves with c_j = s_j lam; the span shrinks, so blocked columns may enter again
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
                if G.shape[0] == 0:
                    Ac[q, :] = Ac[q + 1]
            s -= 1
            for b in range(nb):
                pos[blocked[b]] = -1
            nb = 0
        else:
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
