"""Seeds: the only source of randomness in csbench.

A trial's random streams are derived from ``SeedSequence`` with entropy
``(root, *sha256(cell key))`` and spawn key ``(trial, stream)``. The cell key is
the canonical JSON of the cell's parameters *without* ``m`` and without any
decoder, so every decoder, and every m of a nested design, sees the same
problems. Python's ``hash()`` (salted per process) is never used.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from ._validate import check_int

#: Stream ids within one trial.
MATRIX, SIGNAL, NOISE = 0, 1, 2


def canonical(obj) -> str:
    """Canonical JSON text of ``obj`` (sorted keys, no spaces); the basis of all keys."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot canonicalise {type(v).__name__} value {v!r}")


def key_words(key: str) -> list[int]:
    """Eight 32-bit words of the SHA-256 digest of ``key``."""
    digest = hashlib.sha256(key.encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]


def short_hash(key: str, length: int = 16) -> str:
    """Hex prefix of the SHA-256 digest of ``key`` (used for task and run ids)."""
    return hashlib.sha256(key.encode()).hexdigest()[:length]


def trial_seed(root: int, key: str, trial: int, stream: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of one stream of one trial of one cell.

    Parameters
    ----------
    root : int
        The user's root seed (>= 0).
    key : str
        Canonical cell key (see :func:`canonical`); excludes m and the decoder.
    trial : int
        Trial index (>= 0).
    stream : int
        :data:`MATRIX`, :data:`SIGNAL` or :data:`NOISE`.
    """
    root = check_int("seed", root, low=0)
    trial = check_int("trial", trial, low=0)
    return np.random.SeedSequence([root, *key_words(key)], spawn_key=(trial, stream))


def trial_rng(root: int, key: str, trial: int, stream: int) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` (PCG64) for one stream of one trial."""
    return np.random.Generator(np.random.PCG64(trial_seed(root, key, trial, stream)))
