"""Orthogonal matching pursuit (OMP) and nonnegative OMP, batched over trials (numba).

The kernels live in :mod:`csbench.kernels.omp`; this module validates the
parameters, chooses Gram mode for a shared A, and allocates the outputs.

Relation to scikit-learn's ``orthogonal_mp``: scikit-learn selects
``argmax_j |a_j^T r|`` and documents that the columns are *assumed* to have unit
norm; csbench selects ``argmax_j |a_j^T r| / ||a_j||``, which is the same rule
for unit-norm columns and the scale-invariant one otherwise (OMP on A equals
scikit-learn's OMP on the column-normalised ``A D^{-1}`` with ``x = D^{-1} z``).
``tol`` bounds the *squared* residual norm ``||y - A x||^2``, as in
scikit-learn.
"""
from __future__ import annotations

import numpy as np

from functools import partial

from .._validate import check_bool, check_finite_array, check_float, check_gram, check_int, optional
from .backend import kernels
from .base import (DECODERS, DEPENDENT_ATOMS, MAX_ITER, NONFINITE, OK, DecodeResult, PerOperator, col_norms_sq,
                   outputs, register_operator, run_trials)
from .precision import as_dtype, check_dtype, gram_matrix, operator_path

_k = kernels("omp")  # numba loads on the first call, not on import

__all__ = ["omp", "omp_solve"]

#: Gram mode (precomputed ``A^T A``) is never used when G would exceed this many bytes.
GRAM_MAX_BYTES = 1 << 28
#: "auto" uses Gram mode for a shared A when ``T * (s_max - 1) >= GRAM_RATIO * n``:
#: G costs ``m n^2 / 2`` multiply-adds and saves one pass over A (``m n``) per atom
#: after the first. Measured break-even, one thread: (n, m, k) = (1000, 200, 10):
#: G 6.8 ms, 0.239 ms/trial without G vs 0.058 ms with it, i.e.
#: ``T (s_max - 1) ~ 0.34 n``; (1000, 300, 40): G 11.4 ms, 1.60 vs 0.40 ms/trial,
#: ``~ 0.37 n``. (Measured with the earlier numba G kernel and a pass over A per trial for ``A^T y``; G
#: and ``A^T Y`` are now BLAS products, so Gram mode pays from fewer trials; the rule is kept.)
GRAM_RATIO = 0.35


def _use_gram(A, T, s_max, gram):
    """Whether to precompute ``G = A^T A`` and ``B = Y A`` (results agree to rounding either way)."""
    n = A.shape[-1]
    if A.ndim == 3:
        if gram is True:
            raise ValueError("gram=True needs one matrix A of shape (m, n) shared by all trials; "
                             f"got per-trial A of shape {A.shape}.")
        return False
    if gram != "auto":
        return bool(gram)
    return 8 * n * n <= GRAM_MAX_BYTES and T * max(s_max - 1, 0) >= GRAM_RATIO * n


def shared_products(A, Y):
    """``G = A^T A`` (n, n) and ``B = Y A`` (T, n), i.e. ``B[t] = A^T y_t``: two BLAS-3 products for a shared A.

    A (m, n) and Y (T, m) float64 or float32; G and B have their dtype. The shared-dictionary paths
    of OMP and the lasso start from them (G from :func:`csbench.decoders.precision.gram_matrix`) (``m n^2 / 2`` and ``T m n`` multiply-adds, at the GEMM rate
    instead of one pass over A per trial).
    """
    return gram_matrix(A), Y @ A


