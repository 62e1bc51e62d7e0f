"""Run decoders on seeded problems and score them, one task at a time.

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

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import importlib
import importlib.util
import inspect
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import seeding
from .config import ConfigError, DecoderSpec, Sweep, load_sweep, sweep_to_json
from .decoders import STATUSES, decode
from .decoders.base import ERROR
from .metrics import score
from .problems import Cell, make_problem
from .signals import signal_info

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

    def description(self):
        """Canonical JSON of everything that determines the task's rows."""
        return seeding.canonical({
            "cell": self.cell.as_dict(), "m": self.m,
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
        error = f"{type(exc).__name__}: {exc}"
        rows = _error_rows(task)
    cell = task.cell.as_dict()
    rows["decoder_name"] = task.spec.name
    rows["decoder_params"] = seeding.canonical(task.spec.validate())
    rows["encoder_params"] = seeding.canonical(cell["encoder_params"])
    rows["signal_params"] = seeding.canonical(cell["signal_params"])
    return rows, error


def _error_rows(task):
    _, truth = make_problem(task.cell, task.m, task.trials, task.seed, task.first_trial)
    binary, _ = signal_info(task.cell.signal, task.cell.signal_params)
    metrics = score(truth.X, np.zeros_like(truth.X), binary=binary, tol=task.tol)
    return _rows(task.cell, task.m, task.spec, task.first_trial, task.trials, STATUSES[ERROR],
                 np.zeros(task.trials, np.int64), 0.0, metrics)


def check_decoders(sweep: Sweep):
    """Dry-run every decoder on one trial of the first cell (at its smallest m) before any work.

    Decoders validate their own parameter *values* when called; this surfaces
    a bad value (``TypeError``/``ValueError``) as a :class:`~csbench.config.ConfigError`
    naming the decoder. Other exceptions are left to the run, which records them per trial.
    """
    cell = sweep.cells()[0]
    ms = sweep.m_values(cell)
    m = ms[0] if ms else max(1, min(cell.n, 2 * cell.k + 1))
    meas, _ = make_problem(cell, m, 1, sweep.seed)
    for i, spec in enumerate(sweep.decoders):
        try:
            decode(spec.name, meas.A, meas.Y, k=cell.k, **spec.params)
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
        ``m = "auto"``, one row per cell and decoder from :mod:`csbench.minimal_m`.
    """
    from .store import Store, write_text_atomic

    if not isinstance(sweep, Sweep):
        path = os.fspath(sweep)
        sweep = load_sweep(path)
        if config_text is None:
            with open(path) as f:
                config_text = f.read()
    auto = sweep.m == "auto"
    if auto:
        minimal_m_fn = _minimal_m_function()
    else:
        check_decoders(sweep)
    tasks = _auto_tasks(sweep) if auto else expand(sweep)
    with Store(out) as store:
        stored = store.get_meta("sweep")
        if stored is not None and seeding.canonical(stored) != sweep.key():
            raise ConfigError(
                "this run directory holds a different sweep; use a new --out directory, or the same "
                "configuration to resume.", source=store.run_dir)
        if stored is None:
            store.set_meta(sweep=sweep.to_dict(), name=sweep.name, tasks_total=len(tasks),
                           trials_total=0 if auto else sum(t.trials for t in tasks),
                           schema=1)
            if out is not None:
                write_text_atomic(os.path.join(out, "sweep.json"), sweep_to_json(sweep))
                if config_text is not None:
                    write_text_atomic(os.path.join(out, "config.toml"), config_text)
        if auto:
            _run_auto(sweep, tasks, store, minimal_m_fn, progress)
            return store.minimal_m()
        done = store.done_tasks()
        pending = [t for t in tasks if t.key() not in done]
        _drive(pending, store, len(tasks), len(tasks) - len(pending), jobs, address, start_method,
               progress, sweep.name)
        return store.trials()


def _drive(tasks, store, total, initial, jobs, address, start_method, progress, name):
    """Submit tasks with at most ``max_in_flight`` outstanding; commit each as it finishes."""
    from tqdm.auto import tqdm

    from .executors import make_executor

    bar = tqdm(total=total, initial=initial, disable=not progress, desc=name, unit="task")
    if not tasks:
        bar.close()
        return
    executor, max_in_flight = make_executor(jobs, address, start_method)
    todo = iter(tasks)
    in_flight = {}
    failed = 0
    try:
        while True:
            while len(in_flight) < max_in_flight:
                task = next(todo, None)
                if task is None:
                    break
                in_flight[executor.submit(execute_task, task)] = (task, time.perf_counter())
            if not in_flight:
                break
            finished, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                task, t0 = in_flight.pop(fut)
                try:
                    rows, error = fut.result()
                except BrokenProcessPool as exc:
                    raise RuntimeError(
                        "a worker process died (killed, out of memory, or failed to import csbench); "
                        "finished tasks are stored: re-run the same command to resume.") from exc
                store.write_task(task.key(), task.index, task.description(), rows, error,
                                 time.perf_counter() - t0)
                failed += int((rows["status"] != "ok").sum())
                bar.set_postfix(not_ok=failed, refresh=False)
                bar.update()
    finally:
        for fut in in_flight:
            fut.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
        bar.close()


def _minimal_m_function():
    if importlib.util.find_spec(f"{__package__}.minimal_m") is None:
        raise NotImplementedError(
            "m = 'auto' needs csbench.minimal_m (the minimal-m search), which this installation "
            "does not have; give m as a list or a range table instead.")
    return importlib.import_module(f"{__package__}.minimal_m").minimal_m


def _auto_tasks(sweep):
    """One minimal-m search per (cell, decoder), as Tasks with m = 0 and all trials."""
    return [Task(i, cell, 0, spec, sweep.seed, 0, sweep.trials, sweep.tol)
            for i, (cell, spec) in enumerate((c, d) for c in sweep.cells() for d in sweep.decoders)]


def _run_auto(sweep, tasks, store, fn, progress):
    from tqdm.auto import tqdm

    named = [p.name for p in inspect.signature(fn).parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    done = store.done_minimal_m()
    for task in tqdm([t for t in tasks if t.key() not in done], disable=not progress,
                     desc=f"{sweep.name} minimal m", unit="search"):
        c, spec = task.cell, task.spec
        kwargs = dict(decoder=spec.name, encoder=c.encoder, signal=c.signal, n=c.n, k=c.k,
                      trials=sweep.trials, seed=sweep.seed, criterion=sweep.criterion,
                      encoder_params=dict(c.encoder_params), signal_params=dict(c.signal_params),
                      noise=c.noise, rel_tol=sweep.tol, **sweep.auto)
        unsupported = [key for key in kwargs if key not in named]
        if unsupported:
            raise ConfigError(f"csbench.minimal_m does not support {unsupported}.", key="m")
        res = fn(**kwargs, **spec.params)
        row = {**res.to_dict(), "decoder": spec.display, "decoder_name": spec.name,
               "decoder_params": seeding.canonical(spec.validate())}
        store.write_minimal_m(task.key(), task.index, row)
