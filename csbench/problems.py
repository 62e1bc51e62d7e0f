"""Seeded problems: the only place where matrices, signals and noise are drawn.

A :class:`Cell` fixes everything about a problem distribution except m:
encoder, signal model, n, k and noise. :func:`make_problem` draws trials of a
cell at a given m. Trial ``t`` of a cell uses the streams
``seeding.trial_rng(seed, cell.key(), t, stream)``, so

* every decoder, and every m, sees the same x for trial t;
* for nested encoders the matrix at m rows is the first m rows of the
  trial's master draw (rescaled), so results are coupled across m;
* results do not depend on how trials are split into blocks.

Decoders get :class:`Measurements` only; :class:`Truth` goes to scoring.
This module also owns the nested designs of the studies (:class:`NestedTrial`:
a trial's problems at every m; :class:`SupportTrial`: at every k) and the one
rule choosing a dense matrix or a matrix-free operator (:func:`use_operator`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import seeding
from ._validate import (DEFAULT_MEMORY_BUDGET, check_float, check_int, check_memory, memory_budget,  # noqa: F401
                        parse_bytes)
import math

from .encoders import ENCODERS, check_encoder, identity_params, rows_of_master
from .signals import SIGNALS, check_signal, nested_draw


@dataclass(frozen=True)
class Cell:
    """A problem distribution without m: ``(encoder, signal, n, k, noise)`` and parameters.

    ``noise`` is the standard deviation of iid Gaussian noise added to each
    entry of y = A x.
    """

    encoder: str = "gaussian"
    signal: str = "binary"
    n: int = 512
    k: int = 4
    noise: float = 0.0
    encoder_params: dict = field(default_factory=dict)
    signal_params: dict = field(default_factory=dict)

    def __post_init__(self):
        self.validate()  # a bad cell fails where it is made, not deep inside a run

    def validate(self, m=None):
        """Check every field (and m, if given); return (encoder_params, signal_params) with defaults."""
        check_int("n", self.n, low=1)
        check_int("k", self.k, low=0, high=self.n)
        check_float("noise", self.noise, low=0.0)
        ep = ENCODERS.get(self.encoder).check_params(dict(self.encoder_params))
        if m is not None:
            ep = check_encoder(self.encoder, m, self.n, ep)
        sp = check_signal(self.signal, self.n, self.k, dict(self.signal_params))
        return ep, sp

    def as_dict(self, identity=False):
        """Canonical description with every default filled in; ``identity=True``: the form that identifies the
        cell (each encoder's ``identity`` applied: a file by its content, no storage locations), the basis
        of :meth:`key`."""
        ep = ENCODERS.get(self.encoder).check_params(dict(self.encoder_params))
        sp = SIGNALS.get(self.signal).check_params(dict(self.signal_params))
        return {
            "encoder": self.encoder,
            "signal": self.signal,
            "n": int(self.n),
            "k": int(self.k),
            "noise": float(self.noise),
            "encoder_params": identity_params(self.encoder, ep) if identity else ep,
            "signal_params": sp,
        }

    def key(self) -> str:
        """Canonical cell key used for seeding: excludes m and any decoder."""
        return seeding.canonical(self.as_dict(identity=True))


@dataclass(frozen=True)
class Measurements:
    """What a decoder sees: ``A`` of shape (T, m, n) and ``Y`` of shape (T, m).

    When the T dense matrices would exceed the memory budget
    (:func:`memory_budget`) and the encoder is generated (``gaussian``,
    ``rademacher``, ``dct``), ``A`` is instead a tuple of T
    :class:`csbench.operators.Operator` (:func:`draw_operator`): the same
    matrices, entry for entry, regenerated on demand.
    """

    A: np.ndarray
    Y: np.ndarray
    #: Per trial, what produced its A (the ``toy`` encoder's trained model), or None when the
    #: encoder declares no source; decoders that take it get it (``decode(..., source=...)``).
    source: tuple | None = None


@dataclass(frozen=True)
class Truth:
    """The signals ``X`` of shape (T, n) (never passed to a decoder)."""

    X: np.ndarray


#: Extra (m, n) float64 matrices an encoder's draw holds at its peak besides the one it returns (tracemalloc
#: peak of ``make_problem`` at T = 1, 4, 16 and m n up to 8e5, minus the T returned matrices: gaussian and
#: rademacher 1.0-1.2, dct 4.1-4.4, unit and antipodal 2.0-2.2, sparse 3.0-3.2). Other encoders (file, model,
#: toy, plugins): :data:`DEFAULT_DRAW_TEMPORARIES`.
DRAW_TEMPORARIES = {"gaussian": 1.25, "rademacher": 1.25, "dct": 4.5, "unit": 2.25, "antipodal": 2.25, "sparse": 3.25}
DEFAULT_DRAW_TEMPORARIES = 3.0


def problem_bytes(encoder, trials, m, n, dense=True, decode=False):
    """Peak bytes of drawing ``trials`` problems of ``encoder`` at (m, n) (and, with ``decode``, of decoding
    and scoring them): the cost every budget check uses, fitted to measured peaks.

    Dense: ``8 (T m n + c m n + 2 T (m + n))`` with ``c`` the encoder's draw temporaries
    (:data:`DRAW_TEMPORARIES`); ``decode`` adds one working copy of the T matrices in the decoder and the
    estimates and scores, ``8 (T m n + 2 T n)`` (a sweep task's tracemalloc peak at T = 4, m = 200, n = 1000
    was 1.26-2.27 x 8 T m n for matched filter, lasso, OMP, AMP and basis pursuit; this gives 2.5 x).
    Matrix-free (``dense=False``): the vectors ``16 T (m + n)`` (``decode``: twice that) and each trial's
    operator, ``T (16 n + 1024)`` (tracemalloc: 4.9 kB per trial at m = 64, n = 512 for gaussian and
    rademacher, 13.5 kB for dct, against 18.4 kB counted).
    """
    T, m, n = int(trials), int(m), int(n)
    if not dense:  # x, y (and estimates, scores) and each operator
        return (8 * 2 * T * (m + n) * (2 if decode else 1)) + T * (16 * n + 1024)
    c = DRAW_TEMPORARIES.get(encoder, DEFAULT_DRAW_TEMPORARIES)
    draw = 8 * (T * m * n + c * m * n + 2 * T * (m + n))
    return int(draw + (8 * (T * m * n + 2 * T * n) if decode else 0))


#: Bytes the vectors of matrix-free work (signals, measurements, noise: O(m + n) per trial) may always take:
#: a budget below it only forces the matrix-free paths (how tests and small machines use a tiny budget).
VECTOR_FLOOR = 2**20


def vector_budget(budget=None):
    """The budget of matrix-free state: THE budget (:func:`memory_budget`), at least :data:`VECTOR_FLOOR`."""
    return max(memory_budget(budget), VECTOR_FLOOR)


def check_problem_memory(encoder, trials, m, n, budget=None, dense=True, decode=False, param="trials"):
    """Refuse (:class:`~csbench._validate.MemoryBudgetError`, one line) ``trials`` problems of ``encoder`` at
    (m, n) whose :func:`problem_bytes` exceed the budget; names ``param`` (how the caller calls the trial
    count: ``trials``, ``block``) or, when one trial alone does not fit, ``n``."""
    one = problem_bytes(encoder, 1, m, n, dense, decode) > memory_budget(budget)
    what = (f"{'one problem' if one else f'{trials} problems'} of encoder {encoder!r} at m={m}, n={n} "
            f"({'dense matrices' if dense else 'matrix-free: signals and measurements'}"
            f"{', decoded and scored' if decode else ''})")
    allowed = "a smaller m or n" if one else "fewer trials at once (trials, or block in a sweep), a smaller m or n"
    if dense and not ENCODERS.get(encoder).generated:
        allowed += ", a generated encoder (gaussian, rademacher, dct: matrix-free above the budget)"
    return check_memory("n" if one else param, n if one else trials, problem_bytes(encoder, trials, m, n, dense, decode),
                        what, budget, allowed)


def use_operator(encoder, nbytes, budget) -> bool:
    """THE dense-or-operator rule: a matrix-free operator when the dense matrices (``nbytes``) exceed
    ``budget`` and the encoder is generated (its operator gives the same matrix); else dense."""
    return ENCODERS.get(encoder).generated and nbytes > budget


def make_problem(cell: Cell, m: int, trials: int, seed: int, first_trial: int = 0, memory_budget=None):
    """Draw trials ``first_trial .. first_trial + trials - 1`` of ``cell`` at ``m`` rows.

    Parameters
    ----------
    cell : Cell
        The problem distribution.
    m : int
        Number of measurements (>= 1).
    trials : int
        Number of trials T (>= 1).
    seed : int
        Root seed (>= 0).
    first_trial : int
        Index of the first trial; trial t is the same whichever block it is drawn in.
    memory_budget : int or str, optional
        Bytes the dense ``A`` may take (default :func:`memory_budget`). If
        ``8 T m n`` exceeds it and the encoder is generated, ``A`` is a tuple of
        T operators (:func:`draw_operator`) instead; other encoders stay dense.

    Returns
    -------
    (Measurements, Truth)
        ``A`` (T, m, n) or T operators, ``Y = A x + noise z`` (T, m), ``X`` (T, n).
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be a csbench.Cell, e.g. Cell(encoder='gaussian', n=512, k=4), got "
                        f"{type(cell).__name__}{' (use Cell(**d))' if isinstance(cell, dict) else ''}.")
    m = check_int("m", m, low=1)
    trials = check_int("trials", trials, low=1)
    first_trial = check_int("first_trial", first_trial, low=0)
    seed = check_int("seed", seed, low=0)
    ep, sp = cell.validate(m)
    key = cell.key()
    n = cell.n
    budget = _memory_budget(memory_budget)  # validated whatever the encoder
    free = use_operator(cell.encoder, problem_bytes(cell.encoder, trials, m, n), budget)
    check_problem_memory(cell.encoder, trials, m, n, budget if not free else vector_budget(budget), dense=not free)
    A = [None] * trials if free else np.empty((trials, m, n))
    source = [None] * trials if ENCODERS.get(cell.encoder).has_source else None
    X = np.empty((trials, n))
    Y = np.empty((trials, m))
    for i in range(trials):
        t = first_trial + i
        X[i] = draw_signal(cell, sp, seed, t, key)
        if free:
            A[i] = draw_operator(cell, ep, seed, t, m, key)
            Y[i] = A[i].matvec(X[i])
        else:
            A[i], src = draw_matrix(cell, ep, seed, t, m, key, with_source=True)
            if source is not None:
                source[i] = src
            Y[i] = A[i] @ X[i]
        if cell.noise > 0:
            Y[i] += draw_noise(cell, seed, t, m, key)
    return Measurements(tuple(A) if free else A, Y, None if source is None else tuple(source)), Truth(X)


