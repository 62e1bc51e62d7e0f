"""Batches of toy-model data (numpy): inputs x and targets t, one generator per instance."""
from __future__ import annotations

import numpy as np


def sample_inputs(spec, rng, batch, dtype=np.float32):
    """``batch`` inputs of ``spec``'s data distribution, shape (batch, n).

    Bernoulli data: feature i active with probability ``p_i``; active values
    U(0, 1), U(-1, 1) or 1. Identity data: the n one-hot vectors (``rng`` and
    ``batch`` unused).
    """
    n = spec.n
    if spec.data == "identity":
        return np.eye(n, dtype=dtype)
    active = rng.random((batch, n), dtype=np.float64) < spec.p_vector()
    if spec.values == "binary":
        return active.astype(dtype)
    x = np.zeros((batch, n), dtype=dtype)
    u = rng.random(int(active.sum()), dtype=np.float64)
    x[active] = 2.0 * u - 1.0 if spec.values == "signed" else u
    return x


def targets(spec, X):
    """The training target of inputs X: X itself or ReLU(X)."""
    return np.maximum(X, 0) if spec.target == "relu" else X
