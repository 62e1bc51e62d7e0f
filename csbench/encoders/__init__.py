"""Encoders (measurement-matrix ensembles): one registered object per ensemble.

An encoder is a :class:`EncoderEntry`: its draw ``func(rng, m, n, **params) -> A``
of shape ``(m, n)`` and everything the rest of csbench needs to know about it,
declared as typed fields (how its m-row matrix nests in a larger draw, whether it
has a matrix-free operator, its shape rules, the parameters that make its
identity). No other module interprets an encoder's name. The built-in ensembles
live in :mod:`csbench.encoders.generated` (counter-based ``gaussian``,
``rademacher``; ``dct``), :mod:`csbench.encoders.random` (``unit``, ``antipodal``,
``sparse``), :mod:`csbench.encoders.stored` (``file``, ``model``) and
:mod:`csbench.toy.encoder` (``toy``); packages add theirs through the entry-point
group ``csbench.encoders``.

Conventions (see ``docs/architecture.md``):

* columns have (expected) squared norm 1, so that ``E||A x||^2 = ||x||^2``
  (stored dictionaries keep their own scale unless normalised);
* *nested* ensembles draw their matrix row by row from the trial's matrix
  stream: the matrix for m rows is the first m rows of one master draw,
  rescaled. Problems at different m are then coupled (same trial, same x).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._validate import check_int
from ..registry import Entry, Registry


@dataclass(frozen=True)
class EncoderEntry(Entry):
    """A registered encoder: :class:`csbench.registry.Entry` plus what its module declares.

    Attributes
    ----------
    nested : str, callable or None
        How the m-row matrix derives from the first m rows of the trial's master draw:
        ``"sqrt"`` (rescale by ``sqrt(M / m)``), ``"columns"`` (unit columns), ``"none"`` (as
        drawn); a callable ``nested(params)`` returning one of them; None: not nested.
    generated : bool
        Every entry can be regenerated on demand: :attr:`operator` gives the same matrix
        matrix-free, and the study may choose it over the dense draw (memory budget).
    operator : callable or None
        ``operator(rng, m, n, **params)``: the trial's matrix as a
        :class:`csbench.operators.Operator` drawing the same numbers from ``rng`` as ``func``.
    shape_check : callable or None
        ``shape_check(m, n, params)``: rules on (m, n) (and the parameters with them),
        run before any draw.
    identity : callable or None
        ``identity(params) -> params``: the parameters as they enter a cell's key (its seed);
        storage locations never do (a cache directory), a file enters by its content.
    has_source : bool
        ``func`` returns ``(A, source)``: the object that produced A (a trained model),
        handed to decoders that take it (:attr:`csbench.problems.Measurements.source`).
    """

    nested: str | Callable | None = None
    generated: bool = False
    operator: Callable | None = None
    shape_check: Callable | None = None
    identity: Callable | None = None
    has_source: bool = False


#: The encoder modules built into csbench (imported when the registry is first used).
MODULES = ("csbench.encoders.generated", "csbench.encoders.random", "csbench.encoders.orthoinv",
           "csbench.encoders.stored", "csbench.toy.encoder")

#: All encoders; packages add theirs through the entry-point group ``csbench.encoders``.
ENCODERS = Registry("encoder", EncoderEntry, modules=MODULES, group="csbench.encoders")


def normalize_columns(A):
    """``A`` with every nonzero column scaled to norm 1."""
    norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    norms[norms == 0] = 1.0
    return A / norms


def nested_mode(name, params):
    """How an m-row matrix derives from the first m rows of the trial's master draw.

    ``"sqrt"``: rescale by ``sqrt(M / m)`` (M = rows of the master); ``"columns"``:
    rescale each column to norm 1; ``"none"``: use the rows as they are; ``None``:
    not nested (the encoder must be called at each m).
    """
    mode = ENCODERS.get(name).nested
    return mode(params) if callable(mode) else mode


def rows_of_master(master, m, mode):
    """The m-row matrix of a nested encoder from its ``(M, n)`` master draw (M >= m)."""
    A = master[:m]
    if mode == "sqrt":
        return A * np.sqrt(master.shape[0] / m)
    if mode == "columns":
        return normalize_columns(A)
    return A.copy()


def check_encoder(name, m, n, params):
    """Validate an encoder name, its parameters and (m, n) before any draw.

    Returns the parameters merged with the encoder's defaults.
    """
    entry = ENCODERS.get(name)
    p = entry.check_params(params)
    check_int("n", n, low=1)
    check_int("m", m, low=1)
    if entry.shape_check is not None:
        entry.shape_check(m, n, p)
    return p


def identity_params(name, params):
    """Encoder ``name``'s checked ``params`` as they enter a cell's key (see :attr:`EncoderEntry.identity`)."""
    entry = ENCODERS.get(name)
    return params if entry.identity is None else entry.identity(params)
