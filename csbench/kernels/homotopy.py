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
over A for ``a``, or, on a working set W of columns with a KKT check over all
columns every few steps (see :func:`homotopy_batch`), ``O(m |W|)`` from the
gathered columns, or ``O(|S| |W|)`` from the rows of ``G = A^T A`` restricted
to W in Gram mode, plus ``O(|S|^2)`` for the triangular solves
and ``O(m |S|)`` for an entering column; the upper Cholesky factor R of
``G_SS`` is updated when a feature enters (a new column, one triangular solve)
and downdated when one leaves (Givens rotations). The path is
finite; below the l1 phase transition it has a few times m kinks (measured
(n, m, k) = (1000, 200, 60), lam = 1e-3 lam_max: ~300), far above it about k.

With |S| = m (A_S square) no feature can enter at lam > 0, so entries are
not considered then. A feature whose column is numerically dependent on the
active ones (pivot ``< DEP_TOL * ||a_j||^2``, e.g. duplicate or antipodal
columns) is blocked: it cannot enter until a feature leaves the active set.

Kernels take arrays and scalars and write into preallocated outputs; no Python
objects, RNG or I/O; no fastmath.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._linalg import (DEP_TOL, at_mul, back_solve, chol_append, chol_delete, copy_n, dot, forward_solve, kth_largest,
                      trial_views)



@njit(cache=True)
def _gram_col(A, G, Ac, act, s, j, w):
    """``w[:s] = A_S^T a_j`` and, without G, ``Ac[s] = a_j``; returns ``||a_j||^2``."""
    if G.shape[0] > 0:
        Gj = G[j]
        for q in range(s):
            w[q] = Gj[act[q]]
        return Gj[j]
    col = Ac[s]
    m = A.shape[0]
    for i in range(m):
        col[i] = A[i, j]
    for q in range(s):
        w[q] = dot(Ac[q], col, np.int64(0), m)
    return dot(col, col, np.int64(0), m)


@njit(cache=True)
def _combine(Ac, v, s, out):
    """``out = sum_{q < s} v_q Ac[q]`` (a combination of the active columns)."""
    out[:] = 0.0
    for q in range(s):
        vq = v[q]
        aq = Ac[q]
        for i in range(out.shape[0]):
            out[i] += vq * aq[i]


@njit(cache=True)
def _gram_combine(G, act, v, s, a):
    """``a = sum_{q < s} v_q G[act[q]]``, adding the terms to each ``a_b`` in the order of q.

    Four rows of G per pass over ``a`` (each ``a_b`` still gets ``v_0 G_0b``, then ``v_1 G_1b``, ...:
    the same roundings as one pass per row), so ``a`` is loaded and stored a quarter as often.
    """
    a[:] = 0.0
    n = a.shape[0]
    q = 0
    while q + 4 <= s:
        v0, v1, v2, v3 = v[q], v[q + 1], v[q + 2], v[q + 3]
        g0, g1, g2, g3 = G[act[q]], G[act[q + 1]], G[act[q + 2]], G[act[q + 3]]
        for b in range(n):
            t = a[b] + v0 * g0[b]
            t = t + v1 * g1[b]
            t = t + v2 * g2[b]
            a[b] = t + v3 * g3[b]
        q += 4
    while q < s:
        vq = v[q]
        gq = G[act[q]]
        for b in range(n):
            a[b] += vq * gq[b]
        q += 1


@njit(cache=True)
def _direction(A, G, Ac, Aw, Gr, ident, ws, p, act, R, sg, s, d, u, a):
    """``d = G_SS^{-1} s`` and ``a_q = a_{ws[q]}^T A_S d`` for the p working-set columns.

    Gram mode: from the rows ``Gr[q, :p] = G[act[q], ws[:p]]`` on a working set, else from the
    rows of G (all columns, ws the identity). No gathered columns (``Aw`` empty, ws the identity):
    one pass over A.
    Otherwise from the gathered columns ``Aw[:, :p]`` (column q = column ws[q] of A): O(m p).
    """
    for q in range(s):
        d[q] = sg[q]
    forward_solve(R, s, d)
    back_solve(R, s, d)
    if Gr.shape[0] > 0:
        _gram_combine(Gr, ident, d, s, a[:p])
        return
    if G.shape[0] > 0:  # Gram mode scanning every column: ws is the identity, p = n
        _gram_combine(G, act, d, s, a[:p])
        return
    _combine(Ac, d, s, u)
    if Aw.shape[1] == 0:
        at_mul(A, u, a)
    else:
        at_mul(Aw, u, a[:p])  # reads columns < p only; a C-contiguous A (one specialisation)


