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
import importlib
import importlib.util
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import seeding
from .config import ConfigError, DecoderSpec, Sweep, load_sweep, sweep_to_json
from .decoders import DECODERS, STATUSES, decode
from .decoders.base import ERROR, OK, prior_params
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
    params = _decoder_params(spec, cell)
    res = decode(spec.name, meas.A, meas.Y, k=cell.k, **params)
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
    table = "trials"

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


def _decoder_params(spec, cell):
    """``spec``'s parameters in ``cell``: the cell's prior for decoders that take it, under the spec's own."""
    return {**prior_params(spec.name, cell.signal, cell.signal_params, cell.noise), **spec.params}


def _error_rows(task):
    _, truth = make_problem(task.cell, task.m, task.trials, task.seed, task.first_trial)
    binary, _ = signal_info(task.cell.signal, task.cell.signal_params)
    metrics = score(truth.X, np.zeros_like(truth.X), binary=binary, tol=task.tol)
    return _rows(task.cell, task.m, task.spec, task.first_trial, task.trials, STATUSES[ERROR],
                 np.zeros(task.trials, np.int64), 0.0, metrics)


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
            decode(spec.name, meas.A, meas.Y, k=cell.k, **_decoder_params(spec, cell))
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
        plans = _auto_plans(sweep)
        check_task_count(sum(math.ceil(p["trials"] / p["block"]) for p, _, _ in plans), "this sweep")
        tasks = search_tasks([p for p, _, _ in plans])
    else:
        check_task_count(len(sweep.cells()) * len(sweep.m_values()) * len(sweep.decoders)
                         * math.ceil(sweep.trials / sweep.block), "this sweep")
        check_decoders(sweep)
        tasks = expand(sweep)
    with Store(out) as store:
        stored = store.get_meta("sweep")
        if stored is not None and seeding.canonical(stored) != sweep.key():
            raise ConfigError(
                "this run directory holds a different sweep; use a new --out directory, or the same "
                "configuration to resume.", source=store.run_dir)
        if stored is None:
            store.set_meta(sweep=sweep.to_dict(), name=sweep.name, tasks_total=len(tasks),
                           trials_total=sum(t.trials for t in tasks))
            if out is not None:
                write_text_atomic(os.path.join(out, "sweep.json"), sweep_to_json(sweep))
                if config_text is not None:
                    write_text_atomic(os.path.join(out, "config.toml"), config_text)
        if auto:
            rows = _run_search_tasks(tasks, [p for p, _, _ in plans], store, jobs, "processes", address,
                                     start_method, progress, f"{sweep.name} minimal m")
            _write_summaries(store, plans, rows)
            return store.minimal_m()
        done = store.done_tasks()
        pending = [t for t in tasks if t.key() not in done]
        _drive(pending, store, len(tasks), len(tasks) - len(pending), jobs, address, start_method,
               progress, sweep.name)
        return store.trials()


def _auto_plans(sweep):
    """``(plan, opts, spec)`` of the minimal-m search of each (cell, decoder) of an ``m = "auto"`` sweep."""
    if importlib.util.find_spec(f"{__package__}.minimal_m") is None:
        raise NotImplementedError(
            "m = 'auto' needs csbench.minimal_m (the minimal-m search), which this installation "
            "does not have; give m as a list or a range table instead.")
    from .minimal_m import search_plan

    plans = []
    for c in sweep.cells():
        for i, spec in enumerate(sweep.decoders):
            kwargs = dict(encoder=c.encoder, signal=c.signal, n=c.n, k=c.k, trials=sweep.trials,
                          seed=sweep.seed, criterion=sweep.criterion, encoder_params=dict(c.encoder_params),
                          signal_params=dict(c.signal_params), noise=c.noise, rel_tol=sweep.tol, **sweep.auto)
            try:
                plan, opts = search_plan(spec.name, **kwargs, **spec.params)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{spec.display}: {exc}", key=f"decoders[{i}]") from None
            plans.append((plan, opts, spec))
    return plans


