"""Executors behind one ``concurrent.futures.Executor`` interface.

* :class:`SerialExecutor` runs each call at ``submit`` time in this process
  (BLAS pinned to one thread while it runs);
* a local process pool (``jobs > 1``): ``ProcessPoolExecutor`` with a ``spawn``
  or ``forkserver`` context and :func:`init_worker` as initializer; workers
  die with their driver (``PR_SET_PDEATHSIG`` on Linux, and a watchdog thread
  on the parent's sentinel everywhere) and ignore Ctrl-C (the driver stops them);
* :class:`ThreadExecutor` (``threads=True``): in-process threads, numba
  single-threaded in each (what ``csbench.minimal_m`` uses by default);
* ``dask.distributed`` when a scheduler address is given (optional extra,
  imported lazily): each task runs through :func:`run_pinned` (one BLAS and one
  numba thread in the worker thread that runs it), dask reschedules the tasks
  of a worker that dies, and a task given up on (``KilledWorker``) ends the
  run with :class:`WorkerLost`.

Results never depend on the executor: a task carries seeds, not matrices, and
trial t of a cell is the same problem in every task (:mod:`csbench.problems`).
"""
from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import multiprocessing
import os
import signal
import sys
import threading

from ._validate import check_choice, check_int

#: Start methods allowed for the local process pool (never fork: threads + BLAS).
START_METHODS = ["spawn", "forkserver"]

_LIMITS = None  # keeps the worker's threadpoolctl limiter alive


def die_with_parent():
    """Make this pool worker exit when its driver does (kill -9 or SIGTERM of the driver).

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through ctypes; everywhere: a
    daemon thread waiting on the parent's sentinel (a pipe that reaches EOF
    when the parent exits, ``multiprocessing.parent_process().sentinel``), so
    a parent that died before this call is noticed at once too.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    parent = multiprocessing.parent_process()

    def watch():
        from multiprocessing.connection import wait

        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="csbench-watchdog", daemon=True).start()


def init_worker():
    """Process-pool initializer: dies with its parent, ignores Ctrl-C, then :func:`pin_threads`."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin_threads()


def pin_threads():
    """One BLAS/OpenMP thread in this process (threadpoolctl, and the environment for
    libraries loaded later) and one numba thread in the calling thread.

    ``numba.set_num_threads`` is thread-local, so a worker whose tasks run in
    other threads (dask) must call this in each task's thread (:func:`run_pinned`).
    """
    global _LIMITS
    if _LIMITS is None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"
        from threadpoolctl import threadpool_limits

        _LIMITS = threadpool_limits(limits=1)
    _one_numba_thread()


def run_pinned(fn, /, *args, **kwargs):
    """``fn(*args, **kwargs)`` after :func:`pin_threads` in this thread: how dask workers run tasks.

    Pinning per task (microseconds once BLAS is limited) holds on every worker,
    also one started by hand (``scripts/dask_local_cluster.sh``), one that joins
    late, and one a nanny restarted after it died.
    """
    pin_threads()
    return fn(*args, **kwargs)


class SerialExecutor(cf.Executor):
    """Runs ``fn(*args)`` immediately in the calling process; returns a finished Future.

    BLAS is pinned to one thread from construction until :meth:`shutdown`.
    """

    def __init__(self):
        from threadpoolctl import threadpool_limits

        self._limits = threadpool_limits(limits=1)

    def shutdown(self, wait=True, *, cancel_futures=False):
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None

    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the Future like a pool
            if not isinstance(exc, Exception):
                raise
            fut.set_exception(exc)
        return fut


class ThreadExecutor(cf.ThreadPoolExecutor):
    """In-process threads, numba single-threaded in each, BLAS pinned to one thread until shutdown."""

    def __init__(self, workers):
        from threadpoolctl import threadpool_limits

        super().__init__(max_workers=workers, initializer=_one_numba_thread)
        self._limits = threadpool_limits(limits=1, user_api="blas")

    def shutdown(self, wait=True, *, cancel_futures=False):
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None


def _one_numba_thread():
    import numba

    numba.set_num_threads(1)  # thread-local: the caller's setting is unchanged


def _threads_safe():
    """Whether decoders may run on several threads: numba's threading layer must allow
    concurrent parallel regions (omp, tbb; not workqueue). True if none is loaded yet."""
    import numba

    try:
        return numba.threading_layer() != "workqueue"
    except ValueError:  # no parallel kernel has run yet
        return True


def cap_jobs(jobs):
    """``jobs`` capped at the CPU count (more workers than cores only add memory); says so on stderr."""
    cores = os.cpu_count() or 1
    if jobs > cores:
        print(f"csbench: jobs={jobs} is more than the {cores} CPU cores; using {cores} workers.",
              file=sys.stderr)
        return cores
    return jobs


