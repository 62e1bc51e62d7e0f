"""Numba kernels for orthogonal matching pursuit (OMP) and its nonnegative variant.

One trial (:func:`omp_one`), with ``b = A^T y``, ``d_j = ||a_j||^2`` and the
selected atoms ``S`` (in selection order)::

    c = b                                          correlations A^T r, r = y - A_S x_S
    repeat:
        j  = argmax_{j not in S} |c_j| / ||a_j||     (positive: c_j / ||a_j||, c_j > 0)
        R  <- upper Cholesky factor of G_SS = A_S^T A_S (R^T R = G_SS), appended by one column:
              w = R^{-T} G_{S,j},  pivot p = d_j - ||w||^2  (<= DEP_TOL d_j: dependent atom)
        x_S = argmin ||y - A_S x_S||   (R^T R x_S = b_S, two triangular solves)
              positive: argmin over x_S >= 0 (Lawson-Hanson active set, warm-started)
        r  = y - A_S x_S ;  c = b - sum_{s in S} x_s G[:, s]

The Gram column ``G[:, j] = A^T a_j`` of an entering atom is stored in a per-trial
buffer ``Gc`` (s_max, n), so the correlation update reads only the trial's own
rows (cache-resident) and never the whole of G. It is copied from a precomputed
``G = A^T A`` (shared A, "Gram mode", as scikit-learn's ``orthogonal_mp_gram``
and SPAMS' batch OMP), or computed with one row-major pass over A when atom j
enters (O(m n) per step, like the ``A^T r`` of the textbook algorithm). In
Gram mode ``b = A^T y`` for all trials is one matrix product ``Y A`` and
``d = diag(G)`` (BLAS, in :mod:`csbench.decoders.omp`), and the residual is
formed only when a tolerance on it is set; otherwise each trial makes one
row-major pass over A for ``b`` and ``d``
(:func:`csbench.kernels._linalg.colsq_corr`). The two modes agree to rounding
(same selections, ``n_iter`` and statuses on the tested problems,
``tests/test_shared_dictionary.py``); within a mode a trial's output does not
depend on the thread count.

References: Pati, Rezaiifar & Krishnaprasad (1993); Tropp & Gilbert (2007);
Rubinstein, Zibulevsky & Elad (2008) for the Cholesky/Gram updates; Bruckstein,
Elad & Zibulevsky (2008) for nonnegative OMP; Lawson & Hanson (1974), ch. 23,
for the NNLS active set.

Kernels take arrays and scalars and write into preallocated outputs; no Python
objects, RNG or I/O. No fastmath.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._linalg import (DEP_TOL, DEPENDENT, MAX_ITER, NONFINITE_INPUT, OK, back_solve, chol_append, colsq_corr, copy_n,
                      forward_solve, residual)

#: Selection stops (status ok) when the best normalised correlation
#: ``max_j |a_j.r| / ||a_j||`` is at most ``CORR_FLOOR * ||y||``: the residual
#: is then numerically orthogonal to every remaining atom (rounding level), and
#: further atoms would fit round-off. Also the NNLS optimality tolerance.
CORR_FLOOR = 1e-12
#: ``DEP_TOL`` and ``CORR_FLOOR`` when G and ``A^T Y`` are float32 (about 100 float32 epsilons): entries
#: of a float32 Gram carry relative errors of ~1e-7 to 1e-6, so a pivot or a correlation below this
#: level is rounding, and the atom counts as dependent (status ``dependent_atoms``) or selection stops.
DEP_TOL32 = CORR_FLOOR32 = 1e-5


@njit(cache=True)
def _acc_rows(g, A, i, j, l0, l1):
    """``g[l] += sum_{i' in block} A[i', l] A[i', j]`` for ``l0 <= l < l1``, rows ``i .. i+7`` (or row i alone).

    The one summation pattern behind every Gram entry: blocks of 8 rows, each
    added as a balanced tree ``((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))``
    (fewer loads/stores per multiply than a row-by-row axpy); a trailing
    ``m mod 8`` rows are added one at a time.
    """
    if i + 8 <= A.shape[0]:
        r0 = A[i]
        r1 = A[i + 1]
        r2 = A[i + 2]
        r3 = A[i + 3]
        r4 = A[i + 4]
        r5 = A[i + 5]
        r6 = A[i + 6]
        r7 = A[i + 7]
        a0 = r0[j]
        a1 = r1[j]
        a2 = r2[j]
        a3 = r3[j]
        a4 = r4[j]
        a5 = r5[j]
        a6 = r6[j]
        a7 = r7[j]
        for l in range(l0, l1):
            g[l] += ((r0[l] * a0 + r1[l] * a1) + (r2[l] * a2 + r3[l] * a3)) + (
                (r4[l] * a4 + r5[l] * a5) + (r6[l] * a6 + r7[l] * a7))
    else:
        r0 = A[i]
        a0 = r0[j]
        for l in range(l0, l1):
            g[l] += r0[l] * a0


@njit(cache=True)
def _gram_col(A, j, g):
    """``g = A^T a_j`` (one row-major pass over A, eight rows at a time, :func:`_acc_rows`)."""
    m = A.shape[0]
    m8 = m - m % 8
    g[:] = 0.0
    for i in range(0, m8, 8):
        _acc_rows(g, A, i, j, np.int64(0), g.shape[0])
    for i in range(m8, m):
        _acc_rows(g, A, i, j, np.int64(0), g.shape[0])


@njit(cache=True)
def _gentry(G, Gc, use_gram, S, p, q):
    """Gram entry ``a_{S[p]} . a_{S[q]}`` for selected positions p != q.

    Read from G (Gram mode) or from the stored column ``Gc[min(p, q)]`` (the
    newest position has no stored column yet).
    """
    if use_gram:
        return G[S[p], S[q]]
    if p < q:
        return Gc[p, S[q]]
    return Gc[q, S[p]]


@njit(cache=True)
def _select(c, inv_norm, chosen, positive):
    """Unselected atom with the largest ``|c_j| / ||a_j||`` (positive: ``c_j / ||a_j||``), and that score.

    ``inv_norm[j] = 1 / ||a_j||`` (0 for a zero column, never selected); ties go to the lowest index.
    """
    best = -1
    bestv = 0.0
    for j in range(c.shape[0]):
        if chosen[j]:
            continue
        v = (c[j] if positive else abs(c[j])) * inv_norm[j]
        if v > bestv:
            bestv = v
            best = j
    return best, bestv


#: Bit pattern of +inf as int64: a nonnegative float64's bits, read as int64, order as the floats do.
_INF_BITS = np.int64(0x7FF0000000000000)


@njit(cache=True)
def _select_masked(c, inv_sel, sc, positive):
    """:func:`_select` with the selected atoms' weights zeroed in ``inv_sel`` (instead of a ``chosen`` mask).

    The same atom and score as :func:`_select` (ties to the lowest index, NaN scores skipped), found
    in three passes that vectorise: the scores ``sc[j] = |c_j| inv_sel[j]`` (positive: ``c_j inv_sel[j]``),
    their maximum as the largest int64 bit pattern (a nonnegative float's bits order as the float does;
    an integer maximum needs no reassociation of floating-point operations), then the first index that
    holds it. :func:`_select`'s running maximum is a chain of dependent compares, ~1.2 ns per atom;
    this is ~4x faster at n = 4096 (measured 2026-12-05). ``sc`` (n,) float64 is scratch.
    """
    n = c.shape[0]
    for j in range(n):
        sc[j] = (c[j] if positive else abs(c[j])) * inv_sel[j]
    bits = sc.view(np.int64)
    best = np.int64(0)  # +0.0: a score must be > 0, as in _select
    for j in range(n):
        v = bits[j]
        best = v if v > best else best
    if best == 0:
        return -1, 0.0
    if best > _INF_BITS:  # a NaN score (bits above +inf), which _select skips: its loop decides
        return _select(c, inv_sel, np.zeros(n, np.bool_), positive)
    for j in range(n):
        if bits[j] == best:
            return j, sc[j]
    return -1, 0.0


@njit(cache=True)
def _refactor(R, G, Gc, use_gram, S, nsq, pp, npp, w):
    """Rebuild the Cholesky factor of the Gram of positions ``pp[:npp]``; False if one is dependent."""
    for k in range(npp):
        for q in range(k):
            w[q] = _gentry(G, Gc, use_gram, S, pp[q], pp[k])
        if not chol_append(R, k, w, nsq[S[pp[k]]], DEP_TOL):
            return False
    return True


@njit(cache=True)
def _nnls(G, Gc, use_gram, S, ns, b, nsq, inv_norm, xs, inP, pp, npp, R, w, z, gtol):
    """Warm-started Lawson-Hanson NNLS on the selected positions ``0..ns-1``.

    Minimises ``||y - A_S x||^2`` over ``x >= 0`` using only Gram entries and
    ``b_S``. On entry ``xs[:ns-1] >= 0`` is the solution on the previous set with
    passive set ``pp[:npp]`` (upper Cholesky factor R of its Gram) and the new position ``ns - 1`` has
    positive gradient. Returns ``(npp, status)``.
    """
    add = ns - 1
    xs[add] = 0.0
    max_inner = 3 * ns + 10
    inner = 0
    while True:
        # move `add` into the passive set
        for q in range(npp):
            w[q] = _gentry(G, Gc, use_gram, S, pp[q], add)
        if not chol_append(R, npp, w, nsq[S[add]], DEP_TOL):
            return npp, DEPENDENT
        pp[npp] = add
        inP[add] = True
        npp += 1
        while True:
            inner += 1
            if inner > max_inner:
                return npp, MAX_ITER
            for q in range(npp):
                z[q] = b[S[pp[q]]]
            forward_solve(R, npp, z)
            back_solve(R, npp, z)
            alpha = 1.0
            arg = -1
            for q in range(npp):
                if z[q] <= 0.0:
                    xq = xs[pp[q]]
                    a = xq / (xq - z[q])
                    if a < alpha:
                        alpha = a
                        arg = q
            if arg < 0:  # z feasible
                for q in range(npp):
                    xs[pp[q]] = z[q]
                break
            # step towards z until the first coordinate hits zero; drop the zeros
            keep = np.int64(0)
            for q in range(npp):
                p = pp[q]
                v = xs[p] + alpha * (z[q] - xs[p])
                if q == arg or v <= 0.0:
                    xs[p] = 0.0
                    inP[p] = False
                else:
                    xs[p] = v
                    pp[keep] = p
                    keep += 1
            npp = keep
            if not _refactor(R, G, Gc, use_gram, S, nsq, pp, npp, w):
                return npp, DEPENDENT
        # optimality on the non-passive selected positions: gradient a_i.(y - A_P x_P) <= gtol ||a_i||
        add = np.int64(-1)
        bestv = gtol
        for p in range(ns):
            if inP[p]:
                continue
            gp = b[S[p]]
            for q in range(npp):
                gp -= _gentry(G, Gc, use_gram, S, p, pp[q]) * xs[pp[q]]
            v = gp * inv_norm[S[p]]
            if v > bestv:
                bestv = v
                add = p
        if add < 0:
            return npp, OK


@njit(cache=True)
def _inv_norms(nsq, inv_norm):
    """``inv_norm[j] = 1 / sqrt(nsq[j])`` for ``nsq[j] > 0`` (in float64), else 0 (a zero column is never selected)."""
    for j in range(nsq.shape[0]):
        v = np.float64(nsq[j])
        inv_norm[j] = 1.0 / np.sqrt(v) if v > 0.0 else 0.0


@njit(cache=True)
def _all_finite(v):
    """No NaN or inf in ``v`` (float64 or float32): ``v_j - v_j == 0`` exactly for finite ``v_j`` and is NaN
    otherwise; a count instead of an early exit, so the loop vectorises (one pass at L1/L2 speed)."""
    bad = np.int64(0)
    for j in range(v.shape[0]):
        d = v[j] - v[j]
        bad += d != 0.0
    return bad == 0


@njit(cache=True)
def _batch_norms(G, nsq):
    """Gram mode: ``(nsq64, inv)``, the squared column norms ``diag(G)`` in float64 and the column weights
    ``1 / ||a_j||`` of the shared A, once per batch; every trial reads them in place (before: each trial
    copied both and checked ``nsq`` for finiteness, ~7 us per trial at n = 4096 for the weights alone). A
    nonfinite ``nsq`` sets ``nsq64[0] = NaN``, which every trial's finiteness check sees. Else empty arrays."""
    gram = G.shape[0] > 0
    nsq64 = np.empty(nsq.shape[0] if gram else 0)
    inv = np.zeros(nsq.shape[0] if gram else 0)
    if gram:
        for j in range(nsq.shape[0]):
            nsq64[j] = nsq[j]
        _inv_norms(nsq64, inv)
        if nsq64.shape[0] > 0 and not _all_finite(nsq64):
            nsq64[0] = np.nan
    return nsq64, inv


@njit(cache=True)
def _corr_update(c, b, Gc, xs, ns):
    """``c = b - sum_{q < ns} xs_q Gc[q]``, four rows of ``Gc`` per pass over c (each ``Gc[q]`` is ``A^T a_{S[q]}``)."""
    n = c.shape[0]
    copy_n(c, b, n)
    q = 0
    while q + 4 <= ns:
        x0, x1, x2, x3 = xs[q], xs[q + 1], xs[q + 2], xs[q + 3]
        g0, g1, g2, g3 = Gc[q], Gc[q + 1], Gc[q + 2], Gc[q + 3]
        for l in range(n):
            c[l] -= (x0 * g0[l] + x1 * g1[l]) + (x2 * g2[l] + x3 * g3[l])
        q += 4
    while q < ns:
        xq = xs[q]
        g = Gc[q]
        for l in range(n):
            c[l] -= xq * g[l]
        q += 1


@njit(cache=True, inline="always")
def omp_one(A, y, G, bpre, nsqpre, inv_pre, s_max, tol, floor_rel, dep_tol, positive, x, sel):
    """OMP on one trial; writes ``x`` (n,) and ``sel[:n_iter]`` (selection order); returns ``(n_iter, status)``.

    Parameters
    ----------
    A : (m, n) float64, C-contiguous
    y : (m,) float64
    G : (n, n) ``A^T A`` (Gram mode, shared A) or an empty (0, 0) array.
    bpre, nsqpre, inv_pre : (n,)
        Gram mode: ``b = A^T y`` (a row of one GEMM ``Y A`` for all trials; float64 or float32), and
        ``||a_j||^2`` (the diagonal of G) and ``1 / ||a_j||`` in float64 (:func:`_batch_norms`), read in
        place; ignored otherwise (pass empty arrays), when one row-major pass over A
        (:func:`csbench.kernels._linalg.colsq_corr`) computes the first two. G and bpre may be
        float32 (with A and y; then x too): the correlations ``c``, ``b`` and the stored Gram rows ``Gc`` are then
        float32 too, and so is the correlation update ``c = b - sum_q x_q Gc[q]`` (sixteen lanes instead
        of eight, half the bytes; measured 3x faster per step at n = 4096, the step's largest cost);
        the selection scores, Cholesky factor and coefficients stay float64.
    floor_rel, dep_tol : float
        ``CORR_FLOOR`` and ``DEP_TOL`` (``CORR_FLOOR32``, ``DEP_TOL32`` for float32 Gram data).
    s_max : int
        Maximum number of atoms (``<= min(m, n)``).
    tol : float
        Stop when ``||r||^2 <= tol`` (checked before the first atom too); ``tol < 0``: no tolerance.
    positive : bool
        Nonnegative OMP: select by the largest positive normalised correlation;
        coefficients are the NNLS solution on the selected atoms (atoms whose
        coefficient reaches 0 stay selected, and count in ``n_iter``).

    Status: ok; dependent_atoms (the next atom's pivot is at most ``DEP_TOL``
    relative; x holds the fit on the atoms before it); max_iter (``tol`` given
    and not reached after ``s_max`` atoms, or the NNLS iteration cap was hit);
    ``NONFINITE_INPUT`` (some ``||a_j||^2`` or ``a_j . y`` not finite; x = 0).
    """
    m, n = A.shape
    use_gram = G.shape[0] > 0
    # Gram mode reads the batch's arrays in place (b = A^T y, a row of B; the float64 ||a_j||^2 and 1 / ||a_j||
    # computed once per batch, :func:`_batch_norms`): no per-trial copies. The correlations and stored Gram
    # rows are in the dtype of A^T y: float32 with float32 G.
    if use_gram:
        b = bpre
        nsq = nsqpre
        inv_norm = inv_pre
    else:
        b = np.empty(n, bpre.dtype)
        nsq = np.empty(n)
        colsq_corr(A, y, nsq, b)
        inv_norm = np.zeros(n)
        _inv_norms(nsq, inv_norm)
    x[:] = 0.0
    sel[:] = -1
    # the finiteness check of A, done on this pass's output (decode() skips its own); Gram mode: the batch
    # checked ||a_j||^2 once (nsqpre holds a NaN then), so only b here
    if not (_all_finite(b) and (np.isfinite(nsq[0]) if use_gram else _all_finite(nsq))):
        return 0, NONFINITE_INPUT
    rr = 0.0
    for i in range(m):
        rr += y[i] * y[i]
    floor = floor_rel * np.sqrt(rr)
    S = np.empty(max(s_max, 1), np.int64)
    xs = np.zeros(max(s_max, 1))
    R = np.empty((max(s_max, 1), max(s_max, 1)))
    w = np.empty(max(s_max, 1))
    z = np.empty(max(s_max, 1))
    pp = np.empty(max(s_max, 1), np.int64)
    inP = np.zeros(max(s_max, 1), np.bool_)
    r = np.empty(m)
    Gc = np.empty((s_max, n), bpre.dtype)  # Gc[q] = A^T a_{S[q]}: a row of G (Gram mode) or one pass over A
    xu = np.empty(max(s_max, 1), bpre.dtype)  # xs in that dtype, for the correlation update
    from_gc = np.bool_(False)  # Gram entries are read from Gc in both modes (typed: no literal specialisation)
    inv_sel = inv_norm.copy()  # inv_norm with the selected atoms' entries zeroed (_select_masked)
    sc = np.empty(n)
    c = b.copy()
    ns = np.int64(0)  # typed: a literal 0 would compile the callees twice (see _linalg)
    npp = np.int64(0)
    status = OK
    if rr == 0.0 or rr <= tol:
        return 0, OK
    while ns < s_max:
        j, v = _select_masked(c, inv_sel, sc, positive)
        if j < 0 or v <= floor:
            break
        if positive:
            S[ns] = j
            inv_sel[j] = 0.0
            ns += 1
            npp, st = _nnls(G, Gc, from_gc, S, ns, b, nsq, inv_norm, xs, inP, pp, npp, R, w, z, floor)
            if st == DEPENDENT and xs[ns - 1] == 0.0:  # the new atom could not enter: drop it
                ns -= 1
                inv_sel[j] = inv_norm[j]
            if st != OK:
                status = st
                break
        else:
            S[ns] = j
            for q in range(ns):
                w[q] = _gentry(G, Gc, from_gc, S, q, ns)
            if not chol_append(R, ns, w, nsq[j], dep_tol):
                status = DEPENDENT
                break
            inv_sel[j] = 0.0
            ns += 1
            for q in range(ns):
                xs[q] = b[S[q]]
            forward_solve(R, ns, xs)
            back_solve(R, ns, xs)
        if not use_gram or tol >= 0.0:
            # Gram mode without tol needs no residual: once r = 0 every correlation is at rounding
            # level, below the floor, and the next selection stops as rr == 0 would have
            rr = residual(A, y, S, xs, ns, r)
            if rr == 0.0 or rr <= tol:
                break
        if ns == s_max:
            break
        if use_gram:
            copy_n(Gc[ns - 1], G[j], n)
        else:
            _gram_col(A, j, Gc[ns - 1])
        copy_n(xu, xs, ns)
        _corr_update(c, b, Gc, xu, ns)
    if status == OK and tol >= 0.0 and rr > tol and ns == s_max:
        status = MAX_ITER
    for q in range(ns):
        x[S[q]] = xs[q]
        sel[q] = S[q]
    return ns, status


@njit(cache=True, nogil=True)
def omp_batch(A, Y, G, B, nsq, s_max, tol, floor_rel, dep_tol, X, n_iter, status, sel, t0, t1):
    """Trials ``t0 <= t < t1``: ``omp_one(A[t], Y[t], ...)`` (``A[0]`` if A (1, m, n) is shared); outputs (T, n), (T,), (T,), (T, s_max).

    Gram mode (shared A): G is ``A[0]^T A[0]``, ``B[t] = A^T Y[t]`` and ``nsq = diag(G)``; otherwise
    G and B are empty (0, 0) and nsq empty (0,). G, B and nsq may be float32 (with A and Y; see
    :func:`omp_one`), and X float32 with them (written in place: no float64 X and conversion). The kernel releases the GIL
    (``csbench.decoders.base.run_trials`` runs ranges of trials on threads).
    ``positive`` is the constant False here and True in :func:`nnomp_batch`: :func:`omp_one` is inlined
    and numba prunes the branch the constant rules out, so plain OMP never compiles the NNLS code.
    """
    nsq64, inv = _batch_norms(G, nsq)
    for t in range(t0, t1):
        At = A[t] if A.shape[0] > 1 else A[0]
        bt = B[t] if G.shape[0] > 0 else nsq
        n_iter[t], status[t] = omp_one(At, Y[t], G, bt, nsq64, inv, s_max, tol, floor_rel, dep_tol, False, X[t], sel[t])


@njit(cache=True, nogil=True)
def nnomp_batch(A, Y, G, B, nsq, s_max, tol, floor_rel, dep_tol, X, n_iter, status, sel, t0, t1):
    """:func:`omp_batch` for nonnegative OMP (``positive=True``), a kernel compiled only when first used."""
    nsq64, inv = _batch_norms(G, nsq)
    for t in range(t0, t1):
        At = A[t] if A.shape[0] > 1 else A[0]
        bt = B[t] if G.shape[0] > 0 else nsq
        n_iter[t], status[t] = omp_one(At, Y[t], G, bt, nsq64, inv, s_max, tol, floor_rel, dep_tol, True, X[t], sel[t])
