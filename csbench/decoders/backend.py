"""The compute-backend seam: the one place where decoder families reach their kernels.

A family holds ``_k = kernels("omp")`` and calls ``_k.omp_batch(...)``; the
attribute is looked up in the kernel module of the *current backend* at call time.
The backend is an execution option (:func:`use_backend`, or the environment
variable ``CSBENCH_BACKEND``, which worker processes inherit), never a decoder
parameter, so it enters no task key and a run resumes whichever backend finished
its earlier tasks. csbench ships one backend, ``"numba"`` (:mod:`csbench.kernels`);
another (for example PyTorch kernels on an accelerator) registers a module per
kernel family with :func:`register_backend`, each exposing the same functions.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import threading

from .._validate import suggest

#: backend -> kernel family -> module implementing it
BACKENDS = {"numba": {name: f"csbench.kernels.{name}" for name in
                      ("lasso", "homotopy", "omp", "amp", "lattice", "readout", "mf_curve", "greedy", "vamp")}}
#: The backend used when neither :func:`use_backend` nor ``CSBENCH_BACKEND`` says otherwise.
DEFAULT = "numba"
_LOCK = threading.RLock()
#: kernel module name -> the imported module (the per-call look-up stays off the import machinery)
_IMPORTED = {}


def current_backend() -> str:
    """The backend in effect (``CSBENCH_BACKEND``, default ``"numba"``), checked against :data:`BACKENDS`."""
    name = os.environ.get("CSBENCH_BACKEND") or DEFAULT
    if name not in BACKENDS:
        raise ValueError(f"CSBENCH_BACKEND={name!r} is not a registered backend; allowed: {sorted(BACKENDS)}."
                         f"{suggest(name, BACKENDS)}")
    return name


def register_backend(name, modules):
    """Register backend ``name``: ``modules`` maps kernel families to module names.

    Families it does not list fall back to the ``numba`` kernels.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"backend name must be a non-empty string, got {name!r}.")
    unknown = sorted(set(modules) - set(BACKENDS[DEFAULT]))
    if unknown:
        raise ValueError(f"backend {name!r}: unknown kernel families {unknown}; allowed: {sorted(BACKENDS[DEFAULT])}.")
    BACKENDS[name] = {**BACKENDS[DEFAULT], **modules}


@contextlib.contextmanager
def use_backend(name):
    """Run the block's decoders on backend ``name`` (sets ``CSBENCH_BACKEND``, so worker processes started
    inside inherit it); restores the previous setting on exit."""
    if name not in BACKENDS:
        raise ValueError(f"backend={name!r}; allowed: {sorted(BACKENDS)}.{suggest(name, BACKENDS)}")
    with _LOCK:
        old = os.environ.get("CSBENCH_BACKEND")
        os.environ["CSBENCH_BACKEND"] = name
    try:
        yield
    finally:
        with _LOCK:
            if old is None:
                os.environ.pop("CSBENCH_BACKEND", None)
            else:
                os.environ["CSBENCH_BACKEND"] = old


class _Kernels:
    """Kernel family ``family`` of the current backend; its module is imported on first attribute access."""

    def __init__(self, family):
        if family not in BACKENDS[DEFAULT]:
            raise ValueError(f"unknown kernel family {family!r}; allowed: {sorted(BACKENDS[DEFAULT])}.")
        self._family = family

    def __getattr__(self, attr):
        name = BACKENDS[current_backend()][self._family]
        module = _IMPORTED.get(name)
        if module is None:
            with _LOCK:  # one import at a time: threads of a thread executor may all make the first call
                module = _IMPORTED[name] = importlib.import_module(name)
        return getattr(module, attr)

    def __repr__(self):
        return f"<kernels {self._family!r} of backend {current_backend()!r}>"


def kernels(family):
    """The kernels of ``family`` (``"omp"``, ``"lasso"``, ...) on the current backend (see the module docstring)."""
    return _Kernels(family)
