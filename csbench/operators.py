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



class GeneratedOperator(Operator):
    """``A = Z[:m] / sqrt(m)`` of the counter-based ``gaussian`` / ``rademacher`` ensembles, never stored.

    ``Z[i, j]`` is regenerated from ``(key, i, j)`` (:mod:`csbench.kernels.philox`),
    entry for entry (bit for bit) the matrix the dense encoder draws with the
    same key (:func:`csbench.encoders.philox_key`). Products stream Z: ``A x``
    one row at a time (sparse x: only its nonzero columns), ``A^T r`` row by
    row over column ranges, in ``threads`` Python threads (the kernels release
    the GIL); memory O(n). A dense-x product regenerates all m n entries
    (about the cost of a dense draw).

    Parameters
    ----------
    kind : {"gaussian", "rademacher"}
    key : (k0, k1)
        The 64-bit Philox key (two words < 2^32).
    m, n : int
        Shape.
    threads : int
        Threads splitting the rows (``A x``) or columns (``A^T r``) of a product.
    """

    def __init__(self, kind, key, m, n, threads=1):
        from .kernels import philox

        if kind not in ("gaussian", "rademacher"):
            raise ValueError(f"kind={kind!r}; allowed: 'gaussian', 'rademacher'.")
        super().__init__((m, n))
        self.kind = kind
        self.key = (np.uint64(key[0]), np.uint64(key[1]))
        self.threads = max(1, int(threads))
        self._k = philox
        self._code = philox.GAUSSIAN if kind == "gaussian" else philox.RADEMACHER
        self._sqrt_m = np.sqrt(self.shape[0])  # A = Z / sqrt(m), divided as the dense encoder divides
        #: Rademacher: A = S / sqrt(d) with S in {-1, 1}, d = m (matrix-free decoders decide lattice ties exactly).
        self.lattice_d = self.shape[0] if kind == "rademacher" else None

    def _split(self, size, fn):
        """``fn(start, stop)`` over ``threads`` contiguous ranges of ``range(size)`` (serial for one)."""
        cuts = np.linspace(0, size, min(self.threads, max(1, size)) + 1).astype(np.int64)
        if cuts.size == 2:
            fn(0, size)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(cuts.size - 1) as ex:
            list(ex.map(fn, cuts[:-1], cuts[1:]))

    def _matvec(self, x):
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
        y = np.empty(self.shape[0])
        nz = np.flatnonzero(x)
        if 4 * nz.size < x.size:  # sparse x: one Philox block per entry of its nonzero columns
            vals = np.ascontiguousarray(x[nz])
            self._split(y.size, lambda a, b: self._k.matvec_columns(self._code, *self.key, nz, vals, a, y[a:b]))
        else:
            self._split(y.size, lambda a, b: self._k.matvec_rows(self._code, *self.key, x, a, y[a:b]))
        return y / self._sqrt_m

    def _rmatvec(self, r):
        r = np.ascontiguousarray(np.asarray(r, dtype=np.float64).reshape(-1))
        g = np.empty(self.shape[1])
        self._split(g.size, lambda a, b: self._k.rmatvec_columns(self._code, *self.key, r, a, g[a:b]))
        return g / self._sqrt_m

    def columns(self, idx):
        idx = np.ascontiguousarray(np.asarray(idx, dtype=np.int64).reshape(-1))
        C = np.empty((self.shape[0], idx.size))
        self._k.fill_columns(self._code, *self.key, idx, C)
        return C / self._sqrt_m

    def col_norms_sq(self):
        """Exactly 1 for Rademacher; for Gaussian ``sum_i A_ij^2`` (one streamed pass over the rows)."""
        m, n = self.shape
        if self.kind == "rademacher":
            return np.ones(n)
        out = np.zeros(n)
        for i0 in range(0, m, 64):
            A = self.rows(i0, min(m, i0 + 64))
            out += np.einsum("ij,ij->j", A, A)
        return out

    def raw_rows(self, i0, i1):
        """Rows ``i0 .. i1-1`` of the raw master ``Z`` (any ``i1``: the master has unboundedly many rows)."""
        Z = np.empty((i1 - i0, self.shape[1]))
        self._k.fill_rows(self._code, *self.key, i0, Z)
        return Z

    def rows(self, i0, i1):
        """Rows ``i0 .. i1-1`` of A (a block of the dense matrix, bit for bit)."""
        return self.raw_rows(i0, i1) / self._sqrt_m

    def dense(self):
        return self.rows(0, self.shape[0])


