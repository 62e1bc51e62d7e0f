"""Matched-filter theory: when does thresholding A^T A x at 1/2 recover binary x?"""
from __future__ import annotations

import numpy as np


def chernoff_m(n, k, p=None):
    """Chernoff / Johnson-Lindenstrauss sufficient m for the matched filter.

    ``m >= 8 k (ln n + ln(1/p))`` recovers every coordinate of a k-sparse
    binary x with probability >= 1 - p (seed 003: Chernoff bound
    ``P(|<w_i, sum_j w_j>| >= 1/2) <= exp(-m/(8k))`` per coordinate, union bound
    over n). With ``p=None`` returns ``8 k ln n`` (the line drawn in plots).
    """
    n = np.asarray(n, dtype=float)
    k = np.asarray(k, dtype=float)
    extra = 0.0 if p is None else np.log(1.0 / np.asarray(p, dtype=float))
    return 8.0 * k * (np.log(n) + extra)
