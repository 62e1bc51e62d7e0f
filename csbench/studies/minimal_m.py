"""Minimal number of measurements m*_q, with a confidence interval.

For a *nested* encoder, trial t's matrix at m rows is the first m rows of one
master draw (rescaled), and x is the same at every m; success is then a
function of m for each trial, and each trial has a **critical m**:

* matched filter (binary signals, or signed ones with ``rule="sign"``; no
  noise): computed EXACTLY in one pass over the master rows. With ``s(m) = sum_{i<=m} r_i (r_i . x)`` (cumulative inner
  products of the master rows ``r_i``) every ``x'(m) = A_m^T A_m x`` is known, so
  success is known at *every* m <= m_max. The critical m is the smallest m
  such that the decoder succeeds at every m' in [m, m_max] (``+inf`` when it
  fails at m_max). A trial is *non-monotone* when it also succeeds at some
  m < critical m - 1; that count is exact.
* any other decoder: per-trial search. Start at ``m_start`` (default: the
  l1 weak-transition prediction ``theory.m_weak(n, k)``), gallop up (after
  failures) or down (after successes) with steps ``d0, 2 d0, 4 d0, ...``
  (``d0 = ceil(sqrt(m_start) / 2)``, about the spread of the critical m of
  l1 decoders) until a failing m_lo and a succeeding m_hi bracket the
  transition (bracketing check; failure at m_max -> censored, ``+inf``),
  then bisect (geometrically while m_hi > 2 m_lo, then arithmetically) to
  ``m_hi - m_lo <= resolution`` (default 1). The critical m is m_hi: the decoder fails at m - 1 and
  succeeds at m. If success is not monotone in m this is *a* transition, not
  necessarily the last; ``check_monotone`` probes m + 1 (must succeed) and
  m - 2 (must fail), reusing results the search already has, and counts
  trials contradicting monotonicity (a lower bound on how often it happens).
  A trial's search depends only on its own results. Trials are searched in
  blocks (tasks of :func:`csbench.driver.run_searches`, run on any executor
  and stored like every other task); within a block, trials that need the
  same m are decoded in one batch. When that batch's dense matrices (the
  batch, a decoder's working copy of it, and the trials' master rows) would
  exceed :func:`csbench.problems.memory_budget` (generated encoders), it is
  decoded on matrix-free operators of the same matrices (``decode`` on
  :class:`csbench.operators.Operator`; y equal to rounding).

``m*_q`` (``m_star``) is the smallest m at which at least a fraction q of the
trials succeed: the crossing of the pointwise success curve S(m) = q. Exact
path: read off the measured curve, with inverted Wilson bands; the q-quantile
of the critical m ("every larger m succeeds") is ``m_star_monotone``. Search:
the q-quantile of the critical m (S(m) when trials are monotone), with the
order-statistic interval of :func:`csbench.fits.quantile_ci`.

Decision rule (seed 003): a coordinate is decided 1 when its score is >= 1/2,
exactly on lattice matrices (see :mod:`csbench.decoders.linear`), identically
here and in ``decode``. :func:`study_params` adapts the decoder's defaults to
the signal (or refuses the pair); a study whose trials are mostly censored
says why (``censored_reason``, a ``RuntimeWarning``).
"""
from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .._lazy import lazy_module
from .._validate import check_bool, check_float, check_int, check_memory
from ..analysis import pointwise_quantile
from ..encoders import ENCODERS, nested_mode
from ..fits import logistic_fit, quantile_ci
from ..decoders.base import DECODERS
from ..driver import KINDS, search_rows, search_totals
from ..problems import (Cell, NestedTrial, memory_budget as _memory_budget, problem_bytes, use_operator,
                        vector_budget)
from ..signals import signal_info
from .search import (STEP0, TASK_BYTES, Search, result_counts, check_decoder, check_problem, check_search_args,
                     merge_decoder_params, run_search, study_params)

