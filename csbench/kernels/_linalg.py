"""Numba helpers shared by the lasso, homotopy and OMP kernels: status codes, products, residuals, Cholesky, heaps.

The upper Cholesky factor R of a Gram matrix ``G_SS = R^T R`` is stored in the leading ``s x s``
block of a square array; :func:`forward_solve` and :func:`back_solve` solve with ``R^T`` and R in
place, :func:`chol_append` extends it when an atom enters and :func:`chol_delete` downdates it when
one leaves. Integer constants passed to a kernel are written ``np.int64(0)``: a bare literal makes
numba compile a second specialisation of the callee (``Literal[int](0)``); so do loop counters that
start at a literal (``s = np.int64(0)``, not ``s = 0``). One trial's algorithm is written out in its
batch kernel's loop (OMP's ``omp_one`` is ``inline="always"`` into its two batch kernels instead):
every ``@njit`` function is an LLVM module of its own into which its callees are linked and
optimised again, so a wrapper level costs as much compile time as its call tree
(``docs/benchmarks.md``, "Cold start"). Kernels take arrays and scalars and write into preallocated
outputs; no Python objects, RNG or I/O; no fastmath.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..statuses import DEPENDENT_ATOMS as DEPENDENT, DIVERGED, MAX_ITER, OK  # noqa: F401  (status codes)
#: Status of a trial whose first pass over A (``A^T y``, column norms) is not finite (NaN/inf in A, or
#: overflow): x = 0, not solved; the decoder raises decode()'s error for NaN/inf in A, else sets nonfinite.
NONFINITE_INPUT = -2
#: An atom is linearly dependent on the active / selected ones when its Cholesky pivot
#: ``||a_j||^2 - ||R^{-T} A_S^T a_j||^2`` (its squared distance to span(A_S)) is at most this fraction of
#: ``||a_j||^2`` (:func:`chol_append`; OMP, NNOMP and the lasso homotopy alike). The pivot's rounding error
#: is about ``s * eps`` relative, far below this; accepting such an atom would make the Gram condition
#: number exceed ~1e10 (e.g. duplicate or antipodal columns).
DEP_TOL = 1e-10


@njit(cache=True)
def trial_views(A3, Y, X, t):
    """``(A, y, x)`` of trial t of a batch: ``A3[t]`` (``A3[0]`` when one A is shared), ``Y[t]``, ``X[t]``."""
    return (A3[t] if A3.shape[0] > 1 else A3[0]), Y[t], X[t]


@njit(cache=True)
def dot(u, v, lo, hi):
    """``sum_{lo <= i < hi} u_i v_i`` with four partial sums (four independent add chains)."""
    s0 = s1 = s2 = s3 = 0.0
    i = lo
    while i + 4 <= hi:
        s0 += u[i] * v[i]
        s1 += u[i + 1] * v[i + 1]
        s2 += u[i + 2] * v[i + 2]
        s3 += u[i + 3] * v[i + 3]
        i += 4
    while i < hi:
        s0 += u[i] * v[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


@njit(cache=True)
def at_mul(A, u, out):
    """``out = A^T u`` in one row-major pass over A, four rows at a time (out is loaded and stored m / 4 times)."""
    m = A.shape[0]
    out[:] = 0.0
    m4 = m - m % 4
    for i in range(0, m4, 4):
        u0, u1, u2, u3 = u[i], u[i + 1], u[i + 2], u[i + 3]
        r0, r1, r2, r3 = A[i], A[i + 1], A[i + 2], A[i + 3]
        for j in range(out.shape[0]):
            out[j] += u0 * r0[j] + u1 * r1[j] + u2 * r2[j] + u3 * r3[j]
    for i in range(m4, m):
        ui = u[i]
        row = A[i]
        for j in range(out.shape[0]):
            out[j] += ui * row[j]


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
def back_solve(M, s, b):
    """Solve ``R[:s, :s] z = b[:s]`` in place (R upper triangular, in M)."""
    for k in range(s - 1, -1, -1):
        rk = M[k]
        b[k] = (b[k] - dot(rk, b, k + 1, s)) / rk[k]


@njit(cache=True)
def chol_append(R, s, w, diag, tol):
    """Append column s to the upper Cholesky factor ``R[:s, :s]`` of ``G_SS`` for a new atom j.

    On entry ``w[:s] = G_{S, j}`` and ``diag = G_jj``; ``w`` becomes ``R^{-T} G_{S, j}``
    (:func:`forward_solve`) and the pivot ``p = diag - ||w||^2`` is the squared distance of
    a_j to span(A_S) (Golub & Van Loan, sec. 4.2). If ``p > tol * diag`` the factor grows,
    ``R[:s, s] = w``, ``R[s, s] = sqrt(p)``, and True is returned; otherwise (a_j numerically
    dependent on A_S, or p NaN) R is unchanged and False is returned.
    """
    forward_solve(R, s, w)
    piv = diag
    for q in range(s):
        piv -= w[q] * w[q]
    if not (piv > tol * diag):
        return False
    for q in range(s):
        R[q, s] = w[q]
    R[s, s] = np.sqrt(piv)
    return True


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
def sift(hv, hi, q, pos):
    """Restore the min-heap ``(hv, hi)[:q]`` below ``pos``."""
    while True:
        a = 2 * pos + 1
        if a >= q:
            return
        if a + 1 < q and hv[a + 1] < hv[a]:
            a += 1
        if hv[a] >= hv[pos]:
            return
        hv[a], hv[pos] = hv[pos], hv[a]
        hi[a], hi[pos] = hi[pos], hi[a]
        pos = a


@njit(cache=True)
def kth_largest(v, q, hv, hi):
    """The q-th largest entry of v (``1 <= q <= len(v)``), by a size-q min-heap; ``hv``, ``hi`` scratch (>= q)."""
    for j in range(q):
        hv[j] = v[j]
        hi[j] = j
    for pos in range(q // 2 - 1, -1, -1):
        sift(hv, hi, q, pos)
    for j in range(q, v.shape[0]):
        if v[j] > hv[0]:
            hv[0] = v[j]
            hi[0] = j
            sift(hv, hi, q, np.int64(0))
    return hv[0]


@njit(cache=True)
def colsq_corr(A, y, nsq, c):
    """One row-major pass over A, row by row: ``c = A^T y`` and ``nsq_j = ||a_j||^2``."""
    m, n = A.shape
    c[:] = 0.0
    nsq[:] = 0.0
    for i in range(m):
        yi = y[i]
        row = A[i]
        for j in range(n):
            a = row[j]
            c[j] += yi * a
            nsq[j] += a * a


@njit(cache=True)
def residual(A, y, S, xs, ns, r):
    """``r = y - sum_{p < ns} xs[p] a_{S[p]}``; returns ``||r||^2``."""
    m = A.shape[0]
    rr = 0.0
    for i in range(m):
        acc = y[i]
        row = A[i]
        for p in range(ns):
            acc -= row[S[p]] * xs[p]
        r[i] = acc
        rr += acc * acc
    return rr


@njit(cache=True)
def copy_n(dst, src, n):
    """``dst[:n] = src[:n]`` as a loop (numba's array-to-slice assignment compiles a shape check with string formatting, seconds of compile time)."""
    for i in range(n):
        dst[i] = src[i]
