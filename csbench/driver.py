"""The driver: runs tasks on an executor and commits each finished task to the store.

One driver runs every unit of work (grid tasks of a sweep, blocks of trials of a
per-trial search) on one executor interface (:mod:`csbench.executors`), with a
bounded number in flight; the driver process is the only writer of the store
(:mod:`csbench.store`), one transaction per task, so a killed run resumes where
it stopped. Search kinds register themselves in :data:`KINDS`; the driver
calls a task's ``execute`` and knows no study by name.
"""
from __future__ import annotations

import concurrent.futures as cf
import errno
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from . import seeding
from ._validate import check_bool, check_choice
from .decoders.base import ERROR, OK, STATUSES
from .registry import Entry, Registry


def execute(task):
    """Run ``task`` in a worker: ``task.execute()`` -> ``(rows, error)``; ``rows`` is None when the task
    failed for a transient reason (:func:`transient_reason`): it is not stored, and a resume recomputes it."""
    try:
        return task.execute()
    except BaseException as exc:  # noqa: BLE001 - classified; anything else propagates
        reason = transient_reason(exc)
        if reason is None:
            raise
        return None, reason


#: ``errno`` values of an ``OSError`` that says a resource ran out (memory, disk, files, processes), not that
#: the task is wrong: ENOMEM, ENOSPC, EDQUOT, EMFILE, ENFILE, EAGAIN.
TRANSIENT_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOMEM", "ENOSPC", "EDQUOT", "EMFILE", "ENFILE", "EAGAIN")
                             if hasattr(errno, n))
#: Exception names whose stored ``error`` text marks a transient failure (databases written before transient
#: failures were kept out of the store): such tasks are recomputed on resume.
TRANSIENT_NAMES = ("MemoryError", "KeyboardInterrupt", "WorkerLost", "BrokenProcessPool")


def transient_reason(exc):
    """``"Name: text"`` if ``exc`` failed a task for a transient reason, else None (a deterministic failure).

    Transient: running out of memory (``MemoryError``), an interrupted worker (``KeyboardInterrupt``
    raised in a worker thread or process; in the driver's own thread it is the user's Ctrl-C and is not
    classified), a lost worker (:class:`~csbench.executors.WorkerLost`), and an ``OSError`` whose errno
    says a resource ran out (:data:`TRANSIENT_ERRNOS`). Everything else (a decoder's ``ValueError``,
    ``LinAlgError``, ...) is deterministic: the same task raises it again, so it is stored with its reason.
    """
    import multiprocessing
    import threading

    if isinstance(exc, KeyboardInterrupt):
        in_driver = threading.current_thread() is threading.main_thread() and multiprocessing.parent_process() is None
        return None if in_driver else f"KeyboardInterrupt: the worker was interrupted {exc}".rstrip()
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and (
            exc.errno in TRANSIENT_ERRNOS or type(exc).__name__ == "WorkerLost")):
        return f"{type(exc).__name__}: {exc}".rstrip(": ")
    return None


def is_transient_error(text):
    """Whether a stored ``error`` text names a transient failure (:data:`TRANSIENT_NAMES`, or an
    ``OSError`` with a resource errno)."""
    if not text:
        return False
    name = text.split(":", 1)[0]
    if name in TRANSIENT_NAMES:
        return True
    return name in ("OSError", "BlockingIOError") and any(f"[Errno {e}]" in text for e in TRANSIENT_ERRNOS)


class TransientFailures(OSError):
    """Tasks of a run failed for transient reasons (memory, a lost or interrupted worker, a resource):
    they were not stored, every other task was; running the same command again retries them."""

    def __init__(self, reasons, run_dir):
        self.reasons, self.run_dir = list(reasons), run_dir
        first = sorted(set(self.reasons), key=self.reasons.index)
        shown = "; ".join(first[:2]) + (f"; ... ({len(first) - 2} more)" if len(first) > 2 else "")
        again = ("run the same command again to retry them (finished tasks are stored)" if run_dir is not None
                 else "run again to retry them (nothing is stored without a run directory)")
        super().__init__(f"{len(self.reasons)} task{'s' if len(self.reasons) != 1 else ''} failed for a "
                         f"transient reason ({shown}): {again}.")