def omp_solve(A, Y, s_max, tol=None, positive=False, gram="auto"):
    """Run the OMP kernels on validated inputs (see :func:`omp`).

    Parameters
    ----------
    A : ndarray (m, n) or (T, m, n), float64 or float32, C-contiguous (NaN/inf raise ValueError)
    Y : ndarray (T, m), the dtype of A
        float32 inputs: Gram mode runs on float32 G and ``A^T Y``, other paths in float64 on the
        float32 values, and X is float32 (:mod:`csbench.decoders.precision`).
    s_max : int
        Maximum number of atoms, ``0 <= s_max <= min(m, n)``.
    tol : float or None
        Stop when ``||r||^2 <= tol``.
    positive : bool
    gram : "auto", True or False

    Returns
    -------
    X : (T, n), n_iter : (T,) int64, status : (T,) int8, sel : (T, s_max) int64
        ``sel[t, :n_iter[t]]`` are the selected atoms in selection order (-1 after).
    """
    T, n = Y.shape[0], A.shape[-1]
    n_iter = np.zeros(T, np.int64)
    status = np.zeros(T, np.int8)
    sel = np.empty((T, s_max), np.int64)
    tol_k = -1.0 if tol is None else float(tol)
    single = A.dtype == np.float32
    G, B, nsq = np.empty((0, 0)), np.empty((0, 0)), np.empty(0)
    floor_rel, dep_tol = _k.CORR_FLOOR, _k.DEP_TOL
    if _use_gram(A, T, s_max, gram):
        A, Y = as_dtype(A.dtype, A, Y)
        G, B = shared_products(A, Y)
        nsq = np.ascontiguousarray(np.diagonal(G))
        if single:
            floor_rel, dep_tol = _k.CORR_FLOOR32, _k.DEP_TOL32
    else:  # no float32 path: float64 on the (rounded) values
        A, Y = as_dtype(np.float64, A, Y)
    X = np.empty((T, n), B.dtype if G.shape[0] else np.float64)  # Gram mode writes float32 X directly
    run_trials(_k.nnomp_batch if positive else _k.omp_batch, T, A if A.ndim == 3 else A[None], Y, G, B, nsq, s_max,
               tol_k, floor_rel, dep_tol, X, n_iter, status, sel)
    if single:
        X = X.astype(np.float32, copy=False)
    bad = status == _k.NONFINITE_INPUT
    if bad.any():
        # the kernels' first pass is decode()'s finiteness check of A (checks_finite_A): raise its
        # usual error for NaN/inf in A; a finite A whose column norms or A^T y overflow gets nonfinite
        check_finite_array("A", A, ndim=(2, 3))
        status[bad] = NONFINITE
    return X, n_iter, status, sel


#: Value checks of OMP's parameters (run by decode() and DecoderSpec); the bound
#: ``n_nonzero_coefs <= n`` needs the problem: :func:`check_problem`.
CHECKS = {
    "n_nonzero_coefs": optional(partial(check_int, low=1)),
    "tol": optional(partial(check_float, low=0.0)),
    "positive": check_bool,
    "gram": check_gram,
    "dtype": check_dtype,
}


def check_problem(params, n, k):
    """``n_nonzero_coefs <= n`` (more atoms than features cannot be selected at any m)."""
    if params["n_nonzero_coefs"] is not None:
        check_int("n_nonzero_coefs", params["n_nonzero_coefs"], low=1, high=n)
    return params


def atoms(m, n, k, n_nonzero_coefs, tol):
    """Most atoms a trial may select (both paths): ``n_nonzero_coefs`` (checked against n by
    :func:`check_problem`) capped at m; else ``min(m, n)`` with ``tol``; else ``min(k, m)``."""
    if n_nonzero_coefs is not None:
        return min(n_nonzero_coefs, m)  # more than m atoms are dependent; a minimal-m search starts below it
    if tol is not None:
        return min(m, n)
    if k is None:
        raise ValueError("omp needs a stopping rule: pass k (to decode), n_nonzero_coefs "
                         f"(1 <= n_nonzero_coefs <= n = {n}) or tol >= 0; got none.")
    return min(k, m)


#: Residual tolerance ``||r||^2 <= BERNOULLI_TOL`` of studies of signals without a fixed k (``bernoulli``).
BERNOULLI_TOL = 1e-20


def study_defaults(params, given, study):
    """On ``signal="bernoulli"`` (the number of active features varies, so k atoms is wrong for most trials):
    ``tol = BERNOULLI_TOL``, stopping on the residual instead."""
    if study.signal == "bernoulli" and "tol" not in given and "n_nonzero_coefs" not in given:
        params["tol"] = BERNOULLI_TOL
    return params


