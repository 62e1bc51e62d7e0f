"""Activation data with known ground truth: ``h = W x (+ noise)`` from a given dictionary W.

A dictionary W (m, n) — any numpy array: a random ensemble, a trained toy
model's code, a real network's matrix — stores n features in m dimensions
(feature i's direction is column i, the csbench convention for A). A sample is
a sparse code x (n,) and its activation ``h = W x + sigma z``, z ~ N(0, I_m).

Codes (:class:`ActivationSpec`):

* ``support="bernoulli"``: feature i active independently with probability
  ``p_i``: ``frequency="constant"`` p_i = p; ``"geometric"`` p_i = p r^i
  (r = ``decay``; the toy setting of Sharkey et al. 2022 has p = 5/512,
  r = 0.99); ``"power"`` p_i = p (i + 1)^(-alpha) (alpha = ``decay``);
  probabilities are clipped to 1.
* ``support="ksparse"``: exactly k active features, a uniform k-subset.
* ``amplitude``: ``"binary"`` (1), ``"uniform"`` U(0, 1), ``"half_normal"``
  |N(0, 1)|, ``"signed_uniform"`` U(-1, 1).

Determinism. Samples live on a fixed grid of blocks of :data:`GRID` samples;
grid block b is drawn from its own generator
``SeedSequence([seed, *sha256(spec)], spawn_key=(b,))`` (codes first, then the
noise). Sample i is therefore a function of (seed, spec, W, i) only: the same
whatever block size is requested, in whatever order, by however many workers.
The codes do not depend on W (the same seed gives the same x for every
dictionary with n columns), which lets one compare dictionaries on identical codes.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from .. import seeding
from .._validate import check_choice, check_finite_array, check_float, check_int

#: Samples per block of the fixed generation grid (part of the sample identity: never change it).
GRID = 4096
SUPPORTS = ["bernoulli", "ksparse"]
FREQUENCIES = ["constant", "geometric", "power"]
AMPLITUDES = ["binary", "uniform", "half_normal", "signed_uniform"]
#: Default memory budget of a materialised request, bytes (override with ``max_bytes`` or $CSBENCH_SAE_MAX_BYTES).
MAX_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class ActivationSpec:
    """The code distribution and noise of activation data (see the module docstring).

    Parameters
    ----------
    n : int >= 1
        Number of true features (columns of W).
    support : {"bernoulli", "ksparse"}
    p : float in [0, 1]
        Bernoulli base frequency p (p_0 of the geometric / power profiles).
    frequency : {"constant", "geometric", "power"}
    decay : float
        r in (0, 1] for ``"geometric"``; alpha >= 0 for ``"power"``; unused otherwise.
    k : int in [0, n]
        Active features of ``"ksparse"`` codes.
    amplitude : {"binary", "uniform", "half_normal", "signed_uniform"}
    noise : float >= 0
        Standard deviation sigma of the additive Gaussian noise per coordinate of h.
    """

    n: int
    support: str = "bernoulli"
    p: float = 0.05
    frequency: str = "constant"
    decay: float = 1.0
    k: int = 1
    amplitude: str = "uniform"
    noise: float = 0.0

    def __post_init__(self):
        check_int("n", self.n, low=1)
        check_choice("support", self.support, SUPPORTS)
        check_float("p", self.p, low=0.0, high=1.0)
        check_choice("frequency", self.frequency, FREQUENCIES)
        if self.frequency == "geometric":
            check_float("decay", self.decay, low=0.0, high=1.0, low_open=True)
        else:
            check_float("decay", self.decay, low=0.0)
        check_int("k", self.k, low=0, high=self.n)
        check_choice("amplitude", self.amplitude, AMPLITUDES)
        check_float("noise", self.noise, low=0.0)

    def as_dict(self):
        return asdict(self)

    def key(self) -> str:
        """Canonical JSON of every field."""
        return seeding.canonical(self.as_dict())

    def frequencies(self):
        """Per-feature activation probabilities p_i, shape (n,) (``"ksparse"``: k / n each)."""
        if self.support == "ksparse":
            return np.full(self.n, self.k / self.n)
        i = np.arange(self.n, dtype=float)
        if self.frequency == "constant":
            p = np.full(self.n, self.p)
        elif self.frequency == "geometric":
            p = self.p * self.decay**i
        else:
            p = self.p * (i + 1.0) ** (-self.decay)
        return np.minimum(p, 1.0)

    def expected_l0(self):
        """E ||x||_0 = sum_i p_i."""
        return float(self.frequencies().sum())

    def replace(self, **changes):
        return ActivationSpec(**{**self.as_dict(), **changes})


def matrix_hash(W):
    """Hex SHA-256 of W as C-contiguous float64 bytes plus its shape (the dictionary's identity)."""
    W = np.ascontiguousarray(W, np.float64)
    return hashlib.sha256(repr(W.shape).encode() + W.tobytes()).hexdigest()


def _amplitudes(rng, kind, size):
    if kind == "binary":
        return np.ones(size)
    if kind == "uniform":
        return rng.random(size)
    if kind == "half_normal":
        return np.abs(rng.standard_normal(size))
    return 2.0 * rng.random(size) - 1.0


def draw_codes(spec, rng, count):
    """``count`` codes x of ``spec`` from ``rng``, shape (count, n), float64."""
    n = spec.n
    X = np.zeros((count, n))
    if spec.support == "bernoulli":
        active = rng.random((count, n)) < spec.frequencies()
    else:
        active = np.zeros((count, n), bool)
        if spec.k:
            idx = np.argpartition(rng.random((count, n)), spec.k - 1, axis=1)[:, : spec.k]
            np.put_along_axis(active, idx, True, axis=1)
    X[active] = _amplitudes(rng, spec.amplitude, int(active.sum()))
    return X


class ActivationData:
    """Seeded activation data ``h = W x + sigma z`` over a dictionary W (see the module docstring).

    Parameters
    ----------
    W : array (m, n)
        The true dictionary; column i is feature i's direction. Copied (float64).
    spec : ActivationSpec
        Code distribution and noise; ``spec.n`` must equal W's column count.
    seed : int >= 0
        Root seed of the samples.
    """

    def __init__(self, W, spec, seed=0):
        if not isinstance(spec, ActivationSpec):
            raise TypeError(f"spec must be an ActivationSpec, got {type(spec).__name__}.")
        W = check_finite_array("W", W, ndim=2).copy()
        if W.shape[1] != spec.n:
            raise ValueError(f"W has {W.shape[1]} columns but spec.n={spec.n}; allowed: W of shape (m, {spec.n}).")
        self.W, self.spec, self.seed = W, spec, check_int("seed", seed, low=0)
        self.m, self.n = W.shape
        self.w_hash = matrix_hash(W)
        self._words = seeding.key_words(spec.key())

    def key_dict(self):
        """Identity of the data: spec, seed and the dictionary's hash (never where W came from)."""
        return {"spec": self.spec.as_dict(), "seed": self.seed, "W": self.w_hash}

    def block_seed(self, b):
        """The ``SeedSequence`` of grid block ``b`` (samples ``b*GRID .. (b+1)*GRID - 1``)."""
        return np.random.SeedSequence([self.seed, *self._words], spawn_key=(int(b),))

    def grid_block(self, b, dtype=np.float64):
        """``(H, X)`` of grid block b: shapes (GRID, m), (GRID, n)."""
        rng = np.random.default_rng(self.block_seed(b))
        X = draw_codes(self.spec, rng, GRID)
        H = X @ self.W.T
        if self.spec.noise > 0:
            H += self.spec.noise * rng.standard_normal(H.shape)
        return H.astype(dtype, copy=False), X.astype(dtype, copy=False)

    def nbytes(self, count, dtype=np.float64):
        """Bytes of ``count`` samples (H and X) in ``dtype``."""
        return int(count) * (self.m + self.n) * np.dtype(dtype).itemsize

    def _check_budget(self, count, dtype, max_bytes, what):
        budget = int(os.environ.get("CSBENCH_SAE_MAX_BYTES", MAX_BYTES)) if max_bytes is None else int(max_bytes)
        need = self.nbytes(count, dtype) + 2 * self.nbytes(GRID, np.float64)
        if need > budget:
            raise MemoryError(
                f"{what}: {count} samples of m={self.m} dims and n={self.n} features need {need / 2**30:.2f} GiB "
                f"(H and X, {np.dtype(dtype).name}), above the budget max_bytes={budget / 2**30:.2f} GiB; "
                f"stream with ActivationData.blocks(...) in smaller blocks, or raise max_bytes.")

    def sample(self, start, stop, *, dtype=np.float64, workers=1, max_bytes=None):
        """Samples ``start .. stop - 1`` as ``(H, X)``, shapes (stop - start, m), (stop - start, n).

        ``workers > 1`` draws grid blocks in threads; the result is identical for
        every worker count. The memory of the result is checked against
        ``max_bytes`` (default :data:`MAX_BYTES`) before anything is drawn.
        """
        start = check_int("start", start, low=0)
        stop = check_int("stop", stop, low=start)
        workers = check_int("workers", workers, low=1)
        count = stop - start
        self._check_budget(count, dtype, max_bytes, "ActivationData.sample")
        H = np.empty((count, self.m), dtype)
        X = np.empty((count, self.n), dtype)
        if count == 0:
            return H, X
        first, last = start // GRID, (stop - 1) // GRID

        def fill(b):
            Hb, Xb = self.grid_block(b, dtype)
            lo, hi = max(start, b * GRID), min(stop, (b + 1) * GRID)
            H[lo - start : hi - start] = Hb[lo - b * GRID : hi - b * GRID]
            X[lo - start : hi - start] = Xb[lo - b * GRID : hi - b * GRID]

        if workers == 1 or first == last:
            for b in range(first, last + 1):
                fill(b)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(fill, range(first, last + 1)))
        return H, X

    def blocks(self, count, block_size, *, start=0, dtype=np.float64, max_bytes=None):
        """Iterate over samples ``start .. start + count - 1`` in blocks of ``block_size``: yields ``(H, X)``.

        Only one grid block and one output block are held at a time, so ``count``
        may exceed memory. Blocks are the same samples as :meth:`sample` returns.
        """
        count = check_int("count", count, low=0)
        block_size = check_int("block_size", block_size, low=1)
        start = check_int("start", start, low=0)
        self._check_budget(min(block_size, count), dtype, max_bytes, "ActivationData.blocks")
        return self._blocks(start, start + count, block_size, dtype)

    def _read(self, lo, hi, dtype, cache):
        """Samples lo .. hi - 1 via ``cache`` = [grid block index, H, X] (reused across calls)."""
        H = np.empty((hi - lo, self.m), dtype)
        X = np.empty((hi - lo, self.n), dtype)
        i = lo
        while i < hi:
            b = i // GRID
            if b != cache[0]:
                cache[:] = [b, *self.grid_block(b, dtype)]
            j = min(hi, (b + 1) * GRID)
            H[i - lo : j - lo] = cache[1][i - b * GRID : j - b * GRID]
            X[i - lo : j - lo] = cache[2][i - b * GRID : j - b * GRID]
            i = j
        return H, X

    def _blocks(self, start, stop, block_size, dtype):
        cache = [-1, None, None]
        for lo in range(start, stop, block_size):
            yield self._read(lo, min(stop, lo + block_size), dtype, cache)

    def cycle(self, block_size, *, n_train=None, dtype=np.float32):
        """Endless training batches of ``block_size``: samples 0, 1, 2, ... (modulo ``n_train`` if given).

        With ``n_train`` the batches run over a fixed training set of ``n_train``
        samples in order, wrapping around (epochs); without it every batch is fresh.
        """
        block_size = check_int("block_size", block_size, low=1)
        if n_train is not None:
            n_train = check_int("n_train", n_train, low=1)
        self._check_budget(block_size, dtype, None, "ActivationData.cycle")
        return self._cycle(block_size, n_train, dtype)

    def _cycle(self, block_size, n_train, dtype):
        cache, lo = [-1, None, None], 0
        while True:
            if n_train is None:
                yield self._read(lo, lo + block_size, dtype, cache)
                lo += block_size
                continue
            parts, left = [], block_size
            while left:  # contiguous runs of the wrapped index range
                run = min(left, n_train - lo)
                parts.append(self._read(lo, lo + run, dtype, cache))
                lo, left = (lo + run) % n_train, left - run
            yield (np.concatenate([q[0] for q in parts]), np.concatenate([q[1] for q in parts])) \
                if len(parts) > 1 else parts[0]