def _write_summaries(store, plans, rows):
    """Store one minimal-m row per search, derived from its per-trial rows (rewritten, identically, on resume).

    Its ``time`` is the sum of its tasks' wall times.
    """
    from .minimal_m import summarize

    for idx, ((plan, opts, spec), r) in enumerate(zip(plans, rows)):
        res = summarize(plan, r, float(r.drop_duplicates("task")["elapsed"].sum()), **opts)
        row = {**res.to_dict(), "decoder": spec.display, "decoder_name": spec.name,
               "decoder_params": seeding.canonical(spec.validate())}
        store.write_minimal_m(search_key(plan), idx, row)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``saved`` tasks are committed in the run directory ``run_dir`` (None: in memory)."""

    def __init__(self, saved, run_dir):
        super().__init__(saved)
        self.saved, self.run_dir = saved, run_dir


#: Most tasks one run may expand into (each is held in memory while the run goes).
MAX_TASKS = 200_000


def check_task_count(count, what):
    """Refuse, before any work, a run of more than :data:`MAX_TASKS` tasks (memory is O(tasks))."""
    if count > MAX_TASKS:
        raise ValueError(f"{what} expands into {count} tasks, more than the {MAX_TASKS} one run may hold "
                         f"in memory; allowed: fewer trials, a larger block, or a smaller grid "
                         f"(split the study into several runs).")


def _drive(tasks, store, total, initial, jobs, address, start_method, progress, name, executor="processes",
           unit="task"):
    """Submit tasks with at most ``max_in_flight`` outstanding; commit each as it finishes.

    Tasks are :class:`Task` (rows into table ``trials``) or :class:`SearchTask`
    (table ``search_trials``); the progress bar counts ``unit``: tasks, or trials (``"trial"``).
    Ctrl-C stops the workers and raises :class:`Interrupted`.
    """
    from tqdm.auto import tqdm

    from .executors import make_executor, terminate, worker_lost

    bar = tqdm(total=total, initial=initial, disable=not progress, desc=name, unit=unit)
    if not tasks:
        bar.close()
        return
    pool, max_in_flight = make_executor(jobs, address, start_method, threads=executor == "threads")
    cluster = getattr(pool, "progress_info", dict)  # dask: {"workers": N}
    bar.set_postfix(not_ok=0, **cluster())
    todo = iter(tasks)
    in_flight = {}
    failed = 0
    try:
        while True:
            while len(in_flight) < max_in_flight:
                task = next(todo, None)
                if task is None:
                    break
                fn = execute_search if isinstance(task, SearchTask) else execute_task
                in_flight[pool.submit(fn, task)] = (task, time.perf_counter())
            if not in_flight:
                break
            finished, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                task, t0 = in_flight.pop(fut)
                try:
                    rows, error = fut.result()
                except Exception as exc:
                    lost = worker_lost(exc)
                    if lost is None:
                        raise
                    raise lost from exc
                store.write_task(task.key(), task.index, task.description(), rows, error,
                                 time.perf_counter() - t0, table=task.table)
                failed += int((rows["status"] != "ok").sum())
                bar.set_postfix(not_ok=failed, **cluster(), refresh=False)
                bar.update(task.trials if unit == "trial" else 1)
    except KeyboardInterrupt:
        terminate(pool)
        pool = None
        raise Interrupted(store.count_tasks(), store.run_dir) from None
    finally:
        if pool is not None:
            for fut in in_flight:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


# --------------------------------------------------------------------------- searches
#: Task kinds of :func:`run_searches`: kind -> module with ``search_block(plan, first_trial, trials)``.
SEARCH_KINDS = {"minimal_m": "minimal_m", "maximal_k": "maximal_k"}


@dataclass(frozen=True)
class SearchTask:
    """Trials ``first_trial ..`` of one per-trial search (``plan["kind"]``: minimal m or maximal k).

    ``plan`` is the validated search (``minimal_m.search_plan``,
    ``maximal_k.search_plan``): everything that determines the trials' rows.
    """

    index: int
    plan: dict
    first_trial: int
    trials: int
    table = "search_trials"

    def description(self):
        return seeding.canonical({"plan": self.plan, "first_trial": self.first_trial, "trials": self.trials})

    def key(self):
        return seeding.short_hash(self.description())


def search_key(plan):
    """Key of a whole search (column ``search`` of table ``search_trials``)."""
    return seeding.short_hash(seeding.canonical(plan))


def search_tasks(plans, first_index=0):
    """The tasks of several searches: blocks of ``plan["block"]`` trials, in order."""
    tasks = []
    for plan in plans:
        B = plan["block"]
        tasks.extend(SearchTask(first_index + len(tasks) + i, plan, s, min(B, plan["trials"] - s))
                     for i, s in enumerate(range(0, plan["trials"], B)))
    return tasks


def execute_search(task: SearchTask):
    """Run one search task (in a worker); return ``(rows, error)`` like :func:`execute_task`.

    If the decoder raises, every trial of the block gets status ``error`` and
    no critical value (counted as never succeeding), and ``error`` holds the text.
    """
    plan = task.plan
    error = None
    try:
        module = importlib.import_module(f"{__package__}.{SEARCH_KINDS[plan['kind']]}")
        rows = module.search_block(plan, task.first_trial, task.trials)
    except Exception as exc:  # noqa: BLE001 - recorded per trial as status "error"
        error = f"{type(exc).__name__}: {exc}"
        n = task.trials
        rows = search_rows(task.first_trial, np.full(n, np.nan), np.zeros(n, bool), np.zeros(n, bool),
                           [{STATUSES[ERROR]: 1}] * n)
    rows.insert(0, "kind", plan["kind"])
    rows.insert(0, "search", search_key(plan))
    return rows, error


def search_rows(first_trial, critical, nonmonotone, checked, statuses, curves=None, at_max=None):
    """Per-trial rows of a search task (the columns of table ``search_trials``).

    ``critical`` (``inf``: censored, ``nan``: error), ``nonmonotone`` and
    ``checked`` flags, ``statuses`` a mapping status -> evaluations per trial,
    ``curves`` optional boolean success curves (stored bit-packed), ``at_max``
    optional ``(status, rel_err, n_wrong)`` of each trial's evaluation at the
    largest m (``None``: not evaluated there), for the censoring diagnosis.
    """
    at_max = [None] * len(np.atleast_1d(critical)) if at_max is None else at_max
    am = [a if a is not None else (None, np.nan, np.nan) for a in at_max]
    critical = np.asarray(critical, float)
    n = critical.size
    order = {name: i for i, name in enumerate(STATUSES)}
    status = []
    for c in statuses:
        bad = sorted((s for s in c if s != STATUSES[OK] and c[s]), key=lambda s: order.get(s, len(order)))
        status.append(bad[0] if bad else STATUSES[OK])
    return pd.DataFrame({
        "trial": np.arange(first_trial, first_trial + n), "critical": critical,
        "censored": np.isposinf(critical), "status": status,
        "n_evaluations": [int(sum(c.values())) for c in statuses],
        "n_not_ok": [int(sum(v for s, v in c.items() if s != STATUSES[OK])) for c in statuses],
        "nonmonotone": np.asarray(nonmonotone, bool), "checked": np.asarray(checked, bool),
        "statuses": [seeding.canonical(dict(sorted(c.items()))) for c in statuses],
        "curve": [None] * n if curves is None else [np.packbits(np.asarray(r, bool)).tobytes() for r in curves],
        "status_at_max": [a[0] for a in am], "rel_err_at_max": [a[1] for a in am],
        "wrong_at_max": [a[2] for a in am],
    })


def search_totals(rows):
    """Totals of a search's per-trial rows: ``critical`` (error trials as ``inf``), counts (``n_errors``: trials whose task raised), statuses, curves."""
    crit = rows["critical"].to_numpy(float)
    status_counts = Counter()
    for text in rows["statuses"]:
        status_counts.update(json.loads(text))
    curves = None
    if rows["curve"].notna().all() and len(rows):
        curves = np.array([np.unpackbits(np.frombuffer(b, np.uint8)).astype(bool) for b in rows["curve"]])
    return {
        "critical": np.where(np.isnan(crit), np.inf, crit),
        "n_censored": int(rows["censored"].sum()), "n_errors": int(np.isnan(crit).sum()),
        "n_nonmonotone": int(rows["nonmonotone"].sum()), "n_checked": int(rows["checked"].sum()), "n_evaluations": int(rows["n_evaluations"].sum()),
        "status_counts": dict(status_counts), "curves": curves,
        "errors": sorted({e for e in rows.get("error", pd.Series([], dtype=object)).dropna()}),
        "at_max": _failures_at_max(rows),
    }