_memory_budget = memory_budget  # make_problem's parameter of the same name shadows the function


def draw_signal(cell, signal_params, seed, trial, key=None):
    """Trial ``trial``'s signal x (n,), from its SIGNAL stream (the same at every m)."""
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.SIGNAL)
    return SIGNALS.get(cell.signal).func(rng, cell.n, cell.k, **signal_params)


def draw_noise(cell, seed, trial, m, key=None):
    """Trial ``trial``'s noise ``noise * z`` (m,); nested: the first m draws of its NOISE stream."""
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.NOISE)
    return cell.noise * rng.standard_normal(m)


def draw_matrix(cell, encoder_params, seed, trial, m, key=None, with_source=False):
    """Trial ``trial``'s ``(m, n)`` matrix, from its MATRIX stream (``(A, source)`` with ``with_source``;
    ``source`` is None unless the encoder declares one)."""
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.MATRIX)
    entry = ENCODERS.get(cell.encoder)
    out = entry.func(rng, m, cell.n, **encoder_params)
    A, source = out if entry.has_source else (out, None)
    return (A, source) if with_source else A


def draw_operator(cell, encoder_params, seed, trial, m, key=None):
    """Trial ``trial``'s ``(m, n)`` matrix as an :class:`csbench.operators.Operator`.

    Generated encoders give their matrix-free operator, equal entry for entry to
    :func:`draw_matrix` (same stream), memory O(n); any other encoder its dense
    draw wrapped in a :class:`~csbench.operators.DenseOperator`.
    """
    from .operators import DenseOperator

    entry = ENCODERS.get(cell.encoder)
    if entry.operator is None:
        return DenseOperator(draw_matrix(cell, encoder_params, seed, trial, m, key))
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.MATRIX)
    return entry.operator(rng, m, cell.n, **encoder_params)


