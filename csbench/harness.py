"""Grid sweeps: run decoders on seeded problems at given m and score them, one task at a time.

A *task* is a block of trials of one cell, at one m, for one decoder. Tasks
carry seeds, not matrices: :func:`run_task` draws its problems with
:func:`csbench.problems.make_problem`, decodes them and returns one row per
trial. Trial t of a cell is the same problem in every task, so results do not
depend on block size, order or worker count.

:func:`run_sweep` expands a :class:`~csbench.config.Sweep` into tasks, runs the
ones not yet in the run's store on an executor (:mod:`csbench.executors`) with
a bounded number in flight, and commits each finished task atomically
(:mod:`csbench.store`); re-running the same sweep into the same directory resumes.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import seeding
from .config import ConfigError, DecoderSpec, Sweep, load_sweep, sweep_to_json
from .decoders import DECODERS, STATUSES, decode
from .decoders.base import ERROR, prior_params
from .driver import (KINDS, check_run_options, check_task_count, drive, is_transient_error, run_search_tasks,
                     search_key, search_tasks, transient_reason)
from .metrics import score
from ._validate import MemoryBudgetError
from .problems import (Cell, check_problem_memory, make_problem, memory_budget, problem_bytes, use_operator,
                       vector_budget)
from .signals import signal_info

def run_task(cell: Cell, m: int, spec: DecoderSpec, seed: int, first_trial: int, trials: int,
             tol: float = 1e-3) -> pd.DataFrame:
    """Draw, decode and score trials ``first_trial .. first_trial + trials - 1``.

    Returns a DataFrame with one row per trial: the cell (``encoder``, ``signal``,
    ``n``, ``k``, ``noise``, ``m``), ``decoder`` (display label), ``trial``,
    ``status``, ``n_iter``, ``time`` (decode seconds per trial, batch mean) and
    every criterion of :func:`csbench.metrics.score`.
    """
    meas, truth = make_problem(cell, m, trials, seed, first_trial)
    binary, _ = signal_info(cell.signal, cell.signal_params)
    t0 = time.perf_counter()
    params = _decoder_params(spec, cell)
    res = decode(spec.name, meas.A, meas.Y, k=cell.k, source=meas.source, **params)
    elapsed = time.perf_counter() - t0
    metrics = score(truth.X, res.X_hat, binary=binary, tol=tol)
    return _rows(cell, m, spec, first_trial, trials, res.status_names, res.n_iter, elapsed / trials, metrics)


def _rows(cell, m, spec, first_trial, trials, status, n_iter, time_per_trial, metrics):
    return pd.DataFrame({
        "encoder": cell.encoder, "signal": cell.signal, "n": cell.n, "k": cell.k,
        "noise": cell.noise, "m": m, "decoder": spec.display,
        "trial": np.arange(first_trial, first_trial + trials),
        "status": status, "n_iter": n_iter, "time": time_per_trial, **metrics,
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

    jobs = []
    for cell in cells:
        ms = m_values(cell) if callable(m_values) else m_values
        for m in ms:
            cell.validate(m)
            jobs.extend((cell, m, spec) for spec in decoders)
    frames = [run_task(c, m, s, seed, 0, trials, tol)
              for c, m, s in tqdm(jobs, disable=not progress, desc="csbench", unit="task")]
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class Task:
    """Trials ``first_trial .. first_trial + trials - 1`` of ``cell`` at ``m`` rows for decoder ``spec``.

    ``index`` is the task's position in grid order (not part of its key).
    """

    index: int
    cell: Cell
    m: int
    spec: DecoderSpec
    seed: int
    first_trial: int
    trials: int
    tol: float
    table = "trials"

    def execute(self):
        return execute_task(self)

    def description(self):
        """Canonical JSON of everything that determines the task's rows."""
        return seeding.canonical({
            "cell": self.cell.as_dict(identity=True), "m": self.m,
            "decoder": {"name": self.spec.name, "params": self.spec.validate(), "label": self.spec.display},
            "seed": self.seed, "first_trial": self.first_trial, "trials": self.trials, "tol": self.tol,
        })

    def key(self):
        """Task key: ``short_hash`` of :meth:`description`."""
        return seeding.short_hash(self.description())


def expand(sweep: Sweep):
    """The tasks of a sweep in grid order: cell, then m, then decoder, then block of trials."""
    tasks = []
    for cell in sweep.cells():
        for m in sweep.m_values(cell):
            for spec in sweep.decoders:
                for first, count in sweep.blocks():
                    tasks.append(Task(len(tasks), cell, m, spec, sweep.seed, first, count, sweep.tol))
    return tasks


