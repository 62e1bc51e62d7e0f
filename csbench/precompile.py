"""Compile every numba kernel into numba's on-disk cache ahead of first use (``csbench compile``).

numba compiles a kernel on its first call and, with ``cache=True``, keeps the machine code on disk
(``__pycache__`` beside the sources, or ``NUMBA_CACHE_DIR``); later processes load it in ~0.01 s
per kernel. A cold first call pays the compile itself: about 37 CPU s for the lasso, OMP and AMP
together on the reference machine (``docs/benchmarks.md``, "Cold start"). :func:`precompile` pays it once,
at install time, on every core: each :data:`TASKS` entry calls the public functions on a tiny problem
in a worker process of its own, which compiles exactly the signatures real calls use, and writes them to
the cache. A second run only loads the cache and takes about a second per task.

The numba cache is keyed by the source files (path, modification time, size), the numba version and
the CPU, so it stays valid until csbench or numba changes; a kernel whose entry is stale is compiled
again on its first call, as without this step.
"""
from __future__ import annotations

import os
import time

import numpy as np

__all__ = ["TASKS", "precompile"]


def _problem(m, n, k, trials, per_trial=True, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((trials, m, n) if per_trial else (m, n)) / np.sqrt(m)
    X = np.zeros((trials, n))
    X[:, :k] = 1.0
    Y = np.einsum("tmn,tn->tm", A, X) if per_trial else X @ A.T
    return A, Y


def _lasso_cd():
    """The lasso's coordinate descent (a problem it solves without the homotopy)."""
    from .decoders import decode

    for per_trial in (True, False):
        A, Y = _problem(60, 200, 3, 2, per_trial)
        decode("lasso", A, Y, k=3)


def _lasso_homotopy():
    """The lasso's homotopy kernel, called as :func:`csbench.decoders.lasso._solve` calls it."""
    from .decoders.lasso import _homotopy

    A, Y = _problem(20, 40, 3, 2)
    _homotopy(A, Y, np.arange(2), np.full(2, 1e-3), False, np.full(2, 1000, np.int64), np.empty((0, 0)),
              np.zeros((2, 40)))


def _omp():
    """OMP and NNOMP, per-trial and shared A (Gram blocks)."""
    from .decoders import decode

    for per_trial in (True, False):
        A, Y = _problem(20, 40, 3, 40, per_trial)
        for positive in (False, True):
            decode("omp", A, Y, k=3, positive=positive)
    decode("omp", A, Y, k=3, gram=True, dtype="float32")  # the float32 Gram path of plain OMP


def _amp():
    """AMP (one kernel for every denoiser), and the stacked (BLAS-3) path of a shared A."""
    from .decoders import decode

    A, Y = _problem(20, 40, 3, 2)
    decode("amp", A, Y, k=3)
    A, Y = _problem(20, 40, 3, 16, per_trial=False)
    for dtype in ("float64", "float32"):
        decode("amp", A, Y, k=3, gemm=True, dtype=dtype)


def _readouts_and_draws():
    """Counter-based draws, matched filter (lattice ties, exact curve), read-outs, matrix-free decoders."""
    from .decoders import decode
    from .studies.minimal_m import minimal_m
    from .problems import Cell, make_problem

    for encoder in ("gaussian", "rademacher"):
        meas, _ = make_problem(Cell(encoder=encoder, n=40, k=3), 20, 2, seed=0)
        decode("matched_filter", meas.A, meas.Y, k=3)
        meas, _ = make_problem(Cell(encoder=encoder, n=40, k=3), 20, 2, seed=0, memory_budget=1)
        for name in ("matched_filter", "relu_readout", "amp", "omp", "lasso"):
            decode(name, meas.A, meas.Y, k=3)
    for encoder in ("gaussian", "unit"):  # the exact matched-filter curve: raw rows, and unit columns
        minimal_m("matched_filter", encoder=encoder, n=64, k=2, trials=2, progress=False)
    A, Y = _problem(20, 40, 3, 2)
    decode("trained_readout", A, Y, k=3, n_samples=256, max_iter=3)


def _greedy_and_vamp():
    """The greedy family (hard thresholding, pursuits, matching pursuit / matching-k) and VAMP."""
    from .decoders import decode

    A, Y = _problem(20, 40, 3, 2)
    for name in ("iht", "niht", "htp", "cosamp", "subspace_pursuit", "matching_pursuit", "matching_k"):
        decode(name, A, Y, k=3)
    decode("matching_pursuit", A, Y, k=3, binary=True)
    decode("vamp", A, Y, k=3)


#: name -> function compiling one group of kernels, in the order a pool hands them out (cold CPU seconds
#: of each in its own process, reference machine: about 16, 13, 8, 14, 8; two workers finish in ~29 s).
TASKS = {
    "lasso (coordinate descent)": _lasso_cd,
    "lasso (homotopy)": _lasso_homotopy,
    "amp": _amp,
    "omp": _omp,
    "read-outs, draws, matrix-free": _readouts_and_draws,
    "greedy, vamp": _greedy_and_vamp,
}


def _run(name):
    """Run task ``name`` in this process; return ``(name, wall s, CPU s, kernels compiled)``."""
    from numba.core import event

    compiled = []

    class _Count(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data.get("dispatcher"))

        def on_end(self, ev):
            pass

    t, c = time.perf_counter(), time.process_time()
    with event.install_listener("numba:compile", _Count()):
        TASKS[name]()
    return name, time.perf_counter() - t, time.process_time() - c, len(compiled)


def precompile(jobs=None, progress=True):
    """Compile every csbench kernel into numba's cache, ``jobs`` tasks at a time.

    Parameters
    ----------
    jobs : int, optional
        Worker processes (default: the CPU count, capped at ``len(TASKS)``); 1 runs the tasks here.
    progress : bool
        Show a progress bar over the tasks (stderr).

    Returns
    -------
    pandas.DataFrame
        One row per task: ``task``, ``seconds`` (wall), ``cpu_seconds``, ``compiled`` (numba
        compilations, callees included: 0 when everything came from the cache).
    """
    import concurrent.futures as cf

    import pandas as pd
    from tqdm.auto import tqdm

    from ._validate import check_int
    from .executors import make_executor

    jobs = min(check_int("jobs", (os.cpu_count() or 1) if jobs is None else jobs, low=1), len(TASKS))
    rows = []
    bar = tqdm(total=len(TASKS), desc="compiling numba kernels", unit="task", disable=not progress)
    if jobs == 1:  # here; the kernels' signatures do not depend on thread counts, so nothing is pinned
        for name in TASKS:
            rows.append(_run(name))
            bar.update()
    else:
        pool, _ = make_executor(jobs)
        try:
            for fut in cf.as_completed([pool.submit(_run, name) for name in TASKS]):
                rows.append(fut.result())
                bar.update()
        finally:
            pool.shutdown()
    bar.close()
    order = list(TASKS)
    rows.sort(key=lambda r: order.index(r[0]))
    return pd.DataFrame(rows, columns=["task", "seconds", "cpu_seconds", "compiled"])