class ArrayData:
    """Fixed activations ``H`` (N, m), e.g. a real network's, as SAE training data (no ground-truth codes).

    The training counterpart of :class:`ActivationData` for data that is not
    generated: :meth:`cycle` yields batches of the rows of ``H`` in order,
    wrapping around (epochs; shuffle the rows beforehand if their order is
    correlated, e.g. tokens of one sentence), as ``(H_batch, X_batch)`` with an
    empty (B, 0) code array. Its identity (:meth:`key_dict`, part of an SAE's
    cache key) is the SHA-256 of the float64 array and its shape.

    Parameters
    ----------
    H : array (N, m), finite
        The activations (copied, float64).
    """

    n = 0

    def __init__(self, H):
        self.H = check_finite_array("H", H, ndim=2).copy()
        if self.H.shape[0] < 1:
            raise ValueError("H has no rows; allowed: N >= 1 activations of shape (N, m).")
        self.m = self.H.shape[1]
        self.h_hash = matrix_hash(self.H)

    def key_dict(self):
        """Identity of the data: the array's SHA-256 and shape."""
        return {"array": self.h_hash, "shape": list(self.H.shape)}

    def cycle(self, block_size, *, n_train=None, dtype=np.float32):
        """Endless batches of ``block_size`` rows: rows 0, 1, 2, ... modulo ``n_train`` (default: all N rows)."""
        block_size = check_int("block_size", block_size, low=1)
        N = self.H.shape[0]
        n_train = N if n_train is None else check_int("n_train", n_train, low=1, high=N)
        H = self.H[:n_train].astype(dtype)
        return self._cycle(H, block_size, dtype)

    @staticmethod
    def _cycle(H, block_size, dtype):
        N, lo = H.shape[0], 0
        while True:
            idx = (lo + np.arange(block_size)) % N
            lo = (lo + block_size) % N
            yield H[idx], np.empty((block_size, 0), dtype)
