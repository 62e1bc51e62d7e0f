"""Decoder result type, status codes, the decoder registry, input checks and the kernel seam."""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._validate import check_finite_array, check_int
from ..registry import Entry, Registry

from ..statuses import DEPENDENT_ATOMS, DIVERGED, ERROR, MAX_ITER, NONFINITE, OK, STATUSES  # noqa: F401


@dataclass(frozen=True)
class DecoderEntry(Entry):
    """A registered decoder: :class:`csbench.registry.Entry` plus what its family declares.

    Attributes
    ----------
    operator : callable or None
        ``operator(ops, Y, k, **params)``: the family's matrix-free path (``ops`` a list of T
        :class:`csbench.operators.Operator`, ``params`` checked); None: the decoder needs a dense A.
    checks_finite_A : bool
        The dense path checks A's finiteness in its own first pass over A (``decode`` skips its check).
    signals : tuple of str or None
        Signals whose values its outputs can take (linear read-outs); None: any.
    encoders : tuple of str or None
        Encoders whose codes it reads out (``native``); None: any.
    linear_readout : bool
        A one-layer read-out of ``A^T y`` (its default minimal-m ``m_max`` is 1.5 x the Chernoff line).
    takes_source : bool
        Receives the objects that produced each trial's A (``source=``, e.g. a toy model) from the problem.
    study_defaults : callable or None
        ``study_defaults(params, given, study)``: the family's defaults for a meaningful study
        (``study`` a :class:`StudyContext`), never overriding the names in ``given``; raises
        ValueError naming a working choice when the pair cannot work.
    """

    operator: Callable | None = None
    checks_finite_A: bool = False
    signals: tuple | None = None
    encoders: tuple | None = None
    linear_readout: bool = False
    takes_source: bool = False
    study_defaults: Callable | None = None


@dataclass(frozen=True)
class StudyContext:
    """What a decoder family's ``study_defaults`` may read about the study it runs in."""

    signal: str
    signal_params: dict
    binary: bool
    criterion: str
    encoder: str | None
    noise: float


#: The decoder families built into csbench (imported when the registry is first used).
FAMILIES = tuple(f"csbench.decoders.{name}" for name in
                 ("linear", "lasso", "omp", "amp", "basis_pursuit", "readouts", "native", "greedy", "vamp")) + (
    "csbench.sae.engine",)

#: All decoders. An entry's ``func(A, Y, k, **params)`` receives validated
#: float64 C-contiguous ``A`` of shape (m, n) (shared) or (T, m, n), ``Y`` of
#: shape (T, m), and ``k`` (int or None), and returns a :class:`DecodeResult`.
#: Packages add decoders through the entry-point group ``csbench.decoders``.
DECODERS = Registry("decoder", DecoderEntry, modules=FAMILIES, group="csbench.decoders")


def register_operator(name):
    """Decorator: ``func(ops, Y, k, **params)`` is decoder ``name``'s operator path (:attr:`DecoderEntry.operator`),
    for a family that defines it after registering the dense path."""

    def wrap(func):
        DECODERS.update(name, operator=func)
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


