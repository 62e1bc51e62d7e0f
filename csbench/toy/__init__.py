"""Toy models of superposition: specs, training (PyTorch, the ``learn`` extra), analyses (numpy).

See ``docs/toy_models.md``. Training needs ``pip install torch==2.13.0``;
specs, saved models and analyses need only numpy.
"""
from .model import ToyModel, activate, load_model
from .spec import ToySpec, instance_seeds, load_spec_file, spec_from_dict
from .training import cache_dir, fit, train

__all__ = ["ToySpec", "ToyModel", "activate", "load_model", "instance_seeds", "load_spec_file",
           "spec_from_dict", "cache_dir", "fit", "train"]