class DCTOperator(Operator):
    """Subsampled randomised DCT ``A = sqrt(n/m) R F D`` (encoder ``dct``), products in O(n log n).

    ``D = diag(d)`` random signs, ``F`` the orthonormal DCT-II
    (``F[p, j] = sqrt(2/n) c_p cos(pi p (2j + 1) / (2n))``, ``c_0 = 1/sqrt(2)``,
    else 1; ``scipy.fft.dct(norm="ortho")``), ``R`` the rows ``perm[:m]`` of a
    random permutation, so the m-row matrix is the first m rows of one
    master (nested; ``A_m = Z[:m] / sqrt(m)`` with ``Z[i] = sqrt(n) (F D)[perm[i]]``).
    Rows are orthogonal, ``A A^T = (n/m) I_m``; a column's squared norm
    ``(n/m) sum_{i<m} F[perm_i, j]^2`` has mean 1 over the permutation but is
    not exactly 1 (a different ensemble from iid ``gaussian``; e.g. Candes &
    Tao 2006, Ailon & Chazelle 2009). Entries come from a table of
    ``cos(pi t / (2n))``, t = 0..n, so :meth:`columns` and :meth:`dense` agree
    bit for bit with the dense encoder; products use ``scipy.fft`` (agree to rounding).
    """

    def __init__(self, signs, perm, m):
        signs = np.asarray(signs, dtype=np.float64).reshape(-1)
        perm = np.asarray(perm, dtype=np.int64).reshape(-1)
        n = signs.size
        if perm.size != n or not 1 <= int(m) <= n:
            raise ValueError(f"DCTOperator needs len(perm) = len(signs) = n and 1 <= m <= n; got "
                             f"{perm.size}, {n}, m={m}.")
        super().__init__((m, n))
        self.signs, self.perm = signs, perm
        self._scale = np.sqrt(n / self.shape[0])

    def raw_rows(self, i0, i1, cols=None):
        """``Z[i0:i1, cols]`` (raw master rows, ``i1 <= n``): ``Z[i, j] = sqrt(n) F[perm_i, j] d_j`` (cosines from one table)."""
        n = self.shape[1]
        j = np.arange(n, dtype=np.int64) if cols is None else np.asarray(cols, dtype=np.int64).reshape(-1)
        p = self.perm[i0:i1]
        table = np.cos(np.pi * np.arange(n + 1) / (2 * n))  # cos(pi t / 2n), t = 0..n
        t = (p[:, None] * (2 * j[None, :] + 1)) % (4 * n)
        t = np.where(t > 2 * n, 4 * n - t, t)                # cos(2 pi - a) = cos a
        val = np.where(t > n, -table[np.minimum(2 * n - t, n)], table[np.minimum(t, n)])  # cos(pi - a) = -cos a
        val = np.where(p[:, None] == 0, 1.0, np.sqrt(2.0) * val)
        return val * self.signs[j]

    def _matvec(self, x):
        from scipy.fft import dct

        x = np.asarray(x, dtype=np.float64).reshape(-1)
        return self._scale * dct(self.signs * x, norm="ortho")[self.perm[:self.shape[0]]]

    def _rmatvec(self, r):
        from scipy.fft import idct

        z = np.zeros(self.shape[1])
        z[self.perm[:self.shape[0]]] = np.asarray(r, dtype=np.float64).reshape(-1)
        return self._scale * self.signs * idct(z, norm="ortho")

    def columns(self, idx):
        return np.ascontiguousarray(self.raw_rows(0, self.shape[0], idx) / np.sqrt(self.shape[0]))

    def col_norms_sq(self):
        out = np.zeros(self.shape[1])
        for i0 in range(0, self.shape[0], 64):
            Z = self.raw_rows(i0, min(self.shape[0], i0 + 64))
            out += np.einsum("ij,ij->j", Z, Z)
        return out / self.shape[0]

    def dense(self):
        return self.raw_rows(0, self.shape[0]) / np.sqrt(self.shape[0])
