"""float32 for the shared-dictionary decoders: the ``dtype`` parameter of OMP, the lasso and AMP.

Rule (the same for the three decoders):

* ``dtype="float64"`` (default): everything as before.
* ``dtype="float32"``: A and Y are first rounded to float32, so every path solves the same float32
  problem. The shared-dictionary paths -- OMP and the lasso in Gram mode (``G = A^T A`` and
  ``A^T Y``), AMP with ``gemm`` (its stacked products) -- store and multiply in float32 (BLAS
  ``sgemm``: half the bytes, about twice the rate); OMP's correlation updates ``c = b - G_S x_S`` run
  in float32 too (its selection scores, Cholesky factor and coefficients in float64), the lasso's
  per-trial work (gradients, coordinate descent) runs in float64 on the float32 values. Paths without a float32 implementation (a per-trial A, ``gram=False``, ``gemm=False``)
  compute in float64 from the rounded inputs. ``X_hat`` is float32 in every case.
* Precision: float32 Gram entries carry relative errors of ~1e-7 to 1e-6, so OMP's dependence and
  correlation thresholds become ``csbench.kernels.omp.DEP_TOL32`` / ``CORR_FLOOR32`` (1e-5; an atom
  whose pivot falls below it gets status ``dependent_atoms``), and AMP's and the lasso's tolerances
  are raised to at least :data:`TOL32` (their iterates cannot settle closer in float32; a trial that
  still does not meet it ends with status ``max_iter``).

``decode()`` converts its inputs to float64 before a decoder sees them, so the dtype of the inputs
cannot choose the precision there; the kernels' entry points (:func:`csbench.decoders.omp.omp_solve`)
follow the dtype of the arrays they are given.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_choice

__all__ = ["DTYPES", "TOL32", "check_dtype", "as_dtype", "gram_matrix", "operator_path"]

#: Values of the ``dtype`` parameter.
DTYPES = ("float64", "float32")
#: Smallest relative tolerance of AMP (change and residual) and of the lasso (duality gap) in float32:
#: about 100 float32 epsilons (measured: float32 AMP iterates settle at relative changes of 1e-7 to 1e-6).
TOL32 = 1e-5


def check_dtype(param, value):
    """``"float64"`` or ``"float32"`` (numpy dtypes and their names are accepted); returns the name."""
    try:
        name = np.dtype(value).name
    except TypeError:
        name = value
    return check_choice(param, name, DTYPES)


def as_dtype(dtype, *arrays):
    """The arrays as C-contiguous arrays of ``dtype`` (no copy when they already are)."""
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in arrays)


#: :func:`gram_matrix` forms ``A^T A`` with numpy's ``A.T @ A`` (BLAS syrk) up to this n, in row panels above it.
GRAM_SYRK_MAX_N = 8192
#: Rows of G per panel product above ``GRAM_SYRK_MAX_N``.
GRAM_PANEL = 2048


def gram_matrix(A):
    """``G = A^T A`` (n, n) of a shared A (m, n), float64 or float32, in A's dtype.

    Up to ``n = GRAM_SYRK_MAX_N`` this is numpy's ``A.T @ A`` (BLAS ``syrk`` and a copy of its
    triangle). Above it, G is formed by row panels: ``G[i0:i1, i0:] = A[:, i0:i1]^T A[:, i0:]``, one
    BLAS ``gemm`` each (``GRAM_PANEL`` rows), written into G in place, and the lower triangle is
    copied from the upper, so G is exactly symmetric; the flops are ``(1 + GRAM_PANEL / n)`` times
    syrk's. Reason: the OpenBLAS of numpy 2.4's wheels (scipy-openblas 0.3.31) segfaults in ``dsyrk``
    with 2 or more threads for float64 A of m = 384 or 768 rows and n >= 15360 (n <= 14336 runs), with
    numpy's ``A.T @ A`` and with scipy's ``dsyrk`` alike; the panel products are gemm calls, which run.
    Reproducer: ``benchmarks/profile_issue19/gram_threads_crash.py`` (docs/benchmarks.md, issue 19 third
    round). The entries agree with syrk's to rounding (a different summation blocking), not bitwise.
    """
    n = A.shape[1]
    if n <= GRAM_SYRK_MAX_N:
        return A.T @ A
    G = np.empty((n, n), A.dtype)
    for i0 in range(0, n, GRAM_PANEL):
        i1 = min(i0 + GRAM_PANEL, n)
        np.matmul(A[:, i0:i1].T, A[:, i0:], out=G[i0:i1, i0:])
        D = G[i0:i1, i0:i1]
        low = np.tril_indices(i1 - i0, -1)
        D[low] = D.T[low]  # the diagonal block's lower triangle from its upper one
        G[i1:, i0:i1] = G[i0:i1, i1:].T
    return G


def operator_path(func):
    """A family's operator path ``func(ops, Y, k, **params)`` that takes the dense-only parameters ``dtype`` and
    ``gemm`` of its decoder without passing them on (the family registers ``operator_path(its_operator)``).

    Matrix-free paths compute in float64; ``dtype="float32"`` returns their X_hat as float32 (the
    rule of this module). ``gemm=True`` (stack trials on one dense A) has no operator meaning and raises.
    """
    from functools import wraps

    @wraps(func)
    def run(ops, Y, k, **params):
        dtype = params.pop("dtype", "float64")
        if params.pop("gemm", "auto") is True:
            raise ValueError("gemm=True needs one dense matrix A of shape (m, n) shared by all trials; "
                             "got operators (matrix-free).")
        res = func(ops, Y, k, **params)
        if dtype == "float32":
            from .base import DecodeResult

            res = DecodeResult(res.X_hat.astype(np.float32), res.n_iter, res.status)
        return res

    return run
