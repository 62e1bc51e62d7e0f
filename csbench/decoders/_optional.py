"""Imports decoder families that live in their own modules (lasso, omp, amp, ...).

Each import registers the family; a family that is not present yet is skipped.
"""
import importlib

for _mod in ("lasso", "omp", "amp"):
    try:
        importlib.import_module(f"{__package__}.{_mod}")
    except ModuleNotFoundError as exc:  # only a missing family module is tolerated
        if exc.name != f"{__package__}.{_mod}":
            raise
