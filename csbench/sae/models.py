"""Sparse autoencoders as numpy arrays: spec, encoder, ``.safetensors`` save and load (no torch needed).

An SAE with d latents on m-dimensional activations h has parameters
``W_enc`` (d, m), ``b_enc`` (d,), ``W_dec`` (m, d) and ``b_dec`` (m,):

* L1 SAE (Bricken et al. 2023, *Towards Monosemanticity*):
  ``f = ReLU(W_enc (h - b_dec) + b_enc)``, ``h_hat = W_dec f + b_dec``, loss
  ``mean_batch ||h - h_hat||^2 + lambda ||f||_1`` with the decoder columns
  constrained to unit norm (so the L1 penalty cannot be dodged by shrinking f);
* TopK SAE (Gao et al. 2024, *Scaling and evaluating sparse autoencoders*):
  ``f = ReLU(TopK_k(W_enc (h - b_dec) + b_enc))`` (the k largest
  pre-activations kept, the rest set to 0), loss ``mean_batch ||h - h_hat||^2``.

The learned dictionary is ``W_dec`` (its columns are atoms, the csbench
convention for an encoder matrix A of shape (m, d)); the SAE's encoder is a
decoder in csbench's sense: :func:`sae_encode` maps measurements Y (T, m) to
codes (T, d). A saved file holds the four named float32 tensors, the recorded
training history (``history.<name>``, one value per step) and the dead-latent
mask, with the spec and the instance identity as JSON metadata.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import seeding
from .._validate import (
    check_choice,
    check_finite_array,
    check_float,
    check_int,
    optional,
)

KINDS = ["l1", "topk"]
PARAM_NAMES = ["W_enc", "b_enc", "W_dec", "b_dec"]
FORMAT = "csbench.sae/1"


@dataclass(frozen=True)
class SAESpec:
    """Architecture and training recipe of one SAE (see the module docstring and :mod:`.training`).

    Parameters
    ----------
    m : int >= 1
        Input dimension.
    d : int >= 1
        Number of latents (dictionary size).
    kind : {"l1", "topk"}
    l1 : float >= 0
        L1 coefficient lambda (``"l1"`` only; ignored and forced to 0 for TopK).
    k : int in [1, d]
        Active latents of a TopK SAE (unused for ``"l1"``; stored as 0 there).
    lr : float > 0
        Adam learning rate (betas 0.9, 0.999), constant.
    steps, batch : int >= 1
        Optimiser steps and samples per step.
    n_train : int >= 1, optional
        A fixed training set of ``n_train`` samples cycled in order (epochs);
        None: a fresh batch every step (``steps * batch`` distinct samples).
    dead_window : int >= 1
        A latent is *dead* when it has not fired (f > 0) on any of the last
        ``dead_window`` training samples (rounded up to whole steps).
    """

    m: int
    d: int
    kind: str = "l1"
    l1: float = 1e-3
    k: int = 0
    lr: float = 1e-3
    steps: int = 5000
    batch: int = 256
    n_train: int | None = None
    dead_window: int = 10_000

    def __post_init__(self):
        check_int("m", self.m, low=1)
        check_int("d", self.d, low=1)
        check_choice("kind", self.kind, KINDS)
        if self.kind == "topk":
            check_int("k", self.k, low=1, high=self.d)
            object.__setattr__(self, "l1", 0.0)
        else:
            check_float("l1", self.l1, low=0.0)
            object.__setattr__(self, "k", 0)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_int("steps", self.steps, low=1)
        check_int("batch", self.batch, low=1)
        optional(lambda p, v: check_int(p, v, low=1))("n_train", self.n_train)
        check_int("dead_window", self.dead_window, low=1)

    def as_dict(self):
        return asdict(self)

    def key(self):
        return seeding.canonical(self.as_dict())

    def replace(self, **changes):
        return SAESpec(**{**self.as_dict(), **changes})


def sae_encode(params, Y, *, k=None):
    """The SAE encoder's codes of activations ``Y`` (T, m) or (m,): pure numpy, float64.

    ``pre = (Y - b_dec) W_enc^T + b_enc``; returns ``ReLU(pre)`` (``k=None``, the
    L1 SAE) or ``ReLU(TopK_k(pre))`` (the k largest entries of each row of pre
    kept, the rest 0, then ReLU; Gao et al. 2024). ``params`` holds ``W_enc``
    (d, m), ``b_enc`` (d,) and ``b_dec`` (m,) (any float dtype; computed in
    float64). Equals the trained torch module's codes up to float32 rounding.

    Returns
    -------
    array (T, d), or (d,) for a 1-D ``Y``.
    """
    W_enc = np.asarray(params["W_enc"], np.float64)
    b_enc = np.asarray(params["b_enc"], np.float64)
    b_dec = np.asarray(params["b_dec"], np.float64)
    d, m = W_enc.shape
    Y = check_finite_array("Y", Y, ndim=(1, 2))
    one = Y.ndim == 1
    Y = Y[None] if one else Y
    if Y.shape[1] != m:
        raise ValueError(f"Y has {Y.shape[1]} columns but the SAE's input dimension is m={m}; allowed: (T, {m}).")
    pre = (Y - b_dec) @ W_enc.T + b_enc
    if k is None:
        F = np.maximum(pre, 0.0)
    else:
        k = check_int("k", k, low=1, high=d)
        idx = np.argpartition(-pre, k - 1, axis=1)[:, :k]
        F = np.zeros_like(pre)
        np.put_along_axis(F, idx, np.maximum(np.take_along_axis(pre, idx, axis=1), 0.0), axis=1)
    return F[0] if one else F


def sae_decode(params, F):
    """Reconstruction ``h_hat = F W_dec^T + b_dec`` of codes F (T, d) -> (T, m), float64."""
    return np.asarray(F, np.float64) @ np.asarray(params["W_dec"], np.float64).T + np.asarray(params["b_dec"],
                                                                                               np.float64)


@dataclass
class SAEModel:
    """One trained SAE: spec, float32 parameters, identity and training record.

    ``identity`` is the dict the cache key is the hash of (spec, data identity,
    seed); ``history`` maps ``"loss"``, ``"mse"``, ``"l1"``, ``"l0"`` and
    ``"dead"`` to one value per training step; ``dead`` is the (d,) dead-latent
    mask at the end of training; ``from_cache`` tells whether it was read.
    """

    spec: SAESpec
    params: dict
    identity: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    dead: np.ndarray | None = None
    from_cache: bool = False

    @property
    def dictionary(self):
        """The learned dictionary ``W_dec`` (m, d), float64, unit-norm columns."""
        return np.asarray(self.params["W_dec"], np.float64)

    @property
    def topk(self):
        """k for a TopK SAE, None for an L1 SAE (the ``k`` of :func:`sae_encode`)."""
        return self.spec.k if self.spec.kind == "topk" else None

    @property
    def dead_fraction(self):
        return float(np.mean(self.dead)) if self.dead is not None else float("nan")

    def encode(self, Y):
        """The SAE encoder's codes of ``Y`` (T, m) -> (T, d) (:func:`sae_encode`)."""
        return sae_encode(self.params, Y, k=self.topk)

    def reconstruct(self, Y):
        """``W_dec encode(Y) + b_dec``, (T, m)."""
        return sae_decode(self.params, self.encode(Y))

    def save(self, path):
        """Write parameters, history and dead mask as named tensors plus spec/identity metadata."""
        from safetensors.numpy import save_file

        tensors = {k: np.ascontiguousarray(self.params[k], np.float32) for k in PARAM_NAMES}
        for name, values in self.history.items():
            tensors[f"history.{name}"] = np.ascontiguousarray(values, np.float32)
        if self.dead is not None:
            tensors["dead"] = np.ascontiguousarray(self.dead, np.uint8)
        meta = {"format": FORMAT, "spec": self.spec.key(), "identity": seeding.canonical(self.identity)}
        save_file(tensors, str(path), metadata=meta)


