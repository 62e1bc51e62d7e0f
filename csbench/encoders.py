"""Encoder (measurement-matrix) ensembles and matrix diagnostics.

Every encoder is a function ``f(rng, m, n, **params) -> A`` of shape ``(m, n)``
registered in :data:`ENCODERS`. Conventions (see ``docs/architecture.md``):

* columns have (expected) squared norm 1, so that ``E||A x||^2 = ||x||^2``;
* *nested* ensembles draw their matrix row by row from the trial's matrix
  stream: the matrix for m rows is the first m rows of one master draw,
  rescaled. Problems at different m are then coupled (same trial, same x).
"""
from __future__ import annotations

import os

import numpy as np

from ._validate import check_choice, check_finite_array, check_int
from .registry import Registry
from .weights import load_tensor, model_matrix, np_load

ENCODERS = Registry("encoder")


def _normalize_columns(A):
    norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    norms[norms == 0] = 1.0
    return A / norms


def philox_key(rng):
    """The 64-bit Philox key ``(k0, k1)`` of a generated encoder, drawn from its stream ``rng``.

    ``w = rng.bit_generator.random_raw()`` (the next raw 64-bit output; for a
    trial, the first output of the PCG64 of its MATRIX stream
    ``seeding.trial_seed(seed, key, t, MATRIX)``); ``k0 = w mod 2^32``,
    ``k1 = w // 2^32``. Drawn, not derived from the seed sequence, so two
    draws from one generator are independent.
    """
    w = int(rng.bit_generator.random_raw())
    return np.uint64(w & 0xFFFFFFFF), np.uint64(w >> 32)


def generated_rows(kind, key, i0, i1, n):
    """Rows ``i0 .. i1-1`` of the raw matrix ``Z`` of a generated ensemble (:mod:`csbench.kernels.philox`)."""
    from .kernels import philox

    Z = np.empty((i1 - i0, n))
    philox.fill_rows(philox.GAUSSIAN if kind == "gaussian" else philox.RADEMACHER, key[0], key[1], i0, Z)
    return Z


@ENCODERS.register("gaussian", "iid N(0, 1/m) entries; E||a_j||^2 = 1", nested="sqrt", generated=True)
def gaussian(rng, m, n):
    """iid Gaussian entries N(0, 1/m): ``A_m = Z[:m] / sqrt(m)``, Z counter-based (Philox4x32-10, Box-Muller).

    Entry ``Z[i, j]`` is a pure function of (key, i, j) with the key from
    :func:`philox_key`, so the matrix at m rows is the first m rows of one
    master (nested) and the matrix-free :class:`csbench.operators.GeneratedOperator`
    regenerates exactly these entries (:mod:`csbench.kernels.philox`).
    """
    return generated_rows("gaussian", philox_key(rng), 0, m, n) / np.sqrt(m)


@ENCODERS.register("rademacher", "iid +-1/sqrt(m) entries; ||a_j|| = 1 exactly", nested="sqrt", generated=True)
def rademacher(rng, m, n):
    """iid symmetric signs scaled by 1/sqrt(m) (every column has norm exactly 1); counter-based as :func:`gaussian`."""
    return generated_rows("rademacher", philox_key(rng), 0, m, n) / np.sqrt(m)


def dct_draw(rng, n):
    """Signs ``d`` (n,) and a permutation (n,) of the ``dct`` encoder, in this order from ``rng``."""
    signs = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return signs, rng.permutation(n)


@ENCODERS.register("dct", "subsampled randomised DCT sqrt(n/m) R F D; orthogonal rows, E||a_j||^2 = 1",
                   nested="sqrt", generated=True)
def dct(rng, m, n):
    """Subsampled randomised DCT (needs m <= n): see :class:`csbench.operators.DCTOperator`.

    A structured ensemble (products in O(n log n)), not iid: rows are
    orthogonal with squared norm n/m, columns have squared norm 1 in
    expectation only. Nested: rows in the order of one random permutation.
    """
    from .operators import DCTOperator

    return DCTOperator(*dct_draw(rng, n), m).dense()


@ENCODERS.register("unit", "columns uniform on the unit sphere S^{m-1}", nested="columns")
def unit(rng, m, n):
    """Columns uniform on the sphere: a Gaussian draw with each column scaled to norm 1."""
    return _normalize_columns(rng.standard_normal((m, n)))


