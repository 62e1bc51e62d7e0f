"""Maximal number of active features k*_q at a fixed m, with a confidence interval.

The mirror image of :mod:`csbench.studies.minimal_m` for fixed dictionaries (a real,
learned or given matrix has a fixed m): the question is capacity. Trial t has
one matrix ``A`` (m x n, any encoder, drawn once from the trial's matrix
stream) and *nested supports*: one random order of the n features and their
values (:func:`csbench.problems.draw_nested_support`), and its k-sparse signal
is ``x_k[order[:k]] = values[:k]``. Supports and successes are therefore
coupled across k, as nested designs couple m, and each trial has a
**critical k**: the largest k at which the decoder succeeds, found by the
same galloping + bisection search as the critical m (:class:`csbench.studies.search.Search`,
run on the first *failing* k: ``critical k = first failing k - 1``; 0 when k = 1
fails, ``+inf`` (censored) when it still succeeds at ``k_max``). With
``check_monotone`` each trial is probed at k* - 1 (must succeed) and k* + 2
(must fail); ``n_nonmonotone`` counts contradictions.

``k*_q`` is the largest k at which at least a fraction q of the trials succeed,
``max{k : #{t : critical_t >= k} >= q T}``; with ``v = -critical`` this is
``-(q-quantile of v)``, so the estimate and its distribution-free
order-statistic interval come from :func:`csbench.fits.quantile_ci` applied to
``-critical`` (Hahn & Meeker 1991, Sec. 5.2).
"""
from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_bool, check_float, check_int, check_memory
from ..encoders import ENCODERS, check_encoder
from ..fits import quantile_ci
from ..driver import KINDS, search_rows, search_totals
from ..problems import Cell, SupportTrial, draw_nested_support, memory_budget as _memory_budget, problem_bytes
from ..signals import signal_info
from .search import (STEP0, TASK_BYTES, Search, result_counts, check_decoder, check_problem, check_search_args,
                     merge_decoder_params, run_search, study_params)

#: Trials per task (results do not depend on it).
_BLOCK_TRIALS = 10


@dataclass
class MaximalKResult:
    """Result of :func:`maximal_k`.

    ``critical`` holds the per-trial critical k (``inf`` = still succeeding at
    ``k_max``, censored; 0 = failing at k = 1). ``k_star`` is the largest k
    at which a fraction >= q of the trials succeed, ``[ci_low, ci_high]`` its
    order-statistic interval with exact coverage ``coverage``.
    """

    decoder: str
    params: dict
    encoder: str
    signal: str
    n: int
    m: int
    noise: float
    encoder_params: dict
    signal_params: dict
    trials: int
    seed: int
    q: float
    criterion: str
    conf: float
    k_max: int
    k_star: float
    ci_low: float
    ci_high: float
    coverage: float
    critical: np.ndarray
    n_censored: int
    n_nonmonotone: int
    n_checked: int
    n_evaluations: int
    status_counts: dict = field(default_factory=dict)
    time: float = 0.0
    errors: list = field(default_factory=list)

    def success_rate(self, k):
        """Fraction of trials whose critical k is >= k (vectorised in k)."""
        return (self.critical[None, :] >= np.asarray(k, float).reshape(-1, 1)).mean(axis=1).reshape(np.shape(k))

    def to_dict(self):
        """JSON-ready dict (non-finite numbers become ``None``)."""
        def num(v):
            v = float(v)
            return v if math.isfinite(v) else None

        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        for f in ("k_star", "ci_low", "ci_high", "noise"):
            d[f] = num(d[f])
        d["critical"] = [int(c) if math.isfinite(c) else None for c in self.critical]
        d["params"] = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
                       for k, v in self.params.items()}
        return d


