"""Counting (information-theoretic) quantities: how many bits name a k-subset of n features.

All functions are vectorised over ``n`` and ``k`` (numpy broadcasting), take
integer counts ``0 <= k <= n`` (integer-valued floats are accepted) and return
``float`` for scalar input, an array otherwise. Logarithms are base 2 (bits).

References
----------
Seed 003 (dense superposition), appendix: ``(n/k)^k <= C(n,k) <= (e n/k)^k`` and
``log2 C(n,k) ~ n H2(k/n)``. Seed 004 (Edmonds 2024, "Random Superposition"), Theorem 1.
"""
from __future__ import annotations

import numpy as np
from scipy.special import betaln

from .._validate import check_int

__all__ = [
    "log2_binom", "counting_bound", "entropy_bits", "binom_lower_bits", "binom_upper_bits",
    "bits_per_dimension",
]

_LN2 = np.log(2.0)


def check_counts(param, value, *, low=0):
    """Return ``value`` as a float array of integers ``>= low`` (or raise).

    Scalars go through :func:`csbench._validate.check_int` (integer-valued floats
    such as ``1e6`` are accepted); arrays must be finite and integer-valued.
    """
    if np.ndim(value) == 0 and not isinstance(value, np.ndarray):
        if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
            value = int(value)
        return np.float64(check_int(param, value, low=low))
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{param} must be an integer or an array of integers, got {value!r}.") from None
    bad = ~np.isfinite(a) | (a != np.floor(a)) | (a < low)
    if bad.any():
        first = a[bad].flat[0]
        raise ValueError(f"{param} contains {first:g}; allowed: integers >= {low}.")
    return a


def _nk(n, k, *, k_low=0, n_low=1):
    """Validate and broadcast ``(n, k)`` with ``k_low <= k <= n``."""
    n = check_counts("n", n, low=n_low)
    k = check_counts("k", k, low=k_low)
    n, k = np.broadcast_arrays(n, k)
    if (k > n).any():
        i = np.argmax(k > n)
        raise ValueError(f"k={k.flat[i]:g} exceeds n={n.flat[i]:g}; allowed: {k_low} <= k <= n.")
    return n, k


def _out(a):
    """Python scalar (float or bool) for 0-d results, the array otherwise."""
    return np.asarray(a).item() if np.ndim(a) == 0 else a


def log2_binom(n, k):
    """``log2 C(n, k)``: bits needed to name a k-subset of n features.

    Computed as ``-(ln(n + 1) + ln B(n - k' + 1, k' + 1)) / ln 2`` with
    ``k' = min(k, n - k)`` (scipy's ``betaln`` keeps full relative accuracy
    for huge n; ``C(n, 0) = 1`` exactly). Relative error < 1e-9 against
    ``math.comb`` for ``n <= 1e9`` (tested). Seed 003 reports that
    compressed-sensing decoders need about this many dimensions ("one bit
    per dimension").
    """
    n, k = _nk(n, k, n_low=0)
    kk = np.minimum(k, n - k)
    with np.errstate(divide="ignore"):
        val = -(np.log(n + 1.0) + betaln(n - kk + 1.0, kk + 1.0)) / _LN2
    return _out(np.where(kk == 0, 0.0, val))


def counting_bound(n, k):
    """Edmonds' lower bound ``m >= k (log2(n/k) - 1)`` for exact recovery of binary x.

    Seed 004, Theorem 1: a one-to-one map of k-subsets into m-bit strings needs
    ``2^m >= C(n, k)``; the seed uses ``C(n, k) ~ (n / (e k))^k`` and rounds
    ``log2 e`` to 1. Since ``C(n, k) >= (n/k)^k`` this is a valid, weaker form of
    ``m >= log2 C(n, k)`` (it counts *bits*; a real-valued y needs quantisation
    for the argument to apply). Requires ``1 <= k <= n``.
    """
    n, k = _nk(n, k, k_low=1)
    return _out(k * (np.log2(n / k) - 1.0))


def entropy_bits(n, k):
    """Stirling approximation ``n H2(k/n)`` of ``log2 C(n, k)`` (bits).

    ``H2(p) = -p log2 p - (1 - p) log2(1 - p)`` (``H2(0) = H2(1) = 0``).
    Seed 003 appendix: ``log2 C(n, pn) = n H2(p) - O(log n)``; it is an upper
    bound, ``C(n, k) <= 2^{n H2(k/n)}``.
    """
    n, k = _nk(n, k)
    p = k / n
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log2(p), 0.0) + np.where(p < 1, (1 - p) * np.log2(1 - p), 0.0))
    return _out(n * h)


def binom_lower_bits(n, k):
    """Lower bound ``k log2(n/k) <= log2 C(n, k)`` (from ``C(n, k) >= (n/k)^k``; 0 at k = 0)."""
    n, k = _nk(n, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.where(k > 0, k * np.log2(n / np.where(k > 0, k, 1.0)), 0.0))


def binom_upper_bits(n, k):
    """Upper bound ``log2 C(n, k) <= k log2(e n / k)`` (seed 003's rule of thumb; 0 at k = 0).

    From ``C(n, k) <= n^k / k! <= (e n / k)^k`` (``k! >= (k/e)^k``).
    """
    n, k = _nk(n, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.where(k > 0, k * np.log2(np.e * n / np.where(k > 0, k, 1.0)), 0.0))


def bits_per_dimension(n, k, m):
    """Information density ``log2 C(n, k) / m`` of a k-sparse binary code in m dimensions.

    Seed 003: compressed-sensing decoders reach about one bit per dimension,
    matched filters far less.
    """
    bits = log2_binom(n, k)
    m = check_counts("m", m, low=1)
    return _out(bits / m)
