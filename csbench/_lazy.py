"""Deferred imports, so that ``csbench --help`` and ``csbench list`` need no numba or SciPy."""
from __future__ import annotations

import importlib
import sys
import threading

_LOCK = threading.RLock()  # one import at a time: threads of a thread executor may all make the first call


class _LazyModule:
    """Stands for module ``name`` and imports it on the first attribute access (thread-safe).

    ``importlib.util.LazyLoader`` is not thread-safe on Python 3.11 (a second
    thread can see a half-executed module), so the import runs under a lock.
    """

    def __init__(self, name):
        self.__dict__["_name"] = name
        self.__dict__["_module"] = None

    def _load(self):
        with _LOCK:
            if self.__dict__["_module"] is None:
                self.__dict__["_module"] = importlib.import_module(self.__dict__["_name"])
        return self.__dict__["_module"]

    def __getattr__(self, attr):
        module = self.__dict__["_module"] or self._load()
        return getattr(module, attr)

    def __repr__(self):
        state = "loaded" if self.__dict__["_module"] is not None else "not loaded"
        return f"<lazy module {self.__dict__['_name']!r} ({state})>"


def lazy_module(name):
    """Module ``name``, imported on its first attribute access (the module itself if already imported).

    Decoder modules hold their numba kernel modules this way: registering a decoder
    (for ``csbench list``) then costs no numba import; the first call loads it.
    """
    return sys.modules[name] if name in sys.modules else _LazyModule(name)
