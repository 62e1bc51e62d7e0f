"""Random encoders drawn whole from the trial's stream: ``unit``, ``antipodal``, ``sparse``."""
from __future__ import annotations

import numpy as np

from .._validate import check_int
from . import ENCODERS, normalize_columns


def _even_n(m, n, params):
    if n % 2:
        raise ValueError(f"n={n} must be even for encoder 'antipodal' (columns come in pairs).")


def _sparse_shape(m, n, params):
    check_int("d", params["d"], low=1, high=m)


@ENCODERS.register("unit", "columns uniform on the unit sphere S^{m-1}", nested="columns")
def unit(rng, m, n):
    """Columns uniform on the sphere: a Gaussian draw with each column scaled to norm 1."""
    return normalize_columns(rng.standard_normal((m, n)))


@ENCODERS.register(
    "antipodal", "unit columns in antipodal pairs a_{2i+1} = -a_{2i} (seed 004, Thm 3)", nested="columns",
    shape_check=_even_n)
def antipodal(rng, m, n):
    """Columns in antipodal pairs ``a_{2i} = w_i``, ``a_{2i+1} = -w_i``, w_i uniform on the sphere.

    Requires even n. This is the construction of Edmonds (seed 004, Theorem 3):
    each pair stores two features in one direction.
    """
    W = unit(rng, m, n // 2)
    A = np.empty((m, n))
    A[:, 0::2] = W
    A[:, 1::2] = -W
    return A


@ENCODERS.register("sparse", "d nonzeros +-1/sqrt(d) per column at random rows (not nested)",
                   shape_check=_sparse_shape)
def sparse(rng, m, n, *, d=8):
    """Sparse random matrix: each column has ``d`` nonzeros ``+-1/sqrt(d)`` in distinct rows.

    Not nested: the row positions depend on m.
    """
    A = np.zeros((m, n))
    rows = np.argsort(rng.random((n, m)), axis=1)[:, :d]
    signs = np.where(rng.random((n, d)) < 0.5, 1.0, -1.0) / np.sqrt(d)
    A[rows, np.arange(n)[:, None]] = signs
    return A
