"""Tables from stored per-trial results: success rates with intervals and m*_q per group.

Reads only stored rows (``load_results`` or ``run_grid``); nothing is re-run.
"""
from __future__ import annotations

import numpy as np

from .fits import logistic_fit, quantile_ci


def success_table(df, criterion="exact", by=("decoder", "encoder", "signal", "n", "k", "m"), conf=0.95):
    """Success rate per group with Wilson interval; non-``ok`` trials are counted separately.

    A trial counts as a success when ``criterion`` holds; trials whose status
    is not ``ok`` are reported in ``n_not_ok`` (and are still scored).
    """
    from .metrics import wilson_interval

    g = df.groupby(list(by), sort=True)
    out = g.agg(trials=(criterion, "size"), successes=(criterion, "sum"),
                n_not_ok=("status", lambda s: int((s != "ok").sum()))).reset_index()
    out["rate"] = out["successes"] / out["trials"]
    out["low"], out["high"] = wilson_interval(out["successes"], out["trials"], conf)
    return out


def pointwise_quantile(successes, trials, q, conf):
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
        idx = pointwise_quantile(agg["sum"].to_numpy(float), agg["size"].to_numpy(float), q, conf)
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


def theory_columns(mstar):
    """An m* table (``n``, ``k``, ``m_star`` columns) with the theory beside it, in the names
    :class:`~csbench.studies.minimal_m.MinimalMResult` uses: ``log2_binom`` (log2 C(n,k), one bit per
    dimension), ``chernoff_m`` (8 k ln n, the matched filter's Chernoff line), ``m_weak`` (the signed l1 weak
    transition, :func:`csbench.theory.m_weak`) and ``bits_per_dimension`` = log2 C(n,k) / m*."""
    from . import theory

    t = mstar.copy()
    nk = list(zip(t.n.astype(int), t.k.astype(int)))
    t["log2_binom"] = [float(theory.log2_binom(n, k)) for n, k in nk]
    t["chernoff_m"] = [float(theory.chernoff_m(n, k)) for n, k in nk]
    t["m_weak"] = [float(theory.m_weak(n, k)) for n, k in nk]
    with np.errstate(divide="ignore"):
        t["bits_per_dimension"] = t["log2_binom"] / t["m_star"].astype(float)
    return t
