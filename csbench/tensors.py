"""Named tensors from weight files: ``.safetensors``, ``.npz`` and ``.npy``.

Every check (file exists, format known, package installed, tensor name, rank,
finiteness) runs when the tensor is loaded, before any decoding or diagnostic
work, and every error names the path. ``.safetensors`` files are read with the
``safetensors`` package's numpy API (``pip install safetensors``, or the
``csbench[real]`` extra); ``.npz``/``.npy`` need only numpy.

Conventions
-----------
A *dictionary* is a matrix ``A`` of shape ``(m, n)`` whose **columns** are the
atoms (as for every encoder, ``y = A x``). A stored weight matrix ``W`` of a
linear layer ``x -> W x`` with ``W`` of shape ``(out, in)`` has two natural
atom sets: its rows (``atoms="rows"``, e.g. the rows v_j of an MLP's W_in or the
token-embedding vectors; then ``A = W.T``, m = in, n = out) and its columns
(``atoms="columns"``, e.g. the columns w_j of W_out; then ``A = W``).
"""
from __future__ import annotations

import functools
import os

import numpy as np

from ._validate import check_choice, check_finite_array, suggest

SUFFIXES = (".safetensors", ".npz", ".npy")
ATOMS = ("rows", "columns")
NORMALIZE = ("none", "unit", "mean")


def check_path(path, param="path"):
    if path is None:
        raise ValueError(f"{param}=None: pass a weight file; allowed: a {', '.join(SUFFIXES)} file.")
    path = os.fspath(path)
    if not path.endswith(SUFFIXES):
        raise ValueError(f"{param}={path!r} must end in one of {list(SUFFIXES)}.")
    if not os.path.isfile(path):
        raise ValueError(f"{param}={path!r}: no such file.")
    return os.path.abspath(path)


def _safetensors_open(path):
    try:
        from safetensors import safe_open
    except ImportError:
        raise ImportError(
            f"reading {path!r} needs the 'safetensors' package: pip install safetensors "
            "(or pip install 'csbench[real]')."
        ) from None
    return safe_open(path, framework="np")


def tensor_names(path):
    """Names of the tensors stored in ``path`` (``[]`` for a ``.npy`` file, which holds one unnamed array)."""
    path = check_path(path)
    return list(_names(path, os.path.getmtime(path)))


def np_load(path, **kwargs):
    """``np.load(path, allow_pickle=False, **kwargs)``; an unreadable, truncated or non-numpy file raises a
    ValueError naming the path."""
    import zipfile

    try:
        return np.load(path, allow_pickle=False, **kwargs)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"path={path!r}: not a readable numpy matrix file ({' '.join(str(exc).split())}); "
                         f"allowed: a .npy/.npz file written by numpy.save/numpy.savez.") from None


@functools.lru_cache(maxsize=16)
def _names(path, _mtime):
    if path.endswith(".npy"):
        return ()
    if path.endswith(".npz"):
        with np_load(path) as z:
            return tuple(z.keys())
    with _safetensors_open(path) as f:
        return tuple(f.keys())


def load_tensor(path, name=None, *, ndim=None, param="name"):
    """Load tensor ``name`` from ``path`` as a read-only float64 array (cached by path, name and mtime).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.safetensors``, ``.npz`` or ``.npy`` file.
    name : str, optional
        The tensor's name. May be omitted when the file holds exactly one tensor
        (always so for ``.npy``).
    ndim : int or tuple of int, optional
        Allowed rank(s); checked before the data are read where the format allows.
    param : str
        How the name parameter is called in error messages (e.g. ``"key"``).

    Raises
    ------
    ValueError
        Missing file, unknown suffix, unknown tensor name (with "did you mean"
        over the file's names), wrong rank, non-finite entries.
    ImportError
        ``.safetensors`` without the ``safetensors`` package.
    """
    path = check_path(path)
    mtime = os.path.getmtime(path)
    try:
        names = _names(path, mtime)
    except (ValueError, ImportError):
        raise
    except Exception as exc:  # safetensors' SafetensorError: truncated, garbage or empty file
        raise ValueError(f"path={path!r}: not a readable .safetensors file ({' '.join(str(exc).split())}); "
                         f"allowed: a file written by safetensors (save_file).") from None
    if path.endswith(".npy"):
        if name is not None:
            raise ValueError(f"{param}={name!r}: {path!r} is a .npy file holding one unnamed array; pass {param}=None.")
    elif name is None:
        if len(names) != 1:
            raise ValueError(f"{path!r} holds tensors {_show(names)}; pass {param}=... to choose one.")
        name = names[0]
    elif name not in names:
        raise ValueError(f"{param}={name!r} is not a tensor in {path!r}; allowed: {_show(names)}.{_suggest(name, names)}")
    try:
        return _load(path, name, mtime, None if ndim is None else tuple(np.atleast_1d(ndim).tolist()))
    except (ValueError, ImportError):
        raise
    except Exception as exc:  # a header that lists a tensor whose data are missing or damaged
        raise ValueError(f"path={path!r}: tensor {name!r} cannot be read ({' '.join(str(exc).split())}); "
                         f"the file may be truncated or damaged.") from None


def _suggest(name, names):
    same = [n for n in names if n.casefold() == str(name).casefold()]
    return f" Did you mean {same[0]!r}?" if same else suggest(name, names)


def _show(names, limit=12):
    names = list(names)
    return str(names) if len(names) <= limit else f"{names[:limit]} ... ({len(names)} names)"


