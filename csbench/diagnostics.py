"""Diagnostics of a matrix's columns (coherence, the Welch bound, column norms)."""
from __future__ import annotations

import numpy as np

from ._validate import check_finite_array


def coherence_stats(A, block=2048):
    """Diagnostics of a matrix's columns.

    Returns a dict with ``max_abs_cos`` = max_{i != j} |<a_i, a_j>| / (||a_i|| ||a_j||)
    (the mutual coherence mu), ``mean_abs_cos`` over all pairs i < j, the Welch
    bound sqrt((n - m) / (m (n - 1))) (a lower bound on mu for n > m unit vectors;
    Welch 1974), and column-norm statistics. Works in column blocks, so memory is
    O(m n + block^2).
    """
    A = check_finite_array("A", A, ndim=2)
    m, n = A.shape
    norms = np.linalg.norm(A, axis=0)
    U = A / np.where(norms > 0, norms, 1.0)
    mx, total = 0.0, 0.0
    for s in range(0, n, block):
        G = np.triu(np.abs(U[:, s : s + block].T @ U[:, s:]), k=1)  # pairs (s+i, s+j), j > i
        mx = max(mx, float(G.max(initial=0.0)))
        total += float(G.sum())
    pairs = n * (n - 1) / 2
    from .theory.coherence import welch_bound  # deferred: theory imports SciPy

    welch = float(welch_bound(n, m)) if n > 1 else 0.0
    return {
        "m": m,
        "n": n,
        "max_abs_cos": mx,
        "mean_abs_cos": total / pairs if pairs else 0.0,
        "welch_bound": welch,
        "col_norm_min": float(norms.min()),
        "col_norm_mean": float(norms.mean()),
        "col_norm_max": float(norms.max()),
        "col_norm_std": float(norms.std()),
    }
