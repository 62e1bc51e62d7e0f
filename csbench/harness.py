"""Run decoders on seeded problems and score them, one task at a time.

A *task* is a block of trials of one cell, at one m, for one decoder. Tasks
carry seeds, not matrices: :func:`run_task` draws its problems with
:func:`csbench.problems.make_problem`, decodes them and returns one row per
trial. Trial t of a cell is the same problem in every task, so results do not
depend on block size, order or worker count.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .config import DecoderSpec
from .decoders import decode
from .metrics import score
from .problems import Cell, make_problem
from .signals import signal_info

#: Columns describing the problem of each row.
CELL_COLUMNS = ["encoder", "signal", "n", "k", "noise", "m"]


def run_task(cell: Cell, m: int, spec: DecoderSpec, seed: int, first_trial: int, trials: int,
             tol: float = 1e-3) -> pd.DataFrame:
    """Draw, decode and score trials ``first_trial .. first_trial + trials - 1``.

    Returns a DataFrame with one row per trial: the cell (``encoder``, ``signal``,
    ``n``, ``k``, ``noise``, ``m``), ``decoder`` (display label), ``trial``,
    ``status``, ``n_iter``, ``time`` (decode seconds per trial, batch mean) and
    every criterion of :func:`csbench.metrics.score`.
    """
    spec.validate()
    meas, truth = make_problem(cell, m, trials, seed, first_trial)
    binary, _ = signal_info(cell.signal, cell.signal_params)
    t0 = time.perf_counter()
    res = decode(spec.name, meas.A, meas.Y, k=cell.k, **spec.params)
    elapsed = time.perf_counter() - t0
    metrics = score(truth.X, res.X_hat, binary=binary, tol=tol)
    return pd.DataFrame({
        "encoder": cell.encoder, "signal": cell.signal, "n": cell.n, "k": cell.k,
        "noise": cell.noise, "m": m, "decoder": spec.display,
        "trial": np.arange(first_trial, first_trial + trials),
        "status": res.status_names,
        "n_iter": res.n_iter, "time": elapsed / trials, **metrics,
    })


def run_grid(cells, m_values, decoders, trials, seed=0, progress=True, tol=1e-3):
    """Run every (cell, m, decoder) with ``trials`` trials each, serially.

    Parameters
    ----------
    cells : list of Cell
    m_values : list of int, or callable cell -> list of int
    decoders : list of DecoderSpec
    trials, seed : int
    progress : bool
        Show a tqdm progress bar with ETA.

    Returns
    -------
    pandas.DataFrame
        Concatenated :func:`run_task` rows.
    """
    from tqdm.auto import tqdm

    for spec in decoders:
        spec.validate()
    jobs = []
    for cell in cells:
        ms = m_values(cell) if callable(m_values) else m_values
        for m in ms:
            cell.validate(m)
            jobs.extend((cell, m, spec) for spec in decoders)
    frames = [run_task(c, m, s, seed, 0, trials, tol)
              for c, m, s in tqdm(jobs, disable=not progress, desc="csbench", unit="task")]
    return pd.concat(frames, ignore_index=True)


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
