"""Stored encoders: a user's matrix file (``file``) and fixed dictionaries (``model``), over one loader
(:mod:`csbench.tensors`). No randomness: every trial sees the same matrix."""
from __future__ import annotations

import functools
import os

import numpy as np

from .._validate import check_choice, check_finite_array
from ..tensors import ATOMS, NORMALIZE, check_path, load_matrix as load_atoms, load_tensor, np_load
from . import ENCODERS, normalize_columns


def _file_nested(params):
    """The file encoder's rows nest as stored, or rescaled to unit columns."""
    return "columns" if params.get("normalize") == "columns" else "none"


def _file_shape(m, n, p):
    check_choice("normalize", p["normalize"], ["none", "columns"])
    M = load_matrix(p["path"], p["key"])
    if M.shape[1] != n or m > M.shape[0]:
        raise ValueError(
            f"(m, n)=({m}, {n}) does not fit the {M.shape} matrix in {p['path']!r}; "
            f"allowed: n = {M.shape[1]}, 1 <= m <= {M.shape[0]}."
        )
    check_finite_array(f"matrix in {p['path']!r}", M[:m], ndim=2)  # the rows a study will use


def _model_shape(m, n, p):
    model_matrix(m, n, **p)  # validates the source, the tensor, and (m, n) against its shape


@ENCODERS.register("file", "a user's matrix from .npy/.npz; first m rows (no RNG)", nested=_file_nested,
                   shape_check=_file_shape)
def from_file(rng, m, n, *, path=None, key=None, normalize="none"):
    """A matrix loaded from ``path`` (``.npy`` or ``.npz``; ``key`` selects the array).

    The file holds an ``(M, n)`` matrix; the encoder returns its first ``m <= M``
    rows, so sweeps over m are nested. Any ``m <= M`` is allowed, including
    ``m >= n`` (no compression). ``normalize="columns"`` rescales the selected
    rows to unit-norm columns; ``"none"`` (default) returns them as stored.
    The matrix must be 2-D and finite.
    """
    M = load_matrix(path, key)
    if M.shape[1] != n:
        raise ValueError(f"n={n} does not match the {M.shape[1]} columns of the matrix in {path!r}.")
    if m > M.shape[0]:
        raise ValueError(f"m={m} exceeds the {M.shape[0]} rows of the matrix in {path!r}; allowed: 1 <= m <= {M.shape[0]}.")
    A = check_finite_array(f"matrix in {path!r}", np.array(M[:m], dtype=np.float64), ndim=2)  # reads m rows
    return normalize_columns(A) if normalize == "columns" else A


@ENCODERS.register("model", "fixed dictionary: rows/columns of a stored tensor, or a built-in MiniLM one (no RNG)",
                   shape_check=_model_shape)
def model(rng, m, n, *, dictionary=None, path=None, tensor=None, atoms=None, normalize="unit"):
    """A fixed dictionary (m and n fixed by it); see :func:`model_matrix`."""
    return model_matrix(m, n, dictionary=dictionary, path=path, tensor=tensor, atoms=atoms, normalize=normalize)


def load_matrix(path, key=None):
    """Open the 2-D numeric matrix in a ``.npy``, ``.npz`` or ``.safetensors`` file.

    A ``.npy`` file is memory-mapped (``np.load(mmap_mode="r")``): opening reads
    only its header, and the encoder then reads just the first m rows it needs,
    so a matrix larger than memory works and nothing is cached. A ``.npz`` member
    or a ``.safetensors`` tensor is read whole (:func:`csbench.tensors.load_tensor`,
    cached by path and mtime): use ``.npy`` for large matrices. Unreadable,
    truncated or non-numeric files raise an error naming the path. Finiteness is
    checked on the rows actually used.
    """
    if path is None:
        raise ValueError("encoder 'file' needs path=...; allowed: a .npy, .npz or .safetensors file.")
    path = os.fspath(path)
    if not path.endswith(".npy"):
        return load_tensor(path, key, ndim=2, param="key")
    if not os.path.isfile(path):
        raise ValueError(f"path={path!r}: no such file.")
    arr = np_load(path, mmap_mode="r")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or np.iscomplexobj(arr):
        raise TypeError(f"the matrix in {path!r} must hold real numbers, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(f"the matrix in {path!r} must be 2-D, got shape {arr.shape}.")
    return arr


def model_matrix(m, n, *, dictionary=None, path=None, tensor=None, atoms=None, normalize="unit"):
    """The fixed dictionary of the ``model`` encoder, validated against ``(m, n)``.

    Exactly one source: ``dictionary`` (a built-in name, see
    :data:`csbench.real.minilm.DICTIONARIES`, whose atom orientation is fixed) or
    ``path`` (+ ``tensor``, the tensor name; ``atoms`` "rows" (default) or "columns",
    see :func:`csbench.tensors.load_matrix`). The dictionary's shape fixes m and n: both must
    equal it. Returns a cached read-only ``(m, n)`` array.
    """
    check_choice("normalize", normalize, NORMALIZE)
    if atoms is not None:
        check_choice("atoms", atoms, ATOMS)
    if (dictionary is None) == (path is None):
        raise ValueError(f"encoder 'model' needs exactly one of dictionary=... or path=..., got "
                         f"dictionary={dictionary!r}, path={path!r}.")
    if dictionary is not None:
        from ..real import minilm

        check_choice("dictionary", dictionary, list(minilm.DICTIONARIES))
        own = minilm.DICTIONARIES[dictionary][1]
        if tensor is not None or atoms not in (None, own):
            raise ValueError(f"dictionary={dictionary!r} has fixed atoms={own!r} and no tensor=...; "
                             f"got tensor={tensor!r}, atoms={atoms!r}.")
        A = _named_matrix(dictionary, normalize)
        source = f"dictionary={dictionary!r}"
    else:
        path = check_path(path)
        load_tensor(path, tensor, ndim=2, param="tensor")  # validates before the cached transform
        A = _file_matrix(path, os.path.getmtime(path), tensor, atoms or "rows", normalize)
        source = f"tensor {tensor!r} of {path!r} (atoms={atoms or 'rows'!r})"
    if A.shape != (m, n):
        raise ValueError(f"(m, n)=({m}, {n}) does not match the fixed {A.shape[0]} x {A.shape[1]} dictionary "
                         f"{source}; allowed: m = {A.shape[0]}, n = {A.shape[1]} (a fixed dictionary fixes m).")
    return A


@functools.lru_cache(maxsize=4)
def _named_matrix(dictionary, normalize):
    from ..real import minilm

    A = minilm.dictionary(dictionary, normalize)
    A.setflags(write=False)
    return A


@functools.lru_cache(maxsize=4)
def _file_matrix(path, _mtime, tensor, atoms, normalize):
    A = load_atoms(path, tensor, atoms=atoms, normalize=normalize)
    A.setflags(write=False)
    return A
