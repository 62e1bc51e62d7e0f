"""Elementwise activations shared by the toy models, the MLP diagnostics and MiniLM's forward pass."""
from __future__ import annotations

import numpy as np

#: Activation names (``identity`` is used by the toy models only).
ACTIVATIONS = ("relu", "gelu", "identity")


def activate(name, z):
    """ReLU ``max(z, 0)``, GELU ``z Φ(z)`` (the exact erf form, PyTorch's default) or identity.

    Φ is evaluated as ``scipy.special.ndtr``, accurate in the lower tail where
    ``(1 + erf(z / √2)) / 2`` cancels.
    """
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "gelu":
        from scipy.special import ndtr  # deferred: SciPy is not needed to list components

        return z * ndtr(z)
    return z