def maximal_k(decoder="matched_filter", encoder="gaussian", signal="binary", n=1024, m=None, trials=100,
              seed=0, q=0.5, criterion="exact", encoder_params=None, signal_params=None, k_max=None, *,
              noise=0.0, k_start=None, resolution=1, conf=0.95, rel_tol=1e-3, check_monotone=True,
              n_jobs=None, executor="threads", scheduler=None, start_method="spawn", out=None,
              progress=False, memory_budget=None, decoder_params=None, **decoder_kwargs) -> MaximalKResult:
    """Estimate the maximal number of active features ``k*_q`` a decoder recovers at ``m`` measurements.

    Parameters
    ----------
    decoder : str
        A registered decoder.
    decoder_params : dict, optional
        The decoder's parameters, in their own namespace (any name, including ones such as
        ``seed`` that are also options of this function). Parameters may also be given as
        extra keywords when they collide with none of this function's (e.g. ``lam_ratio=1e-2``).
    encoder, encoder_params : str, dict
        Any encoder, including fixed dictionaries (``file``); drawn once per trial at m rows.
    signal, signal_params : str, dict
        A signal model with a fixed number of nonzeros (not ``bernoulli``).
    n, m : int
        Features and measurements (``m`` is required).
    trials, seed : int
        Number of trials and root seed.
    q : float
        Level: ``k*_q`` is the largest k at which a fraction >= q of trials succeed.
    criterion : {"exact", "support"}
        Success criterion (:func:`csbench.metrics.score`; ``rel_tol`` is its ``tol``).
    k_max : int, optional
        Largest k searched (default ``min(n, m)``).
    k_start : int, optional
        First k tried (default ``m / (2 ln n)``, about the l1 transition at small m/n; speed only).
    resolution : int
        Stop bisecting when the bracket is at most this wide (default 1: exact).
    conf : float
        Confidence level of the interval.
    check_monotone : bool
        Probe k* - 1 and k* + 2 of each trial (``resolution = 1`` only).
    n_jobs, executor, scheduler, start_method, out, progress
        How the trials run, exactly as in :func:`csbench.studies.minimal_m.minimal_m`;
        results do not depend on them.

    Returns
    -------
    MaximalKResult

    Examples
    --------
    >>> import csbench
    >>> r = csbench.maximal_k("matched_filter", n=256, m=100, trials=20, n_jobs=1)
    >>> r.ci_low <= r.k_star <= r.ci_high
    True
    """
    t0 = time.perf_counter()
    planned = search_plan(decoder, encoder, signal, n, m, trials, seed, q, criterion, encoder_params,
                          signal_params, k_max, noise=noise, k_start=k_start, resolution=resolution,
                          conf=conf, rel_tol=rel_tol, check_monotone=check_monotone, memory_budget=memory_budget,
                          decoder_params=decoder_params, **decoder_kwargs)
    return run_search(planned, summarize, t0, out=out, n_jobs=n_jobs, executor=executor, scheduler=scheduler,
                      start_method=start_method, progress=progress, name=f"maximal k {decoder}")