@njit(cache=True)
def _add_columns(A, g, cur, pos, positive, count, inw, ws, p, Aw, cw):
    """Add to the working set the inactive columns among the ``count`` with the largest ``|g_j|``
    (``g_j`` if positive; ties at the count-th value included) that are not in it yet, and every
    column outside it with ``|g_j| > cur``; gather them into ``Aw[:, p:]`` and set their
    correlations ``cw`` from g. Returns the new size p."""
    n = g.shape[0]
    val = np.empty(n)  # |g_j| (g_j if positive) of the inactive columns, -inf for the others
    for j in range(n):
        v = g[j] if positive else abs(g[j])
        val[j] = v if pos[j] == -1 else -np.inf
    thr = cur
    if count > 0:
        q = min(count, n)
        thr = min(thr, kth_largest(val, q, np.empty(q), np.empty(q, np.int64)))
    for j in range(n):
        if inw[j] >= 0 or val[j] == -np.inf or not (val[j] >= thr or val[j] > cur):
            continue
        inw[j] = p
        ws[p] = j
        cw[p] = g[j]
        if Aw.shape[1] > 0:
            for i in range(A.shape[0]):
                Aw[i, p] = A[i, j]
        p += 1
    return p


@njit(cache=True)
def _gram_rows(G, act, ws, q0, s, b0, p, Gr):
    """``Gr[q, b] = G[act[q], ws[b]]`` for ``q0 <= q < s``, ``b0 <= b < p`` (Gram rows restricted to W)."""
    for q in range(q0, s):
        Gq = G[act[q]]
        row = Gr[q]
        for b in range(b0, p):
            row[b] = Gq[ws[b]]


