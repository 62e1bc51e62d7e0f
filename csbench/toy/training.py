"""Training toy models with PyTorch: many instances in one batched model, cached on disk.

Every instance is a ``(spec, seed)`` pair. Its randomness comes from two numpy
generators seeded from ``SeedSequence`` children of its seed (stream 0:
initialisation, stream 1: data batches); PyTorch's own RNG is never used. An
instance's parameters, Adam state and loss depend on nothing else (the batched
loss is a sum of per-instance losses), so a batch of instances trains to the
same weights as the instances trained one by one, and the same seed gives the
same weights (at one thread, on the same PyTorch build).

Trained weights are cached as ``<cache>/<sha256(spec, seed)[:20]>.safetensors``.
The cache folder is, in order: the ``cache_dir`` argument, the environment
variable ``CSBENCH_TOY_CACHE``, or ``results/toy_cache`` under the current
directory.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np

from .. import seeding
from .data import sample_inputs, targets
from .model import ToyModel, load_model, param_names, param_shapes
from .spec import ToySpec, child_seed, seed_key

#: How to get the ``learn`` extra (a CPU build of PyTorch).
INSTALL_HINT = "pip install torch==2.13.0"


def require_torch():
    """Import torch, or raise ``ImportError`` with the install command."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"training toy models needs PyTorch (the 'learn' extra): {INSTALL_HINT}") from None
    return torch


def cache_dir(path=None):
    """The cache folder: ``path``, else ``$CSBENCH_TOY_CACHE``, else ``results/toy_cache``."""
    return os.fspath(path or os.environ.get("CSBENCH_TOY_CACHE") or os.path.join("results", "toy_cache"))


def instance_key(spec, seed):
    """Cache key of one instance: hex SHA-256 prefix of the canonical (spec, seed)."""
    return seeding.short_hash(seeding.canonical({"spec": spec.as_dict(), "seed": seed_key(seed)}), 20)


def init_params(spec, rng):
    """Initial parameters (float64 numpy), drawn from ``rng``.

    ``init="default"``: PyTorch's ``nn.Linear`` default, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for weights and biases (fan_in n for W / W_in / b1, m for W_out / b2 and the tied b);
    ``"xavier_normal"``: weights N(0, 2 / (n + m)) (as Toy Models of Superposition), biases 0.
    """
    n, m = spec.n, spec.m
    fan_in = {"W": n, "W_in": n, "b1": n, "W_out": m, "b2": m, "b": m}
    out = {}
    for name, shape in param_shapes(spec).items():
        if spec.init == "default":
            bound = 1.0 / np.sqrt(fan_in[name])
            out[name] = rng.uniform(-bound, bound, size=shape)
        elif name.startswith("W"):
            out[name] = rng.standard_normal(shape) * np.sqrt(2.0 / (n + m))
        else:
            out[name] = np.zeros(shape)
    return out


def _shape_key(spec):
    """Fields that must agree for instances to share one batched model (all but p and importance)."""
    d = spec.as_dict()
    d.pop("p")
    d.pop("importance")
    return seeding.canonical(d)


