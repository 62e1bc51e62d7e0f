"""Sparse autoencoders and dictionary learning beside compressed-sensing decoders (issue 16).

* :mod:`.data`: seeded activation data ``h = W x (+ noise)`` over any dictionary W;
* :mod:`.models`: SAE specs, the numpy encoder :func:`sae_encode`, saved models (:func:`load_sae`);
* :mod:`.training`: batched PyTorch training with a ``.safetensors`` cache (the ``learn`` extra);
* :mod:`.dictlearn`: scikit-learn's MiniBatchDictionaryLearning, the non-amortised reference;
* :mod:`.metrics`: MMCS, recovered fractions, Hungarian matching, dictionary and latent MCC.

See ``docs/sae.md``. Only :mod:`.training` needs torch (imported when training starts).
"""
from .data import ActivationData, ActivationSpec, ArrayData
from .models import SAEModel, SAESpec, load_sae, sae_decode, sae_encode

__all__ = ["ActivationData", "ActivationSpec", "ArrayData", "SAEModel", "SAESpec", "load_sae", "sae_decode", "sae_encode",
           "train"]


def train(specs, datas, seeds, **kwargs):
    """Trained (or cached) SAEs: :func:`csbench.sae.training.train` (needs torch)."""
    from .training import train as _train

    return _train(specs, datas, seeds, **kwargs)