def _warn_errors(errors):
    """One warning for the tasks of this run whose decoder raised: stored as status ``error`` with the reason."""
    if errors:
        import warnings

        warnings.warn(f"{len(errors)} task(s) failed with a deterministic error, stored as status 'error' with "
                      f"its reason (running again gives the same; the reason is in column 'error' and in "
                      f"`csbench status`): {errors[0]}", RuntimeWarning, stacklevel=3)


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


def drive(tasks, store, total, initial, jobs, address, start_method, progress, name, executor="processes",
           unit="task"):
    """Submit tasks with at most ``max_in_flight`` outstanding; commit each as it finishes.

    A task is any object with ``key()``, ``description()``, ``index``, ``trials``, ``table`` (the store
    table its rows go to) and ``execute() -> (rows, error)`` (run in a worker); the driver knows no kind
    by name. The progress bar counts ``unit``: tasks, or trials (``"trial"``).
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
    transient, errors = [], []
    try:
        while True:
            while len(in_flight) < max_in_flight:
                task = next(todo, None)
                if task is None:
                    break
                in_flight[pool.submit(execute, task)] = (task, time.perf_counter())
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
                if rows is None:  # transient: not stored, so a resume recomputes it
                    transient.append(error)
                    bar.set_postfix(not_ok=failed, retry=len(transient), **cluster(), refresh=False)
                    continue
                store.write_task(task.key(), task.index, task.description(), rows, error,
                                 time.perf_counter() - t0, table=task.table)
                if error is not None:
                    errors.append(error)
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
    _warn_errors(errors)
    if transient:
        raise TransientFailures(transient, store.run_dir)


#: Local executors of :func:`run_searches` (``address``: dask instead).
EXECUTORS = ["processes", "threads"]


def check_run_options(progress=None, executor=None):
    """Refuse, before any work, a non-boolean ``progress`` or an unknown ``executor`` (one line each)."""
    if progress is not None:
        check_bool("progress", progress)
    if executor is not None:
        check_choice("executor", executor, EXECUTORS)


# --------------------------------------------------------------------------- search kinds
@dataclass(frozen=True)
class KindEntry(Entry):
    """A registered per-trial search kind: ``func(plan, first_trial, trials)`` computes one task's rows.

    Attributes
    ----------
    plan : callable
        ``plan(**arguments) -> (plan, opts)``: validates a study; ``plan["kind"]`` names this kind.
    summarize : callable
        ``summarize(plan, rows, elapsed, **opts)``: the study's result from its stored per-trial rows.
    result_label : str
        The quantity it measures (``"m_star"``, ``"k_star"``), for status lines and reports.
    """

    plan: Callable | None = None
    summarize: Callable | None = None
    result_label: str = ""


#: Per-trial search kinds (minimal m, maximal k, and kinds packages add through the entry-point group
#: ``csbench.studies``). Each registers itself with its plan, block and summary functions.
KINDS = Registry("search kind", KindEntry, modules=("csbench.studies.minimal_m", "csbench.studies.maximal_k"),
                 group="csbench.studies")


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

    def execute(self):
        return execute_search(self)

    def description(self):
        return seeding.canonical({"plan": plan_identity(self.plan), "first_trial": self.first_trial,
                                  "trials": self.trials})

    def key(self):
        return seeding.short_hash(self.description())


def plan_identity(plan):
    """A search plan as it identifies the search: its cell and encoder parameters in their identity form
    (a stored matrix by its content, no storage locations; :meth:`csbench.problems.Cell.as_dict`)."""
    from .encoders import identity_params
    from .problems import Cell

    return {**plan, "cell": Cell(**plan["cell"]).as_dict(identity=True),
            "ep": identity_params(plan["cell"]["encoder"], plan["ep"])}


def search_key(plan):
    """Key of a whole search (column ``search`` of table ``search_trials``)."""
    return seeding.short_hash(seeding.canonical(plan_identity(plan)))


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
        rows = KINDS.get(plan["kind"]).func(plan, task.first_trial, task.trials)
    except Exception as exc:  # noqa: BLE001 - recorded per trial as status "error"
        if transient_reason(exc) is not None:
            raise  # not stored: the driver counts it and a resume recomputes it
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
        Validated searches (``search_plan`` of :mod:`csbench.studies.minimal_m` or :mod:`csbench.studies.maximal_k`).
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

    check_run_options(progress=progress, executor=executor)
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    check_task_count(sum(math.ceil(p["trials"] / p["block"]) for p in plans), "this search")
    tasks = search_tasks(plans)
    with Store(out) as store:
        record_searches(store, plans, tasks)
        return run_search_tasks(tasks, plans, store, jobs, executor, address, start_method, progress, name)


def record_searches(store, plans, tasks):
    """Record what a search run holds (``meta``: ``run_kind`` "search", its plans, totals), once; refuse a
    directory holding another kind of run or other searches, in one line."""
    from .config import ConfigError

    kind = store.get_meta("run_kind")
    if kind is None and store.get_meta("sweep") is not None:
        kind = "sweep"
    if kind not in (None, "search"):
        raise ConfigError(f"this run directory holds a {kind} run, not a search; use a new --out directory.",
                          source=store.run_dir)
    stored = store.get_meta("searches")
    keys = [search_key(p) for p in plans]
    if stored is None:
        store.set_meta(run_kind="search", searches=keys, plans=[json.loads(seeding.canonical(p)) for p in plans],
                       tasks_total=len(tasks),
                       trials_total=sum(t.trials for t in tasks),
                       name=", ".join(sorted({p["kind"] for p in plans})))
        return
    new = [i for i, key in enumerate(keys) if key not in stored]
    if not new:
        return
    stored_plans = store.get_meta("plans") or []
    if {study_identity(p) for p in stored_plans + plans} != {study_identity(stored_plans[0])}:
        raise ConfigError("this run directory holds different searches; use a new --out directory, or the same "
                          "arguments to resume.", source=store.run_dir)
    # the same study at another value of its axis (k of minimal m, m of maximal k): one command, several searches
    added = {keys[i] for i in new}
    new_tasks = [t for t in tasks if search_key(t.plan) in added]
    store.set_meta(searches=stored + [keys[i] for i in new], plans=stored_plans + [plans[i] for i in new],
                   tasks_total=store.get_meta("tasks_total", 0) + len(new_tasks),
                   trials_total=store.get_meta("trials_total", 0) + sum(t.trials for t in new_tasks))


#: Plan fields that may differ between the searches of one study in one run directory (its axis: k for
#: minimal m, m for maximal k, and what is derived from it).
AXIS_FIELDS = ("m", "m_max", "m_start", "k_max", "k_start", "block", "params", "method", "probe")


def study_identity(plan):
    """What the searches of one study share (canonical JSON): the plan without its axis (:data:`AXIS_FIELDS`)
    and without the cell's k."""
    rest = {key: v for key, v in plan.items() if key not in AXIS_FIELDS}
    rest["cell"] = {key: v for key, v in plan.get("cell", {}).items() if key != "k"}
    return seeding.canonical(rest)


