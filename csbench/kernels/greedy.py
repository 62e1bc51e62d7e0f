"""Numba kernels for the greedy / thresholding family: IHT, NIHT, HTP, CoSaMP, subspace pursuit, MP, matching-k.

See :mod:`csbench.decoders.greedy` for the algorithms' statements and references.
Batches of trials as in :mod:`csbench.kernels.amp`: ``A3`` is (T, m, n), or
(1, m, n) shared by all trials; each kernel solves trials ``t0 <= t < t1``,
writes preallocated outputs and releases the GIL
(:func:`csbench.decoders.base.run_trials`). One trial's algorithm is written
out in its batch kernel's loop.

**Tie rule** (every selection in every kernel, and the plain-numpy references
in ``tests/ref_greedy.py``): among equal scores the **lowest index** wins.
:func:`top_s` selects the s largest scores (the s-th largest value ``v_s``
from a size-s heap, then every index with score ``> v_s`` and the lowest
indices with score ``== v_s``), i.e. the first s entries of a *stable* sort of
``-score``; single-atom selections scan with a strict ``>``, i.e. ``argmax``.

Least squares on a support S (HTP, CoSaMP, subspace pursuit) is solved by
the normal equations: a BLAS Gram ``A_S^T A_S`` and its LAPACK Cholesky factor,
atoms in increasing index order (:func:`ls_fit`); an atom whose
squared distance to the span of the atoms before it is at most ``DEP_TOL``
times its squared norm makes the fit fail (status ``dependent_atoms``), the
rule of :mod:`csbench.kernels.omp`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._linalg import (
    DEPENDENT,
    DIVERGED,
    MAX_ITER,
    OK,
    at_mul,
    back_solve,
    colsq_corr,
    forward_solve,
    kth_largest,
    residual,
    trial_views,
)
from .omp import CORR_FLOOR, DEP_TOL
from .philox import _rad_block

#: Status of a trial whose correlations or iterate stopped being finite (``csbench.decoders.base.NONFINITE``).
NONFINITE = 3
#: ``||y - A x|| > BLOWUP ||y||`` counts as divergence (IHT, NIHT, CoSaMP).
BLOWUP = 1e3
#: NIHT: at most this many step-size reductions per iteration (the while loop of Blumensath & Davies 2010).
NIHT_MAX_SHRINK = 60


@njit(cache=True)
def top_s(score, s, hv, hi, sel):
    """Write the indices of the ``s`` largest entries of ``score`` into ``sel[:s]`` (increasing index order).

    Ties at the s-th largest value go to the lowest indices. ``score`` must be
    free of NaN; ``hv``, ``hi`` are scratch of length >= s. Returns s
    (``min(s, n)``).
    """
    n = score.shape[0]
    if s >= n:
        for j in range(n):
            sel[j] = j
        return n
    if s <= 0:
        return 0
    thr = kth_largest(score, s, hv, hi)
    above = 0
    for j in range(n):
        if score[j] > thr:
            above += 1
    ties = s - above
    p = 0
    for j in range(n):
        v = score[j]
        if v > thr:
            sel[p] = j
            p += 1
        elif v == thr and ties > 0:
            sel[p] = j
            p += 1
            ties -= 1
    return p


@njit(cache=True)
def ls_fit(A, y, S, p, R, xs):
    """``xs[:p] = argmin ||y - A_S z||`` for the atoms ``S[:p]`` (normal equations, Cholesky).

    One row-major pass over A gathers ``A_S`` (m x p) and forms ``xs = A_S^T y``;
    ``G = A_S^T A_S`` is one BLAS product (``np.dot``) and its lower factor
    ``G = L L^T`` one LAPACK ``potrf`` (``np.linalg.cholesky``); R = L^T, then two
    triangular solves. The pivot ``L_qq^2`` is the squared distance of atom ``S[q]``
    to the span of the atoms before it in S (increasing index order); if it is at most
    ``DEP_TOL G_qq`` for some q, or the factorisation fails (a pivot <= 0 or a
    non-finite G), the fit fails and False is returned (xs undefined): the
    ``dependent_atoms`` rule of :func:`csbench.kernels._linalg.chol_append`. (The
    scalar Gram loop and atom-by-atom factor this replaces ran at ~1 GFlop/s: at
    p = 3s = 240, m = 384 one fit took 4.8 ms against 1.3 ms now.) Scratch: ``R`` (>= p x p).
    """
    if p == 0:
        return True
    m = A.shape[0]
    As = np.empty((m, p))
    for q in range(p):
        xs[q] = 0.0
    for i in range(m):
        row = A[i]
        yi = y[i]
        a = As[i]
        for q in range(p):
            bq = row[S[q]]
            a[q] = bq
            xs[q] += bq * yi
    G = np.dot(As.T, As)
    try:
        L = np.linalg.cholesky(G)
    except Exception:  # numba raises LinAlgError (not positive definite) or ValueError (non-finite)
        return False
    for q in range(p):
        if not (L[q, q] * L[q, q] > DEP_TOL * G[q, q]):
            return False
        for r in range(q, p):
            R[q, r] = L[r, q]
    forward_solve(R, p, xs)
    back_solve(R, p, xs)
    return True


@njit(cache=True)
def _finite(v, n):
    s = 0.0
    for j in range(n):
        s += v[j] * 0.0
    return s == 0.0


@njit(cache=True)
def _same(a, b, p):
    for q in range(p):
        if a[q] != b[q]:
            return False
    return True


@njit(cache=True)
def _scatter(x, S, p, xs):
    """``x = 0``; ``x[S[:p]] = xs[:p]``."""
    x[:] = 0.0
    for q in range(p):
        x[S[q]] = xs[q]


@njit(cache=True)
def _merge_fit(A, y, g, q, S, p, sc, hv, hi, Om, mark, Tset, R, xs, b):
    """The merge step of CoSaMP and subspace pursuit on the correlations ``g = A^T r``.

    ``T`` = the q largest ``|g_j|`` (ties: lowest index) united with ``S[:p]``, in increasing
    index order (``Tset[:nt]``); ``b`` = least squares on T (dense, 0 off T). Returns ``nt``,
    or -1 if T is dependent (:func:`ls_fit`; b untouched).
    """
    n = g.shape[0]
    for j in range(n):
        sc[j] = abs(g[j])
    no = top_s(sc, q, hv, hi, Om)
    for k in range(no):
        mark[Om[k]] = True
    for k in range(p):
        mark[S[k]] = True
    nt = np.int64(0)
    for j in range(n):
        if mark[j]:
            Tset[nt] = j
            nt += 1
            mark[j] = False
    if not ls_fit(A, y, Tset, nt, R, xs):
        return -1
    _scatter(b, Tset, nt, xs)
    return nt


@njit(cache=True)
def _norm2(v):
    s = 0.0
    for j in range(v.shape[0]):
        s += v[j] * v[j]
    return s


@njit(cache=True, nogil=True)
def iht_batch(A3, Y, step, s, normalized, max_iter, tol, X, n_iter, status, t0, t1):
    """IHT (fixed step ``step[t]``) or NIHT (``normalized``) on trials ``t0 <= t < t1``.

    IHT (Blumensath & Davies 2009): ``x^{i+1} = H_s(x^i + mu A^T (y - A x^i))`` from x^0 = 0.
    NIHT (Blumensath & Davies 2010, Algorithm 2): ``Gamma^0 = supp H_s(A^T y)``;
    ``g = A^T (y - A x^i)``, ``mu = ||g_Gamma||^2 / ||A_Gamma g_Gamma||^2``,
    ``x~ = H_s(x^i + mu g)``; if its support differs from Gamma^i, while
    ``mu > omega = (1 - c) ||x~ - x^i||^2 / ||A (x~ - x^i)||^2``: ``mu /= kappa (1 - c)``
    and recompute x~ (c = 0.01, kappa = 2; at most ``NIHT_MAX_SHRINK`` times).
    ``H_s`` keeps the s largest ``|v_j|`` (ties: lowest index); the support is
    that index set. Stops (ok) when ``||x^{i+1} - x^i|| <= tol ||x^{i+1}||`` or
    ``||y - A x^{i+1}|| <= tol ||y||``, or (NIHT) when ``g_Gamma = 0``; diverged when
    ``||y - A x|| > BLOWUP ||y||``; nonfinite when an iterate is not finite
    (x keeps the last finite iterate).
    """
    c_niht = 0.01
    kap = 2.0
    for t in range(t0, t1):
        A, y, x = trial_views(A3, Y, X, t)
        m, n = A.shape
        x[:] = 0.0
        yy = _norm2(y)
        n_iter[t], status[t] = 0, OK
        if yy == 0.0 or s == 0:
            continue
        ynorm = np.sqrt(yy)
        mu = step[t]
        g = np.empty(n)
        v = np.empty(n)
        sc = np.empty(n)
        xn = np.zeros(n)
        r = y.copy()
        u = np.empty(m)
        zero_m = np.zeros(m)
        hv = np.empty(s)
        hi = np.empty(s, np.int64)
        S = np.empty(s, np.int64)
        Sn = np.empty(s, np.int64)
        D = np.empty(n, np.int64)
        dc = np.empty(n)
        gs = np.empty(s)
        p = np.int64(0)
        st = MAX_ITER
        it_done = max_iter
        for it in range(1, max_iter + 1):
            at_mul(A, r, g)
            if not _finite(g, n):
                st, it_done = NONFINITE, it - 1
                break
            if normalized:
                if it == 1:
                    for j in range(n):
                        sc[j] = abs(g[j])
                    p = top_s(sc, s, hv, hi, S)
                num = 0.0
                for q in range(p):
                    gs[q] = g[S[q]]
                    num += gs[q] * gs[q]
                if num == 0.0:
                    st, it_done = OK, it - 1
                    break
                den = residual(A, zero_m, S, gs, p, u)
                mu = num / den
            shrink = 0
            while True:
                for j in range(n):
                    v[j] = x[j] + mu * g[j]
                    sc[j] = abs(v[j])
                pn = top_s(sc, s, hv, hi, Sn)
                xn[:] = 0.0
                for q in range(pn):
                    xn[Sn[q]] = v[Sn[q]]
                if not normalized or (pn == p and _same(Sn, S, p)) or shrink >= NIHT_MAX_SHRINK:
                    break
                nd = np.int64(0)
                dd = 0.0
                for j in range(n):
                    d = xn[j] - x[j]
                    if d != 0.0:
                        D[nd] = j
                        dc[nd] = d
                        nd += 1
                        dd += d * d
                if dd == 0.0:
                    break
                omega = (1.0 - c_niht) * dd / residual(A, zero_m, D, dc, nd, u)
                if mu <= omega:
                    break
                mu = mu / (kap * (1.0 - c_niht))
                shrink += 1
            dx2 = 0.0
            xn2 = 0.0
            for j in range(n):
                d = xn[j] - x[j]
                dx2 += d * d
                xn2 += xn[j] * xn[j]
            if not np.isfinite(dx2 + xn2):
                st, it_done = NONFINITE, it - 1
                break
            for q in range(pn):
                dc[q] = xn[Sn[q]]
            rr = residual(A, y, Sn, dc, pn, r)
            for j in range(n):
                x[j] = xn[j]
            for q in range(pn):
                S[q] = Sn[q]
            p = pn
            if not np.isfinite(rr):
                st, it_done = NONFINITE, it
                break
            if np.sqrt(rr) > BLOWUP * ynorm:
                st, it_done = DIVERGED, it
                break
            if np.sqrt(dx2) <= tol * np.sqrt(xn2) or np.sqrt(rr) <= tol * ynorm:
                st, it_done = OK, it
                break
        n_iter[t], status[t] = it_done, st


@njit(cache=True, nogil=True)
def htp_batch(A3, Y, step, s, max_iter, X, n_iter, status, t0, t1):
    """Hard thresholding pursuit (Foucart 2011) on trials ``t0 <= t < t1``.

    From x^0 = 0: ``S^{i+1}`` = the s largest ``|x^i + mu A^T (y - A x^i)|``
    (ties: lowest index); stop (ok) when ``S^{i+1} = S^i``; else
    ``x^{i+1} = argmin_{supp z in S^{i+1}} ||y - A z||`` (:func:`ls_fit`).
    ``n_iter`` counts the least-squares fits. A dependent support gives
    ``dependent_atoms`` (x: the previous iterate); ``max_iter`` fits without a
    repeated support give ``max_iter``.
    """
    for t in range(t0, t1):
        A, y, x = trial_views(A3, Y, X, t)
        _m, n = A.shape
        x[:] = 0.0
        n_iter[t], status[t] = 0, OK
        if _norm2(y) == 0.0 or s == 0:
            continue
        mu = step[t]
        g = np.empty(n)
        sc = np.empty(n)
        r = y.copy()
        hv = np.empty(s)
        hi = np.empty(s, np.int64)
        S = np.empty(s, np.int64)
        Sn = np.empty(s, np.int64)
        R = np.empty((s, s))
        xs = np.empty(s)
        p = np.int64(0)
        st, it_done = MAX_ITER, max_iter
        for it in range(1, max_iter + 2):
            at_mul(A, r, g)
            if not _finite(g, n):
                st, it_done = NONFINITE, it - 1
                break
            for j in range(n):
                sc[j] = abs(x[j] + mu * g[j])
            pn = top_s(sc, s, hv, hi, Sn)
            if pn == p and _same(Sn, S, p):
                st, it_done = OK, it - 1
                break
            if it == max_iter + 1:
                break
            if not ls_fit(A, y, Sn, pn, R, xs):
                st, it_done = DEPENDENT, it - 1
                break
            _scatter(x, Sn, pn, xs)
            for q in range(pn):
                S[q] = Sn[q]
            p = pn
            rr = residual(A, y, S, xs, p, r)
            if not np.isfinite(rr):
                st, it_done = NONFINITE, it
                break
        n_iter[t], status[t] = it_done, st


@njit(cache=True, nogil=True)
def cosamp_batch(A3, Y, s, max_iter, tol, X, n_iter, status, t0, t1):
    """CoSaMP (Needell & Tropp 2009, Algorithm 1) on trials ``t0 <= t < t1``.

    From a^0 = 0, v = y: ``Omega`` = the 2s largest ``|A^T v|``; ``T = Omega u supp(a)``
    (supp: the index set kept by the last pruning); ``b_T = argmin ||y - A_T z||``,
    ``b = 0`` off T; ``a = H_s(b)`` (s largest ``|b_j|``, ties lowest index);
    ``v = y - A a``. Stops (ok) when ``||a^{i+1} - a^i|| <= tol ||a^{i+1}||`` or
    ``||v|| <= tol ||y||``; diverged when ``||v|| > BLOWUP ||y||``; a dependent
    T gives ``dependent_atoms`` (x: previous iterate).
    """
    for t in range(t0, t1):
        A, y, x = trial_views(A3, Y, X, t)
        _m, n = A.shape
        x[:] = 0.0
        n_iter[t], status[t] = 0, OK
        yy = _norm2(y)
        if yy == 0.0 or s == 0:
            continue
        ynorm = np.sqrt(yy)
        s2 = min(2 * s, n)
        cap = min(3 * s, n)
        g = np.empty(n)
        sc = np.empty(n)
        b = np.zeros(n)
        xn = np.zeros(n)
        r = y.copy()
        hv = np.empty(cap)
        hi = np.empty(cap, np.int64)
        Om = np.empty(s2, np.int64)
        S = np.empty(s, np.int64)
        Sn = np.empty(s, np.int64)
        Tset = np.empty(cap, np.int64)
        mark = np.zeros(n, np.bool_)
        R = np.empty((cap, cap))
        xs = np.empty(cap)
        xsn = np.empty(s)
        p = np.int64(0)
        st, it_done = MAX_ITER, max_iter
        for it in range(1, max_iter + 1):
            at_mul(A, r, g)
            if not _finite(g, n):
                st, it_done = NONFINITE, it - 1
                break
            if _merge_fit(A, y, g, s2, S, p, sc, hv, hi, Om, mark, Tset, R, xs, b) < 0:
                st, it_done = DEPENDENT, it - 1
                break
            for j in range(n):
                sc[j] = abs(b[j])
            pn = top_s(sc, s, hv, hi, Sn)
            xn[:] = 0.0
            for q in range(pn):
                xn[Sn[q]] = b[Sn[q]]
                xsn[q] = b[Sn[q]]
            dx2 = 0.0
            xn2 = 0.0
            for j in range(n):
                d = xn[j] - x[j]
                dx2 += d * d
                xn2 += xn[j] * xn[j]
            rr = residual(A, y, Sn, xsn, pn, r)
            if not np.isfinite(rr + dx2 + xn2):
                st, it_done = NONFINITE, it - 1
                break
            for j in range(n):
                x[j] = xn[j]
            for q in range(pn):
                S[q] = Sn[q]
            p = pn
            if np.sqrt(rr) > BLOWUP * ynorm:
                st, it_done = DIVERGED, it
                break
            if np.sqrt(dx2) <= tol * np.sqrt(xn2) or np.sqrt(rr) <= tol * ynorm:
                st, it_done = OK, it
                break
        n_iter[t], status[t] = it_done, st


@njit(cache=True, nogil=True)
def sp_batch(A3, Y, s, max_iter, tol, X, n_iter, status, t0, t1):
    """Subspace pursuit (Dai & Milenkovic 2009, Algorithm 1) on trials ``t0 <= t < t1``.

    ``T^0`` = the s largest ``|A^T y|``, ``x = argmin ||y - A_{T} z||``, ``r^0 = y - A x``.
    Iteration l: ``T' = T^{l-1} u`` {s largest ``|A^T r^{l-1}|``}; ``b = argmin ||y - A_{T'} z||``;
    ``T^l`` = the s largest ``|b_j|``; ``x^l`` = LS on ``T^l``, ``r^l = y - A x^l``.
    If ``||r^l|| >= ||r^{l-1}||`` stop (ok) and keep ``T^{l-1}``, ``x^{l-1}``
    (the paper quits on ``>``; ``>=`` also ends the cycle of a repeated support);
    ok also when ``||r^l|| <= tol ||y||``. Ties: lowest index. ``n_iter`` counts
    the iterations l (0: stopped after the initial fit).
    """
    for t in range(t0, t1):
        A, y, x = trial_views(A3, Y, X, t)
        m, n = A.shape
        x[:] = 0.0
        n_iter[t], status[t] = 0, OK
        yy = _norm2(y)
        if yy == 0.0 or s == 0:
            continue
        ynorm = np.sqrt(yy)
        cap = min(2 * s, n)
        g = np.empty(n)
        sc = np.empty(n)
        b = np.zeros(n)
        r = np.empty(m)
        rn = np.empty(m)
        hv = np.empty(cap)
        hi = np.empty(cap, np.int64)
        S = np.empty(s, np.int64)
        Sn = np.empty(s, np.int64)
        Om = np.empty(s, np.int64)
        Tset = np.empty(cap, np.int64)
        mark = np.zeros(n, np.bool_)
        R = np.empty((cap, cap))
        xs = np.empty(cap)
        xsv = np.empty(s)
        at_mul(A, y, g)
        if not _finite(g, n):
            n_iter[t], status[t] = 0, NONFINITE
            continue
        for j in range(n):
            sc[j] = abs(g[j])
        p = top_s(sc, s, hv, hi, S)
        if not ls_fit(A, y, S, p, R, xsv):
            n_iter[t], status[t] = 0, DEPENDENT
            continue
        rr = residual(A, y, S, xsv, p, r)
        st, it_done = MAX_ITER, max_iter
        if np.sqrt(rr) <= tol * ynorm:
            st, it_done = OK, 0
        else:
            for it in range(1, max_iter + 1):
                at_mul(A, r, g)
                if not _finite(g, n):
                    st, it_done = NONFINITE, it - 1
                    break
                if _merge_fit(A, y, g, s, S, p, sc, hv, hi, Om, mark, Tset, R, xs, b) < 0:
                    st, it_done = DEPENDENT, it - 1
                    break
                for j in range(n):
                    sc[j] = abs(b[j])
                pn = top_s(sc, s, hv, hi, Sn)
                if not ls_fit(A, y, Sn, pn, R, xs):
                    st, it_done = DEPENDENT, it - 1
                    break
                rrn = residual(A, y, Sn, xs, pn, rn)
                if not np.isfinite(rrn):
                    st, it_done = NONFINITE, it - 1
                    break
                if rrn >= rr:
                    st, it_done = OK, it
                    break
                for q in range(pn):
                    S[q] = Sn[q]
                    xsv[q] = xs[q]
                p = pn
                rr = rrn
                for i in range(m):
                    r[i] = rn[i]
                if np.sqrt(rr) <= tol * ynorm:
                    st, it_done = OK, it
                    break
        _scatter(x, S, p, xsv)
        n_iter[t], status[t] = it_done, st


@njit(cache=True, nogil=True)
def mp_batch(A3, Y, n_steps, tol, X, n_iter, status, t0, t1):
    """Matching pursuit (Mallat & Zhang 1993) on trials ``t0 <= t < t1``: no re-projection.

    From x = 0, r = y: ``j = argmax |a_j^T r| / ||a_j||`` (ties: lowest index;
    zero columns never), ``x_j += a_j^T r / ||a_j||^2``,
    ``r -= (a_j^T r / ||a_j||^2) a_j``; an atom may be chosen again. Stops after
    ``n_steps`` steps, when ``||r||^2 <= tol`` (``tol < 0``: never), or when the
    best normalised correlation is at most ``CORR_FLOOR ||y||`` (ok). Ending with
    n_steps steps and ``||r||^2 > tol >= 0`` gives ``max_iter``. ``n_iter``
    counts the steps.
    """
    for t in range(t0, t1):
        A, y, x = trial_views(A3, Y, X, t)
        m, n = A.shape
        x[:] = 0.0
        c = np.empty(n)
        nsq = np.empty(n)
        colsq_corr(A, y, nsq, c)
        if not _finite(c, n) or not _finite(nsq, n):
            n_iter[t], status[t] = 0, NONFINITE
            continue
        inv = np.zeros(n)
        for j in range(n):
            if nsq[j] > 0.0:
                inv[j] = 1.0 / np.sqrt(nsq[j])
        r = y.copy()
        rr = _norm2(r)
        floor = CORR_FLOOR * np.sqrt(rr)
        steps = np.int64(0)
        st = OK
        if not (rr == 0.0 or rr <= tol):
            while steps < n_steps:
                best = -1.0
                jb = -1
                for j in range(n):
                    v = abs(c[j]) * inv[j]
                    if v > best:
                        best = v
                        jb = j
                if jb < 0 or best <= floor:
                    break
                a = c[jb] / nsq[jb]
                x[jb] += a
                rr = 0.0
                for i in range(m):
                    r[i] -= a * A[i, jb]
                    rr += r[i] * r[i]
                steps += 1
                if not np.isfinite(rr):
                    st = NONFINITE
                    break
                if rr <= tol:
                    break
                at_mul(A, r, c)
            if st == OK and tol >= 0.0 and rr > tol and steps == n_steps:
                st = MAX_ITER
        n_iter[t], status[t] = steps, st


@njit(cache=True, nogil=True)
def matching_k_batch(A3, Y, k, steps, X, n_iter, status, t0, t1):
    """Matching-k with ``steps`` steps for binary x on trials ``t0 <= t < t1``.

    From x = 0, r = y: step i adds (x_j = 1) the ``q_i = min(ceil(k/steps), k - added)``
    atoms not yet added with the largest ``a_j^T r`` (ties: lowest index), then
    ``r = y - A x``; stops when k atoms are added. ``steps = 1``: the top-k of
    ``A^T y`` (the matched filter's top-k rule); ``steps = k``: binary matching
    pursuit (one unit step per atom). ``n_iter`` counts the steps.
    """
    q0 = (k + steps - 1) // steps
    for t in range(t0, t1):
        A, y, x = trial_views(A3, Y, X, t)
        m, n = A.shape
        x[:] = 0.0
        c = np.empty(n)
        r = y.copy()
        hv = np.empty(max(q0, 1))
        hi = np.empty(max(q0, 1), np.int64)
        sel = np.empty(max(q0, 1), np.int64)
        added = np.int64(0)
        it = np.int64(0)
        st = OK
        while added < k:
            at_mul(A, r, c)
            if not _finite(c, n):
                st = NONFINITE
                break
            for j in range(n):
                if x[j] != 0.0:
                    c[j] = -np.inf
            q = min(q0, k - added)
            q = top_s(c, q, hv, hi, sel)
            for p in range(q):
                j = sel[p]
                x[j] = 1.0
                for i in range(m):
                    r[i] -= A[i, j]
            added += q
            it += 1
        n_iter[t], status[t] = it, st


# ---------------------------------------------------------------- binary matching-k on bit-packed +-1 columns
#
# The +-1 ensemble (encoder ``rademacher``: A = S / sqrt(m), S in {-1, 1}) with integer measurements
# z = y sqrt(m) = S x scores in exact integers: ``S^T (z - S_added 1)``. With the columns of S packed
# 64 rows per word (bit 1 = -1), ``s_j^T s_l = m - 2 popcount(s_j xor s_l)``, so one atom's update of
# every score costs n ceil(m/64) word operations instead of the m n multiply-adds of ``A^T r``.

_PACK_MASKS = np.array([0x00000000FFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF, 0x0F0F0F0F0F0F0F0F,
                        0x3333333333333333, 0x5555555555555555], dtype=np.uint64)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_U32 = np.uint64(32)


@njit(cache=True, nogil=True)
def popcount64(v):
    """Number of set bits of the uint64 ``v`` (SWAR; Hacker's Delight 5-1)."""
    v = v - ((v >> np.uint64(1)) & _M1)
    v = (v & _M2) + ((v >> np.uint64(2)) & _M2)
    v = (v + (v >> np.uint64(4))) & _M4
    return np.int64((v * _H01) >> np.uint64(56))


@njit(cache=True, nogil=True)
def transpose64(a):
    """Transpose the 64 x 64 bit matrix ``a`` (uint64[64], bit c of ``a[r]`` is entry (r, c)) in place.

    Swaps the off-diagonal j x j blocks for j = 32, 16, ..., 1 (Hacker's Delight 7-3).
    """
    j = 32
    for level in range(6):
        mask = _PACK_MASKS[level]
        uj = np.uint64(j)
        for r in range(64):
            if (r & j) == 0:
                t = ((a[r] >> uj) ^ a[r + j]) & mask
                a[r + j] ^= t
                a[r] ^= t << uj
        j >>= 1


@njit(cache=True, nogil=True)
def rademacher_packed(k0, k1, m, P):
    """Bit-packed columns of rows 0 .. m-1 of the raw ``rademacher`` master of key ``(k0, k1)``.

    ``P`` is (n, W) uint64 with W >= ceil(m / 64): bit r of ``P[j, w]`` is 1 iff ``Z[64 w + r, j] = -1``
    (the bit of :mod:`csbench.kernels.philox`'s ``RADEMACHER`` kind); rows >= m are 0 bits. Each
    Philox block gives 128 columns of one row; 64 rows are gathered and bit-transposed.
    """
    n, W = P.shape
    lo = np.empty(64, np.uint64)
    hi = np.empty(64, np.uint64)
    for w in range(W):
        rows = min(64, max(0, m - 64 * w))
        for b in range((n + 127) // 128):
            for r in range(64):
                if r < rows:
                    w0, w1, w2, w3 = _rad_block(k0, k1, 64 * w + r, b)
                    lo[r] = w0 | (w1 << _U32)
                    hi[r] = w2 | (w3 << _U32)
                else:
                    lo[r] = 0
                    hi[r] = 0
            transpose64(lo)
            transpose64(hi)
            j0 = 128 * b
            for t in range(64):
                if j0 + t < n:
                    P[j0 + t, w] = lo[t]
                if j0 + 64 + t < n:
                    P[j0 + 64 + t, w] = hi[t]


@njit(cache=True, nogil=True)
def packed_correlations(P, m, z, c):
    """``c[j] = s_j^T z`` for the +-1 columns ``s_j`` packed in ``P`` (rows < m) and integers ``z`` (m,).

    With ``u = z + off >= 0`` split into bit planes ``u = sum_p 2^p u_p``:
    ``s_j^T z = sum z - 2 (sum_p 2^p popcount(P_j & u_p) - off popcount(P_j))``; exact in int64
    (``|z| < 2^31``), stored in float64 (exact below 2^53).
    """
    n, W = P.shape
    off = np.int64(0)
    top = np.int64(0)
    total = np.int64(0)
    for i in range(m):
        off = max(off, -z[i])
        top = max(top, z[i])
        total += z[i]
    B = 1
    while (top + off) >> B:
        B += 1
    planes = np.zeros((B, W), np.uint64)
    for i in range(m):
        u = z[i] + off
        for p in range(B):
            if (u >> p) & 1:
                planes[p, i >> 6] |= np.uint64(1) << np.uint64(i & 63)
    for j in range(n):
        acc = np.int64(0)
        pc = np.int64(0)
        for w in range(W):
            v = P[j, w]
            pc += popcount64(v)
            for p in range(B):
                acc += popcount64(v & planes[p, w]) << p
        c[j] = float(total - 2 * (acc - off * pc))


@njit(cache=True, nogil=True)
def matching_k_packed(P, m, z, k, steps, x):
    """Binary matching-k (:func:`matching_k_batch`) on the +-1 matrix S of packed columns ``P`` (rows < m)
    with integer measurements ``z`` (m,): the same integer scores ``S^T (z - S x)``, the same selection
    (:func:`top_s`, ties to the lowest index), so the same x. Returns the number of steps.

    Scores start from :func:`packed_correlations`; adding atom l subtracts ``s_j^T s_l =
    m - 2 popcount(P_j xor P_l)`` from every score (skipped after the last step).
    """
    n, W = P.shape
    x[:] = 0.0
    q0 = (k + steps - 1) // steps
    c = np.empty(n)
    packed_correlations(P, m, z, c)
    score = np.empty(n)
    hv = np.empty(max(q0, 1))
    hi = np.empty(max(q0, 1), np.int64)
    sel = np.empty(max(q0, 1), np.int64)
    added = np.int64(0)
    it = np.int64(0)
    while added < k:
        for j in range(n):
            score[j] = -np.inf if x[j] != 0.0 else c[j]
        q = top_s(score, min(q0, k - added), hv, hi, sel)
        for p in range(q):
            x[sel[p]] = 1.0
        added += q
        it += 1
        if added >= k:
            break
        for j in range(n):
            g = np.int64(0)
            for p in range(q):
                l = sel[p]
                for w in range(W):
                    g += popcount64(P[j, w] ^ P[l, w])
            c[j] -= float(q * m - 2 * g)
    return it
