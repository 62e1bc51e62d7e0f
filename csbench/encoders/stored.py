"""Stored encoders: a user's matrix file (``file``) and fixed dictionaries (``model``), over one loader
(:mod:`csbench.tensors`). No randomness: every trial sees the same matrix."""
from __future__ import annotations

import functools
import os

import numpy as np

from .._validate import check_choice, check_finite_array
from ..tensors import ATOMS, NORMALIZE, check_path, content_id, load_matrix as load_atoms, load_tensor, np_load
from . import ENCODERS, normalize_columns


#: ``normalize`` values of the ``file`` encoder (a nested draw can rescale each column, not the mean).
FILE_NORMALIZE = ("none", "unit")
#: The ``file`` encoder warns when the mean squared column norm of its matrix lies outside this range:
#: decision rules such as the matched filter's ``>= 1/2`` assume ``||a_j|| ~ 1``.
NORM_RANGE = (0.25, 4.0)


def _file_nested(params):
    """The file encoder's rows nest as stored, or rescaled to unit columns."""
    return "columns" if params.get("normalize") == "unit" else "none"


def _identity(params):
    """A stored matrix enters a cell's key by its content (SHA-256 of the file), never by its path."""
    return params if params.get("path") is None else {**params, "path": content_id(check_path(params["path"]))}


def _file_shape(m, n, p):
    check_choice("normalize", p["normalize"], list(FILE_NORMALIZE))
    check_choice("atoms", p["atoms"], list(ATOMS))
    A = stored_matrix(p["path"], p["tensor"], p["atoms"])
    if A.shape[1] != n:
        raise ValueError(f"n={n} does not match the {A.shape[1]} atoms of the {A.shape[0]} x {A.shape[1]} "
                         f"dictionary in {p['path']!r} (atoms={p['atoms']!r}); allowed: n = {A.shape[1]}.")
    if m > A.shape[0]:
        raise ValueError(f"m={m} exceeds the {A.shape[0]} rows of the {A.shape[0]} x {A.shape[1]} dictionary in "
                         f"{p['path']!r} (atoms={p['atoms']!r}); allowed: 1 <= m <= {A.shape[0]}.")
    rows = check_finite_array(f"matrix in {p['path']!r}", np.array(A[:m], dtype=np.float64), ndim=2)
    if p["normalize"] == "none":
        msq = float(np.einsum("ij,ij->", rows, rows)) / max(n, 1)
        if not NORM_RANGE[0] <= msq <= NORM_RANGE[1]:
            import warnings

            warnings.warn(f"the columns of the matrix in {p['path']!r} (first {m} rows) have mean squared norm "
                          f"{msq:.3g}; csbench's decision rules (e.g. the matched filter's >= 1/2) assume "
                          "||a_j|| ~ 1: pass encoder parameter normalize='unit' to rescale every column to norm 1 "
                          "(or scale the matrix yourself).", UserWarning, stacklevel=2)


def _model_shape(m, n, p):
    model_matrix(m, n, **p)  # validates the source, the tensor, and (m, n) against its shape


@ENCODERS.register("file", "a user's matrix from .npy/.npz/.safetensors; first m rows (no RNG)",
                   nested=_file_nested, shape_check=_file_shape, identity=_identity)
