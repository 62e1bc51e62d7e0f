"""Decoder result type, status codes and the decoder registry."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..registry import Registry

#: Per-trial status names; a kernel writes the integer code (index in this tuple).
STATUSES = ("ok", "max_iter", "diverged", "nonfinite", "dependent_atoms", "error")
OK, MAX_ITER, DIVERGED, NONFINITE, DEPENDENT_ATOMS, ERROR = range(len(STATUSES))

#: All decoders. An entry's ``func(A, Y, k, **params)`` receives validated
#: float64 C-contiguous ``A`` of shape (m, n) (shared) or (T, m, n), ``Y`` of
#: shape (T, m), and ``k`` (int or None), and returns a :class:`DecodeResult`.
DECODERS = Registry("decoder")


def register_operator(name):
    """Decorator: ``func(ops, Y, k, **params)`` runs decoder ``name`` on operators.

    Stored as ``DECODERS.get(name).info["operator"]``; ``ops`` is a list of T
    :class:`csbench.operators.Operator` (one object repeated when shared), ``Y``
    is (T, m) and ``params`` are the dense decoder's, checked. Decoders without
    it need a dense A (see :mod:`csbench.decoders.matrix_free`).
    """

    def wrap(func):
        DECODERS.get(name).info["operator"] = func
        return func

    return wrap


@dataclass(frozen=True)
class DecodeResult:
    """Output of a batched decoder.

    Attributes
    ----------
    X_hat : ndarray, shape (T, n)
        Estimates; always finite (a trial whose iterate went non-finite keeps
        its last finite iterate, or zeros, and gets a non-``ok`` status).
    n_iter : ndarray of int64, shape (T,)
        Iterations (or atoms, or LP iterations) used per trial; 0 for one-shot decoders.
    status : ndarray of int8, shape (T,)
        Codes into :data:`STATUSES`.
    """

    X_hat: np.ndarray
    n_iter: np.ndarray
    status: np.ndarray

    @property
    def status_names(self):
        """Status of each trial as strings."""
        return np.asarray(STATUSES, dtype=object)[self.status]

    @property
    def ok(self):
        """Boolean mask of trials with status ``ok``."""
        return self.status == OK


def run_trials(kernel, T, *args):
    """Call ``kernel(*args, t0, t1)`` on ranges of the T trials, one range per numba thread.

    The batch kernels (``csbench.kernels``) solve trials ``t0 <= t < t1`` and
    release the GIL, so ranges run in parallel on Python threads; with
    ``numba.get_num_threads()`` = 1 (as the executors' workers set it) this is
    one call. Each trial depends only on its own inputs, so results do not
    depend on the split. Threads instead of ``prange``: a ``parallel=True``
    wrapper recompiles everything it calls (measured 10-27 s of compilation per
    wrapper on first use).
    """
    import numba

    workers = min(T, numba.get_num_threads())
    if workers <= 1:
        kernel(*args, 0, T)
        return
    bounds = [T * w // workers for w in range(workers + 1)]
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(kernel, *args, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]:
            f.result()


def one_shot(X_hat):
    """A :class:`DecodeResult` for a non-iterative decoder (n_iter 0, status ok)."""
    T = X_hat.shape[0]
    return DecodeResult(X_hat, np.zeros(T, np.int64), np.zeros(T, np.int8))


def prior_params(name, signal, signal_params, noise):
    """The cell's signal model as parameters of decoder ``name`` that take it (``lmmse``, ``trained_readout``).

    A decoder sees only A, Y and k; decoders that need the prior declare the
    parameters ``signal``, ``signal_params`` and ``noise``. Studies (sweeps,
    minimal m, maximal k) fill them from the cell unless the user set them.
    """
    defaults = DECODERS.get(name).defaults
    cell = {"signal": signal, "signal_params": dict(signal_params or {}), "noise": float(noise)}
    return {key: value for key, value in cell.items() if key in defaults}