_kmf = lazy_module("csbench.kernels.mf_curve")  # numba loads on the first exact-path call

#: Rows of the master matrix drawn at once by the exact matched-filter pass ("sqrt" encoders): ~1 MiB.
_CHUNK_BYTES = 1 << 20
#: Trials per task of the search (one block of trials is searched together; results do not depend on it).
_BLOCK_TRIALS = 10


# --------------------------------------------------------------------------- result
@dataclass
class MinimalMResult:
    """Result of :func:`minimal_m`.

    The headline ``m_star`` is ``m*_q`` as defined: the smallest m at which a
    fraction >= q of the trials decode every coordinate, i.e. where the
    *pointwise* success curve ``S(m)`` (success rate at m) first reaches q.

    * Exact matched-filter path: ``curve[m-1] = S(m)`` is known at every m;
      ``m_star = min{m : S(m) >= q}`` with the interval
      ``[min{m : Wilson_high(m) >= q}, min{m : Wilson_low(m) >= q}]``
      (pointwise Wilson bands inverted; ``coverage`` is the nominal ``conf``).
      This is what analytic success probabilities (``theory.mf_minimal_m``)
      predict. ``critical`` holds each trial's *monotone* critical m (the
      smallest m after which every larger m <= ``m_max`` succeeds, ``inf`` =
      failing at ``m_max``), and ``m_star_monotone`` (interval
      ``[monotone_low, monotone_high]``, order statistics) its q-quantile: the
      m after which a fraction q of the trials succeed at *every* larger m.
      It is >= ``m_star``; they differ when success is not monotone in m.
    * Search path: ``critical`` is each trial's transition (fails at m - 1,
      succeeds at m); assuming each trial is monotone, ``S(m)`` is the fraction
      of trials with critical m <= m and ``m_star`` its q-quantile with the
      distribution-free order-statistic interval (exact ``coverage``);
      ``n_nonmonotone`` counts trials that contradict the assumption.
      ``m_star_monotone`` is not measured (nan).

    ``m_logistic`` (with its interval) is the cross-check from a logistic fit
    of success vs ln m. ``censored_reason`` is empty unless most trials (or
    the quantile) are censored at ``m_max``; it then says why (statuses, error
    floor, ``m_max``) and :func:`minimal_m` also warns.
    """

    decoder: str
    params: dict
    encoder: str
    signal: str
    n: int
    k: int
    noise: float
    encoder_params: dict
    signal_params: dict
    trials: int
    seed: int
    q: float
    criterion: str
    conf: float
    m_max: int
    method: str
    m_star: float
    ci_low: float
    ci_high: float
    coverage: float
    critical: np.ndarray
    n_censored: int
    n_nonmonotone: int
    n_checked: int
    n_evaluations: int
    status_counts: dict = field(default_factory=dict)
    m_logistic: float = np.nan
    logistic_low: float = np.nan
    logistic_high: float = np.nan
    m_star_monotone: float = np.nan
    monotone_low: float = np.nan
    monotone_high: float = np.nan
    curve: np.ndarray | None = None
    time: float = 0.0
    errors: list = field(default_factory=list)
    censored_reason: str = ""

    def success_rate(self, m):
        """Pointwise success rate ``S(m)`` (vectorised in m): ``curve`` on the exact path,
        else the fraction of trials whose critical m is <= m."""
        mm = np.asarray(m, float)
        if self.curve is not None:
            idx = np.clip(mm.astype(np.int64), 1, self.curve.size) - 1
            return np.where(mm >= 1, self.curve[idx], 0.0).reshape(np.shape(m))
        return (self.critical[None, :] <= mm.reshape(-1, 1)).mean(axis=1).reshape(np.shape(m))

    def to_dict(self):
        """JSON-ready dict (non-finite numbers become ``None``)."""
        def num(v):
            v = float(v)
            return v if math.isfinite(v) else None

        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        for f in ("m_star", "ci_low", "ci_high", "m_logistic", "logistic_low", "logistic_high", "noise",
                  "m_star_monotone", "monotone_low", "monotone_high"):
            d[f] = num(d[f])
        d.pop("curve")
        d["critical"] = [int(c) if math.isfinite(c) else None for c in self.critical]
        from ..theory import log2_binom

        d["log2_binom"] = float(log2_binom(self.n, self.k))
        d["bits_per_dimension"] = num(d["log2_binom"] / self.m_star)
        d["params"] = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
                       for k, v in self.params.items()}
        return d


