"""Executors behind one ``concurrent.futures.Executor`` interface.

* :class:`SerialExecutor` runs each call at ``submit`` time in this process
  (BLAS pinned to one thread while it runs);
* a local process pool (``jobs > 1``): ``ProcessPoolExecutor`` with a ``spawn``
  or ``forkserver`` context and :func:`init_worker` as initializer;
* ``dask.distributed`` when a scheduler address is given (optional extra,
  imported lazily).

Results never depend on the executor: a task carries seeds, not matrices, and
trial t of a cell is the same problem in every task (:mod:`csbench.problems`).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os

from ._validate import check_choice, check_int

#: Start methods allowed for the local process pool (never fork: threads + BLAS).
START_METHODS = ["spawn", "forkserver"]

_LIMITS = None  # keeps the worker's threadpoolctl limiter alive


def init_worker():
    """Worker initializer: one BLAS/OpenMP thread (threadpoolctl) and one numba thread."""
    global _LIMITS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    _LIMITS = threadpool_limits(limits=1)
    import numba

    numba.set_num_threads(1)


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


def make_executor(jobs=1, address=None, start_method="spawn"):
    """Return ``(executor, max_in_flight)`` for the requested backend.

    Parameters
    ----------
    jobs : int
        Worker processes (>= 1); 1 means serial, in this process.
    address : str, optional
        A dask.distributed scheduler address (``tcp://host:port``); overrides ``jobs``.
    start_method : {"spawn", "forkserver"}
        Start method of the local pool.

    ``max_in_flight`` bounds the tasks submitted but not collected (2 per worker).
    """
    jobs = check_int("jobs", jobs, low=1)
    check_choice("start_method", start_method, START_METHODS)
    if address is not None:
        return dask_executor(address)
    if jobs == 1:
        return SerialExecutor(), 1
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(start_method),
                                  initializer=init_worker)
    return pool, 2 * jobs


#: Seconds to wait for a dask scheduler before giving up (distributed's default is 30).
CONNECT_TIMEOUT = 5


def dask_executor(address):
    """A ``concurrent.futures`` executor on a dask.distributed cluster, and its in-flight bound."""
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
    client.run(init_worker)
    workers = max(1, sum(client.nthreads().values()))
    return _DaskExecutor(client), 2 * workers


class _DaskExecutor(cf.Executor):
    """``client.get_executor()`` that also closes the client on shutdown."""

    def __init__(self, client):
        self.client = client
        self._ex = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self._ex.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._ex.shutdown(wait=wait)
        self.client.close()
