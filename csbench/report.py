"""``csbench report RUN``: markdown tables and figures from a stored run (never re-runs decoders)."""
from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from ._validate import check_choice, check_float

#: Scaling laws fitted in the report (keys of :data:`csbench.fits.SCALES`).
REPORT_SCALES = ("k_ln_n", "k_log2_en_k", "log2_binom")


def md_table(df, floatfmt="{:.4g}"):
    """A pandas DataFrame as a GitHub markdown table (floats through ``floatfmt``; nan -> '')."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if math.isnan(v) else ("inf" if math.isinf(v) else floatfmt.format(v))
        return str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def minimal_m_summary(run_dir, q=0.5, criterion=None):
    """m*_q per (decoder, encoder, signal, n, k) of a run, from its stored rows.

    ``m = "auto"`` runs: the stored :func:`csbench.studies.minimal_m.minimal_m` results; an
    unfinished one: each search summarised from its trials finished so far
    (:func:`csbench.harness.partial_minimal_m`, with a ``trials_done`` column).
    Grid runs: :func:`csbench.analysis.m_star_table` on the per-trial rows.
    Returns ``(mstar, trials, success)`` (the last two ``None`` for auto runs).
    """
    from .analysis import m_star_table, success_table
    from .store import load_minimal_m, load_results, read_sweep

    from .harness import partial_minimal_m

    sweep = read_sweep(run_dir)
    criterion = criterion or sweep.criterion
    trials = load_results(run_dir)
    mm = load_minimal_m(run_dir)
    if not len(trials) and sweep.m == "auto" and incomplete_note(run_dir) is not None:
        mm = partial_minimal_m(run_dir)
    success = None
    if len(trials):
        success = success_table(trials, criterion=criterion)
        mstar = m_star_table(trials, q=q, criterion=criterion)
    else:
        mstar = mm.copy()
        for c in ("m_star", "ci_low", "ci_high"):
            if c in mstar:
                mstar[c] = mstar[c].astype(float).fillna(np.inf if c != "ci_low" else 1.0)
        if "m_star_monotone" in mstar:  # None: not measured (search) or censored
            mstar["m_star_monotone"] = pd.to_numeric(mstar["m_star_monotone"], errors="coerce")
    return mstar, (trials if len(trials) else None), success, sweep


def incomplete_note(run_dir):
    """``None`` for a finished run, else a sentence saying how much of it is done and how to finish it."""
    from .store import run_status

    st = run_status(run_dir)
    done, total = st["tasks_done"], st["tasks_total"]
    if total is None or done >= total:
        return None
    return (f"incomplete run: {done} of {total} tasks finished (killed or still running); the tables "
            f"cover the finished tasks only. Run the same `csbench run` command again to resume it.")


def write_report(run_dir, q=0.5, criterion=None, conf=0.95):
    """Write ``report.md`` and figures (``report_*.png``) into ``run_dir``; return the report path.

    Contents: run summary, success rates with Wilson intervals (grid runs),
    m*_q with intervals next to theory (``log2 C(n,k)``, ``8 k ln n``,
    ``m_weak``), scaling constants ``c`` in ``m* ~ c f(n, k)`` per decoder
    (:func:`csbench.fits.fit_scaling`, weighted least squares), and the
    figures of :mod:`csbench.plots`.
    """
    from . import plots
    from .analysis import theory_columns
    from .fits import SCALES, fit_scaling
    from .store import write_text_atomic

    from .config import SWEEP_CRITERIA

    q = check_float("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    if criterion is not None:
        check_choice("criterion", criterion, SWEEP_CRITERIA)
    from .store import Store, run_kind

    with Store(run_dir, readonly=True) as st:
        kind = run_kind(st)
    if kind == "search":
        return _write_search_report(run_dir, q, conf)
    mstar, trials, success, sweep = minimal_m_summary(run_dir, q, criterion)
    criterion = criterion or sweep.criterion
    out = [f"# csbench report: {sweep.name}", "",
           f"Run directory `{os.path.abspath(run_dir)}`; criterion `{criterion}`; q = {q}; "
           f"{sweep.trials} trials per point; seed {sweep.seed}.", ""]
    note = incomplete_note(run_dir)
    if note:
        out += [f"**Warning: {note}**", ""]
    figs = {}
    if trials is not None:
        counts = trials["status"].value_counts()
        out += ["Trial status: " + ", ".join(f"{k}: {v}" for k, v in counts.items()), ""]
        from .statuses import explain

        out += [f"- {line}" for line in explain(counts.to_dict())] + [""]
        figs["success_vs_m"] = plots.plot_success_vs_m(success)
        cols = ["decoder", "encoder", "signal", "n", "k", "m", "trials", "rate", "low", "high", "n_not_ok"]
        out += ["## Success rate vs m (95 % Wilson intervals)", "", md_table(success[cols]), ""]
    if len(mstar):
        t = theory_columns(mstar)
        cols = [c for c in ["decoder", "encoder", "signal", "n", "k", "trials", "trials_done", "m_star", "ci_low", "ci_high",
                            "m_star_monotone", "m_logistic", "log2_binom", "chernoff_m", "m_weak",
                            "bits_per_dimension"]
                if c in t]
        how = ("first grid m with success rate >= q, Wilson interval; m_star_monotone: q-quantile of the per-trial "
               "m after which every larger grid m succeeds; m_logistic: logistic fit" if trials is not None else
               "csbench.minimal_m: m at which a fraction q of the trials succeed (exact matched-filter curve: "
               "Wilson interval; search: order-statistic interval); m_star_monotone: the m after which a "
               "fraction q succeed at every larger m (exact matched-filter path only)")
        out += [f"## Minimal m (m*_{q:g}; {how})", "", md_table(t[cols]), ""]
        fits = []
        for scale in REPORT_SCALES:
            try:
                f = fit_scaling(t[np.isfinite(t.m_star.astype(float))], scale=scale, by=("decoder",), conf=conf)
            except ValueError:
                continue
            if not len(f):  # no finite m* to fit
                continue
            f["scale"] = SCALES[scale][1]
            fits.append(f)
        if fits:
            f = pd.concat(fits, ignore_index=True)
            out += ["## Scaling constants: m* ~ c f(n, k)", "",
                    "Weighted least squares through the origin, weights from the m* intervals, "
                    "Birge-ratio inflation when the scatter exceeds them (csbench.fits.fit_constant).", "",
                    md_table(f[["decoder", "scale", "c", "c_low", "c_high", "chi2_dof", "n_points"]
                               + (["note"] if f["note"].astype(bool).any() else [])]), ""]
        if np.isfinite(t.m_star.astype(float)).any():  # else there is nothing to draw
            figs["m_star_vs_k"] = plots.plot_m_star_vs_k(t)
            figs["phase_diagram"] = plots.plot_phase_diagram(t)
            figs["bits_per_dimension"] = plots.plot_bits_per_dimension(t)
        else:
            out += ["No finite m* (every trial failed at every m of the grid): no m* figures.", ""]
    out += ["## Figures", ""]
    for name, fig in figs.items():
        fname = f"report_{name}.png"
        fig.savefig(os.path.join(run_dir, fname), dpi=120)
        plots.plt.close(fig)
        out += [f"![{name}]({fname})", ""]
    path = os.path.join(run_dir, "report.md")
    write_text_atomic(path, "\n".join(out))
    return path


def _write_search_report(run_dir, q, conf):
    """``report.md`` of a minimal-m / maximal-k ``--out`` run: one row per search, its estimate and interval."""
    from .driver import load_search_results
    from .store import write_text_atomic

    res = load_search_results(run_dir, q=q, conf=conf)
    out = [f"# csbench report: searches in `{os.path.abspath(run_dir)}`", ""]
    note = incomplete_note(run_dir)
    if note:
        out += [f"**Warning: {note.replace('csbench run', 'csbench minimal-m / maximal-k')}**", ""]
    if not len(res):
        out += ["No search has a finished trial yet.", ""]
    for kind, g in res.groupby("kind", sort=True):
        label, axis = ("m_star", "k") if kind == "minimal_m" else ("k_star", "m")
        cols = [c for c in ["decoder", "encoder", "signal", "n", axis, "trials", label, "ci_low", "ci_high",
                            "coverage", "n_censored", "n_nonmonotone", "method"] if c in g]
        what = ("m*_q: the smallest m at which a fraction q of the trials succeed" if kind == "minimal_m" else
                "k*_q: the largest k at which a fraction q of the trials succeed")
        out += [f"## {kind} ({what}; q = {q:g}, {100 * conf:g} % intervals)", "", md_table(g[cols]), ""]
        reasons = [r for r in g.get("censored_reason", []) if r]
        out += [f"- {r}" for r in reasons] + ([""] if reasons else [])
    path = os.path.join(run_dir, "report.md")
    write_text_atomic(path, "\n".join(out))
    return path
