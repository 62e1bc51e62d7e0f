"""The ``toy`` encoder: A is a trained toy model's code W (one trained instance per trial).

Trial t's instance seed is its matrix-stream ``SeedSequence`` (so it depends on
the whole cell), or, with ``seed=s``, ``SeedSequence(s, spawn_key=(t,))`` — the
same model for every cell with the same spec, and the seeds of
``instance_seeds(s, T)``, so a study can train all T instances in one batch
first and the encoder then reads them from the cache. Not nested: each m is its
own model. The encoder hands the trained model to the problem as the trial's
``source`` (:attr:`csbench.problems.Measurements.source`), so that the ``native``
decoder can apply the model's own read-out, bias included. ``cache_dir`` is where
trained weights are kept; it is not part of a cell's identity (the same models
and draws wherever the cache lives).
"""
from __future__ import annotations

import inspect
from dataclasses import fields

import numpy as np

from ..encoders import ENCODERS
from .spec import ToySpec
from .training import train

#: Spec fields that are encoder parameters (n and m come from the cell).
SPEC_PARAMS = [f for f in fields(ToySpec) if f.name not in ("n", "m")]
_EXTRA = {"seed": None, "cache_dir": None}


def toy_spec(m, n, params):
    """The :class:`ToySpec` of encoder parameters ``params`` at (m, n); validates everything."""
    return ToySpec(n=n, m=m, **{k: v for k, v in params.items() if k not in _EXTRA})


def toy(rng, m, n, **params):
    p = {**{f.name: f.default for f in SPEC_PARAMS}, **_EXTRA, **params}
    spec = toy_spec(m, n, p)
    trial_ss = rng.bit_generator.seed_seq
    seed = trial_ss if p["seed"] is None else np.random.SeedSequence(int(p["seed"]), spawn_key=(trial_ss.spawn_key[0],))
    model = train(spec, [seed], cache=p["cache_dir"], progress=False)[0]
    return model.encoder_matrix, model


def identity(params):
    """The parameters as they enter a cell's key: ``cache_dir`` (a storage location) is always None."""
    return {**params, "cache_dir": None}


def check_toy(m, n, params):
    """Validate ``toy`` encoder parameters before any training (its ``shape_check``)."""
    if params.get("seed") is not None:
        from .._validate import check_int

        check_int("seed", params["seed"], low=0)
    toy_spec(m, n, params)


toy.__signature__ = inspect.Signature(
    [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in ("rng", "m", "n")]
    + [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default) for f in SPEC_PARAMS]
    + [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in _EXTRA.items()]
)
toy.__doc__ = __doc__
ENCODERS.register("toy", "a trained toy model's W (one instance per trial; needs the learn extra)",
                  shape_check=check_toy, identity=identity, has_source=True)(toy)
