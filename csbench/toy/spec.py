"""Toy-model specifications: what is trained, validated before any training.

A :class:`ToySpec` fixes the architecture, the data distribution, the loss and
the optimiser of one toy model of superposition (Elhage et al. 2022, *Toy
Models of Superposition*; seeds 001 and 002):

* ``family="tied"``: ``x' = act(W^T W x + b)``, W of shape (m, n);
* ``family="untied"``: ``y = W_out act(W_in x + b1) + b2``, W_in (m, n), W_out (n, m);
* ``data="bernoulli"``: feature i active with probability ``p_i``, active values
  U(0, 1) (``values="positive"``), U(-1, 1) (``"signed"``) or 1 (``"binary"``);
  ``data="identity"``: the n one-hot binary inputs, full batch (seed 002;
  ``p``, ``values`` and ``batch`` are then unused);
* ``target``: ``"x"`` or ``"relu"`` (ReLU(x), seed 001);
* loss: ``mean_{batch, i} I_i |x'_i - t_i|^q`` with q = 2 (``"mse"``) or 4 (``"l4"``);
* Adam with learning rate ``lr``, ``steps`` steps of ``batch`` samples,
  cosine annealing to 0 (``schedule="cosine"``) or constant.

``p`` and ``importance`` are a number or a list of n numbers; a number
``importance = r`` means ``I_i = r^i`` (r = 1: all features equally important).
"""
from __future__ import annotations

import numbers
import tomllib
from dataclasses import asdict, dataclass, fields

import numpy as np

from .. import seeding
from .._validate import check_bool, check_choice, check_float, check_int

FAMILIES = ["tied", "untied"]
ACTIVATIONS = ["relu", "gelu", "identity"]
DATASETS = ["bernoulli", "identity"]
VALUES = ["positive", "signed", "binary"]
TARGETS = ["x", "relu"]
LOSSES = {"mse": 2, "l4": 4}
SCHEDULES = ["cosine", "constant"]
INITS = ["default", "xavier_normal"]


@dataclass(frozen=True)
class ToySpec:
    """One toy model's architecture, data, loss and optimiser (see the module docstring)."""

    n: int
    m: int
    family: str = "tied"
    activation: str = "relu"
    bias: bool = True
    data: str = "bernoulli"
    p: float | tuple = 0.05
    values: str = "positive"
    importance: float | tuple = 1.0
    target: str = "x"
    loss: str = "mse"
    lr: float = 1e-3
    steps: int = 10_000
    batch: int = 1024
    schedule: str = "cosine"
    init: str = "default"

    def __post_init__(self):
        for name in ("p", "importance"):  # lists become tuples (hashable, canonical)
            v = getattr(self, name)
            if isinstance(v, (list, tuple, np.ndarray)):
                object.__setattr__(self, name, tuple(float(x) for x in v))
        validate(self)

    def as_dict(self):
        return asdict(self)

    def key(self) -> str:
        """Canonical JSON of every field (the basis of the cache key)."""
        return seeding.canonical(self.as_dict())

    @property
    def q(self):
        """Exponent of the loss (2 for MSE, 4 for L4)."""
        return LOSSES[self.loss]

    def p_vector(self):
        """Per-feature activation probabilities p_i, shape (n,)."""
        if self.data == "identity":
            return np.full(self.n, 1.0 / self.n)
        return np.broadcast_to(np.asarray(self.p, float), (self.n,)).copy()

    def importance_vector(self):
        """Per-feature importances I_i, shape (n,)."""
        if isinstance(self.importance, tuple):
            return np.asarray(self.importance, float)
        return float(self.importance) ** np.arange(self.n, dtype=float)

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        return ToySpec(**{**self.as_dict(), **changes})


def _check_per_feature(name, value, n, low, high, low_open):
    if isinstance(value, tuple):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries but n={n}; allowed: one number or a list of n numbers.")
        for i, v in enumerate(value):
            check_float(f"{name}[{i}]", v, low=low, high=high, low_open=low_open)
    else:
        check_float(name, value, low=low, high=high, low_open=low_open)