@ENCODERS.register(
    "antipodal", "unit columns in antipodal pairs a_{2i+1} = -a_{2i} (seed 004, Thm 3)", nested="columns"
)
def antipodal(rng, m, n):
    """Columns in antipodal pairs ``a_{2i} = w_i``, ``a_{2i+1} = -w_i``, w_i uniform on the sphere.

    Requires even n. This is the construction of Edmonds (seed 004, Theorem 3):
    each pair stores two features in one direction.
    """
    W = unit(rng, m, n // 2)
    A = np.empty((m, n))
    A[:, 0::2] = W
    A[:, 1::2] = -W
    return A


@ENCODERS.register("sparse", "d nonzeros +-1/sqrt(d) per column at random rows (not nested)")
def sparse(rng, m, n, *, d=8):
    """Sparse random matrix: each column has ``d`` nonzeros ``+-1/sqrt(d)`` in distinct rows.

    Not nested: the row positions depend on m.
    """
    A = np.zeros((m, n))
    rows = np.argsort(rng.random((n, m)), axis=1)[:, :d]
    signs = np.where(rng.random((n, d)) < 0.5, 1.0, -1.0) / np.sqrt(d)
    A[rows, np.arange(n)[:, None]] = signs
    return A


@ENCODERS.register("file", "a user's matrix from .npy/.npz; first m rows (no RNG)", nested="params")
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
    return _normalize_columns(A) if normalize == "columns" else A


@ENCODERS.register("model", "fixed dictionary: rows/columns of a stored tensor, or a built-in MiniLM one (no RNG)")
def model(rng, m, n, *, dictionary=None, path=None, tensor=None, atoms=None, normalize="unit"):
    """A fixed dictionary (m and n fixed by it); see :func:`csbench.weights.model_matrix`."""
    return model_matrix(m, n, dictionary=dictionary, path=path, tensor=tensor, atoms=atoms, normalize=normalize)


def nested_mode(name, params):
    """How an m-row matrix derives from the first m rows of the trial's master draw.

    ``"sqrt"``: rescale by ``sqrt(M / m)`` (M = rows of the master); ``"columns"``:
    rescale each column to norm 1; ``"none"``: use the rows as they are; ``None``:
    not nested (the encoder must be called at each m).
    """
    mode = ENCODERS.get(name).info.get("nested")
    if mode == "params":  # the file encoder: as stored, or unit columns
        return "columns" if params.get("normalize") == "columns" else "none"
    return mode


def rows_of_master(master, m, mode):
    """The m-row matrix of a nested encoder from its ``(M, n)`` master draw (M >= m)."""
    A = master[:m]
    if mode == "sqrt":
        return A * np.sqrt(master.shape[0] / m)
    if mode == "columns":
        return _normalize_columns(A)
    return A.copy()


def load_matrix(path, key=None):
    """Open the 2-D numeric matrix in a ``.npy``, ``.npz`` or ``.safetensors`` file.

    A ``.npy`` file is memory-mapped (``np.load(mmap_mode="r")``): opening reads
    only its header, and the encoder then reads just the first m rows it needs,
    so a matrix larger than memory works and nothing is cached. A ``.npz`` member
    or a ``.safetensors`` tensor is read whole (:func:`csbench.weights.load_tensor`,
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


def check_encoder(name, m, n, params):
    """Validate an encoder name, its parameters and (m, n) before any draw.

    Returns the parameters merged with the encoder's defaults.
    """
    entry = ENCODERS.get(name)
    p = entry.check_params(params)
    check_int("n", n, low=1)
    check_int("m", m, low=1)
    if name == "antipodal" and n % 2:
        raise ValueError(f"n={n} must be even for encoder 'antipodal' (columns come in pairs).")
    if name == "sparse":
        check_int("d", p["d"], low=1, high=m)
    if name == "dct" and m > n:
        raise ValueError(f"m={m} exceeds n={n} for encoder 'dct' (m rows of an n x n transform); allowed: 1 <= m <= n.")
    if name == "toy":
        from .toy.encoder import check_toy

        check_toy(m, n, p)
    if name == "file":
        check_choice("normalize", p["normalize"], ["none", "columns"])
        M = load_matrix(p["path"], p["key"])
        if M.shape[1] != n or m > M.shape[0]:
            raise ValueError(
                f"(m, n)=({m}, {n}) does not fit the {M.shape} matrix in {p['path']!r}; "
                f"allowed: n = {M.shape[1]}, 1 <= m <= {M.shape[0]}."
            )
        check_finite_array(f"matrix in {p['path']!r}", M[:m], ndim=2)  # the rows a study will use
    if name == "model":
        model_matrix(m, n, **p)  # validates the source, the tensor, and (m, n) against its shape
    return p


def coherence_stats(A, block=2048):
    """Diagnostics of a matrix's columns.

    Returns a dict with ``max_abs_cos`` = max_{i != j} |<a_i, a_j>| / (||a_i|| ||a_j||)
    (the mutual coherence mu), ``mean_abs_cos`` over all pairs i < j, the Welch
    bound sqrt((n - m) / (m (n - 1))) (a lower bound on mu for n > m unit vectors;
    Welch 1974), and column-norm statistics. Works in column blocks, so memory is
    O(m n + block^2).
    """
    A = check_finite_array("A", A, ndim=2)
    m, n = A.shape
    norms = np.linalg.norm(A, axis=0)
    U = A / np.where(norms > 0, norms, 1.0)
    mx, total = 0.0, 0.0
    for s in range(0, n, block):
        G = np.triu(np.abs(U[:, s : s + block].T @ U[:, s:]), k=1)  # pairs (s+i, s+j), j > i
        mx = max(mx, float(G.max(initial=0.0)))
        total += float(G.sum())
    pairs = n * (n - 1) / 2
    from .theory.coherence import welch_bound  # deferred: theory imports SciPy

    welch = float(welch_bound(n, m)) if n > 1 else 0.0
    return {
        "m": m,
        "n": n,
        "max_abs_cos": mx,
        "mean_abs_cos": total / pairs if pairs else 0.0,
        "welch_bound": welch,
        "col_norm_min": float(norms.min()),
        "col_norm_mean": float(norms.mean()),
        "col_norm_max": float(norms.max()),
        "col_norm_std": float(norms.std()),
    }


from .toy import encoder as _toy_encoder  # noqa: E402,F401  (registers the 'toy' encoder)
