"""A trained sparse autoencoder inside the engine: its dictionary is an encoder, its encoder a decoder.

* Encoder ``learned``: ``A = W_dec`` (m x d, unit-norm columns) of an SAE saved by
  :meth:`csbench.sae.SAEModel.save` (e.g. a file of the training cache). Fixed: every trial
  sees the same dictionary; its identity is the file's content, never its path. The trained
  model is handed to the problem as each trial's ``source``.
* Decoder ``sae_encoder``: the SAE's own amortised inference,
  ``x_hat = ReLU((y - b_dec) W_enc^T + b_enc)`` (L1 SAE) or its TopK form (Gao et al. 2024),
  exactly :func:`csbench.sae.sae_encode` of the model that produced A (from the problem's source).

So every csbench decoder (lasso, OMP, AMP, ...) and study (sweeps, ``maximal_k``) runs on a
learned dictionary unchanged, and the SAE's encoder is compared with them on the same problems.
"""
from __future__ import annotations

import functools
import os

import numpy as np

from ..decoders.base import DECODERS, one_shot
from ..encoders import ENCODERS
from ..tensors import content_id


@functools.lru_cache(maxsize=8)
def _load(path, _size, _mtime_ns):
    from .models import load_sae

    return load_sae(path)


def load_learned(path):
    """The :class:`~csbench.sae.SAEModel` in ``path`` (verified by :func:`csbench.sae.load_sae`; cached per file version)."""
    if path is None:
        raise ValueError("encoder 'learned' needs path=...; allowed: an SAE .safetensors file written by "
                         "SAEModel.save (e.g. from the SAE training cache).")
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise ValueError(f"path={path!r}: no such file.")
    st = os.stat(path)
    return _load(path, st.st_size, st.st_mtime_ns)


def _shape(m, n, p):
    model = load_learned(p["path"])
    if (m, n) != (model.spec.m, model.spec.d):
        raise ValueError(f"(m, n)=({m}, {n}) does not match the learned {model.spec.m} x {model.spec.d} dictionary in "
                         f"{p['path']!r}; allowed: m = {model.spec.m}, n = {model.spec.d} (a fixed dictionary fixes m).")


def _identity(params):
    return {**params, "path": content_id(params["path"])}


@ENCODERS.register("learned", "a trained SAE's dictionary W_dec (fixed; its model is the problem's source)",
                   shape_check=_shape, identity=_identity, has_source=True)
def learned(rng, m, n, *, path=None):
    """``(W_dec, model)`` of the SAE saved in ``path`` (see the module docstring)."""
    model = load_learned(path)
    return np.array(model.dictionary, dtype=np.float64, order="C"), model


@DECODERS.register("sae_encoder", "a trained SAE's own encoder ReLU((y - b_dec) W_enc^T + b_enc) (or TopK)",
                   encoders=("learned",), takes_source=True)
def sae_encoder(A, Y, k, source=None):
    """The SAE's codes of ``Y``: :meth:`csbench.sae.SAEModel.encode` of each trial's model (from the problem)."""
    if source is None or any(s is None for s in source):
        raise ValueError("sae_encoder needs the SAE that produced A: a problem of the 'learned' encoder "
                         "(decode(..., source=measurements.source)).")
    X = np.empty((Y.shape[0], A.shape[-1]))
    groups = {}
    for t, model in enumerate(source):  # trials of one model are encoded in one call, as the model would
        groups.setdefault(id(model), (model, []))[1].append(t)
    for model, rows in groups.values():
        X[rows] = model.encode(Y[rows])
    return one_shot(X)
