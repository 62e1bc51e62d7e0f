"""Counter-based random matrices: Philox4x32-10 in numba (the ``gaussian`` / ``rademacher`` encoders).

Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
as 1, 2, 3", SC'11) maps a 128-bit counter ``(c0, c1, c2, c3)`` and a 64-bit
key ``(k0, k1)`` to four 32-bit words by ten rounds of

    (c0, c1, c2, c3) <- (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0)),

``M0 = 0xD2511F53``, ``M1 = 0xCD9E8D57``, the key bumped by the Weyl constants
``(0x9E3779B9, 0xBB67AE85)`` between rounds (Random123's ``philox4x32_R(10, ...)``;
checked against its known-answer vectors in ``tests/test_philox.py``).

Entry ``Z[i, j]`` of a trial's raw matrix is a pure function of (key, i, j),
so any block of rows or any set of columns can be regenerated on demand:

* ``GAUSSIAN`` (kind 0): the polar form of Box-Muller (Marsaglia & Bray 1964).
  For ``c = j // 2`` and attempts ``a = 0, 1, ...``, counter ``(c, a, i_lo, i_hi)``
  gives words ``w0..w3``; ``u1 = (floor((w1 2^32 + w0) / 2^11) + 1/2) 2^-53`` and
  ``u2`` likewise from ``(w2, w3)``, both in (0, 1) exclusive; ``v = 2 u - 1``,
  ``s = v1^2 + v2^2``; the first attempt with ``0 < s < 1`` (probability pi/4
  each) gives ``Z[i, 2c] = v1 sqrt(-2 ln s / s)``, ``Z[i, 2c+1] = v2 sqrt(-2 ln s / s)``:
  iid N(0, 1). (No sin/cos: 1.6x faster than the trigonometric form here.)
* ``RADEMACHER`` (kind 1): counter ``(b, 0, i_lo, i_hi)`` with ``b = j // 128``;
  with ``t = j % 128``, bit ``t % 32`` of word ``t // 32`` is 0 -> +1, 1 -> -1.

(``i_lo``, ``i_hi`` are the low and high 32 bits of the row index; column
blocks are below 2^32.) The key comes from the trial's MATRIX stream, see
:func:`csbench.encoders.philox_key`. All kernels are ``nogil``; the products
generate entries on the fly and store nothing of size m n.
"""
import numpy as np
from numba import njit

GAUSSIAN, RADEMACHER = 0, 1

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_EPS53 = 2.0 ** -53


@njit(cache=True, nogil=True)
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter ``(c0..c3)`` and key ``(k0, k1)`` (uint64 values < 2^32); four uint64 words."""
    a0, a1, a2, a3 = np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3)
    b0, b1 = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        p0 = _M0 * a0
        p1 = _M1 * a2
        a0, a1, a2, a3 = (p1 >> _S32) ^ a1 ^ b0, p1 & _MASK, (p0 >> _S32) ^ a3 ^ b1, p0 & _MASK
        b0 = (b0 + _W0) & _MASK
        b1 = (b1 + _W1) & _MASK
    return a0, a1, a2, a3


@njit(cache=True, nogil=True)
def _uniform(lo, hi):
    """(floor(w / 2^11) + 1/2) 2^-53 for the 64-bit word ``w = hi 2^32 + lo``: in (0, 1), never 0 or 1."""
    return (float(((hi << _S32) | lo) >> _S11) + 0.5) * _EPS53


@njit(cache=True, nogil=True)
def _gauss_pair(k0, k1, i, c):
    """``(Z[i, 2c], Z[i, 2c+1])`` of the Gaussian kind (polar Box-Muller, attempt a in counter word 1)."""
    ui = np.uint64(i)
    a = 0
    while True:
        w0, w1, w2, w3 = philox4x32_10(np.uint64(c), np.uint64(a), ui & _MASK, ui >> _S32, k0, k1)
        v1 = 2.0 * _uniform(w0, w1) - 1.0
        v2 = 2.0 * _uniform(w2, w3) - 1.0
        s = v1 * v1 + v2 * v2
        if 0.0 < s < 1.0:
            f = np.sqrt(-2.0 * np.log(s) / s)
            return v1 * f, v2 * f
        a += 1


@njit(cache=True, nogil=True)
def _sign(w0, w1, w2, w3, t):
    """+1 if bit ``t % 32`` of word ``t // 32`` of ``(w0..w3)`` is 0, else -1 (0 <= t < 128)."""
    q = t >> 5
    w = w0 if q == 0 else (w1 if q == 1 else (w2 if q == 2 else w3))
    return 1.0 - 2.0 * float((w >> np.uint64(t & 31)) & _ONE)