def load_sae(path, *, identity=None):
    """Read an :class:`SAEModel` written by :meth:`SAEModel.save`, and verify it.

    Checks the format tag, the spec, the parameter shapes and that every
    parameter is finite; with ``identity`` (the dict the cache key was made
    from) also that the file was written for exactly that instance. Raises
    ``ValueError`` naming the file and what is wrong.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path!r} is not an SAE file written by SAEModel.save (format "
                             f"{meta.get('format')!r}; expected {FORMAT!r}).")
        names = f.keys()  # a safe_open handle is not iterable
        tensors = {k: f.get_tensor(k) for k in names}
    spec = SAESpec(**json.loads(meta["spec"]))
    ident = json.loads(meta["identity"])
    if identity is not None and seeding.canonical(identity) != seeding.canonical(ident):
        raise ValueError(f"{path!r} was written for another SAE instance (its identity {meta['identity'][:200]} "
                         f"differs from the requested one); delete the file or use another cache folder.")
    shapes = {"W_enc": (spec.d, spec.m), "b_enc": (spec.d,), "W_dec": (spec.m, spec.d), "b_dec": (spec.m,)}
    for name, shape in shapes.items():
        if name not in tensors or tensors[name].shape != shape:
            got = tensors[name].shape if name in tensors else "missing"
            raise ValueError(f"{path!r}: parameter {name} has shape {got}; expected {shape}.")
        if not np.isfinite(tensors[name]).all():
            raise ValueError(f"{path!r}: parameter {name} has non-finite entries; the file is corrupt.")
    params = {k: tensors[k] for k in PARAM_NAMES}
    history = {k[len("history."):]: v for k, v in tensors.items() if k.startswith("history.")}
    dead = tensors["dead"].astype(bool) if "dead" in tensors else None
    return SAEModel(spec, params, ident, history, dead, True)