def minimal_m_table(results):
    """One row per :class:`MinimalMResult` (a DataFrame with the fields of ``to_dict``)."""
    import pandas as pd

    rows = []
    for r in results:
        d = r.to_dict()
        d["critical"] = list(r.critical)
        for f in ("m_star", "ci_low", "ci_high", "m_logistic", "logistic_low", "logistic_high",
                  "m_star_monotone", "monotone_low", "monotone_high"):
            d[f] = float(getattr(r, f))
        rows.append(d)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- matched filter
def _mf_curve(trial, m_max, params, chunk_bytes=None):
    """Exact success of the matched filter for one trial at every m = 1..m_max (bool array).

    Generated "sqrt" encoders (gaussian, rademacher, dct): the raw master ``Z``
    (``A_m = Z[:m] / sqrt(m)``) is streamed in chunks of B rows
    (``chunk_bytes``, default ``_CHUNK_BYTES``) regenerated by the trial's
    operator (:func:`csbench.problems.draw_operator`), so memory is
    O(n + B n) whatever ``m_max``; ``x'(m) = s(m) / m`` with
    ``s_j(m) = sum_{i<m} Z_ij (Z_i . x)``, decided as ``s >= thr m`` (exact on
    the +-1 rows of rademacher). Other modes use the whole master at once.
    """
    from ..decoders.linear import lattice_matrix

    x = trial.x
    n = x.size
    supp = np.flatnonzero(x).astype(np.int64)
    succ = np.zeros(m_max, np.bool_)
    topk = params["rule"] == "topk"
    signed = params["rule"] == "sign" and not signal_info(trial.cell.signal, trial.cell.signal_params)[0]
    thr = float(params["threshold"])
    if trial.mode == "columns":
        trial.grow(m_max)
        _kmf.mf_curve_columns(trial.master[:m_max], x, supp, topk, signed, thr, succ)
        trial.release()
        return succ
    s, c, pen = np.zeros(n), np.zeros(n), np.zeros(n)
    pen[supp] = -np.inf
    normalize = bool(params["normalize"])
    if trial.mode != "sqrt":  # x' = A^T A x with A the master's first rows, unscaled
        trial.grow(m_max)
        R = trial.master[:m_max]
        lat = lattice_matrix(R)
        t0 = thr
        if lat is not None:  # integer rows S = sqrt(d) R: x' = s / d
            R, t0 = lat[0], thr if normalize else thr * lat[1]
        _kmf.mf_curve_scaled(R, x, supp, 0, t0, False, topk, signed, normalize, s, c, pen, succ)
        trial.release()
        return succ
    B = max(1, min(m_max, (chunk_bytes or _CHUNK_BYTES) // (8 * n)))
    for i0 in range(0, m_max, B):  # raw rows Z (+-1 for rademacher): x'(m) = s(m) / m, decided as s >= thr m
        R = trial.raw_rows(i0, min(m_max, i0 + B))
        _kmf.mf_curve_scaled(R, x, supp, i0, thr, not normalize, topk, signed, normalize, s, c, pen, succ)
    trial.release()
    return succ


def _critical_from_curve(succ):
    """Smallest m (1-based) with success at every m' >= m; ``inf`` if the last fails.

    Returns ``(critical, nonmonotone)``: nonmonotone when some m < critical - 1 succeeds.
    """
    fails = np.flatnonzero(~succ)
    if fails.size == 0:
        return 1.0, False
    last = int(fails[-1])  # 0-based index of the last failure, i.e. m = last + 1
    if last == succ.size - 1:
        return np.inf, bool(succ.any())
    return float(last + 2), bool(succ[:last].any())


def _mf_exact_ok(decoder, params, cell, mode, criterion):
    """Whether the exact one-pass curve applies: binary signals (threshold, top-k or sign rule), or
    signed ones with the sign rule and the exact criterion; no noise; a nested encoder."""
    if decoder != "matched_filter":
        return False
    binary, _ = signal_info(cell.signal, cell.signal_params)
    values_ok = (params["rule"] in ("threshold", "topk", "sign") and binary) or (
        params["rule"] == "sign" and cell.signal == "signed" and criterion == "exact")
    return values_ok and cell.noise == 0 and (mode in ("columns", "none") or (mode == "sqrt" and ENCODERS.get(cell.encoder).generated))


# --------------------------------------------------------------------------- public API
def minimal_m(decoder="matched_filter", encoder="gaussian", signal="binary", n=1024, k=8, trials=100,
              seed=0, q=0.5, criterion="exact", encoder_params=None, signal_params=None, m_max=None, *,
              noise=0.0, m_start=None, resolution=1, conf=0.95, rel_tol=1e-3, check_monotone=True,
              n_jobs=None, executor="threads", scheduler=None, start_method="spawn", out=None,
              progress=False, memory_budget=None, decoder_params=None, **decoder_kwargs) -> MinimalMResult:
    """Estimate the minimal number of measurements ``m*_q`` of a decoder.

    Parameters
    ----------
    decoder : str
        A registered decoder.
    decoder_params : dict, optional
        The decoder's parameters, in their own namespace (any name, including ones such as
        ``seed`` that are also options of this function). Parameters may also be given as
        extra keywords when they collide with none of this function's (e.g. ``lam_ratio=1e-2``).
    encoder : str
        A *nested* encoder (the matrix at m rows is the first m rows of one draw).
    signal, encoder_params, signal_params, n, k, noise
        The problem cell (see :class:`csbench.problems.Cell`); trial t is the
        same problem as trial t of any sweep of that cell.
    trials, seed : int
        Number of trials and root seed.
    q : float
        Quantile: ``m*_q`` is the smallest m at which a fraction >= q of trials succeed.
    criterion : {"exact", "support"}
        Success criterion (:func:`csbench.metrics.score`; ``rel_tol`` is its ``tol``).
    m_max : int, optional
        Largest m searched. Default ``n``; for the matched filter
        ``ceil(1.5 * 8 k ln n)`` (50 % above the Chernoff line of seed 003).
    m_start : int, optional
        First m tried by the search (default ``ceil(theory.m_weak(n, k))``, the
        l1 weak phase transition; only affects speed, never the result of a
        monotone trial).
    resolution : int
        Search only: stop bisecting when ``m_hi - m_lo <= resolution``; each
        critical m is then an upper bound within ``resolution`` of the
        transition (default 1: exact). Speeds up slow decoders (LPs).
    conf : float
        Confidence level of the interval.
    check_monotone : bool
        Probe m* + 1 and m* - 2 of each trial to count non-monotone trials (search only).
    n_jobs : int, optional
        Workers (default: CPU count). Results do not depend on it.
    executor : {"threads", "processes"}
        ``"threads"``: in-process threads, numba single-threaded in each;
        ``"processes"``: a local process pool (``start_method``). ``n_jobs=1``: serial.
    scheduler : str, optional
        A dask.distributed scheduler address (overrides ``executor``).
    start_method : {"spawn", "forkserver"}
    out : path, optional
        Run directory: finished blocks of trials are stored there
        (:mod:`csbench.store`), so the same call resumes after a kill.
    progress : bool
        Progress bar over trials (stderr).
    memory_budget : int or str, optional
        Bytes the dense matrices of one block of trials may take before the block is decoded
        matrix-free (generated encoders; :func:`csbench.problems.use_operator`). Default
        :func:`csbench.problems.memory_budget` (4 GiB, or ``CSBENCH_MEMORY_BUDGET``). Part of the study's
        plan, so it is recorded with the results.

    The trials are searched in blocks (tasks of :func:`csbench.driver.run_searches`);
    a trial's result depends only on its own problem.

    Returns
    -------
    MinimalMResult

    Examples
    --------
    >>> import csbench
    >>> r = csbench.minimal_m("matched_filter", n=256, k=2, trials=20)
    >>> r.ci_low <= r.m_star <= r.ci_high
    True
    """
    t0 = time.perf_counter()
    planned = search_plan(decoder, encoder, signal, n, k, trials, seed, q, criterion, encoder_params,
                          signal_params, m_max, noise=noise, m_start=m_start, resolution=resolution,
                          conf=conf, rel_tol=rel_tol, check_monotone=check_monotone, memory_budget=memory_budget,
                          decoder_params=decoder_params, **decoder_kwargs)
    return run_search(planned, summarize, t0, out=out, n_jobs=n_jobs, executor=executor, scheduler=scheduler,
                      start_method=start_method, progress=progress, name=f"minimal m {decoder}")


def search_plan(decoder="matched_filter", encoder="gaussian", signal="binary", n=1024, k=8, trials=100,
                seed=0, q=0.5, criterion="exact", encoder_params=None, signal_params=None, m_max=None, *,
                noise=0.0, m_start=None, resolution=1, conf=0.95, rel_tol=1e-3, check_monotone=True,
                memory_budget=None, decoder_params=None, **decoder_kwargs):
    """Validate a minimal-m search (arguments of :func:`minimal_m`); return ``(plan, {"q", "conf"})``.

    ``plan`` holds everything that determines the per-trial rows (not ``q``,
    ``conf``): the task kind ``"minimal_m"`` of :func:`csbench.driver.run_searches`.
    """
    entry = ENCODERS.get(encoder)
    given = merge_decoder_params(decoder_params, decoder_kwargs)
    params = check_decoder(decoder, given)
    budget = _memory_budget(memory_budget)
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=n)  # k = 0: x = 0 is decoded at every m, there is no minimal m
    trials, seed, q, conf, rel_tol, resolution = check_search_args(trials, seed, q, conf, criterion, rel_tol,
                                                                   resolution)
    cell = Cell(encoder, signal, n, k, check_float("noise", noise, low=0.0),
                dict(encoder_params or {}), dict(signal_params or {}))
    if not entry.nested:
        nested = [e.name for e in ENCODERS if e.nested]
        raise ValueError(f"encoder={encoder!r} is not nested (its rows depend on m), so trials have no "
                         f"critical m; allowed: {nested}. Use a sweep over m instead.")
    params = study_params(decoder, params, given, signal, cell.signal_params, criterion,
                          encoder=encoder, noise=cell.noise)
    check_problem(decoder, params, n, [k])
    given_m_max = m_max is not None
    if m_max is None:
        from ..theory import chernoff_m

        m_max = max(8, math.ceil(1.5 * float(chernoff_m(n, max(k, 1))))) if DECODERS.get(decoder).linear_readout else n
    m_max = check_int("m_max", m_max, low=1)
    try:
        ep, sp = cell.validate(m_max)
    except ValueError as exc:  # e.g. a stored matrix with fewer rows than the search needs
        default = " (the default m_max is n)" if not given_m_max else ""
        raise ValueError(f"m_max={m_max}{default} does not fit encoder={encoder!r}: {exc} Pass m_max=... within "
                         "the allowed range.") from None
    if m_start is None:
        from ..theory import m_weak

        m_start = math.ceil(float(m_weak(n, k)))
    m_start = min(m_max, max(1, check_int("m_start", m_start, low=1)))
    mode = nested_mode(encoder, ep)  # not None: non-nested encoders were refused above
    method = "exact-mf" if _mf_exact_ok(decoder, params, cell, mode, criterion) else "search"
    probe = check_bool("check_monotone", check_monotone) and resolution == 1 and method == "search"
    plan = {"kind": "minimal_m", "decoder": decoder, "params": params, "cell": cell.as_dict(), "ep": ep,
            "sp": sp, "trials": trials, "seed": seed, "criterion": criterion, "rel_tol": rel_tol,
            "m_max": m_max, "m_start": m_start, "resolution": resolution, "probe": probe,
            "method": method, "mode": mode, "memory_budget": budget}
    if method == "exact-mf":
        plan["block"] = _BLOCK_TRIALS
    else:  # trials decoded together at one m must fit the task memory budget
        plan["block"] = max(1, min(_BLOCK_TRIALS, TASK_BYTES // (8 * n * min(m_max, 2 * m_start))))
    plan["block"] = _block_within_budget(plan, cell, budget)
    return plan, {"q": q, "conf": conf}


def _block_within_budget(plan, cell, budget):
    """The plan's block, lowered so that its trials' state fits ``budget`` at m_max; refuses (one line naming
    m_max) a search of which one trial does not fit.

    Per trial: the noise vector (m_max draws, when there is noise), x and work vectors, and, for encoders
    without addressable raw rows (their master is redrawn whole: unit, antipodal, file), the master at m_max
    rows plus the batch and the decoder's copy at m <= m_max (the exact matched-filter curve holds one
    master at a time); plus the draw's temporaries (:func:`csbench.problems.problem_bytes`). Generated "sqrt"
    encoders stream their master (exact curve) or go matrix-free above the budget (search).
    """
    n, m_max, encoder = cell.n, plan["m_max"], cell.encoder
    noise = 8 * m_max if cell.noise > 0 else 0
    per_trial, shared = noise + 8 * 4 * n, 8 * m_max  # the noise draw's temporary
    parts = ["a noise vector of m_max draws"] if noise else []
    if plan["mode"] == "sqrt" and ENCODERS.get(encoder).generated:
        budget = vector_budget(budget)  # matrix-free above the budget: only vectors are held per trial
    else:
        parts.insert(0, "its master matrix at m_max rows")
        if plan["method"] == "exact-mf":
            shared += problem_bytes(encoder, 1, m_max, n)
        else:
            per_trial += 8 * n * 3 * m_max
            shared += problem_bytes(encoder, 0, m_max, n)
    fit = (budget - shared) // per_trial
    if fit < 1:
        check_memory("m_max", m_max, shared + per_trial,
                     f"one trial of the minimal-m search of encoder {encoder!r} at n={n} up to m_max={m_max}"
                     + (f" ({', '.join(parts)})" if parts else ""),
                     budget, allowed="a smaller m_max or n")
    return int(min(plan["block"], fit))


def search_block(plan, first_trial, trials):
    """Per-trial critical m of trials ``first_trial ..`` of a :func:`search_plan` (one task).

    Returns the rows of :func:`csbench.driver.search_rows`.
    """
    cell = Cell(**plan["cell"])
    ep, sp, m_max, mode, params = plan["ep"], plan["sp"], plan["m_max"], plan["mode"], plan["params"]
    ts = [NestedTrial(cell, ep, sp, plan["seed"], t, mode, m_max) for t in range(first_trial, first_trial + trials)]
    if plan["method"] == "exact-mf":
        curves = [_mf_curve(tr, m_max, params) for tr in ts]
        out = [_critical_from_curve(row) for row in curves]
        return search_rows(first_trial, [c for c, _ in out], [nm for _, nm in out], [True] * trials,
                           [{"ok": m_max}] * trials, curves)
    from threadpoolctl import threadpool_limits

    from ..decoders import decode
    from ..metrics import score

    binary, _ = signal_info(cell.signal, sp)
    statuses = {id(tr): Counter() for tr in ts}
    at_max = {}  # id(trial) -> (status, rel_err, n_wrong) at m_max, for the censoring diagnosis

    def evaluate(group, m):
        # the batch A, one working copy of it in the decoder, and the masters (measured: tests/test_operators.py)
        dense_bytes = 8 * cell.n * sum(2 * m + tr.rows_after(m) for tr in group)
        if use_operator(cell.encoder, dense_bytes, plan["memory_budget"]):  # the same matrices, regenerated
            for tr in group:
                tr.release_master()
            A, Y = zip(*(tr.operator(m) for tr in group))
            A, Y = list(A), np.stack(Y)
        else:
            A = np.empty((len(group), m, cell.n))
            Y = np.stack([tr.problem(m, out=A[g])[1] for g, tr in enumerate(group)])
        res = decode(plan["decoder"], A, Y, k=cell.k, **params)
        sc = score(np.stack([tr.x for tr in group]), res.X_hat, binary=binary, tol=plan["rel_tol"])
        for g, (tr, st) in enumerate(zip(group, res.status_names.tolist())):
            statuses[id(tr)][st] += 1
            if m == m_max:
                at_max[id(tr)] = (st, float(sc["rel_err"][g]), float(sc["n_wrong"][g]))
        return sc[plan["criterion"]]

    step0 = math.ceil(STEP0 * math.sqrt(plan["m_start"]))
    with threadpool_limits(limits=1, user_api="blas"):
        s = Search(ts, evaluate, plan["m_start"], m_max, plan["probe"], plan["resolution"], step0)
        s.run()
    for tr in ts:
        tr.release()
    return search_rows(first_trial, s.crit, s.nonmono, np.isfinite(s.crit) & plan["probe"],
                       [statuses[id(tr)] for tr in ts], at_max=[at_max.get(id(tr)) for tr in ts])


def summarize(plan, rows, elapsed=0.0, q=0.5, conf=0.95) -> MinimalMResult:
    """:class:`MinimalMResult` of a :func:`search_plan` from its stored per-trial rows.

    Exact matched-filter path: the headline ``m_star`` is the pointwise crossing
    ``S(m) = q`` and ``m_star_monotone`` the quantile of the per-trial monotone
    critical m; search path: the order-statistic quantile of the critical m.
    """
    tot = search_totals(rows)
    crit = tot["critical"]
    trials, m_max = plan["trials"], plan["m_max"]
    curve, monotone = None, (np.nan,) * 3
    if plan["method"] == "exact-mf":
        S = tot["curves"][:, :m_max]
        counts = S.sum(axis=0)
        curve = S.mean(axis=0)
        est, low, high = pointwise_quantile(counts, trials, q, conf)
        cov = conf  # nominal: inverted pointwise Wilson bands
        monotone = quantile_ci(crit, q, conf)[:3]
        m_log = _logistic_check(lambda g: counts[g.astype(np.int64) - 1], trials, crit, q, conf, m_max)
    else:
        est, low, high, cov = quantile_ci(crit, q, conf)
        m_log = _logistic_check(lambda g: (crit[None, :] <= g[:, None]).sum(axis=1), trials, crit, q, conf)
    low = max(low, 1.0)
    c = plan["cell"]
    reason = ""
    if 2 * (tot["n_censored"] + tot["n_errors"]) > trials or not math.isfinite(est):
        binary, _ = signal_info(c["signal"], plan["sp"])
        reason = _censoring_reason(tot["n_censored"], trials, m_max, q, binary, plan["criterion"],
                                   plan["rel_tol"], curve, tot["at_max"], tot["n_errors"], tot["errors"])
        warnings.warn(f"minimal_m({plan['decoder']!r}, signal={c['signal']!r}, n={c['n']}, k={c['k']}): {reason}",
                      RuntimeWarning, stacklevel=3)
    return MinimalMResult(
        decoder=plan["decoder"], params=plan["params"], encoder=c["encoder"], signal=c["signal"], n=c["n"],
        k=c["k"], noise=float(c["noise"]), encoder_params=plan["ep"], signal_params=plan["sp"], trials=trials,
        seed=plan["seed"], q=q, criterion=plan["criterion"], conf=conf, m_max=m_max, method=plan["method"],
        m_star=est, ci_low=low, ci_high=high, coverage=cov, critical=crit, **result_counts(tot),
        m_logistic=m_log[0], logistic_low=m_log[1], logistic_high=m_log[2], m_star_monotone=monotone[0],
        monotone_low=monotone[1], monotone_high=monotone[2], curve=curve, time=elapsed, errors=tot["errors"],
        censored_reason=reason)


def _censoring_reason(n_cens, trials, m_max, q, binary, criterion, rel_tol, curve, at_max, n_err=0, errors=()):
    """Why most trials (or the q-quantile) are censored at ``m_max`` or errored: one sentence for the result and a warning."""
    if n_err:
        first = f" (first error: {errors[0]})" if errors else ""
        tail = f"; {n_cens} more still fail at m_max={m_max}" if n_cens else ""
        return (f"{n_err} of {trials} trials raised an error{first}, so m*_{q:g} is not defined{tail}; "
                "fix the error (the per-trial rows keep it in column 'error') and run the same command again.")
    msg = f"{n_cens} of {trials} trials still fail at m_max={m_max}, so m*_{q:g} is not bracketed"
    if curve is not None:
        return msg + (f" (success rate {curve[-1]:.3g} at m_max, {curve.max():.3g} at best); raise m_max.")
    fails = [a for a in at_max if not a[3]]
    if not fails:
        return msg + "; raise m_max."
    bad = Counter(st for st, *_ in fails if st != "ok")
    parts = []
    if bad:
        parts.append("decoder statuses at m_max: " + ", ".join(f"{v} {k}" for k, v in bad.most_common())
                     + " (raise max_iter, or see the decoder's docs)")
    if not binary and criterion == "exact":
        err = float(np.median([e for _, e, _, _ in fails]))
        if err < 100 * rel_tol:
            parts.append(f"median relative error {err:.3g} at m_max is above rel_tol={rel_tol:g} but close to it: "
                         "an error floor of the decoder (e.g. the lasso's shrinkage), not too few measurements; "
                         "debias, lower the regularisation, or raise rel_tol")
        else:
            parts.append(f"median relative error {err:.3g} at m_max (rel_tol={rel_tol:g}); raise m_max")
    else:
        wrong = float(np.median([w for _, _, w, _ in fails]))
        parts.append(f"median {wrong:g} wrong coordinates per failing trial at m_max; raise m_max")
    return msg + ": " + "; ".join(parts) + "."


def _logistic_check(successes, trials, crit, q, conf, m_cap=np.inf):
    """Logistic fit of the success curve on a 25-point geometric grid spanning the finite ``crit``.

    ``successes(grid)`` gives the number of successful trials at each grid m (grid m <= ``m_cap``).
    """
    fin = crit[np.isfinite(crit)]
    if fin.size < 2 or fin.min() == fin.max():
        return np.nan, np.nan, np.nan
    grid = np.unique(np.round(np.geomspace(max(1.0, fin.min() / 1.3), fin.max() * 1.3, 25)))
    grid = grid[grid <= m_cap]
    if grid.size < 2:
        return np.nan, np.nan, np.nan
    succ = successes(grid)
    try:
        return logistic_fit(grid, succ, np.full(grid.size, trials)).m_at(q, conf)
    except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - degenerate data
        return np.nan, np.nan, np.nan


KINDS.register("minimal_m", "per-trial critical m on nested designs; m*_q with its interval",
               plan=search_plan, summarize=summarize, result_label="m_star")(search_block)
