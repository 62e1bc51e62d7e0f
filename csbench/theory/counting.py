"""Counting (information-theoretic) bounds on m."""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln


def log2_binom(n, k):
    """``log2 C(n, k)``: bits needed to name a k-subset of n features.

    Computed as ``(lnG(n+1) - lnG(k+1) - lnG(n-k+1)) / ln 2`` (vectorised, exact to
    floating point). Seed 003 reports that compressed-sensing decoders need
    about this many dimensions ("one bit per dimension").
    """
    n = np.asarray(n, dtype=float)
    k = np.asarray(k, dtype=float)
    return (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)) / np.log(2)


def counting_bound(n, k):
    """Edmonds' lower bound ``m >= k (log2(n/k) - 1)`` for exact recovery of binary x.

    Seed 004, Theorem 1: a one-to-one map of k-subsets into m-bit strings needs
    ``2^m >= C(n, k) >= (n / (e k))^k``; the seed rounds log2 e to 1.
    """
    n = np.asarray(n, dtype=float)
    k = np.asarray(k, dtype=float)
    return k * (np.log2(n / k) - 1.0)