@DECODERS.register("omp", "orthogonal matching pursuit: k atoms or ||r||^2 <= tol; positive=True: NNOMP",
                   checks_finite_A=True, checks=CHECKS, problem_check=check_problem,
                   study_defaults=study_defaults)
def omp(A, Y, k, *, n_nonzero_coefs=None, tol=None, positive=False, gram="auto", dtype="float64"):
    """Orthogonal matching pursuit (Pati et al. 1993; Tropp & Gilbert 2007).

    Greedy: add the atom ``argmax_j |a_j^T r| / ||a_j||``, refit least squares on
    the selected atoms (updated Cholesky factor of their Gram matrix,
    Rubinstein, Zibulevsky & Elad 2008), repeat. Stops after ``s_max`` atoms,
    when ``||r||^2 <= tol``, when ``r = 0``, or when no remaining atom correlates
    with r above rounding level (``CORR_FLOOR * ||y||``).

    Parameters
    ----------
    n_nonzero_coefs : int, optional
        Maximum atoms, ``1 <= n_nonzero_coefs <= n``, capped at m (more than m
        atoms are dependent; so a minimal-m search can start below it). Default:
        ``k`` (capped at m) when ``tol`` is None, else ``min(m, n)`` (``tol``
        alone decides, as in scikit-learn).
    tol : float >= 0, optional
        Bound on the **squared** residual norm ``||y - A x||^2`` (scikit-learn's
        convention). Checked before the first atom too, so ``||y||^2 <= tol``
        gives x = 0 (scikit-learn always takes one atom). A trial that ends
        with ``s_max`` atoms and ``||r||^2 > tol`` gets status ``max_iter``.
    positive : bool
        Nonnegative OMP (Bruckstein, Elad & Zibulevsky 2008): select
        ``argmax_j a_j^T r / ||a_j||`` among ``a_j^T r > 0``; the coefficients
        are the exact NNLS solution ``argmin_{x_S >= 0} ||y - A_S x_S||`` on the
        selected atoms (Lawson-Hanson active set warm-started from the previous
        step). An atom whose coefficient reaches 0 stays selected (it counts in
        ``n_iter``, may rejoin the NNLS support, and is not selected again).
    gram : "auto", True or False
        Shared A only: precompute ``G = A^T A`` once (``m n^2 / 2`` multiply-adds,
        ``8 n^2`` bytes) so that each atom costs O(n) instead of a pass over A.
        ``A^T y`` for all trials is then one matrix product (BLAS). Results agree with
        ``gram=False`` to rounding (the same selections, ``n_iter`` and statuses on the
        tested problems; coefficients to ~1e-14), not bit for bit: fix ``gram`` when a
        shared-A batch may be split differently. "auto" uses it when it pays
        (see ``GRAM_RATIO``, ``GRAM_MAX_BYTES``).
    dtype : "float64" or "float32"
        float32: A and Y rounded to float32; Gram mode stores G and ``A^T Y`` in float32 and
        updates the correlations in float32 (with the thresholds ``DEP_TOL32``, ``CORR_FLOOR32``;
        selections, statuses and supports as float64 on the tested well-conditioned problems,
        ``tests/test_shared_dictionary.py``), other paths compute in float64 on the
        rounded values; X_hat is float32 (:mod:`csbench.decoders.precision`).

    Returns
    -------
    DecodeResult
        ``n_iter`` = atoms selected. Status ``dependent_atoms`` when the next
        atom's squared distance to the span of the selected ones is at most
        ``DEP_TOL = 1e-10`` times its squared norm (x is then the fit on the
        atoms before it); ``max_iter`` as above or when the NNLS iteration cap
        (3 s + 10) is hit.
    """
    m, n = A.shape[-2:]
    s_max = atoms(m, n, k, n_nonzero_coefs, tol)
    if dtype == "float32":
        A, Y = as_dtype(np.float32, A, Y)
    X, n_iter, status, _ = omp_solve(A, Y, s_max, tol, positive, gram)
    return DecodeResult(X, n_iter, status)