# --------------------------------------------------------------------------- inputs
def check_inputs(A, Y, k=None, finite_A=True):
    """Validate dense decoder inputs; return ``(A, Y, k)`` with ``Y`` 2-D.

    ``A`` is (m, n) shared by all trials or (T, m, n) per trial; ``Y`` is (m,)
    (one trial) or (T, m). Both must be finite. ``k`` is None or 0 <= k <= n.
    ``finite_A=False`` leaves the finiteness of A to the decoder (a decoder
    registered with ``checks_finite_A=True`` checks it in its own first pass over A).
    """
    A = check_finite_array("A", A, ndim=(2, 3), finite=finite_A)
    Y = check_finite_array("Y", Y, ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[None, :]
    m, n = A.shape[-2:]
    if m < 1 or n < 1:
        raise ValueError(f"A must have m >= 1 rows and n >= 1 columns, got shape {A.shape}.")
    if Y.shape[1] != m:
        raise ValueError(f"Y has {Y.shape[1]} measurements per trial but A has m={m} rows; shapes A{A.shape}, Y{Y.shape}.")
    if A.ndim == 3 and A.shape[0] != Y.shape[0]:
        raise ValueError(f"A holds {A.shape[0]} trials but Y holds {Y.shape[0]}; shapes A{A.shape}, Y{Y.shape}.")
    if k is not None:
        k = check_int("k", k, low=0, high=n)
    return A, Y, k


def _linear_operator_type():
    """``scipy.sparse.linalg.LinearOperator`` if SciPy's linalg is loaded (no operator can exist otherwise), else None."""
    mod = sys.modules.get("scipy.sparse.linalg")
    return None if mod is None else mod.LinearOperator


def is_operator(A):
    """Whether ``A`` is a (scipy) linear operator or a non-empty sequence holding one (never imports SciPy)."""
    lo = _linear_operator_type()
    if lo is None:
        return False
    if isinstance(A, lo):
        return True
    return isinstance(A, (list, tuple)) and any(isinstance(a, lo) for a in A)


def check_operator_inputs(entry, A, Y, k):
    """Validate operator inputs of decoder ``entry``; return ``(ops, Y, k)``.

    ``A`` is one :class:`~csbench.operators.Operator` (shared) or a sequence of
    T operators with one common shape (m, n); ``Y`` is (m,) or (T, m), finite;
    ``k`` is None or ``0 <= k <= n``. ``ops`` is a list of T operators (the
    shared one repeated). A decoder without an operator path raises ValueError.
    """
    from ..operators import as_operator

    shared = not isinstance(A, (list, tuple))
    ops = []
    for i, a in enumerate([A] if shared else A):
        if not isinstance(a, _linear_operator_type()):
            raise TypeError(f"A is a sequence of per-trial operators, so every A[i] must be a "
                            f"csbench.operators.Operator; A[{i}] is {type(a).__name__}.")
        try:
            ops.append(as_operator(a))
        except TypeError as exc:
            raise TypeError(f"A{'' if shared else f'[{i}]'}: {exc}") from None
    m, n = ops[0].shape
    for i, op in enumerate(ops):
        if op.shape != (m, n):
            raise ValueError(f"all operators in A must have one shape; A[{i}] has shape {op.shape}, A[0] {(m, n)}.")
    if m < 1 or n < 1:
        raise ValueError(f"A must have m >= 1 rows and n >= 1 columns, got shape {(m, n)}.")
    if entry.operator is None:
        ok = sorted(e.name for e in DECODERS if e.operator is not None)
        raise ValueError(f"decoder {entry.name!r} needs a dense A (8 n m = 8 * {n} * {m} = {8 * n * m} bytes per "
                         f"matrix); it stays dense. Use a matrix-free decoder ({', '.join(ok)}), pass A.dense() "
                         "if it fits in memory, or raise the memory budget.")
    Y = check_finite_array("Y", Y, ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[None, :]
    if Y.shape[1] != m:
        raise ValueError(f"Y has {Y.shape[1]} measurements per trial but A has m={m} rows; "
                         f"A is ({m}, {n}), Y{Y.shape}.")
    T = Y.shape[0]
    if not shared and len(ops) != T:
        raise ValueError(f"A holds {len(ops)} per-trial operators but Y holds {T} trials; give one operator "
                         "per trial, or one operator (not in a sequence) shared by all.")
    if k is not None:
        k = check_int("k", k, low=0, high=n)
    return (ops * T if shared else ops), Y, k


def single_matrix(A):
    """The one (m, n) matrix of ``A``, or None when its trials hold different matrices.

    ``A`` of shape (m, n) is returned as is; of shape (T, m, n), ``A[0]`` when every
    slice equals it entry for entry (a fixed dictionary stacked once per trial, as a
    study on a real network's matrix passes it), so per-matrix work such as an SVD is
    done once. The test reads each slice's first row before the whole slice, so
    distinct matrices cost one row each.
    """
    if A.ndim == 2:
        return A
    A0 = A[0]
    same = all(np.array_equal(A[t, 0], A0[0]) and np.array_equal(A[t], A0) for t in range(1, A.shape[0]))
    return A0 if same else None


def outputs(T, n):
    """Zeroed ``(X, n_iter, status)`` of a batch of T trials with n features."""
    return np.zeros((T, n)), np.zeros(T, np.int64), np.zeros(T, np.int8)


class PerOperator:
    """Values computed once per distinct operator of a batch (a shared operator is one object)."""

    def __init__(self, func):
        self.func, self.memo = func, {}

    def __call__(self, op):
        key = id(op)
        if key not in self.memo:
            self.memo[key] = (op, self.func(op))  # keep op alive so its id is not reused
        return self.memo[key][1]


def col_norms_sq(op):
    """``||a_j||^2`` of operator ``op``; non-finite values (a NaN/inf in A) raise ValueError, as a dense A's would."""
    nsq = np.asarray(op.col_norms_sq(), dtype=np.float64)
    if not np.isfinite(nsq).all():
        j = int(np.flatnonzero(~np.isfinite(nsq))[0])
        raise ValueError(f"A has a non-finite column: ||a_{j}||^2 = {nsq[j]!r} (A must be finite).")
    return nsq