@functools.lru_cache(maxsize=8)
def _load(path, name, _mtime, ndim):
    label = f"tensor {name!r} in {path!r}" if name is not None else f"array in {path!r}"
    if path.endswith(".npy"):
        arr = np_load(path)
    elif path.endswith(".npz"):
        with np_load(path) as z:
            arr = z[name]
    else:
        with _safetensors_open(path) as f:
            if ndim is not None:
                shape = f.get_slice(name).get_shape()
                if len(shape) not in ndim:  # the same message as check_finite_array, before reading data
                    allowed = " or ".join(f"{d}-D" for d in ndim)
                    raise ValueError(f"{label} must be {allowed}, got a {len(shape)}-D array of shape {tuple(shape)}.")
            try:
                arr = f.get_tensor(name)
            except Exception as exc:  # e.g. bfloat16, which numpy cannot represent: read the raw bytes
                arr = _safetensors_raw(path, name, label, exc)
    arr = check_finite_array(label, arr, ndim=ndim if ndim is not None else range(33))
    arr.setflags(write=False)
    return arr


#: safetensors dtypes read from raw bytes when the ``safetensors`` numpy API cannot (numpy has no bfloat16).
_RAW_DTYPES = {"BF16": "<u2", "F16": "<f2", "F32": "<f4", "F64": "<f8"}


def _safetensors_raw(path, name, label, cause):
    """Tensor ``name`` of a ``.safetensors`` file from its bytes (format: 8-byte little-endian header
    length, JSON header ``{name: {dtype, shape, data_offsets}}``, data).

    ``BF16`` (bfloat16, how most published checkpoints are stored) is converted exactly: a bfloat16 is
    the upper 16 bits of an IEEE-754 float32, so ``float32 = bits << 16``, then float64 (no rounding);
    ``F16`` (IEEE half) converts exactly to float64 through numpy.
    """
    import json

    with open(path, "rb") as fh:
        size = int(np.frombuffer(fh.read(8), "<u8")[0])
        header = json.loads(fh.read(size))
        info = header.get(name, {})
        dtype = info.get("dtype")
        if dtype not in _RAW_DTYPES:
            raise ValueError(f"{label} cannot be read as a numpy array ({cause}); dtype {dtype!r}, allowed: "
                             f"{sorted(_RAW_DTYPES)} or what numpy reads.") from None
        start, end = info["data_offsets"]
        fh.seek(8 + size + start)
        raw = np.frombuffer(fh.read(end - start), _RAW_DTYPES[dtype])
    if dtype == "BF16":
        raw = (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float64).reshape(info["shape"])


@functools.lru_cache(maxsize=64)
def _content_id(path, _size, _mtime_ns):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def content_id(path):
    """``"sha256:<hex>"`` of a file's bytes: its identity wherever it lives and however its path is spelled
    (cached by absolute path, size and modification time, so a file is hashed once per change)."""
    path = os.path.abspath(os.fspath(path))
    st = os.stat(path)
    return _content_id(path, st.st_size, st.st_mtime_ns)


def normalize_atoms(A, normalize):
    """Rescale the columns (atoms) of ``A``.

    ``"none"``: as stored; ``"unit"``: every atom to norm 1; ``"mean"``: one common
    factor so that the mean squared atom norm is 1 (relative norms kept). Both
    ``"unit"`` and ``"mean"`` follow the encoder convention E||a_j||^2 = 1.
    Zero atoms are left at zero.
    """
    check_choice("normalize", normalize, NORMALIZE)
    if normalize == "none":
        return A
    norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    if normalize == "unit":
        return A / np.where(norms > 0, norms, 1.0)
    rms = np.sqrt(np.mean(norms**2))
    return A / rms if rms > 0 else A


def load_matrix(path, name=None, *, atoms="columns", normalize="none"):
    """A dictionary ``A`` (m, n) whose columns are the atoms of a stored 2-D tensor.

    Parameters
    ----------
    path : str or os.PathLike
        ``.safetensors``, ``.npz`` or ``.npy`` file (e.g. a trained toy model's weights).
    name : str, optional
        Tensor name (optional if the file holds one tensor).
    atoms : {"columns", "rows"}
        Which vectors of the stored ``W`` (shape (p, q)) are the atoms:
        ``"columns"`` (default, the convention of the ``file`` and ``model`` encoders: the stored
        matrix is A) -> ``A = W`` (n = q atoms in R^p); ``"rows"`` -> ``A = W.T`` of shape (q, p)
        (n = p atoms in R^q, e.g. an MLP's input weights ``W_in``, whose rows are the atoms).
    normalize : {"none", "unit", "mean"}
        See :func:`normalize_atoms`.

    Returns
    -------
    numpy.ndarray
        New float64 array of shape (m, n), C-contiguous.

    Examples
    --------
    A toy model ``y = W x`` with ``W`` (m, n) saved as tensor ``"W"``: its atoms are
    the columns, ``load_matrix("toy.safetensors", "W", atoms="columns")``. An MLP's
    input rows v_j: ``load_matrix(p, "...intermediate.dense.weight", atoms="rows")``.
    """
    check_choice("atoms", atoms, ATOMS)
    check_choice("normalize", normalize, NORMALIZE)
    W = load_tensor(path, name, ndim=2)
    A = np.array(W.T if atoms == "rows" else W, dtype=np.float64, order="C")  # a writable copy
    return normalize_atoms(A, normalize)