# ---------------------------------------------------------------- operator path
def _omp_one(op, y, nsq, s_max, tol, positive, x):
    """OMP on one trial with products and regenerated columns (rules of :func:`csbench.kernels.omp.omp_one`).

    Writes x; returns ``(n_iter, status)``. ``nsq`` = ``||a_j||^2``.
    """
    m, n = op.shape
    x[:] = 0.0
    c = op.rmatvec(y)
    if not np.isfinite(c).all():
        return 0, NONFINITE
    inv_norm = np.zeros(n)
    np.divide(1.0, np.sqrt(nsq), out=inv_norm, where=nsq > 0)
    rr = float(y @ y)
    floor = _k.CORR_FLOOR * np.sqrt(rr)
    if rr == 0.0 or rr <= tol:
        return 0, OK
    s1 = max(s_max, 1)
    As = np.empty((m, s1))            # the selected columns, in selection order
    Gs = np.zeros((s1, s1))           # their Gram matrix (positive: read by the NNLS kernel)
    R, w, z, xs = np.empty((s1, s1)), np.empty(s1), np.empty(s1), np.zeros(s1)
    bs, ds, inv_s = np.empty(s1), np.empty(s1), np.empty(s1)   # A_S^T y, ||a_s||^2, 1/||a_s|| by position
    pos = np.arange(s1, dtype=np.int64)                        # positions index the local arrays
    pp, inP = np.empty(s1, np.int64), np.zeros(s1, np.bool_)
    chosen = np.zeros(n, np.bool_)
    b = c.copy()
    S = []
    ns = npp = 0
    status = OK
    while ns < s_max:
        j, v = _k._select(c, inv_norm, chosen, positive)
        if j < 0 or v <= floor:
            break
        a = op.columns(np.array([j]))[:, 0]
        g = As[:, :ns].T @ a
        if positive:
            As[:, ns], bs[ns], ds[ns], inv_s[ns] = a, b[j], nsq[j], inv_norm[j]
            Gs[:ns, ns] = Gs[ns, :ns] = g
            Gs[ns, ns] = nsq[j]
            S.append(j)
            chosen[j] = True
            ns += 1
            npp, st = _k._nnls(Gs, np.empty((0, 0)), True, pos, ns, bs, ds, inv_s, xs, inP, pp, npp, R, w, z,
                                floor)
            if st == _k.DEPENDENT and xs[ns - 1] == 0.0:  # the new atom could not enter: drop it
                ns -= 1
                S.pop()
                chosen[j] = False
            if st != OK:  # the kernels' codes are base.STATUSES indices
                status = st
                break
        else:
            w[:ns] = g
            if not _k.chol_append(R, ns, w, nsq[j], _k.DEP_TOL):
                status = DEPENDENT_ATOMS
                break
            As[:, ns], bs[ns] = a, b[j]
            S.append(j)
            chosen[j] = True
            ns += 1
            xs[:ns] = bs[:ns]
            _k.forward_solve(R, ns, xs)
            _k.back_solve(R, ns, xs)
        r = y - As[:, :ns] @ xs[:ns]
        rr = float(r @ r)
        if rr == 0.0 or rr <= tol or ns == s_max:
            break
        c = op.rmatvec(r)
    if status == OK and tol >= 0.0 and rr > tol and ns == s_max:
        status = MAX_ITER
    x[S] = xs[:ns]
    return ns, status


def omp_operator(ops, Y, k, *, n_nonzero_coefs, tol, positive, gram):
    """OMP on operators: an ``rmatvec`` per atom, columns regenerated (:func:`csbench.decoders.omp.omp`'s rules).

    ``gram`` has no effect (there is no dense A to take ``A^T A`` of); ``gram=True`` raises.
    """
    m, n = ops[0].shape
    if gram is True:
        raise ValueError("gram=True needs a dense A (G = A^T A); on an operator use gram='auto' or False.")
    s_max = atoms(m, n, k, n_nonzero_coefs, tol)
    norms = PerOperator(col_norms_sq)
    X, n_iter, status = outputs(Y.shape[0], n)
    tol_k = -1.0 if tol is None else float(tol)
    for t, op in enumerate(ops):
        n_iter[t], status[t] = _omp_one(op, Y[t], norms(op), s_max, tol_k, positive, X[t])
    return DecodeResult(X, n_iter, status)


register_operator("omp")(operator_path(omp_operator))
