"""Deferred imports, so that ``csbench --help`` and ``csbench list`` need no numba or SciPy."""
from __future__ import annotations

import importlib.util
import sys


def lazy_module(name):
    """Return module ``name``, executed on its first attribute access (``importlib.util.LazyLoader``).

    Decoder modules hold their numba kernel modules this way: registering a decoder
    (for ``csbench list``) then costs no numba import; the first call loads it.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