def validate(spec):
    """Raise ``ValueError``/``TypeError`` naming the field, the value and the allowed range."""
    n = check_int("n", spec.n, low=1)
    check_choice("family", spec.family, FAMILIES)
    if spec.family == "tied":
        check_int("m", spec.m, low=1, high=n)  # a tied W is an (m, n) code: m <= n
    else:
        check_int("m", spec.m, low=1)
    check_choice("activation", spec.activation, ACTIVATIONS)
    check_bool("bias", spec.bias)
    check_choice("data", spec.data, DATASETS)
    check_choice("values", spec.values, VALUES)
    check_choice("target", spec.target, TARGETS)
    check_choice("loss", spec.loss, list(LOSSES))
    check_choice("schedule", spec.schedule, SCHEDULES)
    check_choice("init", spec.init, INITS)
    _check_per_feature("p", spec.p, n, 0.0, 1.0, True)
    _check_per_feature("importance", spec.importance, n, 0.0, None, False)
    check_float("lr", spec.lr, low=0.0, low_open=True)
    check_int("steps", spec.steps, low=1)
    check_int("batch", spec.batch, low=1)


def spec_from_dict(d, source=None):
    """A :class:`ToySpec` from a dict (e.g. a TOML table); unknown keys raise with "did you mean"."""
    from .._validate import suggest

    allowed = [f.name for f in fields(ToySpec)]
    where = f"{source}: " if source else ""
    for key in d:
        if key not in allowed:
            raise ValueError(f"{where}unknown toy-model key {key!r}; allowed: {allowed}.{suggest(key, allowed)}")
    for key in ("n", "m"):
        if key not in d:
            raise ValueError(f"{where}toy-model spec needs {key!r} (an integer >= 1).")
    try:
        return ToySpec(**d)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{where}{exc}") from None


def load_spec_file(path):
    """Read a training spec from TOML: ``[model]`` (a :class:`ToySpec`) and ``[train]``.

    ``[train]`` keys: ``seed`` (root, default 0), ``instances`` (default 1),
    ``cache_dir`` (default: see :func:`csbench.toy.training.cache_dir`). Returns
    ``(spec, train_options)``.
    """
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    for key in doc:
        check_choice(f"{path}: top-level table", key, ["model", "train"])
    spec = spec_from_dict(doc.get("model", {}), source=path)
    opts = {"seed": 0, "instances": 1, "cache_dir": None, **doc.get("train", {})}
    for key in opts:
        check_choice(f"{path}: [train] key", key, ["seed", "instances", "cache_dir"])
    check_int("seed", opts["seed"], low=0)
    check_int("instances", opts["instances"], low=1)
    return spec, opts


def instance_seeds(root, count, first=0):
    """``SeedSequence(root, spawn_key=(i,))`` for i = first .. first + count - 1."""
    root = check_int("seed", root, low=0)
    return [np.random.SeedSequence(root, spawn_key=(i,)) for i in range(first, first + count)]


def seed_key(seed):
    """Canonical description of a seed (int or ``SeedSequence``) for cache keys."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seed = np.random.SeedSequence(int(seed))
    if not isinstance(seed, np.random.SeedSequence):
        raise TypeError(f"seed must be an int >= 0 or a numpy SeedSequence, got {seed!r}.")
    ent = seed.entropy
    ent = [int(e) for e in ent] if isinstance(ent, (list, tuple, np.ndarray)) else int(ent)
    return {"entropy": ent, "spawn_key": [int(s) for s in seed.spawn_key]}


def child_seed(seed, stream):
    """The SeedSequence of one stream (0 = initialisation, 1 = data) of an instance seed."""
    sk = seed_key(seed)
    return np.random.SeedSequence(sk["entropy"], spawn_key=(*sk["spawn_key"], stream))