def draw_nested_support(cell, signal_params, seed, trial, key=None):
    """Trial ``trial``'s nested supports: ``(order, values)``, both of length n.

    The k-sparse signal of the trial is ``x_k[order[:k]] = values[:k]`` for every
    k, so supports (and values) are coupled across k, as nested designs couple
    m. Drawn from the trial's SIGNAL stream (:func:`csbench.signals.nested_draw`).
    """
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.SIGNAL)
    return nested_draw(cell.signal, rng, cell.n, signal_params)


# --------------------------------------------------------------------------- nested designs
class NestedTrial:
    """One trial of a cell: its signal, noise and master matrix, all drawn by this module.

    Generated "sqrt" encoders (gaussian, rademacher, dct) hold the trial's
    operator (:func:`draw_operator`, O(n) state) whose raw master
    rows ``Z`` (``A_m = Z[:m] / sqrt(m)``) are addressable: the master grows by
    regenerating only the new rows. Other modes redraw the master
    (:func:`draw_matrix`) when it grows.
    """

    def __init__(self, cell, ep, sp, seed, t, mode, m_max):
        self.cell, self.ep, self.seed, self.t, self.mode, self.m_max = cell, ep, seed, t, mode, m_max
        self.key = cell.key()
        self.x = draw_signal(cell, sp, seed, t, self.key)
        self.master = None
        self.rows = 0      # rows of the master in use
        self.op = None     # generated encoders: the operator whose raw rows form the master
        self.z = None

    def raw_rows(self, i0, i1):
        """Rows ``i0 .. i1-1`` of the raw master ``Z`` of a generated "sqrt" encoder."""
        if self.op is None:
            self.op = draw_operator(self.cell, self.ep, self.seed, self.t, self.m_max, self.key)
        return self.op.raw_rows(i0, i1)

    def rows_after(self, m):
        """Rows the master holds after :meth:`grow` (m): it grows by half its size at least, up to m_max."""
        if self.rows >= m:
            return self.rows
        return m if self.rows == 0 else min(self.m_max, max(m, int(1.5 * self.rows)))

    def grow(self, m):
        """Make sure the master holds at least m rows."""
        if self.rows >= m:
            return
        M = self.rows_after(m)
        if self.mode == "sqrt" and ENCODERS.get(self.cell.encoder).generated:
            new = self.raw_rows(self.rows, M)
            self.master = new if self.rows == 0 else np.concatenate([self.master[:self.rows], new])
        else:
            self.master = draw_matrix(self.cell, self.ep, self.seed, self.t, M, self.key)
        self.rows = M

    def problem(self, m, out=None):
        """``(A_m, y_m)`` equal (to rounding) to ``make_problem(cell, m, ...)`` for this trial.

        ``A_m`` is written into ``out`` (an (m, n) array) if given.
        """
        if self.mode == "sqrt" and ENCODERS.get(self.cell.encoder).generated:
            self.grow(m)
            A = np.divide(self.master[:m], math.sqrt(m), out=out)
        else:
            self.grow(m)
            A = rows_of_master(self.master[:self.rows], m, self.mode)
        if out is not None and A is not out:
            out[...] = A
            A = out
        y = A @ self.x
        if self.cell.noise > 0:
            if self.z is None:  # nested: the first m draws of the stream, for every m
                self.z = draw_noise(self.cell, self.seed, self.t, self.m_max, self.key)
            y = y + self.z[:m]
        return A, y

    def operator(self, m):
        """``(A_m, y_m)`` with ``A_m`` matrix-free (:func:`draw_operator`): the same matrix as
        :meth:`problem`, for problems whose dense matrices exceed the memory budget; y to rounding."""
        op = draw_operator(self.cell, self.ep, self.seed, self.t, m, self.key)
        y = op.matvec(self.x)
        if self.cell.noise > 0:
            if self.z is None:
                self.z = draw_noise(self.cell, self.seed, self.t, self.m_max, self.key)
            y = y + self.z[:m]
        return op, y

    def release_master(self):
        """Drop the dense master (the matrix-free path regenerates rows instead)."""
        self.master = None
        self.rows = 0

    def release(self):
        self.master = None
        self.op = None
        self.rows = 0
        self.z = None


class SupportTrial:
    """One trial of a study over k at a fixed m: its matrix, its nested supports and its noise.

    ``plan`` holds the checked ``ep`` (encoder parameters), ``sp`` (signal parameters), ``seed`` and ``m``.
    """

    def __init__(self, plan, cell, t):
        key = cell.key()
        self.A, self.source = draw_matrix(cell, plan["ep"], plan["seed"], t, plan["m"], key, with_source=True)
        self.order, self.values = draw_nested_support(cell, plan["sp"], plan["seed"], t, key)
        self.z = draw_noise(cell, plan["seed"], t, plan["m"], key) if cell.noise > 0 else None

    def signal(self, k):
        x = np.zeros(self.A.shape[1])
        x[self.order[:k]] = self.values[:k]
        return x