def _failures_at_max(rows):
    """``(status, rel_err, n_wrong, False)`` of the censored trials evaluated at the largest m."""
    if "rel_err_at_max" not in rows:
        return []
    sel = rows["censored"].astype(bool) & rows["rel_err_at_max"].notna()
    return [(st, float(e), float(w), False) for st, e, w in
            zip(rows["status_at_max"][sel], rows["rel_err_at_max"][sel], rows["wrong_at_max"][sel])]


def run_searches(plans, out=None, *, jobs=1, executor="processes", address=None, start_method="spawn",
                 progress=False, name="search"):
    """Run per-trial searches (minimal m, maximal k) as tasks of the driver; return their rows.

    Parameters
    ----------
    plans : list of dict
        Validated searches (``search_plan`` of :mod:`csbench.minimal_m` or :mod:`csbench.maximal_k`).
    out : path, optional
        Run directory (resumable); ``None``: an in-memory store.
    jobs : int, optional
        Workers (default: CPU count); 1: serial.
    executor : {"processes", "threads"}
        Local workers: a process pool or in-process threads.
    address : str, optional
        dask.distributed scheduler (overrides ``jobs``/``executor``).

    Returns
    -------
    list of pandas.DataFrame
        Per plan, its ``search_trials`` rows in trial order (plus ``error``).
    """
    from .store import Store

    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    check_task_count(sum(math.ceil(p["trials"] / p["block"]) for p in plans), "this search")
    tasks = search_tasks(plans)
    with Store(out) as store:
        return _run_search_tasks(tasks, plans, store, jobs, executor, address, start_method, progress, name)


def _run_search_tasks(tasks, plans, store, jobs, executor, address, start_method, progress, name):
    done = store.done_tasks()
    pending = [t for t in tasks if t.key() not in done]
    total = sum(t.trials for t in tasks)
    _drive(pending, store, total, total - sum(t.trials for t in pending), jobs, address, start_method,
           progress, name, executor, unit="trial")
    return [store.search_trials(search_key(p)) for p in plans]
