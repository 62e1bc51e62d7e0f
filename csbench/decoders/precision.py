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

__all__ = ["DTYPES", "TOL32", "check_dtype", "as_dtype", "operator_path"]

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
