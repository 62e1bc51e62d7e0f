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
  blocks (tasks of :func:`csbench.harness.run_searches`, run on any executor
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

from ._lazy import lazy_module
from ._validate import check_choice, check_float, check_int
from .encoders import ENCODERS, check_encoder, nested_mode, rows_of_master
from .fits import logistic_fit, quantile_ci
from .problems import Cell, draw_matrix, draw_noise, draw_operator, draw_signal, generated, memory_budget
from .signals import signal_info

_kmf = lazy_module("csbench.kernels.mf_curve")  # numba loads on the first exact-path call

#: First galloping step of the search: ``ceil(_STEP0 * sqrt(m_start))``; steps then double.
_STEP0 = 0.5
#: Rows of the master matrix drawn at once by the exact matched-filter pass ("sqrt" encoders): ~1 MiB.
_CHUNK_BYTES = 1 << 20
#: Trials per task of the search (one block of trials is searched together; results do not depend on it).
_BLOCK_TRIALS = 10
#: Memory budget of the matrices of one task decoded at once (bytes).
_TASK_BYTES = 1 << 28


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
        from .theory import log2_binom

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


# --------------------------------------------------------------------------- problems
class _Trial:
    """One trial of a cell: its signal, noise and master matrix, all drawn by :mod:`csbench.problems`.

    Generated "sqrt" encoders (gaussian, rademacher, dct) hold the trial's
    operator (:func:`problems.draw_operator`, O(n) state) whose raw master
    rows ``Z`` (``A_m = Z[:m] / sqrt(m)``) are addressable: the master grows by
    regenerating only the new rows. Other modes redraw the master
    (:func:`problems.draw_matrix`) when it grows.
    """

    def __init__(self, cell, ep, sp, seed, t, mode, m_max):
        self.cell, self.ep, self.seed, self.t, self.mode, self.m_max = cell, ep, seed, t, mode, m_max
        self.key = cell.key()
        self.x = draw_signal(cell, sp, seed, t, self.key)
        self.master = None
        self.rows = 0      # rows of the master in use
        self.op = None     # generated encoders: the operator whose raw rows form the master
        self.z = None

    def raw_rows(self, i0, i1):
        """Rows ``i0 .. i1-1`` of the raw master ``Z`` of a generated "sqrt" encoder."""
        if self.op is None:
            self.op = draw_operator(self.cell, self.ep, self.seed, self.t, self.m_max, self.key)
        return self.op.raw_rows(i0, i1)

    def rows_after(self, m):
        """Rows the master holds after :meth:`grow` (m): it grows by half its size at least, up to m_max."""
        if self.rows >= m:
            return self.rows
        return m if self.rows == 0 else min(self.m_max, max(m, int(1.5 * self.rows)))

    def grow(self, m):
        """Make sure the master holds at least m rows."""
        if self.rows >= m:
            return
        M = self.rows_after(m)
        if self.mode == "sqrt" and generated(self.cell.encoder):
            new = self.raw_rows(self.rows, M)
            self.master = new if self.rows == 0 else np.concatenate([self.master[:self.rows], new])
        else:
            self.master = draw_matrix(self.cell, self.ep, self.seed, self.t, M, self.key)
        self.rows = M

    def problem(self, m, out=None):
        """``(A_m, y_m)`` equal (to rounding) to ``make_problem(cell, m, ...)`` for this trial.

        ``A_m`` is written into ``out`` (an (m, n) array) if given.
        """
        if self.mode == "call":
            A = draw_matrix(self.cell, self.ep, self.seed, self.t, m, self.key)
        elif self.mode == "sqrt" and generated(self.cell.encoder):
            self.grow(m)
            A = np.divide(self.master[:m], math.sqrt(m), out=out)
        else:
            self.grow(m)
            A = rows_of_master(self.master[:self.rows], m, self.mode)
        if out is not None and A is not out:
            out[...] = A
            A = out
        y = A @ self.x
        if self.cell.noise > 0:
            if self.z is None:  # nested: the first m draws of the stream, for every m
                self.z = draw_noise(self.cell, self.seed, self.t, self.m_max, self.key)
            y = y + self.z[:m]
        return A, y

    def operator(self, m):
        """``(A_m, y_m)`` with ``A_m`` matrix-free (:func:`problems.draw_operator`): the same matrix as
        :meth:`problem`, for problems whose dense matrices exceed the memory budget; y to rounding."""
        op = draw_operator(self.cell, self.ep, self.seed, self.t, m, self.key)
        y = op.matvec(self.x)
        if self.cell.noise > 0:
            if self.z is None:
                self.z = draw_noise(self.cell, self.seed, self.t, self.m_max, self.key)
            y = y + self.z[:m]
        return op, y

    def release_master(self):
        """Drop the dense master (the matrix-free path regenerates rows instead)."""
        self.master = None
        self.rows = 0

    def release(self):
        self.master = None
        self.op = None
        self.rows = 0
        self.z = None


def _nested_mode(encoder, ep):
    return nested_mode(encoder, ep) or "call"


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
    from .decoders.linear import lattice_matrix

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
    return values_ok and cell.noise == 0 and (mode in ("columns", "none") or (mode == "sqrt" and generated(cell.encoder)))


# --------------------------------------------------------------------------- search
class _Search:
    """Per-trial galloping + bisection over m, with trials needing the same m batched.

    ``step0`` is the first galloping step; the step doubles with each further
    galloping evaluation (it is the distance from ``m_start`` to the last m
    tried, so the next m depends only on the trial's own bracket).
    """

    def __init__(self, trials, evaluate, m_start, m_max, check_monotone, resolution=1, step0=1):
        self.trials = trials
        self.resolution = resolution
        self.evaluate = evaluate
        self.m_start = m_start
        self.m_max = m_max
        self.step0 = max(1, int(step0))
        T = len(trials)
        self.lo = np.zeros(T, np.int64)        # largest m known to fail (0: none yet)
        self.hi = np.zeros(T, np.int64)        # smallest m known to succeed (0: none yet)
        self.next = np.full(T, m_start, np.int64)
        self.crit = np.full(T, np.nan)
        self.check = check_monotone
        self.nonmono = np.zeros(T, bool)
        self.known = [{} for _ in range(T)]    # m -> success, per trial

    def _propose(self, i):
        lo, hi = int(self.lo[i]), int(self.hi[i])
        if hi == 0:  # only failures so far: gallop up
            if lo >= self.m_max:
                return None, np.inf
            return min(self.m_max, lo + max(self.step0, lo - self.m_start)), None
        if lo == 0:  # only successes so far: gallop down
            if hi == 1:
                return None, 1.0
            return max(1, hi - max(self.step0, self.m_start - hi)), None
        if hi - lo <= self.resolution:
            return None, float(hi)
        mid = round(math.sqrt(lo * hi)) if hi > 2 * lo else (lo + hi) // 2
        return min(hi - 1, max(lo + 1, mid)), None

    def _evaluate(self, items):
        """Evaluate (trial index, m) pairs, grouped by m; record and return their success."""
        groups = {}
        for i, m in items:
            groups.setdefault(m, []).append(i)
        for m, idx in sorted(groups.items()):
            ok = self.evaluate([self.trials[i] for i in idx], m)
            for i, s in zip(idx, ok):
                self.known[i][m] = bool(s)

    def run(self):
        active = list(range(len(self.trials)))
        while active:
            self._evaluate([(i, int(self.next[i])) for i in active])
            still = []
            for i in active:
                m = int(self.next[i])
                if self.known[i][m]:
                    self.hi[i] = m
                else:
                    self.lo[i] = m
                m, done = self._propose(i)
                if m is None:
                    self.crit[i] = done
                else:
                    self.next[i] = m
                    still.append(i)
            active = still
        if self.check:
            self._probe()
        return self.crit

    def _probe(self):
        probes = []
        for i, c in enumerate(self.crit):
            if not np.isfinite(c):
                continue
            c = int(c)
            if c + 1 <= self.m_max:
                probes.append((i, c + 1, True))
            if c - 2 >= 1:
                probes.append((i, c - 2, False))
        self._evaluate([(i, m) for i, m, _ in probes if m not in self.known[i]])
        for i, m, expect in probes:
            if self.known[i][m] != expect:
                self.nonmono[i] = True


# --------------------------------------------------------------------------- public API
def minimal_m(decoder="matched_filter", encoder="gaussian", signal="binary", n=1024, k=8, trials=100,
              seed=0, q=0.5, criterion="exact", encoder_params=None, signal_params=None, m_max=None, *,
              noise=0.0, m_start=None, resolution=1, conf=0.95, rel_tol=1e-3, check_monotone=True,
              n_jobs=None, executor="threads", scheduler=None, start_method="spawn", out=None,
              progress=False, **decoder_params) -> MinimalMResult:
    """Estimate the minimal number of measurements ``m*_q`` of a decoder.

    Parameters
    ----------
    decoder : str
        A registered decoder; ``**decoder_params`` are its parameters.
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

    The trials are searched in blocks (tasks of :func:`csbench.harness.run_searches`);
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
                          conf=conf, rel_tol=rel_tol, check_monotone=check_monotone, **decoder_params)
    return run_search(planned, summarize, t0, out=out, n_jobs=n_jobs, executor=executor, scheduler=scheduler,
                      start_method=start_method, progress=progress, name=f"minimal m {decoder}")


def check_search_args(trials, seed, q, conf, criterion, rel_tol, resolution):
    """Validated ``(trials, seed, q, conf, rel_tol, resolution)`` shared by the minimal-m and maximal-k searches."""
    trials = check_int("trials", trials, low=1)
    seed = check_int("seed", seed, low=0)
    q = check_float("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    conf = check_float("conf", conf, low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice("criterion", criterion, ["exact", "support"])
    rel_tol = check_float("rel_tol", rel_tol, low=0.0)
    resolution = check_int("resolution", resolution, low=1)
    return trials, seed, q, conf, rel_tol, resolution


def run_search(planned, summarize, t0, *, out, n_jobs, executor, scheduler, start_method, progress, name):
    """Run one ``(plan, opts)`` of a search kind through the driver and summarise its stored rows."""
    from .harness import run_searches

    plan, opts = planned
    rows = run_searches([plan], out, jobs=n_jobs, executor=executor, address=scheduler,
                        start_method=start_method, progress=progress, name=name)[0]
    return summarize(plan, rows, time.perf_counter() - t0, **opts)


def search_plan(decoder="matched_filter", encoder="gaussian", signal="binary", n=1024, k=8, trials=100,
                seed=0, q=0.5, criterion="exact", encoder_params=None, signal_params=None, m_max=None, *,
                noise=0.0, m_start=None, resolution=1, conf=0.95, rel_tol=1e-3, check_monotone=True,
                **decoder_params):
    """Validate a minimal-m search (arguments of :func:`minimal_m`); return ``(plan, {"q", "conf"})``.

    ``plan`` holds everything that determines the per-trial rows (not ``q``,
    ``conf``): the task kind ``"minimal_m"`` of :func:`csbench.harness.run_searches`.
    """
    entry = ENCODERS.get(encoder)
    params = _check_decoder(decoder, decoder_params)
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=n)  # k = 0: x = 0 is decoded at every m, there is no minimal m
    trials, seed, q, conf, rel_tol, resolution = check_search_args(trials, seed, q, conf, criterion, rel_tol,
                                                                   resolution)
    cell = Cell(encoder, signal, n, k, check_float("noise", noise, low=0.0),
                dict(encoder_params or {}), dict(signal_params or {}))
    if not entry.info.get("nested"):
        nested = [e.name for e in ENCODERS if e.info.get("nested")]
        raise ValueError(f"encoder={encoder!r} is not nested (its rows depend on m), so trials have no "
                         f"critical m; allowed: {nested}. Use a sweep over m instead.")
    params = study_params(decoder, params, decoder_params, signal, cell.signal_params, criterion,
                          encoder=encoder, noise=cell.noise)
    _check_problem(decoder, params, n, [k])
    if m_max is None:
        from .theory import chernoff_m

        m_max = max(8, math.ceil(1.5 * float(chernoff_m(n, max(k, 1))))) if decoder in LINEAR_READOUTS else n
    m_max = check_int("m_max", m_max, low=1)
    ep, sp = cell.validate(m_max)
    ep = check_encoder(encoder, m_max, n, ep)
    if m_start is None:
        from .theory import m_weak

        m_start = math.ceil(float(m_weak(n, k)))
    m_start = min(m_max, max(1, check_int("m_start", m_start, low=1)))
    mode = _nested_mode(encoder, ep)
    method = "exact-mf" if _mf_exact_ok(decoder, params, cell, mode, criterion) else "search"
    probe = bool(check_monotone) and resolution == 1 and method == "search"
    plan = {"kind": "minimal_m", "decoder": decoder, "params": params, "cell": cell.as_dict(), "ep": ep,
            "sp": sp, "trials": trials, "seed": seed, "criterion": criterion, "rel_tol": rel_tol,
            "m_max": m_max, "m_start": m_start, "resolution": resolution, "probe": probe,
            "method": method, "mode": mode}
    if method == "exact-mf":
        plan["block"] = _BLOCK_TRIALS
    else:  # trials decoded together at one m must fit the task memory budget
        plan["block"] = max(1, min(_BLOCK_TRIALS, _TASK_BYTES // (8 * n * min(m_max, 2 * m_start))))
    return plan, {"q": q, "conf": conf}


def search_block(plan, first_trial, trials):
    """Per-trial critical m of trials ``first_trial ..`` of a :func:`search_plan` (one task).

    Returns the rows of :func:`csbench.harness.search_rows`.
    """
    from .harness import search_rows

    cell = Cell(**plan["cell"])
    ep, sp, m_max, mode, params = plan["ep"], plan["sp"], plan["m_max"], plan["mode"], plan["params"]
    ts = [_Trial(cell, ep, sp, plan["seed"], t, mode, m_max) for t in range(first_trial, first_trial + trials)]
    if plan["method"] == "exact-mf":
        curves = [_mf_curve(tr, m_max, params) for tr in ts]
        out = [_critical_from_curve(row) for row in curves]
        return search_rows(first_trial, [c for c, _ in out], [nm for _, nm in out], [True] * trials,
                           [{"ok": m_max}] * trials, curves)
    from threadpoolctl import threadpool_limits

    from .decoders import decode
    from .metrics import score

    binary, _ = signal_info(cell.signal, sp)
    statuses = {id(tr): Counter() for tr in ts}
    at_max = {}  # id(trial) -> (status, rel_err, n_wrong) at m_max, for the censoring diagnosis

    budget = memory_budget() if generated(cell.encoder) else math.inf

    def evaluate(group, m):
        # the batch A, one working copy of it in the decoder, and the masters (measured: tests/test_operators.py)
        dense_bytes = 8 * cell.n * sum(2 * m + tr.rows_after(m) for tr in group)
        if dense_bytes > budget:  # matrix-free: the same matrices, regenerated on demand
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

    step0 = math.ceil(_STEP0 * math.sqrt(plan["m_start"]))
    with threadpool_limits(limits=1, user_api="blas"):
        s = _Search(ts, evaluate, plan["m_start"], m_max, plan["probe"], plan["resolution"], step0)
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
    from .harness import search_totals

    tot = search_totals(rows)
    crit = tot["critical"]
    trials, m_max = plan["trials"], plan["m_max"]
    curve, monotone = None, (np.nan,) * 3
    if plan["method"] == "exact-mf":
        S = tot["curves"][:, :m_max]
        counts = S.sum(axis=0)
        curve = S.mean(axis=0)
        est, low, high = _pointwise_quantile(counts, trials, q, conf)
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
        plan["decoder"], plan["params"], c["encoder"], c["signal"], c["n"], c["k"], float(c["noise"]),
        plan["ep"], plan["sp"], trials, plan["seed"], q, plan["criterion"], conf, m_max,
        plan["method"], est, low, high, cov, crit, tot["n_censored"], tot["n_nonmonotone"],
        tot["n_checked"], tot["n_evaluations"], tot["status_counts"], *m_log, *monotone, curve, elapsed,
        tot["errors"], reason)


#: Linear read-outs: one layer's decision on ``A^T y``; their default ``m_max`` is 1.5 x the Chernoff line.
LINEAR_READOUTS = ("matched_filter", "relu_readout")
#: Default OMP residual tolerance ``||r||^2 <= OMP_TOL`` for signals without a fixed k (bernoulli).
OMP_TOL = 1e-20


def study_params(decoder, params, given, signal, signal_params=None, criterion="exact", *, encoder=None,
                 noise=0.0):
    """Decoder parameters for a meaningful minimal-m study of ``signal``, or a ValueError naming a working choice.

    ``params`` are the decoder's merged parameters, ``given`` the names the
    user set (never overridden). Defaults adapted to the signal:

    * decoders registered with ``signals=(...)`` (the linear read-outs) accept
      only those signals: their outputs take values in {0, 1} (or {-1, 0, 1}),
      so continuous values can never meet the criterion; other signals raise;
    * ``matched_filter`` on ``signal="signed"``: ``rule="sign"``
      (``sign(x') 1[|x'| >= 1/2]``); the 0/1 rules cannot decode -1 entries;
    * ``lasso`` with the exact criterion on real signals: ``debias=True``.
      The shrinkage of the default lam (``lam_ratio = 1e-3``) leaves a relative
      error above ``rel_tol`` = 1e-3 at every m (median at m = n, k = 8, signed,
      3 trials: 1.33e-3 at n = 256, 1.10e-3 at n = 1024); least squares on
      the support removes it;
    * ``omp`` on ``signal="bernoulli"`` (the number of active features varies,
      so k atoms is wrong for most trials): ``tol = OMP_TOL``, stopping on
      the residual instead;
    * decoders that take the prior (``signal``, ``signal_params``, ``noise``:
      ``lmmse``, ``trained_readout``) get the cell's
      (:func:`csbench.decoders.base.prior_params`);
    * decoders registered with ``encoders=(...)`` (``native``: a toy model's
      own read-out) accept only those encoders with their default parameters;
      others raise.
    """
    from .decoders import DECODERS
    from .decoders.base import prior_params
    from .signals import SIGNALS

    params = dict(params)
    params.update({key: v for key, v in prior_params(decoder, signal, signal_params, noise).items()
                   if key not in given})
    encoders = DECODERS.get(decoder).info.get("encoders")
    if encoder is not None and encoders is not None and encoder not in encoders and not given:
        raise ValueError(f"decoder={decoder!r} reads out only codes of the encoders {list(encoders)}, "
                         f"got encoder={encoder!r}; allowed: {list(encoders)} (or set its parameters explicitly).")
    binary, _ = signal_info(signal, signal_params)
    accepted = DECODERS.get(decoder).info.get("signals")
    if accepted is not None and signal not in accepted:
        others = [d for d in DECODERS.names() if DECODERS.get(d).info.get("signals") is None]
        raise ValueError(
            f"decoder={decoder!r} cannot decode signal={signal!r}: its outputs take only the values of "
            f"signals {list(accepted)}, so no trial would ever meet criterion={criterion!r}; allowed signals "
            f"for {decoder!r}: {list(accepted)}, or use one of the decoders {others} for {signal!r} "
            f"(signals: {SIGNALS.names()}).")
    if decoder == "matched_filter" and signal == "signed" and not binary:
        if "rule" not in given:
            params["rule"] = "sign"
        elif params["rule"] != "sign":
            raise ValueError(f"matched_filter rule={params['rule']!r} cannot decode the entries of signal='signed' "
                             "(values in {-1, 0, 1}) exactly; use rule='sign' (sign(x') 1[|x'| >= 1/2]).")
    if decoder == "lasso" and not binary and criterion == "exact" and "debias" not in given:
        params["debias"] = True
    if decoder == "omp" and signal == "bernoulli" and "tol" not in given and "n_nonzero_coefs" not in given:
        params["tol"] = OMP_TOL
    return params


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


def _check_decoder(decoder, decoder_params):
    """Check the decoder name, parameter names and values (its declared checks; nothing is decoded)."""
    from .decoders import DECODERS

    return DECODERS.get(decoder).check_params(dict(decoder_params))


def _check_problem(decoder, params, n, ks):
    """Run the decoder's declared problem checks (``check_problem``) at n and every k of ``ks``, before any trial.

    ``ks`` are the extreme k a search decodes (its rules on k are ranges).
    """
    from .decoders import DECODERS

    for k in ks:
        DECODERS.get(decoder).check_problem(params, n, k)


def _pointwise_quantile(successes, trials, q, conf):
    """``(m_q, low, high)`` from pointwise success counts at m = 1..M (see :class:`MinimalMResult`).

    ``trials`` is a number or one count per m; returned values are 1-based positions (``inf``: never).
    """
    from .metrics import wilson_interval

    trials = np.broadcast_to(np.asarray(trials, float), successes.shape)
    rate = successes / trials
    lo, hi = wilson_interval(successes, trials, conf)

    def first(mask):
        idx = np.flatnonzero(mask)
        return float(idx[0] + 1) if idx.size else np.inf

    return first(rate >= q), first(hi >= q), first(lo >= q)


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


# --------------------------------------------------------------------------- from sweeps
def m_star_table(df, q=0.5, criterion="exact", conf=0.95,
                 by=("decoder", "encoder", "signal", "n", "k")):
    """m*_q per group of a per-trial sweep table (e.g. ``load_results`` or ``run_grid``).

    Three estimates, all from stored rows (nothing is re-run):

    * ``m_star`` with ``[ci_low, ci_high]``: the headline, the smallest grid m
      whose pointwise success rate ``S(m)`` is >= q, with the interval
      ``[min{m : Wilson_high(m) >= q}, min{m : Wilson_low(m) >= q}]`` over the
      grid (``coverage`` = nominal ``conf``). It over-estimates by at most one
      grid step.
    * ``m_star_monotone`` with ``[monotone_low, monotone_high]``: per-trial
      critical m *on the grid* (smallest grid m from which the trial succeeds
      at every larger grid m; ``inf`` if it fails at the largest), then
      :func:`csbench.fits.quantile_ci`. Valid for nested encoders, where trial t
      is the same problem at every m; ``critical`` holds these values.
    * ``m_logistic`` with ``[logistic_low, logistic_high]``: a logistic fit of
      success vs ln m (:func:`csbench.fits.logistic_fit`).
    """
    import pandas as pd

    rows = []
    for key, g in df.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        piv = g.pivot_table(index="trial", columns="m", values=criterion, aggfunc="first").sort_index(axis=1)
        ms = piv.columns.to_numpy(float)
        S = piv.to_numpy()
        crit = []
        for row in S:
            good = ~np.isnan(row.astype(float))
            r = row[good].astype(bool)
            mm = ms[good]
            fails = np.flatnonzero(~r)
            crit.append(mm[0] if fails.size == 0 else (np.inf if fails[-1] == r.size - 1 else mm[fails[-1] + 1]))
        crit = np.asarray(crit, float)
        mono = quantile_ci(crit, q, conf)
        agg = g.groupby("m")[criterion].agg(["sum", "size"]).sort_index()
        idx = _pointwise_quantile(agg["sum"].to_numpy(float), agg["size"].to_numpy(float), q, conf)
        grid = agg.index.to_numpy(float)
        est, low, high = (grid[int(i) - 1] if np.isfinite(i) else np.inf for i in idx)
        try:
            ml = logistic_fit(grid, agg["sum"].to_numpy(float), agg["size"].to_numpy(float)).m_at(q, conf)
        except ValueError:
            ml = (np.nan,) * 3
        rows.append({**dict(zip(by, key)), "trials": len(crit), "m_star": est, "ci_low": low,
                     "ci_high": high, "coverage": conf, "m_star_monotone": mono[0], "monotone_low": mono[1],
                     "monotone_high": mono[2], "m_logistic": ml[0], "logistic_low": ml[1],
                     "logistic_high": ml[2], "m_grid_min": ms.min(), "m_grid_max": ms.max(),
                     "critical": list(crit)})
    return pd.DataFrame(rows)
