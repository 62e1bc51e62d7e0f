"""Vector approximate message passing (VAMP) in SVD form [RSF19], batched.

VAMP alternates a separable denoiser ``g1`` (the prior) and the LMMSE estimator
of ``y = A x + w`` (the likelihood), each fed the other's *extrinsic* output
``(r, gamma)``; with ``A = U diag(s) V^T`` (economy SVD) the LMMSE step is two
products with ``V^T``. Iteration (``gw`` the noise precision, ``<.>`` the mean
over the n coordinates), from ``r2 = 0``, ``gamma2 = 1/E[x^2]`` (the prior's; soft:
``||A||_F^2 / ||y||^2``)::

    x2 = r2 + V diag(gw s/(gw s^2 + gamma2)) (U^T y - s V^T r2)
    alpha2 = (1/n) [sum_i gamma2/(gw s_i^2 + gamma2) + (n - R)]
    r1 = (x2 - alpha2 r2)/(1 - alpha2),   gamma1 = gamma2 (1 - alpha2)/alpha2
    x1 = g1(r1; gamma1),            alpha1 = <g1'(r1; gamma1)>
    r2 = (x1 - alpha1 r1)/(1 - alpha1),   gamma2 = gamma1 (1 - alpha1)/alpha1

For every right-orthogonally-invariant A (``A = U S V^T`` with Haar V, see
:func:`csbench.roi.roi_matrix`) the per-coordinate MSE of ``x1`` follows a scalar
state evolution, :func:`csbench.theory.vamp_state_evolution`, whatever the
condition number; on i.i.d. Gaussian A its fixed points are AMP's.

Denoisers: ``"soft"`` (``sign(r) max(|r| - tau/sqrt(gamma1), 0)``, ``nonneg`` one-sided; tau
``"minimax"`` = :func:`csbench.theory.minimax_threshold` (m/n) as AMP's), ``"bayes_binary"``
(posterior mean for ``x ~ Bernoulli(density)`` on {0, 1}) and ``"bernoulli_gaussian"``
(posterior mean for ``x ~ (1 - density) delta_0 + density N(0, signal_var)``; ``em=True``
re-estimates density and signal_var after each denoising [VS13]). ``density`` defaults to k/n.

Cost: one SVD per distinct matrix (``O(m n min(m, n))``; computed once for a shared A), then
``4 R n`` flops per iteration. Operators are refused (decode names the dense size): the SVD
needs the dense matrix.

References
----------
.. [RSF19] S. Rangan, P. Schniter, A. K. Fletcher, "Vector approximate message passing",
   IEEE Trans. Inf. Theory 65 (10), 6664-6684, 2019 (Algorithms 1 and 2, Theorem 1).
.. [VS13] J. Vila, P. Schniter, "Expectation-maximization Gaussian-mixture approximate
   message passing", IEEE Trans. Signal Process. 61 (19), 4658-4672, 2013.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .._validate import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    optional,
    or_choice,
)
from .backend import kernels
from .base import DECODERS, DecodeResult, run_trials, single_matrix

_k = kernels("vamp")  # numba loads on the first call, not on import

__all__ = ["svd_parts", "vamp"]

DENOISERS = ("soft", "bayes_binary", "bernoulli_gaussian")
#: Noiseless (``noise = 0``): the noise precision is ``1 / (NOISE_FLOOR^2 ||y||^2 / m)``.
NOISE_FLOOR = 1e-6

CHECKS = {
    "denoiser": partial(check_choice, choices=list(DENOISERS)),
    "nonneg": check_bool,
    "threshold": or_choice(partial(check_float, low=0.0), ["minimax"]),
    "density": optional(partial(check_float, low=0.0, high=1.0, low_open=True, high_open=True)),
    "signal_var": partial(check_float, low=0.0, low_open=True),
    "em": check_bool,
    "noise": partial(check_float, low=0.0),
    "damping": partial(check_float, low=0.0, high=1.0, high_open=True),
    "max_iter": partial(check_int, low=1),
    "tol": partial(check_float, low=0.0, low_open=True),
}


def check_problem(params, n, k):
    """``density`` (Bayes denoisers) defaults to k/n with ``0 < k < n``; soft takes none; em is Bernoulli-Gaussian's."""
    den = params["denoiser"]
    if den == "soft":
        if params["density"] is not None:
            raise ValueError("density is used only by the Bayes denoisers; got density with denoiser='soft'.")
    elif params["density"] is None:
        if k is None:
            raise ValueError(f"vamp with denoiser={den!r} needs k (density = k/n) or density=...; got neither.")
        if not 0 < k < n:
            raise ValueError(f"density = k/n = {k}/{n} must lie in (0, 1); pass density=... explicitly.")
    if params["em"] and den != "bernoulli_gaussian":
        raise ValueError(f"em=True tunes the Bernoulli-Gaussian prior; got denoiser={den!r}.")
    return params


