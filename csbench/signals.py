"""Sparse signal models.

Every signal model is a function ``f(rng, n, k, **params) -> x`` of shape ``(n,)``
registered in :data:`SIGNALS`. ``profile`` sets how often each feature is
active: ``"uniform"`` (every feature equally likely) or ``"power"`` (feature i
chosen with weight proportional to (i + 1)^(-alpha), a power-law frequency
profile as in toy models of superposition).
"""
from __future__ import annotations

import numpy as np

from ._validate import check_choice, check_float, check_int
from dataclasses import dataclass

from .registry import Entry, Registry


@dataclass(frozen=True)
class SignalEntry(Entry):
    """A registered signal model: whether its nonzeros are all 1 (``binary``) and all >= 0 (``nonneg``)."""

    binary: bool = False
    nonneg: bool = False


SIGNALS = Registry("signal", SignalEntry)

PROFILES = ["uniform", "power"]


def feature_weights(n, profile="uniform", alpha=1.0):
    """Normalised feature frequencies w (sum 1): uniform, or w_i ~ (i + 1)^(-alpha)."""
    if profile == "uniform":
        return np.full(n, 1.0 / n)
    w = (np.arange(1, n + 1, dtype=float)) ** (-alpha)
    return w / w.sum()


def _support(rng, n, k, profile, alpha):
    if profile == "uniform":
        return rng.choice(n, size=k, replace=False)
    return rng.choice(n, size=k, replace=False, p=feature_weights(n, profile, alpha))


def _ksparse(values):
    def draw(rng, n, k, *, profile="uniform", alpha=1.0):
        x = np.zeros(n)
        idx = _support(rng, n, k, profile, alpha)
        x[idx] = values(rng, k)
        return x

    return draw


_VALUES = {
    "binary": ("k-sparse, nonzeros = 1 (x in {0,1}^n)", lambda rng, k: np.ones(k)),
    "signed": ("k-sparse, nonzeros = +-1 with equal probability", lambda rng, k: np.where(rng.random(k) < 0.5, 1.0, -1.0)),
    "gaussian": ("k-sparse, nonzeros ~ N(0, 1)", lambda rng, k: rng.standard_normal(k)),
    "uniform": ("k-sparse, nonzeros ~ U(0, 1) (nonnegative)", lambda rng, k: rng.random(k)),
}
for _name, (_summary, _values) in _VALUES.items():
    SIGNALS.register(_name, _summary, nonneg=_name in ("binary", "uniform"), binary=_name == "binary")(
        _ksparse(_values)
    )


@SIGNALS.register("bernoulli", "each feature active w.p. p (default k/n), values U(-1,1), U(0,1) or 1")
def bernoulli(rng, n, k, *, p=None, values="signed", profile="uniform", alpha=1.0):
    """Bernoulli(p) support with uniform values (the toy-model setups of seeds 001, 002).

    Feature i is active independently with probability ``p_i = min(1, p n w_i)``
    (w from :func:`feature_weights`; ``p_i = p`` for the uniform profile). ``p``
    defaults to ``k / n``. Active values are U(-1, 1) (``values="signed"``) or
    U(0, 1) (``values="positive"``) or 1 (``values="one"``: independent binary
    features, seed 004 Theorem 3).
    """
    p = k / n if p is None else p
    pi = np.minimum(1.0, p * n * feature_weights(n, profile, alpha))
    active = rng.random(n) < pi
    u = rng.random(n)
    vals = 2.0 * u - 1.0 if values == "signed" else (1.0 if values == "one" else u)
    return np.where(active, vals, 0.0)


def nested_draw(name, rng, n, params):
    """``(order, values)`` of nested k-sparse signals: ``x_k[order[:k]] = values[:k]``.

    ``order`` is a random order of all n features (uniform, or successive
    sampling without replacement with the profile's weights), ``values`` the
    nonzero values of the model. ``bernoulli`` has no fixed k and is refused.
    """
    if name not in _VALUES:
        raise ValueError(f"signal={name!r} has no nested supports (no fixed k); allowed: {list(_VALUES)}.")
    order = _support(rng, n, n, params["profile"], params["alpha"])
    return order, _VALUES[name][1](rng, n)


def check_signal(name, n, k, params):
    """Validate a signal name, parameters and (n, k); return merged parameters."""
    entry = SIGNALS.get(name)
    p = entry.check_params(params)
    check_int("n", n, low=1)
    check_int("k", k, low=0, high=n)
    check_choice("profile", p["profile"], PROFILES)
    check_float("alpha", p["alpha"], low=0.0)
    if name == "bernoulli":
        check_choice("values", p["values"], ["signed", "positive", "one"])
        if p["p"] is not None:
            check_float("p", p["p"], low=0.0, high=1.0)
    return p


def signal_info(name, params=None):
    """``(binary, nonneg)`` facts about a signal model, used to pick success criteria."""
    entry = SIGNALS.get(name)
    if name == "bernoulli":
        values = (params or {}).get("values", "signed")
        return values == "one", values in ("positive", "one")
    return entry.binary, entry.nonneg
