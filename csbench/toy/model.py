"""A trained toy model as numpy arrays: forward pass, ``.safetensors`` save and load.

Parameter names (the named tensors of a saved file): tied ``W`` (m, n) and, with
bias, ``b`` (n,); untied ``W_in`` (m, n), ``W_out`` (n, m) and, with bias, ``b1``
(m,), ``b2`` (n,). Feature i's direction is column i of ``W`` / ``W_in``, the
csbench convention for an encoder matrix A (m, n). The file's metadata holds the
spec and seed as JSON, so any tool that reads named tensors can use the weights.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..activations import activate
from .spec import ToySpec, spec_from_dict


def param_names(spec):
    """Names of the parameters of ``spec``'s model, in a fixed order."""
    if spec.family == "tied":
        return ["W", "b"] if spec.bias else ["W"]
    return ["W_in", "W_out", "b1", "b2"] if spec.bias else ["W_in", "W_out"]


def param_shapes(spec):
    n, m = spec.n, spec.m
    shapes = {"W": (m, n), "b": (n,), "W_in": (m, n), "W_out": (n, m), "b1": (m,), "b2": (n,)}
    return {k: shapes[k] for k in param_names(spec)}


@dataclass
class ToyModel:
    """One trained instance: its spec, seed description, parameters and final training loss.

    ``from_cache`` is True when the weights were read from the cache instead of trained;
    ``history`` holds recorded training losses (see :func:`csbench.toy.training.fit`).
    """

    spec: ToySpec
    params: dict
    seed: dict = field(default_factory=dict)
    loss: float = float("nan")
    from_cache: bool = False
    history: np.ndarray | None = None

    @property
    def encoder_matrix(self):
        """The (m, n) code: ``W`` (tied) or ``W_in`` (untied), as float64."""
        return np.asarray(self.params["W" if self.spec.family == "tied" else "W_in"], dtype=np.float64)

    def readout(self, Y):
        """The model's own read-out of hidden codes ``Y`` (T, m) -> (T, n)."""
        P = {k: np.asarray(v, np.float64) for k, v in self.params.items()}
        act = self.spec.activation
        if self.spec.family == "tied":
            return activate(act, Y @ P["W"] + P.get("b", 0.0))
        H = activate(act, Y + P.get("b1", 0.0))
        return H @ P["W_out"].T + P.get("b2", 0.0)

    def forward(self, X):
        """The model's output for inputs ``X`` (T, n), in float64."""
        return self.readout(np.asarray(X, np.float64) @ self.encoder_matrix.T)

    def save(self, path):
        """Write the parameters as named float32 tensors plus spec/seed/loss metadata."""
        from safetensors.numpy import save_file

        meta = {"spec": self.spec.key(), "seed": json.dumps(self.seed), "loss": repr(float(self.loss)),
                "format": "csbench.toy/1"}
        save_file({k: np.ascontiguousarray(v, np.float32) for k, v in self.params.items()}, str(path), metadata=meta)


def load_model(path):
    """Read a :class:`ToyModel` written by :meth:`ToyModel.save`."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        if "spec" not in meta:
            raise ValueError(f"{path!r} has no toy-model spec in its metadata; it was not written by ToyModel.save.")
        params = {k: f.get_tensor(k) for k in f.keys()}
    spec = spec_from_dict(json.loads(meta["spec"]), source=str(path))
    return ToyModel(spec, params, json.loads(meta.get("seed", "{}")), float(meta.get("loss", "nan")), True)
