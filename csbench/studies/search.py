"""The per-trial search engine shared by the minimal-m and maximal-k studies, and what both need:
argument checks, the decoder's study parameters, per-trial rows and their totals.

A search finds, for each trial, the smallest value (m, or the first failing k)
at which a monotone per-trial predicate turns true: galloping from a start
value, then bisection; trials that need the same value are evaluated together.
"""
from __future__ import annotations

import math

import numpy as np

from .._validate import check_choice, check_float, check_int
from ..decoders.base import DECODERS, StudyContext, prior_params
from ..signals import SIGNALS, signal_info

#: First galloping step of the search: ``ceil(STEP0 * sqrt(start))``; steps then double.
STEP0 = 0.5
#: Memory budget of the matrices of one task decoded at once (bytes).
TASK_BYTES = 1 << 28


class Search:
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


def result_counts(totals):
    """The per-search counts of :func:`csbench.driver.search_totals` that both result types carry, by name."""
    return {key: totals[key] for key in ("n_censored", "n_nonmonotone", "n_checked", "n_evaluations",
                                         "status_counts")}


def merge_decoder_params(decoder_params, decoder_kwargs):
    """The decoder's parameters from the ``decoder_params`` dict and extra keywords (one namespace)."""
    if decoder_params is not None and not isinstance(decoder_params, dict):
        raise TypeError(f"decoder_params must be a dict of the decoder's parameters, got "
                        f"{type(decoder_params).__name__}.")
    both = sorted(set(decoder_params or {}) & set(decoder_kwargs))
    if both:
        raise TypeError(f"decoder parameters {both} given twice (in decoder_params and as keywords).")
    return {**(decoder_params or {}), **decoder_kwargs}


def check_decoder(decoder, decoder_params):
    """Check the decoder name, parameter names and values (its declared checks; nothing is decoded)."""
    return DECODERS.get(decoder).check_params(dict(decoder_params))


def check_problem(decoder, params, n, ks):
    """Run the decoder's declared problem checks (``check_problem``) at n and every k of ``ks``, before any trial.

    ``ks`` are the extreme k a search decodes (its rules on k are ranges).
    """
    for k in ks:
        DECODERS.get(decoder).check_problem(params, n, k)


def study_params(decoder, params, given, signal, signal_params=None, criterion="exact", *, encoder=None,
                 noise=0.0):
    """Decoder parameters for a meaningful study of ``signal``, or a ValueError naming a working choice.

    ``params`` are the decoder's merged parameters, ``given`` the names the
    user set (never overridden). Generic rules, from the registry's typed fields:

    * decoders that take the prior (``signal``, ``signal_params``, ``noise``:
      ``lmmse``, ``trained_readout``) get the cell's
      (:func:`csbench.decoders.base.prior_params`);
    * decoders registered with ``encoders=(...)`` (``native``: a toy model's
      own read-out) accept only those encoders with their default parameters;
    * decoders registered with ``signals=(...)`` (the linear read-outs) accept
      only those signals: their outputs take values in {0, 1} (or {-1, 0, 1}),
      so continuous values can never meet the criterion;

    then the family's own ``study_defaults`` hook (e.g. the matched filter's
    sign rule on signed signals, the lasso's debiasing for the exact criterion
    on real signals, OMP's residual stop on Bernoulli signals).
    """
    entry = DECODERS.get(decoder)
    params = dict(params)
    params.update({key: v for key, v in prior_params(decoder, signal, signal_params, noise).items()
                   if key not in given})
    if encoder is not None and entry.encoders is not None and encoder not in entry.encoders and not given:
        raise ValueError(f"decoder={decoder!r} reads out only codes of the encoders {list(entry.encoders)}, "
                         f"got encoder={encoder!r}; allowed: {list(entry.encoders)} (or set its parameters "
                         "explicitly).")
    binary, _ = signal_info(signal, signal_params)
    if entry.signals is not None and signal not in entry.signals:
        others = [e.name for e in DECODERS if e.signals is None]
        raise ValueError(
            f"decoder={decoder!r} cannot decode signal={signal!r}: its outputs take only the values of "
            f"signals {list(entry.signals)}, so no trial would ever meet criterion={criterion!r}; allowed signals "
            f"for {decoder!r}: {list(entry.signals)}, or use one of the decoders {others} for {signal!r} "
            f"(signals: {SIGNALS.names()}).")
    if entry.study_defaults is not None:
        study = StudyContext(signal, dict(signal_params or {}), binary, criterion, encoder, float(noise))
        params = entry.study_defaults(params, set(given), study)
    return params


def run_search(planned, summarize, t0, *, out, n_jobs, executor, scheduler, start_method, progress, name):
    """Run one ``(plan, opts)`` of a search kind through the driver and summarise its stored rows."""
    import time

    from ..driver import run_searches

    plan, opts = planned
    rows = run_searches([plan], out, jobs=n_jobs, executor=executor, address=scheduler,
                        start_method=start_method, progress=progress, name=name)[0]
    return summarize(plan, rows, time.perf_counter() - t0, **opts)
