"""Input validation shared by every public entry point.

Every check raises before any work starts, with a message that names the
parameter, the value received and the allowed range.
"""
from __future__ import annotations

import difflib
import numbers

import numpy as np


def suggest(name, choices):
    """Return ``" Did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_choice(param, value, choices):
    """Check that ``value`` is one of ``choices`` (strings)."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(
            f"{param}={value!r} is not one of {choices}.{suggest(value, choices)}"
        )
    return value


def check_int(param, value, *, low=None, high=None):
    """Check that ``value`` is an integer in ``[low, high]`` (bounds optional)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{param} must be an integer, got {value!r} ({type(value).__name__}).")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{param}={value} is out of range; allowed: {_range(param, low, high)}.")
    return value


def check_bool(param, value):
    """Check that ``value`` is a bool (Python or NumPy); return it as ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{param} must be True or False, got {value!r} ({type(value).__name__}).")
    return bool(value)


def check_float(param, value, *, low=None, high=None, low_open=False, high_open=False):
    """Check that ``value`` is a finite real number in the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{param} must be a real number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "(-inf" if low is None else f"{'(' if low_open else '['}{low}"
        hi = "inf)" if high is None else f"{high}{')' if high_open else ']'}"
        rng = "any finite real" if low is None and high is None else f"finite values in {lo}, {hi}"
        raise ValueError(f"{param}={value!r} is out of range; allowed: {rng}.")
    return value


def _range(param, low, high):
    if high is None:
        return f"{param} >= {low}"
    if low is None:
        return f"{param} <= {high}"
    return f"{low} <= {param} <= {high}"


def check_finite_array(param, arr, *, ndim, dtype=np.float64, finite=True):
    """Return ``arr`` as a C-contiguous ``dtype`` array with one of the ``ndim`` ranks.

    Raises ``TypeError`` for non-numeric input and ``ValueError`` for a wrong
    rank or non-finite entries (with the count and the first offending index).
    ``finite=False`` skips the finiteness pass (for callers that check it in a pass of their own).
    """
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if type(arr).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{param} is a scipy.sparse {type(arr).__name__} of shape {arr.shape}; csbench's decoders "
                        f"take dense arrays: pass {param}.toarray().")
    try:
        a = np.asarray(arr)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{param} must be an array of real numbers: {exc}") from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{param} must be an array of real numbers, got dtype {a.dtype}.")
    if np.iscomplexobj(a):
        raise TypeError(f"{param} must be real, got complex dtype {a.dtype}.")
    if a.ndim not in ndims:
        allowed = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{param} must be {allowed}, got a {a.ndim}-D array of shape {a.shape}.")
    a = np.ascontiguousarray(a, dtype=dtype)
    if not finite:
        return a
    # One allocation-free pass: a sum is finite unless an entry is NaN/inf (or it overflows).
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(a, axis=None)):
            return a
    finite = np.isfinite(a)
    if not finite.all():
        bad = np.argwhere(~finite)
        raise ValueError(
            f"{param} contains {len(bad)} non-finite value(s) (NaN or inf); "
            f"first at index {tuple(int(i) for i in bad[0])}. Allowed: finite reals."
        )
    return a


def optional(check):
    """``check(param, value)`` that lets ``None`` through (a default None meaning "derived from the problem")."""

    def run(param, value):
        return None if value is None else check(param, value)

    return run


def or_choice(check, choices):
    """``check(param, value)`` that also accepts the strings ``choices`` (e.g. ``"minimax"`` or a number)."""

    def run(param, value):
        if isinstance(value, str):
            return check_choice(param, value, choices)
        try:
            return check(param, value)
        except TypeError:
            raise TypeError(f"{param} must be {' or '.join(map(repr, choices))} or a real number, "
                            f"got {value!r} ({type(value).__name__}).") from None

    return run


def check_gram(param, value):
    """``"auto"``, True or False (the decoders' ``gram`` switch)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value == "auto":
        return value
    raise ValueError(f"{param}={value!r} is not one of ['auto', True, False].")


# --------------------------------------------------------------------------- the memory budget
#: Bytes the work of one problem, task or block may take by default: a fixed number, so that whether a study
#: runs dense or matrix-free does not depend on the machine (studies record it).
DEFAULT_MEMORY_BUDGET = 4 * 2**30
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def parse_bytes(name, value):
    """A byte count from an int or a string such as ``"4GiB"``, ``"500 MB"``, ``"1e9"``; ValueError naming ``name``."""
    if isinstance(value, str):
        import re

        mt = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", value)
        unit = mt.group(2).lower() if mt else None
        if mt is None or unit not in _UNITS:
            raise ValueError(f"{name}={value!r} is not a byte count; allowed: a positive number of bytes, "
                             f"optionally with a unit {sorted(u for u in _UNITS if u)} (e.g. '4GiB').")
        try:
            value = float(mt.group(1)) * _UNITS[unit]
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a byte count (e.g. '4GiB').") from None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r}; allowed: a positive number of bytes (or a string like '4GiB').")
    return int(value)


def memory_budget(budget=None) -> int:
    """THE memory budget (bytes): ``budget`` (bytes or a string like ``"4GiB"``) if given, else the
    environment variable ``CSBENCH_MEMORY_BUDGET``, else :data:`DEFAULT_MEMORY_BUDGET` (4 GiB).

    Public as :func:`csbench.problems.memory_budget`; defined here so that every layer (decoders, toy
    training, problems, studies) costs its work against the same number.
    """
    import os

    if budget is not None:
        return parse_bytes("memory_budget", budget)
    env = os.environ.get("CSBENCH_MEMORY_BUDGET")
    if env:
        return parse_bytes("CSBENCH_MEMORY_BUDGET", env)
    return DEFAULT_MEMORY_BUDGET


def format_bytes(nbytes):
    """``"3.2 GiB"``-style text of a byte count."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{int(nbytes)} B"


class MemoryBudgetError(ValueError):
    """Work refused before it starts: its measured peak memory exceeds the memory budget (``param``: the
    parameter named)."""

    def __init__(self, message, param=None):
        super().__init__(message)
        self.param = param


def check_memory(param, value, nbytes, what, budget=None, allowed=None):
    """Refuse, before allocating, work whose peak memory ``nbytes`` (a cost formula fitted to measured
    peaks) exceeds the memory budget (:func:`memory_budget` of ``budget``): one line naming the parameter,
    its value, the amount and the budget. Returns ``nbytes``."""
    budget = memory_budget(budget)
    if nbytes > budget:
        allowed = allowed or f"a smaller {param}"
        raise MemoryBudgetError(
            f"{param}={value!r}: {what} needs {format_bytes(nbytes)} of memory at its peak, over the memory budget "
            f"of {format_bytes(budget)}; allowed: {allowed}, or a larger budget (memory_budget=... or the "
            f"environment variable CSBENCH_MEMORY_BUDGET, e.g. '16GiB').", param)
    return nbytes