def search_plan(decoder="matched_filter", encoder="gaussian", signal="binary", n=1024, m=None, trials=100,
                seed=0, q=0.5, criterion="exact", encoder_params=None, signal_params=None, k_max=None, *,
                noise=0.0, k_start=None, resolution=1, conf=0.95, rel_tol=1e-3, check_monotone=True,
                memory_budget=None, decoder_params=None, **decoder_kwargs):
    """Validate a maximal-k search (arguments of :func:`maximal_k`); return ``(plan, {"q", "conf"})``."""
    given = merge_decoder_params(decoder_params, decoder_kwargs)
    params = check_decoder(decoder, given)
    budget = _memory_budget(memory_budget)
    n = check_int("n", n, low=1)
    if m is None:
        raise ValueError("m is required: maximal_k measures the largest k at a fixed m; allowed: 1 <= m.")
    m = check_int("m", m, low=1)
    trials, seed, q, conf, rel_tol, resolution = check_search_args(trials, seed, q, conf, criterion, rel_tol,
                                                                   resolution)
    # k = 0 in the cell: trial t's streams do not depend on k (the support is nested)
    cell = Cell(encoder, signal, n, 0, check_float("noise", noise, low=0.0),
                dict(encoder_params or {}), dict(signal_params or {}))
    ENCODERS.get(encoder)
    ep, sp = cell.validate(m)
    ep = check_encoder(encoder, m, n, ep)
    params = study_params(decoder, params, given, signal, sp, criterion, encoder=encoder, noise=cell.noise)
    k_max = check_int("k_max", min(n, m) if k_max is None else k_max, low=1, high=n)
    check_problem(decoder, params, n, sorted({1, k_max}))
    if k_start is None:
        k_start = round(m / (2 * math.log(max(n, 2))))
    k_start = min(k_max, max(1, check_int("k_start", k_start, low=1)))
    plan = {"kind": "maximal_k", "decoder": decoder, "params": params, "cell": cell.as_dict(), "ep": ep,
            "sp": sp, "m": m, "trials": trials, "seed": seed, "criterion": criterion, "rel_tol": rel_tol,
            "k_max": k_max, "k_start": k_start, "resolution": resolution,
            "probe": check_bool("check_monotone", check_monotone) and resolution == 1,
            "memory_budget": budget, "block": max(1, min(_BLOCK_TRIALS, TASK_BYTES // (16 * m * n)))}
    # each trial holds its (m, n) matrix, stacked into the batch and copied by the decoder: 3 of them per trial,
    # plus the draw's temporaries (csbench.problems.problem_bytes) and vectors
    per_trial, shared = 8 * (3 * m * n + 4 * (m + n)), problem_bytes(encoder, 0, m, n)
    fit = (budget - shared) // per_trial
    if fit < 1:
        check_memory("m", m, shared + per_trial, f"one trial of the maximal-k search of encoder {encoder!r} at "
                     f"m={m}, n={n} (its matrix, the batch and the decoder's copy)", budget,
                     allowed="a smaller m or n")
    plan["block"] = int(min(plan["block"], fit))
    draw_nested_support(cell, sp, seed, 0)  # refuses signals without a fixed k, before any work
    return plan, {"q": q, "conf": conf}


def search_block(plan, first_trial, trials):
    """Per-trial critical k of trials ``first_trial ..`` of a :func:`search_plan` (one task)."""
    from threadpoolctl import threadpool_limits

    from ..decoders import decode
    from ..metrics import score

    cell = Cell(**plan["cell"])
    binary, _ = signal_info(cell.signal, plan["sp"])
    ts = [SupportTrial(plan, cell, t) for t in range(first_trial, first_trial + trials)]
    statuses = {id(tr): Counter() for tr in ts}

    def fails(group, k):
        A = np.stack([tr.A for tr in group])
        X = np.stack([tr.signal(k) for tr in group])
        Y = np.einsum("tmn,tn->tm", A, X)
        if cell.noise > 0:
            Y += np.stack([tr.z for tr in group])
        res = decode(plan["decoder"], A, Y, k=k, source=[tr.source for tr in group], **plan["params"])
        for tr, st in zip(group, res.status_names.tolist()):
            statuses[id(tr)][st] += 1
        return ~score(X, res.X_hat, binary=binary, tol=plan["rel_tol"])[plan["criterion"]]

    step0 = math.ceil(STEP0 * math.sqrt(plan["k_start"]))
    with threadpool_limits(limits=1, user_api="blas"):
        # the search finds each trial's first failing k (the "success" of the minimal-m search)
        s = Search(ts, fails, plan["k_start"], plan["k_max"], plan["probe"], plan["resolution"], step0)
        first_fail = s.run()
    return search_rows(first_trial, first_fail - 1, s.nonmono, np.isfinite(first_fail) & plan["probe"],
                       [statuses[id(tr)] for tr in ts])


def summarize(plan, rows, elapsed=0.0, q=0.5, conf=0.95) -> MaximalKResult:
    """:class:`MaximalKResult` of a :func:`search_plan` from its stored per-trial rows.

    Error trials count as failing at every k (critical k = 0).
    """
    tot = search_totals(rows)
    crit = np.where(rows["critical"].isna().to_numpy(), 0.0, tot["critical"])
    est, low, high, cov = quantile_ci(-crit, q, conf)
    c = plan["cell"]
    return MaximalKResult(
        decoder=plan["decoder"], params=plan["params"], encoder=c["encoder"], signal=c["signal"], n=c["n"],
        m=plan["m"], noise=float(c["noise"]), encoder_params=plan["ep"], signal_params=plan["sp"],
        trials=plan["trials"], seed=plan["seed"], q=q, criterion=plan["criterion"], conf=conf, k_max=plan["k_max"],
        k_star=-est, ci_low=-high, ci_high=-low, coverage=cov, critical=crit, **result_counts(tot), time=elapsed,
        errors=tot["errors"])


KINDS.register("maximal_k", "per-trial critical k on nested supports at a fixed m; k*_q with its interval",
               plan=search_plan, summarize=summarize, result_label="k_star")(search_block)
