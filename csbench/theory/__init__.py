"""Theory: every bound and curve csbench compares measurements with.

Conventions: delta = m/n (undersampling), rho = k/m (sparsity per measurement),
natural logarithms unless the name says ``log2``. Each function documents its
formula and source.
"""
from .counting import counting_bound, log2_binom
from .matched_filter import chernoff_m

__all__ = ["log2_binom", "counting_bound", "chernoff_m"]