def run_search_tasks(tasks, plans, store, jobs, executor, address, start_method, progress, name):
    done = store.done_tasks(retry=is_transient_error)
    pending = [t for t in tasks if t.key() not in done]
    total = sum(t.trials for t in tasks)
    drive(pending, store, total, total - sum(t.trials for t in pending), jobs, address, start_method,
           progress, name, executor, unit="trial")
    return [store.search_trials(search_key(p)) for p in plans]


def load_search_results(run_dir, q=0.5, conf=0.95):
    """One summary per search of a minimal-m / maximal-k run directory (``--out``), from its stored rows.

    Each search's kind summarises its per-trial rows (:attr:`KindEntry.summarize`): for minimal m the
    :class:`~csbench.studies.minimal_m.MinimalMResult`, for maximal k the ``MaximalKResult``, as dicts.
    Searches with no finished trial yet are left out.
    """
    from .store import Store

    with Store(run_dir, readonly=True) as st:
        plans = st.get_meta("plans") or []
        rows = [(p, st.search_trials(search_key(p))) for p in plans]
    out = []
    for plan, r in rows:
        if not len(r):
            continue
        res = KINDS.get(plan["kind"]).summarize(plan, r, float(r.drop_duplicates("task")["elapsed"].sum()),
                                                q=q, conf=conf)
        out.append({"kind": plan["kind"], **res.to_dict()})
    return pd.DataFrame(out)
