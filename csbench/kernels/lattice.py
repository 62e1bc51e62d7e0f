"""Lattice test for matrices with entries in {0, +-c} (numba): one pass, early exit."""
from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def on_lattice(a, c, rtol):
    """Whether every entry of the flat array ``a`` is 0 or within ``rtol * c`` of ``+-c``."""
    tol = rtol * c
    for i in range(a.size):
        v = abs(a[i])
        if v != 0.0 and abs(v - c) > tol:
            return False
    return True