def svd_parts(A, Y):
    """``(Vt3, S3, Ytil)``: economy SVD ``A = U diag(s) V^T`` (once for a shared A, or for a stack of
    one matrix repeated per trial: :func:`~csbench.decoders.base.single_matrix`) and ``U^T y`` per trial."""
    A1 = single_matrix(A)
    if A1 is not None:
        U, s, Vt = np.linalg.svd(A1, full_matrices=False)
        return np.ascontiguousarray(Vt[None]), s[None].copy(), np.ascontiguousarray(Y @ U)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return np.ascontiguousarray(Vt), np.ascontiguousarray(s), np.ascontiguousarray(np.einsum("tmr,tm->tr", U, Y))


@DECODERS.register("vamp", "vector AMP (SVD form): soft threshold, Bayes {0,1} or Bernoulli-Gaussian (EM) denoiser",
                   checks=CHECKS, problem_check=check_problem)
def vamp(A, Y, k, *, denoiser="bernoulli_gaussian", nonneg=False, threshold="minimax", density=None,
         signal_var=1.0, em=False, noise=0.0, damping=0.0, max_iter=500, tol=1e-8):
    """Vector approximate message passing (see the module docstring for the iteration).

    Parameters
    ----------
    denoiser : {"bernoulli_gaussian", "bayes_binary", "soft"}
    nonneg : bool
        ``"soft"`` only: one-sided threshold.
    threshold : "minimax" or float >= 0
        ``"soft"`` only: tau (threshold ``tau / sqrt(gamma1)``).
    density : float in (0, 1), optional
        Bayes denoisers: prior ``P(x_j != 0)``; default k/n.
    signal_var : float > 0
        ``"bernoulli_gaussian"``: variance of the nonzero values (1: csbench's ``gaussian`` signal).
    em : bool
        ``"bernoulli_gaussian"``: re-estimate density and signal_var by EM each iteration.
    noise : float >= 0
        Standard deviation of the measurement noise (the cell's ``noise``); 0: noiseless,
        precision ``1 / (NOISE_FLOOR^2 ||y||^2 / m)``.
    damping : float in [0, 1)
        Damps the message to the LMMSE step, mean and precision (from the second iteration):
        ``r2 <- (1 - d) r2_new + d r2_old`` and ``gamma2^(-1/2) <- (1 - d) gamma2_new^(-1/2) +
        d gamma2_old^(-1/2)``; fixed points unchanged; 0 is plain VAMP. Where VAMP's state
        evolution contracts slowly (Bernoulli-Gaussian, kappa = 300-1e4 at 30 dB) plain VAMP wanders
        near its fixed point until max_iter and ``damping=0.5`` makes it converge (docs/decoders.md).
    max_iter : int >= 1
    tol : float > 0
        Stop (ok) when ``||x1^{k+1} - x1^k|| <= tol ||x1^{k+1}||``.

    Returns
    -------
    DecodeResult
        ``X_hat = x1`` (the denoiser's output), ``n_iter`` iterations; statuses ok,
        max_iter, diverged (non-finite or non-positive precision, or ``||y - A x1||``
        above ``1e3 ||y||``), nonfinite.
    """
    m, n = A.shape[-2:]
    T = Y.shape[0]
    code = {"soft": _k.SOFT_NONNEG if nonneg else _k.SOFT, "bayes_binary": _k.BAYES_BINARY,
            "bernoulli_gaussian": _k.BERN_GAUSS}[denoiser]
    eps = float(k / n if density is None else density) if denoiser != "soft" else 0.5
    tau = 0.0
    if denoiser == "soft":
        if threshold == "minimax":
            from ..theory.phase_transition import minimax_threshold

            threshold = minimax_threshold(min(m / n, 1.0), nonneg=nonneg)
        tau = float(threshold)
    Vt3, S3, Ytil = svd_parts(A, Y)
    yy = np.einsum("tm,tm->t", Y, Y)
    ynorm = np.sqrt(yy)
    nv = np.maximum(noise**2, NOISE_FLOOR**2 * yy / m)
    gamma_w = 1.0 / np.where(nv > 0, nv, 1.0)
    if denoiser == "soft":
        fro = (S3**2).sum(axis=1)
        gamma0 = np.broadcast_to(fro, (T,)) / np.where(yy > 0, yy, 1.0)
    else:
        ex2 = eps * (signal_var if denoiser == "bernoulli_gaussian" else 1.0)
        gamma0 = np.full(T, 1.0 / ex2)
    gamma0 = np.ascontiguousarray(np.where(gamma0 > 0, gamma0, 1.0), dtype=np.float64)
    X = np.zeros((T, n))
    n_iter = np.zeros(T, np.int64)
    status = np.zeros(T, np.int8)
    run_trials(_k.vamp_batch, T, Vt3, S3, Ytil, ynorm, gamma_w, gamma0, X, n_iter, status, code, tau, eps,
               float(signal_var), bool(em), float(damping), np.int64(max_iter), float(tol))
    return DecodeResult(X, n_iter, status)
