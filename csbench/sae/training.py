"""Training sparse autoencoders with PyTorch: many instances in one batched model, cached on disk.

An instance is ``(spec, data, seed)``: an :class:`~csbench.sae.models.SAESpec`,
the :class:`~csbench.sae.data.ActivationData` it trains on (dictionary W, code
distribution, data seed) and an initialisation seed. Instances that share every
spec field except the L1 coefficient train together in one batched model: the
batched loss is the sum of per-instance losses and Adam is elementwise, so each
instance trains as it would alone. PyTorch's RNG is never used: the
initialisation comes from ``numpy`` seeded by the instance seed, the batches
from the data's fixed block grid (:mod:`csbench.sae.data`).

Recipe (Bricken et al. 2023; Gao et al. 2024 for TopK):

* initialisation: decoder columns uniform on the unit sphere (normalised
  Gaussians), ``W_enc = W_dec^T``, ``b_enc = 0``, ``b_dec = 0``;
* each step: a batch of ``batch`` samples, loss
  ``mean_batch ||h - h_hat||^2 + lambda ||f||_1`` (TopK: without the L1 term),
  the component of the decoder gradient parallel to each decoder column
  removed, an Adam step (constant learning rate), decoder columns renormalised
  to unit norm;
* recorded per step and instance: loss, MSE, L1 term ``mean ||f||_1``, mean L0
  and the fraction of dead latents (no activation on the last ``dead_window``
  samples). No AuxK loss, no resampling of dead latents.

Trained models are cached as ``<cache>/<sha256(identity)[:20]>.safetensors``;
the identity is (spec, data identity, seed) — the data identity is the code
spec, the data seed and the SHA-256 of W, never where W came from or where the
cache lives. The cache folder is the ``cache`` argument, else
``$CSBENCH_SAE_CACHE``, else ``results/sae_cache``.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .. import seeding
from ..toy.spec import child_seed, seed_key
from ..toy.training import _torch_threads, require_torch
from .data import ActivationData, ArrayData
from .models import PARAM_NAMES, SAEModel, SAESpec, load_sae


def cache_dir(path=None):
    """The cache folder: ``path``, else ``$CSBENCH_SAE_CACHE``, else ``results/sae_cache``."""
    return os.fspath(path or os.environ.get("CSBENCH_SAE_CACHE") or os.path.join("results", "sae_cache"))


def identity(spec, data, seed):
    """The identity of one instance (what its cache key is the hash of)."""
    return {"sae": spec.as_dict(), "data": data.key_dict(), "seed": seed_key(seed)}


def instance_key(spec, data, seed):
    """Cache key: hex SHA-256 prefix of the canonical identity."""
    return seeding.short_hash(seeding.canonical(identity(spec, data, seed)), 20)


def init_params(spec, rng):
    """Initial parameters (float64 numpy) from ``rng``: unit-norm random decoder columns, tied encoder, zero biases."""
    W_dec = rng.standard_normal((spec.m, spec.d))
    W_dec /= np.linalg.norm(W_dec, axis=0)
    return {"W_enc": W_dec.T.copy(), "b_enc": np.zeros(spec.d), "W_dec": W_dec, "b_dec": np.zeros(spec.m)}


def _group_key(spec):
    d = spec.as_dict()
    d.pop("l1")
    return seeding.canonical(d)


def forward(torch, P, X, k=None):
    """Batched SAE: X (I, B, m) -> codes F (I, B, d) and reconstructions (I, B, m)."""
    pre = torch.baddbmm(P["b_enc"][:, None, :], X - P["b_dec"][:, None, :], P["W_enc"].transpose(1, 2))
    if k is None:
        F = torch.relu(pre)
    else:
        vals, idx = pre.topk(k, dim=-1)
        F = torch.zeros_like(pre).scatter(-1, idx, torch.relu(vals))
    return F, torch.baddbmm(P["b_dec"][:, None, :], F, P["W_dec"].transpose(1, 2))


def fit(specs, datas, seeds, *, progress=True, threads=1):
    """Train instances ``(specs[i], datas[i], seeds[i])`` together in one batched model (no cache).

    All specs must agree in every field except ``l1``; all datas need input
    dimension ``spec.m``. Returns a list of :class:`SAEModel` (float32
    parameters, per-step history, dead mask).
    """
    torch = require_torch()
    from tqdm.auto import tqdm

    if not (len(specs) == len(datas) == len(seeds) >= 1):
        raise ValueError(f"got {len(specs)} specs, {len(datas)} data sets and {len(seeds)} seeds; allowed: "
                         f"the same number (>= 1) of each.")
    s0 = specs[0]
    for s in specs:
        if _group_key(s) != _group_key(s0):
            raise ValueError("SAE instances trained together must share every spec field except l1.")
    for dt in datas:
        if dt.m != s0.m:
            raise ValueError(f"the data has m={dt.m} dimensions but the SAE spec has m={s0.m}; allowed: equal.")
    I, k = len(specs), (s0.k if s0.kind == "topk" else None)
    inits = [init_params(s, np.random.default_rng(child_seed(sd, 0))) for s, sd in zip(specs, seeds)]
    streams, which = {}, []  # one batch stream per distinct data set
    for dt in datas:
        key = seeding.canonical(dt.key_dict())
        if key not in streams:
            streams[key] = dt.cycle(s0.batch, n_train=s0.n_train, dtype=np.float32)
        which.append(list(streams).index(key))
    streams = list(streams.values())
    window = math.ceil(s0.dead_window / s0.batch)
    hist = {name: np.zeros((s0.steps, I)) for name in ("loss", "mse", "l1", "l0", "dead")}
    with _torch_threads(torch, threads):
        P = {n: torch.tensor(np.stack([p[n] for p in inits]), dtype=torch.float32, requires_grad=True)
             for n in PARAM_NAMES}
        lam = torch.tensor([s.l1 for s in specs], dtype=torch.float32)
        opt = torch.optim.Adam([P[n] for n in PARAM_NAMES], lr=s0.lr)
        last_fire = torch.full((I, s0.d), -1, dtype=torch.int64)
        bar = tqdm(range(s0.steps), disable=not progress, mininterval=1.0,
                   desc=f"train {I} x {s0.kind} SAE m={s0.m} d={s0.d}")
        for step in bar:
            batches = [torch.from_numpy(next(st)[0]) for st in streams]
            X = batches[0][None].expand(I, -1, -1) if len(batches) == 1 else torch.stack([batches[w] for w in which])
            F, Xh = forward(torch, P, X, k)
            mse = ((Xh - X) ** 2).sum(-1).mean(-1)
            l1 = F.sum(-1).mean(-1)  # F >= 0
            loss = mse + lam * l1
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            with torch.no_grad():
                g, Wd = P["W_dec"].grad, P["W_dec"]
                g -= (g * Wd).sum(1, keepdim=True) * Wd
                opt.step()
                Wd /= Wd.norm(dim=1, keepdim=True)
                active = F > 0
                last_fire[active.any(dim=1)] = step
                dead = (last_fire < 0) | (step - last_fire >= window)
                hist["loss"][step], hist["mse"][step] = loss.detach().numpy(), mse.detach().numpy()
                hist["l1"][step] = l1.detach().numpy()
                hist["l0"][step] = active.sum(-1).double().mean(-1).numpy()
                hist["dead"][step] = dead.double().mean(-1).numpy()
            if progress and step % max(1, s0.steps // 50) == 0:
                bar.set_postfix(loss=f"{hist['loss'][step].mean():.4g}", dead=f"{hist['dead'][step].mean():.2f}")
        out = {n: P[n].detach().numpy().copy() for n in PARAM_NAMES}
        dead = dead.numpy().copy()
    return [SAEModel(s, {n: out[n][i] for n in PARAM_NAMES}, identity(s, dt, sd),
                     {name: v[:, i].copy() for name, v in hist.items()}, dead[i])
            for i, (s, dt, sd) in enumerate(zip(specs, datas, seeds))]


def _as_list(name, value, count, cls):
    values = list(value) if isinstance(value, (list, tuple)) else [value] * count
    if len(values) != count:
        raise ValueError(f"got {len(values)} {name} for {count} seeds; allowed: one, or one per seed.")
    cls = cls if isinstance(cls, tuple) else (cls,)
    for v in values:
        if not isinstance(v, cls):
            raise TypeError(f"{name} must be {' or '.join(c.__name__ for c in cls)} objects, got "
                            f"{type(v).__name__}.")
    return values


def train(specs, datas, seeds, *, cache=None, use_cache=True, progress=True, threads=1):
    """Trained SAEs for instances ``(spec, data, seed)``: read from the cache, or trained and cached.

    Parameters
    ----------
    specs : SAESpec or list of SAESpec
        One spec for all seeds, or one per seed (e.g. an L1-coefficient sweep).
    datas : ActivationData or ArrayData, or a list of them
        One data set for all seeds, or one per seed (e.g. one dictionary per seed);
        :class:`~csbench.sae.data.ArrayData` for fixed activations (a real network's).
    seeds : list of int or SeedSequence
        One initialisation seed per instance (e.g. :func:`csbench.toy.spec.instance_seeds`).
    cache : str, optional
        Cache folder (see :func:`cache_dir`).
    use_cache : bool
        False: always train, never read or write the cache.
    progress : bool
        Show a progress bar (with ETA) while training.
    threads : int
        Torch intra-op threads while training (1 for bit-reproducible weights).

    Returns
    -------
    list of SAEModel
        In the order of ``seeds``; ``from_cache`` tells which were read. A cached
        file is verified on load (identity, shapes, finite parameters). Instances
        whose trained parameters are not finite are returned but not cached.
    """
    seeds = list(seeds)
    specs = _as_list("specs", specs, len(seeds), SAESpec)
    datas = _as_list("datas", datas, len(seeds), (ActivationData, ArrayData))
    idents = [identity(s, dt, sd) for s, dt, sd in zip(specs, datas, seeds)]  # validates the seeds
    folder = cache_dir(cache)
    paths = [os.path.join(folder, seeding.short_hash(seeding.canonical(ident), 20) + ".safetensors")
             for ident in idents]
    out = [load_sae(p, identity=ident) if use_cache and os.path.isfile(p) else None for p, ident in zip(paths, idents)]
    groups = {}
    for i, mdl in enumerate(out):
        if mdl is None:
            groups.setdefault(_group_key(specs[i]), []).append(i)
    for idx in groups.values():
        trained = fit([specs[i] for i in idx], [datas[i] for i in idx], [seeds[i] for i in idx],
                      progress=progress, threads=threads)
        for i, mdl in zip(idx, trained):
            out[i] = mdl
            if use_cache and all(np.isfinite(v).all() for v in mdl.params.values()):
                os.makedirs(folder, exist_ok=True)
                tmp = paths[i] + f".tmp{os.getpid()}"
                mdl.save(tmp)
                os.replace(tmp, paths[i])
    return out
