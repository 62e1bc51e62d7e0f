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
    """What a decoder sees: ``A`` of shape (T, m, n) and ``Y`` of shape (T, m)."""

    A: np.ndarray
    Y: np.ndarray


@dataclass(frozen=True)
class Truth:
    """The signals ``X`` of shape (T, n) (never passed to a decoder)."""

    X: np.ndarray


def make_problem(cell: Cell, m: int, trials: int, seed: int, first_trial: int = 0):
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

    Returns
    -------
    (Measurements, Truth)
        ``A`` (T, m, n), ``Y = A x + noise z`` (T, m), ``X`` (T, n).
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
    A = np.empty((trials, m, n))
    X = np.empty((trials, n))
    Y = np.empty((trials, m))
    for i in range(trials):
        t = first_trial + i
        A[i] = draw_matrix(cell, ep, seed, t, m, key, enc)
        X[i] = draw_signal(cell, sp, seed, t, key)
        Y[i] = A[i] @ X[i]
        if cell.noise > 0:
            Y[i] += draw_noise(cell, seed, t, m, key)
    return Measurements(A, Y), Truth(X)


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


def draw_nested_support(cell, signal_params, seed, trial, key=None):
    """Trial ``trial``'s nested supports: ``(order, values)``, both of length n.

    The k-sparse signal of the trial is ``x_k[order[:k]] = values[:k]`` for every
    k, so supports (and values) are coupled across k, as nested designs couple
    m. Drawn from the trial's SIGNAL stream (:func:`csbench.signals.nested_draw`).
    """
    rng = seeding.trial_rng(seed, cell.key() if key is None else key, trial, seeding.SIGNAL)
    return nested_draw(cell.signal, rng, cell.n, signal_params)
