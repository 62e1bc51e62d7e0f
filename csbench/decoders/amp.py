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

from .._validate import check_bool, check_choice, check_float, check_int, optional, or_choice
from .backend import kernels
from .base import DECODERS, DIVERGED, MAX_ITER, OK, DecodeResult, outputs, run_trials

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
        damping=0.0, max_iter=1000, tol=1e-9):
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

    Returns
    -------
    DecodeResult
        ``n_iter`` is the number of AMP iterations per trial.

    Notes
    -----
    Each running trial (one per numba thread) keeps a copy of ``A^T`` when it
    takes at most 64 MB (``csbench.kernels.amp.AT_MAX_BYTES``), for speed; the
    results are bit-identical without it.
    """
    m, n = A.shape[-2:]
    code, tau, eps = amp_params(m, n, k, denoiser, nonneg, threshold, density)
    T = Y.shape[0]
    X = np.zeros((T, n))
    n_iter = np.zeros(T, np.int64)
    status = np.zeros(T, np.int8)
    run_trials(_k.amp_batch, T, A if A.ndim == 3 else A[None], Y, X, n_iter, status, code, tau, eps, damping,
               max_iter, tol)
    return DecodeResult(X, n_iter, status)


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


DECODERS.update("amp", operator=amp_operator)