@contextmanager
def _torch_threads(torch, threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _torch_act(torch, name, z):
    if name == "relu":
        return torch.relu(z)
    if name == "gelu":
        return torch.nn.functional.gelu(z)
    return z


def _forward(torch, spec, P, X):
    """Batched forward pass: X (I, B, n) -> (I, B, n)."""
    act = spec.activation
    if spec.family == "tied":
        H = torch.bmm(X, P["W"].transpose(1, 2))
        Z = torch.bmm(H, P["W"])
        if spec.bias:
            Z = Z + P["b"][:, None, :]
        return _torch_act(torch, act, Z)
    H = torch.bmm(X, P["W_in"].transpose(1, 2))
    if spec.bias:
        H = H + P["b1"][:, None, :]
    Z = torch.bmm(_torch_act(torch, act, H), P["W_out"].transpose(1, 2))
    return Z + P["b2"][:, None, :] if spec.bias else Z


def fit(specs, seeds, *, progress=True, threads=1, record_every=0):
    """Train instances ``(specs[i], seeds[i])`` together in one batched model (no cache).

    All specs must agree in every field except ``p`` and ``importance``. Returns
    a list of :class:`ToyModel` (float32 parameters, last-step training loss);
    ``record_every > 0`` also stores every instance's training loss at steps
    0, r, 2r, ... in ``model.history`` (not cached).
    """
    torch = require_torch()
    from tqdm.auto import tqdm

    s0 = specs[0]
    for s in specs:
        if _shape_key(s) != _shape_key(s0):
            raise ValueError("instances trained together must share every spec field except p and importance.")
    check_instances(s0, len(specs), param="specs")
    init_rngs = [np.random.default_rng(child_seed(sd, 0)) for sd in seeds]
    data_rngs = [np.random.default_rng(child_seed(sd, 1)) for sd in seeds]
    inits = [init_params(s, r) for s, r in zip(specs, init_rngs)]
    names = param_names(s0)
    with _torch_threads(torch, threads):
        P = {k: torch.tensor(np.stack([p[k] for p in inits]), dtype=torch.float32, requires_grad=True) for k in names}
        imp = torch.tensor(np.stack([s.importance_vector() for s in specs]), dtype=torch.float32)[:, None, :]
        opt = torch.optim.Adam([P[k] for k in names], lr=s0.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s0.steps) if s0.schedule == "cosine" else None
        q = s0.q
        bar = tqdm(range(s0.steps), disable=not progress, desc=f"train {len(specs)} x toy n={s0.n} m={s0.m}",
                   mininterval=1.0)
        per_instance, hist = None, []
        for step in bar:
            X = torch.from_numpy(np.stack([sample_inputs(s, r, s0.batch) for s, r in zip(specs, data_rngs)]))
            E = _forward(torch, s0, P, X) - torch.from_numpy(targets(s0, X.numpy()))
            per_instance = (imp * (E * E if q == 2 else (E * E) ** 2)).mean(dim=(1, 2))
            opt.zero_grad(set_to_none=True)
            if record_every and step % record_every == 0:
                hist.append(per_instance.detach().numpy().astype(float))
            per_instance.sum().backward()
            opt.step()
            if sched is not None:
                sched.step()
        losses = per_instance.detach().numpy().astype(float)
        out = {k: P[k].detach().numpy().copy() for k in names}
    hist = np.array(hist).reshape(-1, len(specs))
    return [ToyModel(s, {k: out[k][i] for k in names}, seed_key(sd), float(losses[i]), history=hist[:, i])
            for i, (s, sd) in enumerate(zip(specs, seeds))]


def cache_problem(model, spec, seed):
    """Why a cached ``model`` cannot stand for instance ``(spec, seed)`` (a sentence), or None.

    The file must hold the spec and the seed it is cached for (a file copied or renamed onto another
    instance's key is not used), every parameter of that spec at its shape, and finite weights.
    """
    if model.spec.key() != spec.key():
        return "it was trained for another spec"
    if model.seed != seed_key(seed):
        return f"it was trained for seed {model.seed}, not {seed_key(seed)}"
    shapes = param_shapes(spec)
    got = {k: tuple(np.shape(v)) for k, v in model.params.items()}
    if got != shapes:
        return f"its tensors {got} are not those of the spec {shapes}"
    bad = [k for k, v in model.params.items() if not np.all(np.isfinite(v))]
    if bad:
        return f"its weights {bad} are not finite (NaN or inf)"
    return None


def _cached(path, spec, seed):
    """The cached model at ``path`` if it is the instance ``(spec, seed)`` with finite weights; else None
    (it is retrained and the file replaced), with a warning saying why."""
    import warnings

    try:
        model = load_model(path)
    except Exception as exc:  # noqa: BLE001 - a damaged cache file is retrained, never used
        why = f"it cannot be read ({type(exc).__name__}: {' '.join(str(exc).split())})"
    else:
        why = cache_problem(model, spec, seed)
        if why is None:
            return model
    warnings.warn(f"toy cache file {path!r} is not used: {why}; retraining the instance and replacing the file.",
                  RuntimeWarning, stacklevel=3)
    return None


def instance_bytes(spec):
    """Peak bytes one instance adds to a batched training run: ``26 B n + 32 P + 16 B m`` with B the batch
    (n for ``data="identity"``) and P the parameter count (the float64 batches and targets, the float32
    parameters with their gradients and Adam state, the hidden activations). Fitted to the peak RSS growth of
    1000-2000 instances: 519 / 472 / 838 kB per instance (tied n=20 m=5 B=1024; untied n=20 m=10 B=1024;
    untied n=200 m=50 B=64) against 618 / 710 / 1032 kB counted."""
    B = spec.n if spec.data == "identity" else spec.batch
    P = sum(int(np.prod(s)) for s in param_shapes(spec).values())
    return 26 * B * spec.n + 32 * P + 16 * B * spec.m


def check_instances(spec, instances, param="instances"):
    """Refuse, before any seed is drawn or tensor allocated, training ``instances`` instances of ``spec`` in
    one batch whose peak (:func:`instance_bytes` each, plus a SeedSequence each) exceeds THE memory budget
    (:func:`csbench.problems.memory_budget`): one line naming ``instances`` and the amount."""
    from .._validate import check_int, check_memory

    instances = check_int(param, instances, low=1)
    check_memory(param, instances, instances * (instance_bytes(spec) + 512),
                 f"training {instances} toy-model instance(s) of n={spec.n}, m={spec.m} at once",
                 allowed=f"fewer {param} per run")
    return instances


def train(specs, seeds, *, cache=None, use_cache=True, progress=True, threads=1):
    """Trained models for instances ``(spec, seed)``: read from the cache, or trained and cached.

    Parameters
    ----------
    specs : ToySpec or list of ToySpec
        One spec for all seeds, or one per seed (e.g. a sparsity sweep).
    seeds : list of int or SeedSequence
        One seed per instance (see :func:`csbench.toy.spec.instance_seeds`).
    cache : str, optional
        Cache folder (see :func:`cache_dir`).
    use_cache : bool
        False: always train, never read or write the cache.
    progress : bool
        Show a progress bar while training.
    threads : int
        Torch intra-op threads while training (1 for bit-reproducible weights).

    Returns
    -------
    list of ToyModel
        In the order of ``seeds``; ``from_cache`` tells which were read.
    """
    seeds = list(seeds)
    specs = list(specs) if isinstance(specs, (list, tuple)) else [specs] * len(seeds)
    if len(specs) != len(seeds):
        raise ValueError(f"got {len(specs)} specs for {len(seeds)} seeds; allowed: one spec, or one per seed.")
    for s in specs:
        if not isinstance(s, ToySpec):
            raise TypeError(f"specs must be ToySpec objects, got {type(s).__name__}.")
    counts = {}
    for s in specs:  # the largest batch fit() may train at once, costed before anything is read or trained
        counts[_shape_key(s)] = counts.get(_shape_key(s), 0) + 1
    for s in {_shape_key(s): s for s in specs}.values():
        check_instances(s, counts[_shape_key(s)], param="seeds")
    keys = [instance_key(s, sd) for s, sd in zip(specs, seeds)]  # validates the seeds
    folder = cache_dir(cache)
    paths = [os.path.join(folder, k + ".safetensors") for k in keys]
    out = [_cached(p, s, sd) if use_cache and os.path.isfile(p) else None for p, s, sd in zip(paths, specs, seeds)]
    todo = [i for i, mdl in enumerate(out) if mdl is None]
    groups = {}
    for i in todo:
        groups.setdefault(_shape_key(specs[i]), []).append(i)
    for idx in groups.values():
        for i, mdl in zip(idx, fit([specs[i] for i in idx], [seeds[i] for i in idx], progress=progress,
                                   threads=threads)):
            out[i] = mdl
            if use_cache:
                os.makedirs(folder, exist_ok=True)
                tmp = paths[i] + f".tmp{os.getpid()}"
                mdl.save(tmp)
                os.replace(tmp, paths[i])
    return out