@njit(cache=True, nogil=True)
def _rad_block(k0, k1, i, b):
    ui = np.uint64(i)
    return philox4x32_10(np.uint64(b), np.uint64(0), ui & _MASK, ui >> _S32, k0, k1)


@njit(cache=True, nogil=True)
def entry(kind, k0, k1, i, j):
    """``Z[i, j]``."""
    if kind == GAUSSIAN:
        z0, z1 = _gauss_pair(k0, k1, i, j >> 1)
        return z0 if (j & 1) == 0 else z1
    w0, w1, w2, w3 = _rad_block(k0, k1, i, j >> 7)
    return _sign(w0, w1, w2, w3, j & 127)


@njit(cache=True, nogil=True)
def fill_segment(kind, k0, k1, i, j0, out):
    """``out[:] = Z[i, j0 : j0 + out.size]`` (one Philox block per 2 or 128 entries)."""
    j1 = j0 + out.size
    j = j0
    if kind == GAUSSIAN:
        while j < j1:
            z0, z1 = _gauss_pair(k0, k1, i, j >> 1)
            if (j & 1) == 0:
                out[j - j0] = z0
                if j + 1 < j1:
                    out[j + 1 - j0] = z1
                j += 2
            else:
                out[j - j0] = z1
                j += 1
    else:
        while j < j1:
            w0, w1, w2, w3 = _rad_block(k0, k1, i, j >> 7)
            stop = min(j1, ((j >> 7) + 1) << 7)
            for jj in range(j, stop):
                out[jj - j0] = _sign(w0, w1, w2, w3, jj & 127)
            j = stop


@njit(cache=True, nogil=True)
def fill_rows(kind, k0, k1, i0, out):
    """``out[:] = Z[i0 : i0 + out.shape[0], :]`` (``out`` is (rows, n), C-contiguous)."""
    for r in range(out.shape[0]):
        fill_segment(kind, k0, k1, i0 + r, 0, out[r])


@njit(cache=True, nogil=True)
def fill_columns(kind, k0, k1, cols, out):
    """``out[:, c] = Z[:out.shape[0], cols[c]]`` (rows 0 .. m-1 of the given columns)."""
    for i in range(out.shape[0]):
        for c in range(cols.size):
            out[i, c] = entry(kind, k0, k1, i, cols[c])


@njit(cache=True, nogil=True)
def matvec_rows(kind, k0, k1, x, i0, out):
    """``out[r] = Z[i0 + r, :] . x`` for r < out.size, one row of Z at a time (O(n) memory)."""
    row = np.empty(x.size)
    for r in range(out.size):
        fill_segment(kind, k0, k1, i0 + r, 0, row)
        s = 0.0
        for j in range(x.size):
            s += row[j] * x[j]
        out[r] = s


@njit(cache=True, nogil=True)
def matvec_columns(kind, k0, k1, cols, vals, i0, out):
    """``out[r] = sum_c Z[i0 + r, cols[c]] vals[c]`` for r < out.size (sparse x: only its nonzero columns)."""
    for r in range(out.size):
        s = 0.0
        for c in range(cols.size):
            s += entry(kind, k0, k1, i0 + r, cols[c]) * vals[c]
        out[r] = s


@njit(cache=True, nogil=True)
def rmatvec_columns(kind, k0, k1, r, j0, out):
    """``out[:] = (Z[:m, j0 : j0 + out.size])^T r`` with m = r.size, streamed row by row (O(out.size) memory)."""
    seg = np.empty(out.size)
    out[:] = 0.0
    for i in range(r.size):
        fill_segment(kind, k0, k1, i, j0, seg)
        ri = r[i]
        for j in range(out.size):
            out[j] += seg[j] * ri
