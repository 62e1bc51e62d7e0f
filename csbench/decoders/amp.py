"""Approximate message passing (AMP): soft-thresholding (l1) and Bayes-optimal binary AMP.

AMP [DMM09] is iterative thresholding plus the Onsager correction term. From
``x^0 = 0``, ``z^0 = y``::

    sigma_t^2 = ||z^t||^2 / m                                  (effective noise variance)
    x^{t+1}   = eta(x^t + A^T z^t; sigma_t)
    z^{t+1}   = y - A x^{t+1} + (1/delta) <eta'> z^t,   (1/delta) <eta'> = sum_j eta'_j / m

with ``delta = m/n``. Denoisers ``eta``:

* ``"soft"``: ``sign(r) max(|r| - tau sigma_t, 0)``; with ``nonneg=True`` the
  one-sided ``max(r - tau sigma_t, 0)``. ``tau`` defaults to the minimax
  threshold :func:`csbench.theory.minimax_threshold` (delta), for which AMP's
  phase transition is the l1 (basis pursuit) one, ``rho_W(delta)``.
* ``"bayes_binary"``: the posterior mean for ``x_j ~ (1-eps) delta_0 + eps delta_1``
  seen through Gaussian noise of variance ``v = sigma_t^2``:
  ``expit((r - 1/2)/v + ln(eps/(1-eps)))`` [KMS12]; ``eps`` = ``density`` (default k/n).
  Its state-evolution threshold is :func:`csbench.theory.bayes_binary_threshold`.

AMP's guarantees (state evolution) assume iid entries of variance 1/m (columns of
norm about 1); on other matrices (non-zero mean, strongly correlated columns,
large condition number) it can diverge. ``damping = d`` replaces the updates by
``(1-d) x^{t+1} + d x^t`` and ``(1-d) z^{t+1} + d z^t``, which keeps the fixed
points and often restores convergence [RSF14]. Even on Gaussian matrices,
undamped AMP at n = 1000 fell into a period-2 oscillation (status ``max_iter``)
on 0-5 of 40 instances at 0.75 rho_W (delta in {0.25, 0.5}, signed and
nonnegative) that basis pursuit solves; ``damping=0.2`` solved all 160.

Stopping: relative change ``||x^{t+1} - x^t|| <= tol ||x^{t+1}||`` or relative
residual ``||y - A x^{t+1}|| <= tol ||y||`` (status ``ok``); ``max_iter`` reached
(``max_iter``); a non-finite iterate or ``||z^t|| > 1e3 ||y||`` (``diverged``, with
the last finite iterate returned).

References
----------
.. [DMM09] D. L. Donoho, A. Maleki, A. Montanari, "Message-passing algorithms for
   compressed sensing", PNAS 106 (45), 2009.
.. [KMS12] F. Krzakala, M. Mezard, F. Sausset, Y. Sun, L. Zdeborova, "Probabilistic
   reconstruction in compressed sensing", J. Stat. Mech. P08009, 2012.
.. [RSF14] S. Rangan, P. Schniter, A. Fletcher, "On the convergence of approximate
   message passing with arbitrary matrices", ISIT 2014.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .._validate import check_bool, check_choice, check_float, check_gram, check_int, optional, or_choice
from .backend import kernels
from .base import DECODERS, DIVERGED, MAX_ITER, OK, DecodeResult, outputs, register_operator, run_trials
from .precision import TOL32, as_dtype, check_dtype, operator_path

_k = kernels("amp")  # numba loads on the first call, not on import
_DENOISERS = ("soft", "bayes_binary")


#: Value checks of AMP's parameters (run by decode() and DecoderSpec).
CHECKS = {
    "denoiser": partial(check_choice, choices=list(_DENOISERS)),
    "nonneg": check_bool,
    "threshold": or_choice(partial(check_float, low=0.0), ["minimax"]),
    "density": optional(partial(check_float, low=0.0, high=1.0, low_open=True, high_open=True)),
    "damping": partial(check_float, low=0.0, high=1.0, high_open=True),
    "max_iter": partial(check_int, low=1),
    "tol": partial(check_float, low=0.0, low_open=True),
    "gemm": check_gram,
    "dtype": check_dtype,
}


def check_problem(params, n, k):
    """AMP's rules on checked ``params`` and the problem (run by decode() and before a search).

    ``density`` belongs to ``denoiser="bayes_binary"`` only, whose default
    ``density = k/n`` needs ``0 < k < n``.
    """
    if params["denoiser"] == "soft":
        if params["density"] is not None:
            raise ValueError("density is used only by denoiser='bayes_binary'; got density with denoiser='soft'.")
    elif params["density"] is None:
        if k is None:
            raise ValueError("amp with denoiser='bayes_binary' needs k (density = k/n) or density=...; got neither.")
        if not 0 < k < n:
            raise ValueError(f"density = k/n = {k}/{n} must lie in (0, 1); pass density=... explicitly.")
    return params


def amp_params(m, n, k, denoiser, nonneg, threshold, density):
    """Kernel arguments ``(code, tau, eps)`` from parameters checked by :data:`CHECKS` and :func:`check_problem`."""
    if denoiser == "bayes_binary":
        return _k.BAYES_BINARY, 0.0, float(k / n if density is None else density)
    if threshold == "minimax":
        from ..theory.phase_transition import minimax_threshold

        threshold = minimax_threshold(min(m / n, 1.0), nonneg=nonneg)  # tau = 0 for m >= n
    return (_k.SOFT_NONNEG if nonneg else _k.SOFT), float(threshold), 0.5


@DECODERS.register("amp", "approximate message passing: soft threshold (l1, minimax tau) or Bayes {0,1}",
                   checks=CHECKS, problem_check=check_problem)
def amp(A, Y, k, *, denoiser="soft", nonneg=False, threshold="minimax", density=None,
        damping=0.0, max_iter=1000, tol=1e-9, gemm="auto", dtype="float64"):
    """Approximate message passing (see the module docstring for the iteration).

    Parameters
    ----------
    denoiser : {"soft", "bayes_binary"}
        Soft thresholding (l1-AMP) or the posterior mean for x in {0, 1}^n.
    nonneg : bool
        ``"soft"`` only: one-sided threshold ``max(r - theta, 0)`` (x >= 0).
    threshold : "minimax" or float >= 0
        ``"soft"`` only: tau, the threshold in units of ``sigma_t``; ``"minimax"``
        uses ``minimax_threshold(m/n, nonneg)``.
    density : float in (0, 1), optional
        ``"bayes_binary"`` only: prior ``P(x_j = 1)``; default ``k/n`` (needs k).
    damping : float in [0, 1)
        0 is plain AMP.
    max_iter : int >= 1
    tol : float > 0
        Relative-change / relative-residual tolerance.
    gemm : "auto", True or False
        Shared (m, n) A only: stack the running trials into two matrix products per iteration
        (``X_new A^T`` and ``Z A``, BLAS-3) instead of one pass over A per trial. Each trial keeps
        its own iteration count, stopping rule and status, and leaves the stack when it stops.
        Results agree with ``gemm=False`` to rounding (tested to 1e-10, identical ``n_iter`` and
        statuses), not bit for bit. "auto": for at least ``GEMM_MIN_TRIALS`` = 16 trials.
    dtype : "float64" or "float32"
        float32: A and Y rounded to float32; the stacked path keeps its iterates and products in
        float32 (``sgemm``), the per-trial path computes in float64 on the rounded values; ``tol``
        is raised to at least ``TOL32`` = 1e-5; X_hat is float32 (:mod:`csbench.decoders.precision`).

    Returns
    -------
    DecodeResult
        ``n_iter`` is the number of AMP iterations per trial.

    Notes
    -----
    Each numba thread keeps a copy of ``A^T`` (one per trial, or one for its whole
    range of trials when A is shared) when it takes at most 64 MB
    (``csbench.kernels.amp.AT_MAX_BYTES``), for speed; the results are
    bit-identical without it.
    """
    m, n = A.shape[-2:]
    code, tau, eps = amp_params(m, n, k, denoiser, nonneg, threshold, density)
    T = Y.shape[0]
    X = np.zeros((T, n))
    n_iter = np.zeros(T, np.int64)
    status = np.zeros(T, np.int8)
    single = dtype == "float32"
    if single:
        tol = max(tol, TOL32)
    gemm = _use_gemm(A, T, gemm)
    A, Y = as_dtype(np.float32 if single and gemm else np.float64, A, Y)
    if gemm:
        block = max(GEMM_MIN_TRIALS, GEMM_BLOCK_ENTRIES // n)
        _run_blocks(partial(_amp_gemm, A, Y, X, n_iter, status, code, tau, eps, damping, max_iter, tol, block),
                    -(-T // block))
    else:
        run_trials(_k.amp_batch, T, A if A.ndim == 3 else A[None], Y, X, n_iter, status, code, tau, eps, damping,
                   max_iter, tol)
    return DecodeResult(X.astype(np.float32) if single else X, n_iter, status)


#: ``gemm="auto"`` runs a shared A's trials through the BLAS-3 path when there are at least this many.
GEMM_MIN_TRIALS = 16
#: Trials per block of the BLAS-3 path: ``max(GEMM_MIN_TRIALS, GEMM_BLOCK_ENTRIES // n)`` (the block's
#: (trials, n) arrays then take about 16 MB each in float64).
GEMM_BLOCK_ENTRIES = 1 << 21


#: How the BLAS-3 path uses several threads (profiling switch; results are identical in every mode):
#: "auto" (see :func:`_run_blocks`) or "nested" (blocks on numba threads, each product on all BLAS threads).
AMP_THREADS = "auto"


def _run_blocks(run, blocks):
    """``run(b0, b1)`` over the blocks with ``run_trials`` (one range of blocks per numba thread).

    With two or more blocks and numba threads, the blocks run on the threads with BLAS limited to one
    thread meanwhile (threadpoolctl; the limit is process-wide while it lasts): each block's products
    and denoiser then run on a core of their own. Before (``AMP_THREADS = "nested"``), every block's
    products asked BLAS for all cores too, so 2 blocks on 2 cores wanted 4 threads; measured at
    (4096, 384), T = 1000 (2 blocks), 2 threads, load ~7 on 2 cores, wall ms per signal-iteration:
    float32 0.258 nested, 0.082 blocks with one BLAS thread each, 0.144 blocks one after another with
    2 BLAS threads; float64 0.362, 0.197, 0.295; a second run: float32 0.263 nested, 0.129 this way,
    float64 0.475 and 0.266 (``benchmarks/profile_issue19/prof_amp_threads.py``; identical results;
    under that load no thread had a core to itself, docs/benchmarks.md). A single block keeps BLAS's
    threads for its products.
    """
    import numba

    if AMP_THREADS == "nested" or blocks < 2 or numba.get_num_threads() < 2:
        run_trials(run, blocks)
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        run_trials(run, blocks)


def _use_gemm(A, T, gemm):
    """Whether AMP stacks the trials of a shared A into matrix products (see ``GEMM_MIN_TRIALS``)."""
    if A.ndim == 3:
        if gemm is True:
            raise ValueError("gemm=True needs one matrix A of shape (m, n) shared by all trials; "
                             f"got per-trial A of shape {A.shape}.")
        return False
    return T >= GEMM_MIN_TRIALS if gemm == "auto" else bool(gemm)


def _amp_gemm(A, Y, X, n_iter, status, code, tau, eps, damping, max_iter, tol, block, b0, b1):
    """AMP on the blocks ``b0 <= b < b1`` (trials ``b * block`` to ``(b + 1) * block``) of a shared A.

    The iteration and the stopping rules are those of :func:`csbench.kernels.amp.amp_batch`, trial by
    trial: per iteration ``U = X_new A^T`` and ``R = X + Z A`` are two matrix products over the block's
    running trials, the denoiser and the z-update run per row (:func:`csbench.kernels.amp.gemm_denoise`,
    :func:`csbench.kernels.amp.gemm_z`), and a trial leaves the block (its x, n_iter and status
    written, nothing of it changed afterwards) at the iteration where the per-trial kernel stops it.
    Products summed by BLAS instead of the kernel's loops: results agree with the per-trial path to
    rounding (``tests/test_shared_dictionary.py``). The blocks do not depend on the thread count
    (``run_trials`` hands whole blocks to threads), so neither do the results.
    """
    T = Y.shape[0]
    for b in range(b0, b1):
        rows = np.arange(b * block, min(T, (b + 1) * block))
        _amp_gemm_block(A, Y, X, n_iter, status, code, tau, eps, damping, max_iter, tol, rows)


def _amp_gemm_block(A, Y, X, n_iter, status, code, tau, eps, damping, max_iter, tol, rows):
    """:func:`_amp_gemm` on the trials ``rows`` (one block); writes ``X[rows]``, ``n_iter[rows]``, ``status[rows]``.

    The running trials occupy the leading rows of preallocated buffers (x and z in two copies each,
    current and next, swapped every iteration); stopped trials are squeezed out.
    """
    m, n = A.shape
    dt = A.dtype
    ynorm = np.sqrt(np.einsum("ti,ti->t", Y[rows], Y[rows]))
    zero = ynorm == 0.0
    n_iter[rows[zero]], status[rows[zero]] = 0, _k.OK
    rows, ynorm = rows[~zero], ynorm[~zero]
    logit_eps = float(np.log(eps / (1.0 - eps))) if code == _k.BAYES_BINARY else 0.0
    T = rows.size
    Yb = Y[rows]
    Xbuf, Zbuf = np.zeros((2, T, n), dt), np.empty((2, T, m), dt)
    Rb, Ub = np.empty((T, n), dt), np.empty((T, m), dt)
    Zbuf[0] = Yb
    np.matmul(Yb, A, out=Rb)  # A^T z^0 (z^0 = y; the denoising kernel adds x^0 = 0)
    idx = np.empty(n, np.int64)
    stats = np.empty((5, T))
    cur = 0
    for it in range(1, max_iter + 1):
        if T == 0:
            return
        Xc, Xn, Z, Zn, R = Xbuf[cur, :T], Xbuf[1 - cur, :T], Zbuf[cur, :T], Zbuf[1 - cur, :T], Rb[:T]
        dsum, dx2, xn2, res2, zn2 = stats[:, :T]
        _k.gemm_denoise(R, Xc, Z, Xn, dsum, dx2, xn2, code, tau, logit_eps, damping, idx)
        with np.errstate(all="ignore"):
            bad_x = ~np.isfinite(dx2 + xn2 + dsum)
            U = np.matmul(Xn, A.T, out=Ub[:T])
            _k.gemm_z(Yb[:T], U, Z, Zn, dsum, damping, res2, zn2)
            bad_z = ~bad_x & ~np.isfinite(zn2 + res2)
            ok = ~(bad_x | bad_z)
            blow = ok & (np.sqrt(zn2) > _k.BLOWUP * ynorm)
            conv = ok & ~blow & ((np.sqrt(dx2) <= tol * np.sqrt(xn2)) | (np.sqrt(res2) <= tol * ynorm))
        old = bad_x | bad_z  # diverged before x^{t+1} is accepted: x keeps x^t
        X[rows[old]] = Xc[old]
        n_iter[rows[old]], status[rows[old]] = it - 1, _k.DIVERGED
        done = blow | conv
        X[rows[done]] = Xn[done]
        n_iter[rows[done]] = it
        status[rows[blow]], status[rows[conv]] = _k.DIVERGED, _k.OK
        keep = ~(old | done)
        if not keep.all():
            k = np.flatnonzero(keep)
            T = k.size
            Xbuf[1 - cur, :T], Zbuf[1 - cur, :T], Yb[:T] = Xn[k], Zn[k], Yb[k]
            rows, ynorm = rows[k], ynorm[k]
        cur = 1 - cur
        if it < max_iter and T:
            np.matmul(Zbuf[cur, :T], A, out=Rb[:T])
    X[rows] = Xbuf[cur, :T]
    n_iter[rows], status[rows] = max_iter, _k.MAX_ITER




# ---------------------------------------------------------------- operator path
def _amp_one(op, y, x, code, tau, logit_eps, damping, max_iter, tol):
    """AMP on one problem (the iteration of :func:`csbench.kernels.amp.amp_batch`); writes x, returns (n_iter, status)."""
    m, n = op.shape
    x[:] = 0.0
    ynorm = np.sqrt(y @ y)
    if ynorm == 0.0:
        return 0, OK
    z = y.copy()
    xn = np.empty(n)
    idx = np.empty(n, np.int64)
    r = op.rmatvec(z)  # x^0 + A^T z^0
    for it in range(1, max_iter + 1):
        s2 = (z @ z) / m
        _, dsum = _k._denoise(r, tau * np.sqrt(s2), max(s2, 1e-300), logit_eps, code, damping, x, xn, idx)
        d = xn - x
        dx2, xn2 = d @ d, xn @ xn
        if not np.isfinite(dx2 + xn2 + dsum):
            return it - 1, DIVERGED
        res = y - op.matvec(xn)
        zn = res + (dsum / m) * z
        if damping > 0.0:
            zn = (1.0 - damping) * zn + damping * z
        res2, zn2 = res @ res, zn @ zn
        if not np.isfinite(zn2 + res2):
            return it - 1, DIVERGED
        x[:] = xn
        z = zn
        if np.sqrt(zn2) > _k.BLOWUP * ynorm:
            return it, DIVERGED
        if np.sqrt(dx2) <= tol * np.sqrt(xn2) or np.sqrt(res2) <= tol * ynorm:
            return it, OK
        r = x + op.rmatvec(z)
    return max_iter, MAX_ITER


def amp_operator(ops, Y, k, *, denoiser, nonneg, threshold, density, damping, max_iter, tol):
    """AMP on operators: two products per iteration (:func:`csbench.decoders.amp.amp`'s iteration and rules)."""
    m, n = ops[0].shape
    code, tau, eps = amp_params(m, n, k, denoiser, nonneg, threshold, density)
    logit_eps = float(np.log(eps / (1.0 - eps))) if code == _k.BAYES_BINARY else 0.0
    X, n_iter, status = outputs(Y.shape[0], n)
    for t, op in enumerate(ops):
        n_iter[t], status[t] = _amp_one(op, Y[t], X[t], code, tau, logit_eps, float(damping), max_iter, tol)
    return DecodeResult(X, n_iter, status)


register_operator("amp")(operator_path(amp_operator))