@njit(cache=True, nogil=True)
def homotopy_batch(A3, Y, trials, lams, positive, budget, G, X, n_steps, lam_reached, ws_size, check_every, t0, t1):
    """Follow the lasso path of each trial ``trial = trials[q]``, ``t0 <= q < t1``, from ``lam_max`` down to ``lams[trial]``.

    Parameters
    ----------
    A3 : (T, m, n) or (1, m, n) float64
        Trial t uses ``A3[t]`` (``A3[0]`` if A is shared); below, ``A`` is that (m, n) matrix.
    Y : (T, m) float64
    trials : (T',) int64
        The trials to solve.
    lams : (T,) float64, > 0
        Target regularisation of each trial.
    positive : bool
        Constrain x >= 0.
    budget : (T,) int64
        Cap on the number of path steps (kinks) of each trial.
    G : (n, n) or (0, 0) float64
        ``A^T A`` (Gram mode, shared A) or an empty array.
    X : (T, n) float64, out
        ``X[trial]`` receives the path solution at the smallest lam reached (overwritten).
    n_steps : (T,) int64, out
        Kinks of the path of each solved trial.
    lam_reached : (T,) float64, out
        ``lams[trial]`` if the path got there, larger if it stopped after ``budget[trial]`` steps
        (``X[trial]`` is then the solution at ``lam_reached[trial]``).
    ws_size : int
        ``0 < ws_size < n``: follow the path on a working set W of columns (see
        below), adding ``ws_size`` candidates at each check. Otherwise all
        columns are scanned at every step.
    check_every : int >= 1
        Working-set mode: steps between KKT checks over all columns.
    t0, t1 : int
        The range of positions in ``trials`` (``csbench.decoders.base.run_trials`` runs ranges on
        threads; the kernel releases the GIL).

    Notes
    -----
    A kernel of its own, so that it is compiled only when some trial needs it (the lasso's hand-over,
    :func:`csbench.kernels.lasso.lasso_batch`). One trial's path is written out in the loop over trials
    rather than in a function of its own: a separate function is one more LLVM module to link and
    optimise again, and numba's IR inliner (``inline="always"``) deep-copies the callee's whole scope
    for each of its blocks (~2 CPU s of compilation for this kernel; ``docs/benchmarks.md``, "Cold start").

    Working-set mode. Steps only scan the columns of W (``O(m |W|)`` per step
    instead of a pass over A; in Gram mode ``O(|S| |W|)`` from ``Gr``, the rows of
    G of the active features restricted to W, kept as features enter and leave and
    as W grows, instead of ``O(|S| n)`` from whole rows of G: at (n, m, k) =
    (4096, 384, 64), lam = 0.01 lam_max, 68 -> 16 ms per signal, one thread);
    W starts as the ``ws_size`` columns with the largest ``|c_j|``. Every
    ``check_every`` steps, and before returning, the full correlation
    ``g = A^T (y - A x)`` (Gram mode: ``A^T y - G_S x_S``) is computed: if
    ``|g_j| <= lam_t`` for every j outside W, x is the exact solution of the full problem at the
    current ``lam_t`` (KKT), and the state is saved as a checkpoint; W then
    gains the ``ws_size`` outside columns with the largest ``|g_j|``. If some
    column violates it, the path returns to the last checkpoint (an exact
    solution), the violators join W and the steps are redone. Each failed
    check enlarges W, so the path ends; the result is the exact solution.
    """
    n = A3.shape[2]
    c = np.empty(n)
    for q_trial in range(t0, t1):
        trial = trials[q_trial]
        A, y, x = trial_views(A3, Y, X, trial)
        lam = lams[trial]
        max_steps = budget[trial]
        at_mul(A, y, c)
        m, n = A.shape
        x[:] = 0.0
        cur = 0.0  # lam_max
        for j in range(n):
            cur = max(cur, c[j] if positive else abs(c[j]))
        if cur <= lam:
            n_steps[trial], lam_reached[trial] = 0, lam
            continue
        gram = G.shape[0] > 0
        wsm = 0 < ws_size < n
        cap = min(m, n)
        R = np.zeros((cap, cap))  # upper Cholesky factor of G_SS in R[:s, :s]
        Ac = np.empty((0 if gram else cap, m))  # a_j for the active j (row s: an entering candidate)
        act = np.empty(cap, np.int64)
        sg = np.empty(cap)
        xs = np.empty(cap)
        d = np.empty(cap)
        w = np.empty(cap)
        pos = np.full(n, -1, np.int64)  # position in the active set, -1 if inactive, -2 if blocked
        blocked = np.empty(n, np.int64)
        nb = np.int64(0)
        # working set W = ws[:p] (inw[j]: position in W or -1), columns gathered in Aw, correlations cw
        ws = np.arange(n)
        inw = np.full(n, -1, np.int64)
        Aw = np.empty((m, n if wsm and not gram else 0))
        Gr = np.empty((cap if wsm and gram else 0, n))  # Gram mode on W: G[act[q], ws[:p]] in row q
        ident = np.arange(cap)
        cw = c.copy()
        p = n
        if wsm:
            p = _add_columns(A, c, cur, pos, positive, ws_size, inw, ws, np.int64(0), Aw, cw)
        a = np.zeros(n)
        u = np.empty(m)
        r = np.empty(m)
        g = np.empty(n if wsm else 0)
        # checkpoint: the last state verified to be the exact solution of the full problem
        k_act = np.empty(cap, np.int64)
        k_sg = np.empty(cap)
        k_xs = np.empty(cap)
        k_R = np.empty((cap, cap) if wsm else (0, 0))
        k_g = c.copy()
        k_s = np.int64(0)
        k_cur = cur
        k_steps = 0
        k_dropped = np.int64(-1)
        s = np.int64(0)  # typed: a literal 0 would compile the callees twice (see _linalg)
        dropped = np.int64(-1)
        steps = 0
        since = 0  # steps since the checkpoint
        while True:
            final = False
            if s > 0:  # the first feature enters at lam_max without a step
                if steps >= max_steps:
                    final = True
                else:
                    steps += 1
                    since += 1
                    _direction(A, G, Ac, Aw, Gr, ident, ws, p, act, R, sg, s, d, u, a)
            else:
                a[:p] = 0.0
            if not final:
                # next kink t <= cur - lam; an entering column dependent on A_S is blocked and the search repeated
                while True:
                    t = cur - lam
                    enter = np.int64(-1)
                    drop = np.int64(-1)
                    sign = 1.0
                    for q in range(s):  # x_q moves against its sign (at once if it has just entered, or by a tie)
                        if sg[q] * d[q] < 0.0 and max(-xs[q] / d[q], 0.0) < t:
                            t = max(-xs[q] / d[q], 0.0)
                            drop = q
                    if s < cap:
                        for b in range(p):
                            j = ws[b]
                            if pos[j] != -1 or j == dropped:
                                continue
                            aj = a[b]
                            cj = cw[b]
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
                    drop = np.int64(-1)
                    diag = _gram_col(A, G, Ac, act, s, enter, w)
                    if chol_append(R, s, w, diag, DEP_TOL):  # R[:s+1, :s+1] is the factor once enter is in
                        break
                    pos[enter] = -2
                    blocked[nb] = enter
                    nb += 1
                for q in range(s):
                    xs[q] += t * d[q]
                for b in range(p):
                    cw[b] -= t * a[b]
                cur -= t
                dropped = np.int64(-1)
                if enter >= 0:
                    act[s] = enter
                    sg[s] = sign
                    xs[s] = 0.0
                    pos[enter] = s
                    if Gr.shape[0] > 0:
                        _gram_rows(G, act, ws, s, s + 1, np.int64(0), p, Gr)
                    s += 1
                elif drop >= 0:  # leaves with c_j = s_j lam; the span shrinks, so blocked columns may enter again
                    j = act[drop]
                    dropped = j
                    pos[j] = -1
                    if wsm:
                        cw[inw[j]] = sg[drop] * cur
                    else:
                        cw[j] = sg[drop] * cur
                    chol_delete(R, s, drop)
                    for q in range(drop, s - 1):
                        act[q] = act[q + 1]
                        sg[q] = sg[q + 1]
                        xs[q] = xs[q + 1]
                        pos[act[q]] = q
                        if not gram:
                            copy_n(Ac[q], Ac[q + 1], m)
                        elif Gr.shape[0] > 0:
                            copy_n(Gr[q], Gr[q + 1], p)
                    s -= 1
                    for b in range(nb):
                        pos[blocked[b]] = -1
                    nb = np.int64(0)
                else:
                    cur = lam
                    final = True
            if not wsm or (not final and since < check_every):
                if final:
                    break
                continue
            # KKT check over all columns at cur: g = A^T (y - A_S x_S) (Gram mode: A^T y - G_S x_S)
            if gram:
                _gram_combine(G, act, xs, s, g)
                for j in range(n):
                    g[j] = c[j] - g[j]
            else:
                _combine(Ac, xs, s, r)
                for i in range(m):
                    r[i] = y[i] - r[i]
                at_mul(A, r, g)
            ok = True
            for j in range(n):
                if inw[j] < 0 and (g[j] if positive else abs(g[j])) > cur:
                    ok = False
                    break
            if ok:  # checkpoint; W gains the closest outside columns
                k_s, k_cur, k_steps, k_dropped = s, cur, steps, dropped
                copy_n(k_act, act, s)
                copy_n(k_sg, sg, s)
                copy_n(k_xs, xs, s)
                for q in range(s):
                    for u2 in range(q, s):
                        k_R[q, u2] = R[q, u2]
                copy_n(k_g, g, n)
                since = 0
                if final:
                    break
                p_new = _add_columns(A, g, cur, pos, positive, ws_size, inw, ws, p, Aw, cw)
                if Gr.shape[0] > 0:
                    _gram_rows(G, act, ws, np.int64(0), s, p, p_new, Gr)
                p = p_new
                continue
            # back to the checkpoint; the violators (|g_j| > cur) join W
            p = _add_columns(A, g, cur, pos, positive, np.int64(0), inw, ws, p, Aw, cw)
            s, cur, steps = k_s, k_cur, k_steps
            copy_n(act, k_act, s)
            copy_n(sg, k_sg, s)
            copy_n(xs, k_xs, s)
            for q in range(s):
                for u2 in range(q, s):
                    R[q, u2] = k_R[q, u2]
            pos[:] = -1
            nb = np.int64(0)
            dropped = k_dropped
            for q in range(s):
                pos[act[q]] = q
                if not gram:
                    col = Ac[q]
                    for i in range(m):
                        col[i] = A[i, act[q]]
            if Gr.shape[0] > 0:
                _gram_rows(G, act, ws, np.int64(0), s, np.int64(0), p, Gr)
            for b in range(p):
                cw[b] = k_g[ws[b]]
            since = 0
        # x_S = G_SS^{-1} (A_S^T y - cur s): exact on the final pattern. An atom at a kink (x_j = 0 on
        # the path) can come out as -1e-16 times its sign: it is 0 (x >= 0 stays exact when positive).
        for q in range(s):
            d[q] = c[act[q]] - cur * sg[q]
        forward_solve(R, s, d)
        back_solve(R, s, d)
        for q in range(s):
            x[act[q]] = d[q] if d[q] * sg[q] >= 0.0 else 0.0
        n_steps[trial] = steps
        lam_reached[trial] = cur
