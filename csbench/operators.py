"""Matrices known through products: the interface of matrix-free encoders and decoders.

A decoder that needs only ``A x``, ``A^T r`` and a few columns ``A[:, S]`` can
run on an :class:`Operator` instead of a dense ``(m, n)`` array, so a trial
needs O(m k + n + block) memory instead of O(m n). Operators subclass
:class:`scipy.sparse.linalg.LinearOperator` (so any SciPy solver accepts them)
and add what sparse recovery needs:

* :meth:`Operator.columns` -- the dense ``(m, |S|)`` block ``A[:, S]``;
* :meth:`Operator.col_norms_sq` -- ``||a_j||^2`` for every j;
* :meth:`Operator.dense` -- the full matrix (tests, small problems);
* :attr:`Operator.dense_nbytes` -- what the dense matrix would cost.

:class:`DenseOperator` wraps an ndarray (the reference every matrix-free
operator is tested against); generated ensembles live in
:mod:`csbench.encoders` / :mod:`csbench.kernels`.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator


class Operator(LinearOperator):
    """An ``(m, n)`` float64 matrix known through products and regenerated columns.

    Subclasses implement ``_matvec`` (``A x``), ``_rmatvec`` (``A^T r``) and
    :meth:`columns`; :meth:`col_norms_sq` and :meth:`dense` have generic (slow)
    fallbacks built on them.
    """

    def __init__(self, shape):
        m, n = (int(s) for s in shape)
        super().__init__(dtype=np.float64, shape=(m, n))

    @property
    def dense_nbytes(self) -> int:
        """Bytes of the dense float64 matrix (``8 m n``)."""
        return 8 * self.shape[0] * self.shape[1]

    def columns(self, idx) -> np.ndarray:
        """``A[:, idx]`` as a C-contiguous ``(m, len(idx))`` float64 array."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        out = np.empty((self.shape[0], idx.size))
        for c, j in enumerate(idx):
            e = np.zeros(self.shape[1])
            e[j] = 1.0
            out[:, c] = self._matvec(e)
        return out

    def col_norms_sq(self) -> np.ndarray:
        """``||a_j||^2`` for j = 0..n-1 (generic: columns in blocks)."""
        n = self.shape[1]
        out = np.empty(n)
        for s in range(0, n, 256):
            C = self.columns(np.arange(s, min(n, s + 256)))
            out[s:s + C.shape[1]] = np.einsum("ij,ij->j", C, C)
        return out

    def dense(self) -> np.ndarray:
        """The full ``(m, n)`` matrix (only for problems that fit in memory)."""
        return self.columns(np.arange(self.shape[1]))

    def _adjoint(self):
        return _Adjoint(self)


class _Adjoint(LinearOperator):
    def __init__(self, op):
        self.op = op
        super().__init__(dtype=np.float64, shape=(op.shape[1], op.shape[0]))

    def _matvec(self, r):
        return self.op._rmatvec(r)

    def _rmatvec(self, x):
        return self.op._matvec(x)


class DenseOperator(Operator):
    """An ndarray seen as an :class:`Operator` (products by BLAS)."""

    def __init__(self, A):
        A = np.ascontiguousarray(A, dtype=np.float64)
        if A.ndim != 2:
            raise ValueError(f"DenseOperator needs a 2-D matrix, got shape {A.shape}.")
        self.A = A
        super().__init__(A.shape)

    def _matvec(self, x):
        return self.A @ np.asarray(x, dtype=np.float64).reshape(-1)

    def _rmatvec(self, r):
        return self.A.T @ np.asarray(r, dtype=np.float64).reshape(-1)

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, R):
        return self.A.T @ R

    def columns(self, idx):
        return np.ascontiguousarray(self.A[:, np.asarray(idx, dtype=np.int64).reshape(-1)])

    def col_norms_sq(self):
        return np.einsum("ij,ij->j", self.A, self.A)

    def dense(self):
        return self.A.copy()


def as_operator(A) -> Operator:
    """``A`` as an :class:`Operator`: operators pass through, 2-D arrays are wrapped."""
    if isinstance(A, Operator):
        return A
    if isinstance(A, LinearOperator):
        raise TypeError("A is a scipy LinearOperator without columns(); wrap it in a csbench.operators.Operator "
                        "subclass that implements _matvec, _rmatvec and columns.")
    return DenseOperator(A)
