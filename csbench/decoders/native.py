"""The ``native`` decoder: a toy model's own read-out of its code.

For a tied toy model ``x' = act(W^T W x + b)`` with ``A = W`` and ``y = A x``
the read-out is ``x_hat = act(A^T y + b)``; for an untied one with
``A = W_in`` it is ``W_out act(y + b1) + b2``. A decoder sees only A and y, so
the read-out's remaining parameters come from one of two places:

* ``bias="model"`` / ``activation="model"`` (default): the model that produced
  A, which the problem hands over (:attr:`csbench.problems.Measurements.source`,
  filled by the ``toy`` encoder; ``decode(..., source=...)``);
* explicit ``bias`` (a number or a list of n numbers) and ``activation``
  (``relu``, ``gelu``, ``identity``): the tied read-out for any A.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .._validate import check_choice, check_finite_array, check_float
from .base import DECODERS, one_shot

ACTIVATIONS = ["relu", "gelu", "identity"]


def _model(source, t):
    """Trial t's toy model from the problem's ``source`` (ValueError when the problem has none)."""
    model = None if source is None else source[t]
    if model is None:
        raise ValueError("native decoder with bias='model' or activation='model' needs the toy model that produced "
                         "A (a problem of the 'toy' encoder: decode(..., source=measurements.source)); "
                         "otherwise pass bias=<number or list of n> and activation=<name>.")
    return model


def _check_bias(param, value):
    """``"model"``, a real number (returned as float) or a 1-D array of finite reals (returned as an array)."""
    if isinstance(value, str):
        return check_choice(param, value, ["model"])
    if np.ndim(value) == 0:
        return check_float(param, value)
    return check_finite_array(param, value, ndim=1)


def _check_problem(params, n, k):
    """A bias vector must have one entry per feature (n)."""
    b = params["bias"]
    if isinstance(b, np.ndarray) and b.shape[0] != n:
        raise ValueError(f"bias has {b.shape[0]} entries but A has n={n} columns; allowed: a number or n numbers.")
    return params


#: Value checks of the native read-out's parameters (run by decode() and DecoderSpec).
CHECKS = {"activation": partial(check_choice, choices=ACTIVATIONS + ["model"]), "bias": _check_bias}


@DECODERS.register("native", "a toy model's own read-out act(A^T y + b) (bias/activation from the model)",
                   encoders=("toy",), takes_source=True, checks=CHECKS, problem_check=_check_problem)
def native(A, Y, k, source=None, *, activation="model", bias="model"):
    """``x_hat = act(A^T y + b)``, or the model's own read-out (see the module docstring)."""
    from ..activations import activate

    n = A.shape[-1]
    b = None if isinstance(bias, str) else np.broadcast_to(bias, (n,))
    T = Y.shape[0]
    out = np.empty((T, n))
    for t in range(T):
        At = A if A.ndim == 2 else A[t]
        if b is not None and activation != "model":
            out[t] = activate(activation, Y[t] @ At + b)
            continue
        model = _model(source, t)
        if model.spec.family == "untied":
            if b is not None or activation != "model":
                raise ValueError("native decoder: an untied model's read-out W_out act(y + b1) + b2 takes "
                                 "bias='model' and activation='model' only.")
            out[t] = model.readout(Y[t : t + 1])[0]
            continue
        bt = np.asarray(model.params.get("b", np.zeros(n)), np.float64) if b is None else b
        act = model.spec.activation if activation == "model" else activation
        out[t] = activate(act, Y[t] @ At + bt)
    return one_shot(out)