def execute_task(task: Task):
    """Run one task (in a worker); return ``(rows, error)``.

    ``rows`` are :func:`run_task` rows plus ``decoder_name``, ``decoder_params``,
    ``encoder_params`` and ``signal_params`` (canonical JSON). If the decoder
    raises, every trial is recorded with status ``error`` and the scores of
    ``x_hat = 0``, and ``error`` holds the exception text (never silently lost).
    """
    error = None
    try:
        rows = run_task(task.cell, task.m, task.spec, task.seed, task.first_trial, task.trials, task.tol)
    except Exception as exc:  # noqa: BLE001 - recorded per trial as status "error"
        if transient_reason(exc) is not None:
            raise  # not stored: the driver counts it and a resume recomputes it
        error = f"{type(exc).__name__}: {exc}"
        rows = _error_rows(task)
    cell = task.cell.as_dict()
    rows["decoder_name"] = task.spec.name
    rows["decoder_params"] = seeding.canonical(task.spec.validate())
    rows["encoder_params"] = seeding.canonical(cell["encoder_params"])
    rows["signal_params"] = seeding.canonical(cell["signal_params"])
    return rows, error


def _decoder_params(spec, cell):
    """``spec``'s parameters in ``cell``: the cell's prior for decoders that take it, under the spec's own."""
    return {**prior_params(spec.name, cell.signal, cell.signal_params, cell.noise), **spec.params}


def _error_rows(task):
    _, truth = make_problem(task.cell, task.m, task.trials, task.seed, task.first_trial)
    binary, _ = signal_info(task.cell.signal, task.cell.signal_params)
    metrics = score(truth.X, np.zeros_like(truth.X), binary=binary, tol=task.tol)
    return _rows(task.cell, task.m, task.spec, task.first_trial, task.trials, STATUSES[ERROR],
                 np.zeros(task.trials, np.int64), 0.0, metrics)


def check_sweep_memory(sweep: Sweep):
    """Refuse, before any work, a sweep whose largest task (a block of trials at the largest m of a cell)
    does not fit THE memory budget (:func:`csbench.problems.memory_budget`), in one line naming ``block``
    (or ``trials``, or ``n`` when one trial does not fit) and the amount: dense draws of every encoder,
    and the signals, measurements and estimates of a matrix-free (generated) one."""
    T = min(sweep.block, sweep.trials)
    budget = memory_budget()
    for cell in sweep.cells():
        ms = sweep.m_values(cell)
        if not ms:
            continue
        m = max(ms)
        free = use_operator(cell.encoder, problem_bytes(cell.encoder, T, m, cell.n), budget)
        key = "block" if sweep.block < sweep.trials else "trials"
        try:
            check_problem_memory(cell.encoder, T, m, cell.n, vector_budget(budget) if free else budget,
                                 dense=not free, decode=free, param=key)
        except MemoryBudgetError as exc:
            raise ConfigError(str(exc), key=exc.param) from None


def check_decoders(sweep: Sweep):
    """Check every decoder's declared problem rules at every cell, then dry-run it on one trial of the
    first cell (at its smallest m), before any work.

    Parameter values were checked when the sweep was built (``DecoderSpec``); the
    rules needing n and k (``Entry.check_problem``) run here for each cell, and
    the dry run surfaces what needs A itself. A ``TypeError``/``ValueError``
    becomes a :class:`~csbench.config.ConfigError` naming the decoder. Other
    exceptions are left to the run, which records them per trial.
    """
    for c in sweep.cells():
        for i, spec in enumerate(sweep.decoders):
            entry = DECODERS.get(spec.name)
            try:
                entry.check_problem(entry.check_params(_decoder_params(spec, c)), c.n, c.k)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{spec.display}: {exc} (in cell n={c.n}, k={c.k})",
                                  key=f"decoders[{i}].params") from None
    cell = sweep.cells()[0]
    ms = sweep.m_values(cell)
    m = ms[0] if ms else max(1, min(cell.n, 2 * cell.k + 1))
    meas, _ = make_problem(cell, m, 1, sweep.seed)
    for i, spec in enumerate(sweep.decoders):
        try:
            decode(spec.name, meas.A, meas.Y, k=cell.k, source=meas.source, **_decoder_params(spec, cell))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{spec.display}: {exc}", key=f"decoders[{i}].params") from None
        except Exception:  # noqa: BLE001 - a crash, not a bad parameter: recorded per trial later
            pass


def run_sweep(sweep, out=None, *, jobs=1, address=None, progress=True, start_method="spawn",
              config_text=None):
    """Run a sweep and return its per-trial results as a DataFrame.

    Parameters
    ----------
    sweep : Sweep or path to a TOML file
    out : path, optional
        Run directory holding the store; re-running the same sweep into it
        resumes (finished tasks are skipped). ``None``: an in-memory store.
    jobs : int
        Worker processes (1: serial in this process).
    address : str, optional
        dask.distributed scheduler address.
    progress : bool
        tqdm progress bar with ETA.
    start_method : {"spawn", "forkserver"}
    config_text : str, optional
        TOML text to keep as ``RUN/config.toml`` (read from ``sweep`` when it is a path).

    Returns
    -------
    pandas.DataFrame
        :func:`csbench.store.load_results` columns (per trial, grid order); for
        ``m = "auto"``, one row per cell and decoder from :mod:`csbench.studies.minimal_m`.
    """
    from .store import run_lock

    check_run_options(progress=progress)
    # first: a directory in use is refused at once, before any validation or dry run (a directory that does not
    # exist yet is in use by no one: it is created, and locked, once the sweep is valid)
    lock = run_lock(out) if out is not None and os.path.isdir(out) else None
    try:
        return _run_sweep(sweep, out, lock, jobs, address, progress, start_method, config_text)
    finally:
        if lock is not None:
            lock.release()


