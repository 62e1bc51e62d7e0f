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
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import seeding
from ._validate import check_float, check_int
from .encoders import ENCODERS, check_encoder
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

    def as_dict(self):
        """Canonical description with every default filled in (the basis of :meth:`key`)."""
        ep = ENCODERS.get(self.encoder).check_params(dict(self.encoder_params))
        sp = SIGNALS.get(self.signal).check_params(dict(self.signal_params))
        return {
            "encoder": self.encoder,
            "signal": self.signal,
            "n": int(self.n),
            "k": int(self.k),
            "noise": float(self.noise),
            "encoder_params": ep,
            "signal_params": sp,
        }

    def key(self) -> str:
        """Canonical cell key used for seeding: excludes m and any decoder."""
        return seeding.canonical(self.as_dict())


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


@dataclass(frozen=True)
class Truth:
    """The signals ``X`` of shape (T, n) (never passed to a decoder)."""

    X: np.ndarray


#: Fraction of physical memory the dense matrices of one problem may use by default.
MEMORY_FRACTION = 0.25
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
    """Bytes the dense matrices of one problem may use.

    ``budget`` (bytes or a string like ``"4GiB"``) if given, else the
    environment variable ``CSBENCH_MEMORY_BUDGET``, else
    ``MEMORY_FRACTION`` (1/4) of the machine's physical memory.
    """
    import os

    if budget is not None:
        return parse_bytes("memory_budget", budget)
    env = os.environ.get("CSBENCH_MEMORY_BUDGET")
    if env:
        return parse_bytes("CSBENCH_MEMORY_BUDGET", env)
    return int(MEMORY_FRACTION * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


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
    enc = ENCODERS.get(cell.encoder).func
    n = cell.n
    budget = _memory_budget(memory_budget)  # validated whatever the encoder
    free = generated(cell.encoder) and 8 * trials * m * n > budget
    A = [None] * trials if free else np.empty((trials, m, n))
    X = np.empty((trials, n))
    Y = np.empty((trials, m))
    for i in range(trials):
        t = first_trial + i
        X[i] = draw_signal(cell, sp, seed, t, key)
        if free:
            A[i] = draw_operator(cell, ep, seed, t, m, key)
            Y[i] = A[i].matvec(X[i])
        else:
            A[i] = draw_matrix(cell, ep, seed, t, m, key, enc)
            Y[i] = A[i] @ X[i]
        if cell.noise > 0:
            Y[i] += draw_noise(cell, seed, t, m, key)
    return Measurements(tuple(A) if free else A, Y), Truth(X)


_memory_budget = memory_budget  # make_problem's parameter of the same name shadows the function


def generated(encoder) -> bool:
    """Whether ``encoder``'s matrices can be regenerated matrix-free (``gaussian``, ``rademacher``, ``dct``)."""
    return bool(ENCODERS.get(encoder).info.get("generated"))


def draw_signal(cell, signal_params, seed, trial, key=None):
    """Trial ``trial``'s signal x (n,), from its SIGNAL stream (the same at every m)."""
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.SIGNAL)
    return SIGNALS.get(cell.signal).func(rng, cell.n, cell.k, **signal_params)


def draw_noise(cell, seed, trial, m, key=None):
    """Trial ``trial``'s noise ``noise * z`` (m,); nested: the first m draws of its NOISE stream."""
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.NOISE)
    return cell.noise * rng.standard_normal(m)


def draw_matrix(cell, encoder_params, seed, trial, m, key=None, enc=None):
    """Trial ``trial``'s ``(m, n)`` matrix, from its MATRIX stream."""
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.MATRIX)
    enc = ENCODERS.get(cell.encoder).func if enc is None else enc
    return enc(rng, m, cell.n, **encoder_params)


def draw_operator(cell, encoder_params, seed, trial, m, key=None):
    """Trial ``trial``'s ``(m, n)`` matrix as an :class:`csbench.operators.Operator`.

    Generated encoders give matrix-free operators equal entry for entry to
    :func:`draw_matrix` (``gaussian``/``rademacher``: :class:`~csbench.operators.GeneratedOperator`;
    ``dct``: :class:`~csbench.operators.DCTOperator`), memory O(n); any other
    encoder its dense draw wrapped in a :class:`~csbench.operators.DenseOperator`.
    """
    from . import operators
    from .encoders import dct_draw, philox_key

    if not generated(cell.encoder):
        return operators.DenseOperator(draw_matrix(cell, encoder_params, seed, trial, m, key))
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.MATRIX)
    if cell.encoder == "dct":
        return operators.DCTOperator(*dct_draw(rng, cell.n), m)
    return operators.GeneratedOperator(cell.encoder, philox_key(rng), m, cell.n)


def draw_rows(cell, encoder_params, seed, trial, i0, i1, key=None):
    """Rows ``i0 .. i1-1`` of trial ``trial``'s raw master ``Z`` of a generated encoder.

    The trial's m-row matrix is ``Z[:m] / sqrt(m)`` for every m (nested mode
    ``"sqrt"``), equal bit for bit to :func:`draw_matrix` at m; any block of
    rows costs only its own generation (plus O(n log n) once for ``dct``).
    """
    if not generated(cell.encoder):
        raise ValueError(f"encoder={cell.encoder!r} has no addressable master rows; allowed: "
                         f"{[e.name for e in ENCODERS if e.info.get('generated')]}.")
    return draw_operator(cell, encoder_params, seed, trial, 1, key).raw_rows(i0, i1)


def draw_nested_support(cell, signal_params, seed, trial, key=None):
    """Trial ``trial``'s nested supports: ``(order, values)``, both of length n.

    The k-sparse signal of the trial is ``x_k[order[:k]] = values[:k]`` for every
    k, so supports (and values) are coupled across k, as nested designs couple
    m. Drawn from the trial's SIGNAL stream (:func:`csbench.signals.nested_draw`).
    """
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.SIGNAL)
    return nested_draw(cell.signal, rng, cell.n, signal_params)