def from_file(rng, m, n, *, path=None, tensor=None, atoms="columns", normalize="none"):
    """The first m rows of a stored dictionary ``A`` (M x n): a user's matrix.

    Parameters (the same vocabulary as the ``model`` encoder)
    ----------
    path : str
        A ``.npy``, ``.npz`` or ``.safetensors`` file; its identity is its content (the same file under any
        path gives the same trials).
    tensor : str, optional
        The array's name in a ``.npz`` / ``.safetensors`` file (optional when it holds one).
    atoms : {"columns", "rows"}
        ``"columns"`` (default): the stored matrix W is A (:func:`csbench.tensors.load_matrix`'s
        convention); ``"rows"``: ``A = W.T`` (the rows of W are the atoms).
    normalize : {"none", "unit"}
        ``"unit"`` rescales the selected rows to unit-norm columns; ``"none"`` (default) keeps them as
        stored (a warning says so when the columns are far from norm 1).

    The encoder returns A's first ``m <= M`` rows, so sweeps over m are nested; any ``m <= M`` is allowed,
    including ``m >= n`` (no compression). The matrix must be 2-D and finite.
    """
    A = stored_matrix(path, tensor, atoms)
    A = check_finite_array(f"matrix in {path!r}", np.array(A[:m], dtype=np.float64), ndim=2)  # reads m rows
    return normalize_columns(A) if normalize == "unit" else A


@ENCODERS.register("model", "fixed dictionary: a stored tensor, or a built-in MiniLM one (no RNG)",
                   shape_check=_model_shape, identity=_identity)
def model(rng, m, n, *, dictionary=None, path=None, tensor=None, atoms=None, normalize="unit"):
    """A fixed dictionary (m and n fixed by it); see :func:`model_matrix`."""
    return model_matrix(m, n, dictionary=dictionary, path=path, tensor=tensor, atoms=atoms, normalize=normalize)


def stored_matrix(path, tensor=None, atoms="columns"):
    """The dictionary ``A`` stored in a ``.npy``, ``.npz`` or ``.safetensors`` file (a view; ``atoms="rows"``:
    the transpose of the stored matrix).

    A ``.npy`` file is memory-mapped (``np.load(mmap_mode="r")``): opening reads
    only its header, and the encoder then reads just the first m rows it needs,
    so a matrix larger than memory works and nothing is cached. A ``.npz`` member
    or a ``.safetensors`` tensor is read whole (:func:`csbench.tensors.load_tensor`,
    cached by path and mtime; bfloat16 and float16 tensors are converted exactly):
    use ``.npy`` for large matrices. Unreadable, truncated or non-numeric files
    raise an error naming the path. Finiteness is checked on the rows actually used.
    """
    if path is None:
        raise ValueError("encoder 'file' needs path=...; allowed: a .npy, .npz or .safetensors file.")
    path = os.fspath(path)
    check_choice("atoms", atoms, list(ATOMS))
    if not path.endswith(".npy"):
        W = load_tensor(path, tensor, ndim=2, param="tensor")
    else:
        if tensor is not None:
            raise ValueError(f"tensor={tensor!r}: {path!r} is a .npy file holding one unnamed array; "
                             "pass tensor=None.")
        if not os.path.isfile(path):
            raise ValueError(f"path={path!r}: no such file.")
        W = np_load(path, mmap_mode="r")
        if W.dtype == object or not (np.issubdtype(W.dtype, np.number) or W.dtype == bool) \
                or np.iscomplexobj(W):
            raise TypeError(f"the matrix in {path!r} must hold real numbers, got dtype {W.dtype}.")
        if W.ndim != 2:
            raise ValueError(f"the matrix in {path!r} must be 2-D, got shape {W.shape}.")
    return W if atoms == "columns" else W.T


def model_matrix(m, n, *, dictionary=None, path=None, tensor=None, atoms=None, normalize="unit"):
    """The fixed dictionary of the ``model`` encoder, validated against ``(m, n)``.

    Exactly one source: ``dictionary`` (a built-in name, see
    :data:`csbench.real.minilm.DICTIONARIES`, whose atom orientation is fixed) or
    ``path`` (+ ``tensor``, the tensor name; ``atoms`` "columns" (default: the stored matrix is A, as for
    the ``file`` encoder and :func:`csbench.tensors.load_matrix`) or "rows"). The dictionary's shape fixes m and n: both must
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
        A = _file_matrix(path, os.path.getmtime(path), tensor, atoms or "columns", normalize)
        source = f"tensor {tensor!r} of {path!r} (atoms={atoms or 'columns'!r})"
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
