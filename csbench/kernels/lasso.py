"""Numba kernels for the lasso: working-set coordinate descent with Gram updates, homotopy near the transition.

Problem (one trial)::

    min_x  P(x) = 1/2 ||y - A x||^2 + lam ||x||_1        (optionally x >= 0)

Dual (Kim et al. 2007; Massias, Gramfort & Salmon 2018, "Celer")::

    max_theta  D(theta) = y.theta - 1/2 ||theta||^2   s.t. |a_j.theta| <= lam   (a_j.theta <= lam if x >= 0)

A feasible dual point is the rescaled residual ``theta = s r``,
``s = min(1, lam / max_j |a_j.r|)`` (``max_j a_j.r`` if x >= 0), and the gap
``P(x) - D(theta) >= 0`` bounds the suboptimality of x.

Coordinate descent (:func:`lasso_batch`). An outer step computes the full gradient
``g = A^T r`` (one pass over A; ``g = A^T y`` is reused at x = 0) and the gap,
and stops if ``gap <= tol * ||y||^2 / 2``. Otherwise it picks a working set W:
the support of x plus the features with the largest KKT violation ``|g_j|``
(``g_j`` if x >= 0), ``|W| = max(p0, 1.5 |supp|)`` (skglm uses ``2 |supp|``,
Bertrand et al. 2022; 1.5 measured faster, see ``WS_GROWTH``), capped at
``max(p0, 2m)``. It forms ``G_W = A_W^T A_W`` (entries of features already in
the previous W are reused; new rows four at a time, lower triangle only) and
runs cyclic coordinate descent on W with ``O(|W|)`` gradient updates
``g_W -= delta G_W[j]``; an epoch never touches A. After an epoch that
left the support and signs unchanged, an active-set step (:func:`_newton`)
solves the problem on that sign pattern exactly. Epochs are so cheap next to a
pass over A that the subproblem is solved to the final tolerance when
``|W|^2 <= m n / 8``, and to ``INNER_FRACTION`` times the outer gap otherwise.
Columns of A with zero norm have ``G_jj = 0`` and keep ``x_j = 0``.

With a precomputed ``G = A^T A`` and ``c = A^T y`` from one product ``Y A`` for all
trials (shared A, "Gram mode", as LARS and scikit-learn's ``precompute``) the full
gradient is ``c - G x``, ``G_W`` is read from G and the gap's ``||r||^2`` and ``y.r``
come from ``||y||^2``, ``x.c`` and ``x.g``, so a trial never touches A.

Near and below the l1 phase transition at small lam, CD iterates carry more
than m nonzeros, ``G_SS`` is singular, the active-set step does not apply and
CD needs 1e3-1e5 epochs (measured (n, m, k) = (1000, 200, 60), lam_ratio 1e-3:
1e4-4e4 epochs, ~0.5-1 s per problem). The lasso (:func:`lasso_batch`) therefore runs CD
for at most ``SWITCH_EPOCHS`` epochs and only while its iterates have at most
``SWITCH_NNZ * m`` nonzeros; otherwise it solves the problem by the exact
homotopy (:mod:`csbench.kernels.homotopy`, on a working set of columns with a
KKT check over all of A every ``HOMOTOPY_CHECK`` kinks; ~1.5 m kinks below the
transition) and lets CD check the gap. The rule uses
only the trial's own data. Far above the transition CD converges in ~5-30
epochs and never hands over.

Kernels take arrays and scalars and write into preallocated outputs; no Python
objects, RNG or I/O; no fastmath.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._linalg import (MAX_ITER, NONFINITE_INPUT, OK, at_mul, back_solve, forward_solve,
                      copy_n, residual, sift, trial_views)

#: Status of :func:`lasso_batch`: CD hands over to the homotopy (others in :mod:`._linalg`).
SWITCH = -1
#: Default smallest working-set size p0 (measured best of 8/16/24/32/64 at (n, m, k) = (1000, 200, 10),
#: about equal to 32/50 at (10000, 400, 20)).
WS_START = 16
#: Working-set size ``max(WS_START, WS_GROWTH * |supp|)``. Measured (one thread, fresh Gaussian A, signed x,
#: lam_ratio 0.01, ms per problem, growth 2 -> 1.5): (1000, 300, 40) 0.84 -> 0.66; (4000, 500, 50) 3.3 -> 3.0;
#: (2000, 300, 30) 0.80 -> 0.73; (1000, 200, 10) 0.157 -> 0.155; (10000, 400, 20) 3.0 -> 3.0-3.1 (noise level).
#: Growing by 2 after a working set that the solution filled, 1.5 otherwise, was slower (0.73 at (1000, 300, 40)).
WS_GROWTH = 1.5
#: Inner tolerance (fraction of the outer gap) when epochs are expensive (|W|^2 > m n / 8).
INNER_FRACTION = 0.3
#: The lasso hands over from CD to the homotopy after SWITCH_EPOCHS epochs, or as soon as an
#: iterate has more than SWITCH_NNZ * m nonzeros. Measured (lam_ratio 1e-3, one thread, 8 trials in each
#: of 20 cases from (n, m, k) = (1000, 200, 10) to (4096, 150, 32)): total time with 80-200 epochs within
#: 1 %, 50 epochs +4 %; SWITCH_NNZ 0.25-0.35 within 2 %, 0.15 +6 %, no nnz rule +14 %.
SWITCH_EPOCHS = 100
SWITCH_NNZ = 0.3
#: Homotopy working set (:func:`csbench.kernels.homotopy.homotopy_batch`): ``HOMOTOPY_WS * m`` candidate columns
#: added at each KKT check, one check every HOMOTOPY_CHECK steps. Measured (36 problems near the transition,
#: (n, m) = (4096, 60-215) and (1000, 200), lam_ratio 1e-3, one thread): 0.5 / 16 took 0.5 of the time of
#: scanning all columns at every step; 0.25 / 8 0.54, 1 / 8 0.6, 0.125 / 16 0.85.
HOMOTOPY_WS = 0.5
HOMOTOPY_CHECK = 16


@njit(cache=True)
def lam_max(c, positive):
    """Smallest lam whose solution is 0: ``max_j |c_j|``, or ``max(0, max_j c_j)`` if positive (c = A^T y)."""
    out = 0.0
    for j in range(c.shape[0]):
        v = c[j] if positive else abs(c[j])
        if v > out:
            out = v
    return out


@njit(cache=True)
def _support(x, out):
    """Write the indices of the nonzeros of x into ``out``; return their count."""
    nnz = 0
    for j in range(x.shape[0]):
        if x[j] != 0.0:
            out[nnz] = j
            nnz += 1
    return nnz


@njit(cache=True)
def _support_residual(A, y, x, supp, xs, r):
    """``r = y - A x`` over the support of x only (:func:`csbench.kernels._linalg.residual`); ``supp``, ``xs`` scratch."""
    nnz = _support(x, supp)
    for q in range(nnz):
        xs[q] = x[supp[q]]
    residual(A, y, supp, xs, nnz, r)


@njit(cache=True)
def _gap(rr, yr, l1, gmax, lam):
    """Duality gap from ``||r||^2``, ``y.r``, ``||x||_1`` and ``gmax = max_j |a_j.r|`` (``max a_j.r`` if positive)."""
    s = 1.0
    if gmax > lam:
        s = lam / gmax
    return 0.5 * rr + lam * l1 - (s * yr - 0.5 * s * s * rr)


@njit(cache=True)
def _select(g, x, positive, p, hv, ws, flag):
    """Working set: the support of x plus the ``p - |supp|`` others with the largest ``|g_j|`` (``g_j`` if positive).

    Ties keep the lower index. Writes sorted indices into ``ws`` and returns
    their count. ``hv`` is scratch of length >= p; ``flag`` (n,) is all False on entry and exit.
    """
    n = g.shape[0]
    nnz = _support(x, ws)
    q = min(max(p - nnz, 0), n - nnz)
    hi = ws[nnz:]  # heap of indices, values in hv
    size = 0
    for j in range(n):
        if x[j] != 0.0 or q == 0:
            continue
        v = g[j] if positive else abs(g[j])
        if size < q:  # fill, then heapify once full
            hv[size] = v
            hi[size] = j
            size += 1
            if size == q:
                for pos in range(q // 2 - 1, -1, -1):
                    sift(hv, hi, q, pos)
        elif v > hv[0]:
            hv[0] = v
            hi[0] = j
            sift(hv, hi, q, np.int64(0))
    total = nnz + size
    for a in range(total):  # sort: mark, then scan in index order
        flag[ws[a]] = True
    q = 0
    for j in range(n):
        if flag[j]:
            ws[q] = j
            q += 1
            flag[j] = False
    return total


@njit(cache=True)
def _order_ws(sel, p, ws_old, p_old, flag, ws, kpos):
    """Order the selected features ``sel[:p]`` into ``ws``: those of the previous working set
    first, in their old order (``kpos`` = old positions), then the new ones. Returns how many were kept."""
    for a in range(p):
        flag[sel[a]] = True
    kept = 0
    for a in range(p_old):
        j = ws_old[a]
        if flag[j]:
            ws[kept] = j
            kpos[kept] = a
            kept += 1
            flag[j] = False
    q = kept
    for a in range(p):
        j = sel[a]
        if flag[j]:
            ws[q] = j
            q += 1
            flag[j] = False
    return kept


@njit(cache=True)
def _gram_rows(Aw, a0, p, Gw):
    """``Gw[a, b] = Gw[b, a] = sum_i Aw[i, a] Aw[i, b]`` for ``a0 <= a < p``, ``0 <= b < p``.

    Rows are computed four at a time over ``b <= a`` only (lower triangle, one
    vectorisable pass over ``Aw`` per four rows) and mirrored. Each entry is the
    plain sum over i in increasing order.
    """
    m = Aw.shape[0]
    a = a0
    while a + 4 <= p:
        o0, o1, o2, o3 = Gw[a], Gw[a + 1], Gw[a + 2], Gw[a + 3]
        hi = a + 4
        o0[:hi] = 0.0
        o1[:hi] = 0.0
        o2[:hi] = 0.0
        o3[:hi] = 0.0
        for i in range(m):
            v = Aw[i]
            s0, s1, s2, s3 = v[a], v[a + 1], v[a + 2], v[a + 3]
            for b in range(hi):
                vb = v[b]
                o0[b] += s0 * vb
                o1[b] += s1 * vb
                o2[b] += s2 * vb
                o3[b] += s3 * vb
        a += 4
    while a < p:
        o0 = Gw[a]
        hi = a + 1
        o0[:hi] = 0.0
        for i in range(m):
            v = Aw[i]
            s0 = v[a]
            for b in range(hi):
                o0[b] += s0 * v[b]
        a += 1
    for a in range(a0, p):
        row = Gw[a]
        for b in range(a):
            Gw[b, a] = row[b]


@njit(cache=True)
def _ws_gram(A, G, ws, p, kept, kpos, Gold, Awold, Gw, Aw):
    """``Gw = A_W^T A_W`` for ``W = ws[:p]`` and (without G) ``Aw[:, :p] = A[:, W]``, zero-padded.

    The first ``kept`` features of W were at positions ``kpos`` of the previous working set.

    With G non-empty, Gw is read from G. Otherwise the kept block is copied
    from ``Gold`` / ``Awold``, new columns are gathered from A, and new rows are
    computed by :func:`_gram_rows`.
    """
    if G.shape[0] > 0:
        for a in range(p):
            ja = ws[a]
            for b in range(p):
                Gw[a, b] = G[ja, ws[b]]
        return
    for a in range(kept):
        for b in range(kept):
            Gw[a, b] = Gold[kpos[a], kpos[b]]
    width = Aw.shape[1]
    for i in range(A.shape[0]):
        row = A[i]
        out = Aw[i]
        old = Awold[i]
        for a in range(kept):
            out[a] = old[kpos[a]]
        for a in range(kept, p):
            out[a] = row[ws[a]]
        for a in range(p, width):
            out[a] = 0.0
    _gram_rows(Aw, kept, p, Gw)


@njit(cache=True)
def cholesky(M, s):
    """Upper Cholesky factor R (``R^T R = M[:s, :s]``) in place, row by row with contiguous updates.

    Returns -1, or the first k whose pivot falls below ``1e-12 M_kk`` (column k
    numerically dependent on columns 0..k-1).
    """
    for k in range(s):
        d0 = M[k, k]
        rk = M[k]
        for i in range(k):  # pending updates of row k come from rows 0..k-1
            f = M[i, k]
            if f != 0.0:
                ri = M[i]
                for j in range(k, s):
                    rk[j] -= f * ri[j]
        d = rk[k]
        if not d > 1e-12 * d0:
            return k
        d = np.sqrt(d)
        inv = 1.0 / d
        rk[k] = d
        for j in range(k + 1, s):
            rk[j] *= inv
    return -1


@njit(cache=True)
def _newton(Gw, gw, xw, cw, lam, Mbuf, idx, z):
    """Active-set step: minimise exactly on the current support S and signs s of x.

    Solves ``G_SS z = c_S - lam s`` (Cholesky; skipped if ``G_SS`` is
    numerically singular, e.g. |S| > m) and moves x_S towards z as far as the
    signs of x stay: ``x + t (z - x)``, t <= 1, the first coordinate to reach 0
    leaving S. On that segment the objective is a convex quadratic minimised
    at t = 1, so the step descends; the exact change of the objective is
    checked and the step skipped unless it is <= 0. Updates ``xw`` and ``gw``;
    returns True if a step was taken. ``Mbuf`` (>= |S|^2), ``idx``, ``z`` are scratch.
    """
    p = xw.shape[0]
    ns = _support(xw, idx)
    if ns == 0:
        return False
    M = Mbuf[: ns * ns].reshape((ns, ns))
    for q in range(ns):
        a = idx[q]
        for u in range(ns):
            M[q, u] = Gw[a, idx[u]]
        z[q] = cw[a] - (lam if xw[a] > 0.0 else -lam)
    if cholesky(M, ns) >= 0:
        return False
    forward_solve(M, ns, z)
    back_solve(M, ns, z)
    t = 1.0
    qmin = -1  # the coordinate that reaches 0 first
    for q in range(ns):
        xo = xw[idx[q]]
        z[q] -= xo  # direction z - x
        if z[q] * xo < 0.0 and -xo / z[q] < t:
            t = -xo / z[q]
            qmin = q
    # exact change of the objective for delta = t z: -delta.g + 1/2 delta G delta + lam (|x + delta|_1 - |x|_1)
    dF = 0.0
    for q in range(ns):
        a = idx[q]
        xo = xw[a]
        z[q] *= t
        xn = 0.0 if q == qmin else xo + z[q]
        dF += -z[q] * gw[a] + lam * (abs(xn) - abs(xo))
    for q in range(ns):
        Ga = Gw[idx[q]]
        acc = 0.0
        for u in range(ns):
            acc += Ga[idx[u]] * z[u]
        dF += 0.5 * z[q] * acc
    if not dF <= 0.0:
        return False
    for q in range(ns):
        a = idx[q]
        xn = xw[a] + z[q]
        if q == qmin or (xn > 0.0) != (xw[a] > 0.0):
            xn = 0.0  # reached zero (or crossed it by rounding)
        delta = xn - xw[a]
        xw[a] = xn
        if delta != 0.0:
            row = Gw[a]
            for b in range(p):
                gw[b] -= delta * row[b]
    return True


@njit(cache=True)
def cd_epochs(Gw, gw, xw, cw, yy, lam, positive, target, max_epochs, M, idx, z):
    """Cyclic CD on ``min_x 1/2 ||y_W - A_W x||^2 + lam ||x||_1`` given its Gram data.

    ``gw = A_W^T (y_W - A_W xw)`` is updated in place, ``cw = A_W^T y_W`` and
    ``yy = ||y_W||^2``. Update of coordinate a (``d = G_aa``)::

        x_a <- S(x_a + g_a / d, lam / d),   g <- g - (x_a_new - x_a) G[a]

    with S soft thresholding (``max(z - t, 0)`` if positive); ``d = 0`` (a zero
    column) gives x_a = 0. After an epoch that left the support and signs
    unchanged (and a new pattern since the last try), an active-set step
    :func:`_newton` solves the problem on that pattern exactly; this removes
    CD's slow convergence when ``G_SS`` is ill conditioned (small lam, |S| ~ m).
    After each epoch the subproblem gap is computed from
    ``||r||^2 = yy - x.cw - x.gw`` and ``y_W.r = yy - x.cw``; stops when it is
    ``<= target`` or after ``max_epochs``. ``M`` (>= |S|^2), ``idx``, ``z``
    (>= |S|) are scratch. Returns the number of epochs.
    """
    p = xw.shape[0]
    epochs = 0
    fresh = True  # the sign pattern changed since the last active-set step
    while epochs < max_epochs:
        stable = True
        for a in range(p):
            d = Gw[a, a]
            xo = xw[a]
            if d > 0.0:
                v = xo + gw[a] / d
                t = lam / d
                if v > t:
                    xn = v - t
                elif v < -t and not positive:
                    xn = v + t
                else:
                    xn = 0.0
            else:
                xn = 0.0
            delta = xn - xo
            if delta != 0.0:
                if (xn > 0.0) != (xo > 0.0) or (xn < 0.0) != (xo < 0.0):
                    stable = False
                xw[a] = xn
                row = Gw[a]
                for b in range(p):
                    gw[b] -= delta * row[b]
        epochs += 1
        if not stable:
            fresh = True
        elif fresh:
            fresh = False
            _newton(Gw, gw, xw, cw, lam, M, idx, z)
        xc = 0.0
        xg = 0.0
        l1 = 0.0
        for a in range(p):
            xc += xw[a] * cw[a]
            xg += xw[a] * gw[a]
            l1 += abs(xw[a])
        rr = max(yy - xc - xg, 0.0)
        if _gap(rr, yy - xc, l1, lam_max(gw, positive), lam) <= target:
            break
    return epochs


@njit(cache=True)
def _gram_gradient(g, c, G, x, supp, nnz):
    """Gram mode's full gradient ``g = c - sum_q x_{S_q} G[S_q]`` over the support ``S = supp[:nnz]``.

    Four rows of G per pass over g (as :func:`csbench.kernels.omp._corr_update`): the rows come from
    memory (G is n^2 entries, 67-134 MB at n = 4096), g stays in L1, and one pass per row moved g
    through the load/store units ``nnz`` times. Measured at n = 4096, 32 rows (one thread, loaded
    machine): float64 117 -> 88 us, float32 G 72 -> 47 us.
    """
    n = g.shape[0]
    copy_n(g, c, n)
    q = 0
    while q + 4 <= nnz:
        x0, x1, x2, x3 = x[supp[q]], x[supp[q + 1]], x[supp[q + 2]], x[supp[q + 3]]
        g0, g1, g2, g3 = G[supp[q]], G[supp[q + 1]], G[supp[q + 2]], G[supp[q + 3]]
        for b in range(n):
            g[b] -= (x0 * g0[b] + x1 * g1[b]) + (x2 * g2[b] + x3 * g3[b])
        q += 4
    while q < nnz:
        xj = x[supp[q]]
        Gj = G[supp[q]]
        for b in range(n):
            g[b] -= xj * Gj[b]
        q += 1


@njit(cache=True)
def _grown(buf, size):
    """``buf`` if it holds ``size`` elements, else a new array of twice that size."""
    return buf if buf.shape[0] >= size else np.empty(2 * size)


@njit(cache=True, nogil=True)
def lasso_batch(A3, Y, trials, lams, ratio, positive, tol, budget, p0, nnz_stop, G, B, X, n_iter, status, lam_used,
                t0, t1):
    """Working-set CD on the trials ``t = trials[q]``, ``t0 <= q < t1``; trial t uses ``A3[t]``, or ``A3[0]`` if it holds one matrix.

    Parameters
    ----------
    A3 : (T, m, n) or (1, m, n) float64
        Below, ``A`` is the trial's (m, n) matrix, ``y = Y[t]`` and ``x = X[t]``.
    Y : (T, m) float64
    trials : (T',) int64
    lams : (T,) float64
        Trial t uses ``lam = lams[t]``, or ``lams[t] * lam_max(A^T y)`` if ``ratio``; written to ``lam_used[t]``.
    ratio, positive : bool
        ``positive``: constrain x >= 0 (negative start values are set to 0).
    tol : float
        Stop when ``P(x) - D(s r) <= tol * ||y||^2 / 2``.
    budget : (T,) int64
        Cap on the total number of working-set epochs of each trial.
    p0 : int >= 1
        Smallest working-set size.
    nnz_stop : int
        Give up (status ``SWITCH``) when an unconverged iterate has more nonzeros.
    G : (n, n) or (0, 0) float64
        ``A^T A`` for Gram mode, or an empty array.
    B : (T, n) or (0, 0) float64
        Gram mode: ``B[t] = A^T Y[t]`` (one matrix product ``Y A`` for all trials); else empty.
        In Gram mode a trial never passes over A: ``c = B[t]``, gradients ``c - G x``, and
        ``||r||^2 = ||y||^2 - x.c - x.g``, ``y.r = ||y||^2 - x.c`` for the gap (as in :func:`cd_epochs`).
    X : (T, n) float64, in/out
        Warm starts on entry, solutions on exit.
    n_iter, status, lam_used : (T,) int64, int8, float64, out
        Epochs run; 0 (ok), 1 (max_iter), -1 (``SWITCH``) or ``NONFINITE_INPUT``; the lam used.
    t0, t1 : int
        The range of positions in ``trials``.

    Each trial depends only on its own inputs, so results are identical at any
    thread count and in any batch (``csbench.decoders.base.run_trials`` runs
    ranges of trials on threads; the kernel releases the GIL). The first pass over ``A`` (``c = A^T y``)
    doubles as the finiteness check of ``A`` (y finite): a NaN or inf in A
    makes c non-finite (``0 * inf`` is NaN), and the trial then gets status
    ``NONFINITE_INPUT`` and x = 0 without being solved. One trial's CD is written out in the loop
    over trials rather than in a function of its own (see :func:`csbench.kernels.homotopy.homotopy_batch`).

    The hand-over (``csbench.decoders.lasso``): a first call with ``budget = SWITCH_EPOCHS`` and
    ``nnz_stop = SWITCH_NNZ * m``; the trials it leaves unsolved (status ``SWITCH`` or ``MAX_ITER``) go to
    :func:`csbench.kernels.homotopy.homotopy_batch`, a separate kernel compiled only when a trial needs it,
    and then to a second call with ``nnz_stop = n``, which checks the gap and polishes.
    """
    n = A3.shape[2]
    c = np.empty(n)
    for q_trial in range(t0, t1):
        t = trials[q_trial]
        A, y, x = trial_views(A3, Y, X, t)
        gram = G.shape[0] > 0
        if gram:
            copy_n(c, B[t], n)
        else:
            at_mul(A, y, c)
        finite = True
        for j in range(n):
            if not np.isfinite(c[j]):
                finite = False
                break
        if not finite:
            x[:] = 0.0
            n_iter[t], status[t] = 0, NONFINITE_INPUT
            continue
        lam = lams[t] * lam_max(c, positive) if ratio else lams[t]
        lam_used[t] = lam
        max_iter = budget[t]
        m, n = A.shape
        yy = 0.0
        for i in range(m):
            yy += y[i] * y[i]
        if yy == 0.0 or lam >= lam_max(c, positive):
            x[:] = 0.0
            n_iter[t], status[t] = 0, OK
            continue
        nnz = 0
        for j in range(n):
            if positive and x[j] < 0.0:
                x[j] = 0.0
            if x[j] != 0.0:
                nnz += 1
        # the support always lies in the working set, whose size is at most cap
        cap = min(n, max(p0, 2 * m, nnz))
        r = np.empty(m)
        g = np.empty(n)
        supp = np.empty(n, np.int64)
        sel = np.empty(n, np.int64)
        ws = np.empty(cap, np.int64)
        ws_old = np.empty(cap, np.int64)
        kpos = np.empty(cap, np.int64)
        flag = np.zeros(n, np.bool_)
        hv = np.empty(n)
        buf_g, buf_gold = np.empty(0), np.empty(0)
        buf_a, buf_aold = np.empty(0), np.empty(0)
        gw = np.empty(cap)
        xw = np.empty(cap)
        cw = np.empty(cap)
        idx = np.empty(cap, np.int64)
        zs = np.empty(cap)
        buf_m = np.empty(0)
        if not gram:
            _support_residual(A, y, x, supp, zs, r)
        threshold = tol * 0.5 * yy
        epochs = 0
        st = OK
        p_old = np.int64(0)  # typed: a literal 0 would compile the callees twice (see _linalg)
        while True:
            nnz = _support(x, supp)
            l1 = 0.0
            for q in range(nnz):
                l1 += abs(x[supp[q]])
            if nnz == 0:
                copy_n(g, c, n)
            elif gram:
                _gram_gradient(g, c, G, x, supp, nnz)
            else:
                at_mul(A, r, g)
            if gram:  # from the Gram data: ||r||^2 = yy - x.c - x.g, y.r = yy - x.c (x.c + x.g = x^T(2c - G x))
                xc = 0.0
                xg = 0.0
                for q in range(nnz):
                    xq = x[supp[q]]
                    xc += xq * c[supp[q]]
                    xg += xq * g[supp[q]]
                rr = max(yy - xc - xg, 0.0)
                yr = yy - xc
            else:
                rr = 0.0
                yr = 0.0
                for i in range(m):
                    rr += r[i] * r[i]
                    yr += y[i] * r[i]
            gap = _gap(rr, yr, l1, lam_max(g, positive), lam)
            if gap <= threshold:
                break
            if nnz > nnz_stop:
                st = SWITCH
                break
            if epochs >= max_iter:
                st = MAX_ITER
                break
            p = _select(g, x, positive, min(cap, max(p0, int(WS_GROWTH * nnz))), hv, sel, flag)
            kept = _order_ws(sel, p, ws_old, p_old, flag, ws, kpos)
            buf_g = _grown(buf_g, p * p)
            Gw = buf_g[: p * p].reshape((p, p))
            Gold = buf_gold[: p_old * p_old].reshape((p_old, p_old))
            if gram:
                Aw = buf_a[:0].reshape((0, p + 3))
                Awold = Aw
            else:
                buf_a = _grown(buf_a, m * (p + 3))
                Aw = buf_a[: m * (p + 3)].reshape((m, p + 3))
                Awold = buf_aold[: m * (p_old + 3)].reshape((m, p_old + 3)) if p_old > 0 else Aw
            _ws_gram(A, G, ws, p, kept, kpos, Gold, Awold, Gw, Aw)
            # subproblem on W: y_W = r + A_W x_W (= y, as supp(x) is in W), c_W = g_W + G_W x_W,
            # ||y_W||^2 = ||r||^2 + x_W.(g_W + c_W)
            yw = rr
            for a in range(p):
                xw[a] = x[ws[a]]
                gw[a] = g[ws[a]]
            for a in range(p):
                s = gw[a]
                for b in range(p):
                    s += Gw[a, b] * xw[b]
                cw[a] = s
                yw += xw[a] * (gw[a] + s)
            target = 0.5 * threshold if p * p <= m * n // 8 else max(INNER_FRACTION * gap, 0.5 * threshold)
            buf_m = _grown(buf_m, p * p)
            epochs += cd_epochs(Gw, gw[:p], xw[:p], cw[:p], yw, lam, positive, target, max_iter - epochs,
                                buf_m, idx, zs)
            for a in range(p):
                x[ws[a]] = xw[a]
            if not gram:  # r = y - A_W x_W from the gathered columns
                for i in range(m):
                    s = y[i]
                    row = Aw[i]
                    for a in range(p):
                        s -= row[a] * xw[a]
                    r[i] = s
            # keep G_W and A_W for the next working set
            copy_n(ws_old, ws, p)
            p_old = p
            buf_g, buf_gold = buf_gold, buf_g
            buf_a, buf_aold = buf_aold, buf_a
        n_iter[t], status[t] = epochs, st