def make_executor(jobs=1, address=None, start_method="spawn", threads=False):
    """Return ``(executor, max_in_flight)`` for the requested backend.

    Parameters
    ----------
    jobs : int
        Workers (>= 1, capped at the CPU count with a message); 1 means serial, in this process.
    address : str, optional
        A dask.distributed scheduler address (``tcp://host:port``); overrides ``jobs``.
    start_method : {"spawn", "forkserver"}
        Start method of the local pool.
    threads : bool
        Local workers are threads of this process (:class:`ThreadExecutor`), not processes.

    ``max_in_flight`` bounds the tasks submitted but not collected (2 per worker).
    """
    jobs = check_int("jobs", jobs, low=1)
    check_choice("start_method", start_method, START_METHODS)
    if address is not None:
        return dask_executor(address)
    jobs = cap_jobs(jobs)
    if jobs == 1 or (threads and not _threads_safe()):
        return SerialExecutor(), 1
    if threads:
        return ThreadExecutor(jobs), 2 * jobs
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(start_method),
                                  initializer=init_worker)
    return pool, 2 * jobs


def terminate(executor):
    """Stop an executor now (Ctrl-C): kill a process pool's workers, drop queued work."""
    if isinstance(executor, cf.ProcessPoolExecutor):
        for p in list((executor._processes or {}).values()):
            p.terminate()
    executor.shutdown(wait=not isinstance(executor, cf.ThreadPoolExecutor), cancel_futures=True)


#: Seconds to wait for a dask scheduler before giving up (distributed's default is 30).
CONNECT_TIMEOUT = 5
#: Seconds to wait for a first worker when the scheduler has none (workers still starting).
WORKER_TIMEOUT = 30


class WorkerLost(OSError):
    """A worker (or the dask scheduler) died under a task: the run stops; finished tasks are stored."""


def worker_lost(exc):
    """The :class:`WorkerLost` that ``exc`` (raised by a future's ``result``) amounts to, or ``None``.

    A dead local pool worker breaks the pool (``BrokenProcessPool``); dask
    reschedules a dead worker's tasks and gives up on a task only after
    ``distributed.scheduler.allowed-failures`` workers died under it (``KilledWorker``),
    and cancels every task when the client loses the scheduler (the driver never
    reads a future it cancelled itself).
    """
    if isinstance(exc, BrokenProcessPool):
        return WorkerLost("a worker process died (killed, out of memory, or failed to import csbench); "
                          "finished tasks are stored: re-run the same command to resume.")
    killed = getattr(sys.modules.get("distributed"), "KilledWorker", None)
    if killed is not None and isinstance(exc, killed):
        last = getattr(exc.last_worker, "address", exc.last_worker)
        return WorkerLost(f"dask workers died under a task {exc.allowed_failures + 1} time(s) (the last "
                          f"was {last}; distributed.scheduler.allowed-failures = {exc.allowed_failures}): "
                          "killed, or out of memory? See the worker logs. Finished tasks are stored: "
                          "re-run the same command to resume.")
    if isinstance(exc, cf.CancelledError):
        return WorkerLost("a task was cancelled under the driver: the dask scheduler died, or the connection "
                          "to it was lost. Finished tasks are stored: re-run the same command to resume.")
    return None


def dask_executor(address):
    """A ``concurrent.futures`` executor on a dask.distributed cluster, and its in-flight bound.

    Waits up to :data:`WORKER_TIMEOUT` s for a first worker; the bound is 2
    tasks per worker thread present then.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("a scheduler address needs dask.distributed, which is not installed; "
                         "`pip install csbench[dask]` (or distributed).") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:  # distributed raises OSError("Timed out trying to connect ...")
        raise ConnectionError(f"scheduler={address!r}: no dask scheduler answered within "
                              f"{CONNECT_TIMEOUT} s ({' '.join(str(exc).split())}).") from None
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError:
        client.close()
        raise ConnectionError(f"scheduler={address!r} has no workers: none joined within {WORKER_TIMEOUT} s "
                              "(start some, e.g. scripts/dask_local_cluster.sh start).") from None
    workers = max(1, sum(client.nthreads().values()))
    return _DaskExecutor(client), 2 * workers


class _DaskExecutor(cf.Executor):
    """``client.get_executor()`` running each task through :func:`run_pinned`; closes the client on shutdown."""

    def __init__(self, client):
        self.client = client
        self._ex = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self._ex.submit(run_pinned, fn, *args, **kwargs)

    def progress_info(self):
        """``{"workers": N}`` for the progress bar, from the client's view of the cluster.

        distributed refreshes that view in the background (every 2 s); reading it
        never calls the scheduler, so a lost scheduler cannot block or fail the run here.
        """
        count = getattr(self.client, "_scheduler_identity", {}).get("n_workers")
        return {} if count is None else {"workers": count}

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._ex.shutdown(wait=wait and not cancel_futures)  # wait=False cancels the tasks not finished
        self.client.close()