def _run_sweep(sweep, out, lock, jobs, address, progress, start_method, config_text):
    from .store import Store, run_kind, write_text_atomic

    if not isinstance(sweep, Sweep):
        path = os.fspath(sweep)
        sweep = load_sweep(path)
        if config_text is None:
            with open(path) as f:
                config_text = f.read()
    auto = sweep.m == "auto"
    if auto:
        plans = _auto_plans(sweep)
        check_task_count(sum(math.ceil(p["trials"] / p["block"]) for p, _, _ in plans), "this sweep")
        tasks = search_tasks([p for p, _, _ in plans])
    else:
        check_task_count(len(sweep.cells()) * len(sweep.m_values()) * len(sweep.decoders)
                         * math.ceil(sweep.trials / sweep.block), "this sweep")
        check_sweep_memory(sweep)
        check_decoders(sweep)
        tasks = expand(sweep)
    with Store(out, lock=lock) as store:
        if run_kind(store) == "search":
            raise ConfigError("this run directory holds a minimal-m / maximal-k search run, not a sweep; use a new "
                              "--out directory.", source=store.run_dir)
        stored = store.get_meta("sweep")
        if stored is not None and seeding.canonical(stored) != sweep.key():
            raise ConfigError(
                "this run directory holds a different sweep; use a new --out directory, or the same "
                "configuration to resume.", source=store.run_dir)
        if stored is None:
            store.set_meta(sweep=sweep.to_dict(), name=sweep.name, tasks_total=len(tasks),
                           trials_total=sum(t.trials for t in tasks), run_kind="sweep",
                           memory_budget=sweep.auto.get("memory_budget", memory_budget()))
            if out is not None:
                write_text_atomic(os.path.join(out, "sweep.json"), sweep_to_json(sweep))
                if config_text is not None:
                    write_text_atomic(os.path.join(out, "config.toml"), config_text)
        if auto:
            rows = run_search_tasks(tasks, [p for p, _, _ in plans], store, jobs, "processes", address,
                                     start_method, progress, f"{sweep.name} minimal m")
            _write_summaries(store, plans, rows)
            return store.minimal_m()
        done = store.done_tasks(retry=is_transient_error)
        pending = [t for t in tasks if t.key() not in done]
        drive(pending, store, len(tasks), len(tasks) - len(pending), jobs, address, start_method,
               progress, sweep.name)
        return store.trials()


def _auto_plans(sweep):
    """``(plan, opts, spec)`` of the minimal-m search of each (cell, decoder) of an ``m = "auto"`` sweep."""
    plan_search = KINDS.get("minimal_m").plan
    plans = []
    for c in sweep.cells():
        for i, spec in enumerate(sweep.decoders):
            kwargs = dict(encoder=c.encoder, signal=c.signal, n=c.n, k=c.k, trials=sweep.trials,
                          seed=sweep.seed, criterion=sweep.criterion, encoder_params=dict(c.encoder_params),
                          signal_params=dict(c.signal_params), noise=c.noise, rel_tol=sweep.tol, **sweep.auto)
            try:
                plan, opts = plan_search(spec.name, **kwargs, decoder_params=dict(spec.params))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{spec.display}: {exc}", key=f"decoders[{i}]") from None
            plans.append((plan, opts, spec))
    return plans


def _summary_row(plan, opts, spec, rows):
    """One minimal-m row of a search from its per-trial rows; its ``time`` is the sum of its tasks' wall times."""
    res = KINDS.get("minimal_m").summarize(plan, rows, float(rows.drop_duplicates("task")["elapsed"].sum()), **opts)
    return {**res.to_dict(), "decoder": spec.display, "decoder_name": spec.name,
            "decoder_params": seeding.canonical(spec.validate())}


def _write_summaries(store, plans, rows):
    """Store one minimal-m row per search, derived from its per-trial rows (rewritten, identically, on resume)."""
    for idx, ((plan, opts, spec), r) in enumerate(zip(plans, rows)):
        store.write_minimal_m(search_key(plan), idx, _summary_row(plan, opts, spec, r))


def partial_minimal_m(run_dir):
    """Minimal-m rows of an unfinished ``m = "auto"`` run, from the trials finished so far.

    One row per (cell, decoder) search with at least one finished trial, summarised as a
    finished run would be (:attr:`KindEntry.summarize` of ``minimal_m``), plus ``trials_done``;
    a search whose trials are not all done has an interval over those trials only. A finished
    run's stored rows (:meth:`Store.minimal_m`) are the same numbers for its complete searches.
    """
    from .store import Store, read_sweep

    plans = _auto_plans(read_sweep(run_dir))
    with Store(run_dir, readonly=True) as st:
        rows = [st.search_trials(search_key(p)) for p, _, _ in plans]
    out = [{**_summary_row(plan, opts, spec, r), "trials_done": int(r["trial"].nunique())}
           for (plan, opts, spec), r in zip(plans, rows) if len(r)]
    return pd.DataFrame(out)


