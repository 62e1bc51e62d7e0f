"""State evolution of VAMP for right-orthogonally-invariant matrices, and of Bayes-optimal AMP for i.i.d. ones.

Model: ``y = A x + w``, ``w ~ N(0, noise^2 I_m)``, x i.i.d. from a prior, A (m, n) with
``A^T A`` having the eigenvalues ``lambda_i`` (the squared singular values and n - R zeros).

VAMP's state evolution [RSF19, Theorem 1] tracks two scalars per half-iteration: the
precision ``gamma`` the algorithm assumes and the true error variance ``tau`` of its input::

    alpha1 = E[g1'(X + sqrt(tau1) Z; gamma1)],   E1 = E[(g1(X + sqrt(tau1) Z; gamma1) - X)^2]
    gamma2 = gamma1 (1 - alpha1)/alpha1,         tau2 = (E1 - alpha1^2 tau1)/(1 - alpha1)^2
    alpha2 = <gamma2 / (gw lambda + gamma2)>,    E2 = <(gw^2 lambda noise^2 + gamma2^2 tau2)/(gw lambda + gamma2)^2>
    gamma1 = gamma2 (1 - alpha2)/alpha2,         tau1 = (E2 - alpha2^2 tau2)/(1 - alpha2)^2

(``<.>`` the mean over the n eigenvalues, ``gw = 1/noise^2`` the LMMSE's noise precision;
noiseless: the limit ``gw -> inf``). ``E1`` is the per-coordinate MSE of VAMP's estimate x1.
With the Bayes-optimal (matched) denoiser ``tau = 1/gamma`` throughout.

For i.i.d. Gaussian A (entries N(0, 1/m), ``delta = m/n``) the eigenvalue law is
Marchenko-Pastur and the fixed points of VAMP's state evolution are those of AMP's,
``v = noise^2 + mmse(v)/delta`` [DMM09, KMS12] (:func:`amp_state_evolution`;
the binary case is also :func:`csbench.theory.binary_state_evolution`).

References
----------
.. [RSF19] S. Rangan, P. Schniter, A. K. Fletcher, "Vector approximate message passing",
   IEEE Trans. Inf. Theory 65 (10), 6664-6684, 2019.
.. [DMM09] D. L. Donoho, A. Maleki, A. Montanari, "Message-passing algorithms for compressed
   sensing", PNAS 106 (45), 2009.
.. [KMS12] F. Krzakala, M. Mezard, F. Sausset, Y. Sun, L. Zdeborova, "Probabilistic
   reconstruction in compressed sensing", J. Stat. Mech. P08009, 2012.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.integrate import quad
from scipy.special import expit

from .._validate import check_choice, check_finite_array, check_float, check_int

__all__ = ["amp_state_evolution", "marchenko_pastur_eigenvalues", "scalar_channel", "vamp_state_evolution"]

_PRIORS = ("bernoulli_gaussian", "binary")
_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _normal_expect(f, mean, sd, points=()):
    """``E[f(mean + sd Z)]``, Z ~ N(0, 1), by adaptive quadrature on ``mean +- 40 sd`` split at ``points``."""
    if sd == 0.0:
        return float(f(mean))
    lo, hi = mean - 40.0 * sd, mean + 40.0 * sd
    cuts = sorted(p for p in points if lo < p < hi)
    edges = [lo, *cuts, hi]
    g = lambda u: f(u) * np.exp(-0.5 * ((u - mean) / sd) ** 2) / (_SQRT_2PI * sd)
    return sum(quad(g, a, b, epsabs=0.0, epsrel=1e-11, limit=200)[0] for a, b in itertools.pairwise(edges))


def _denoiser(prior, density, signal_var, kind, tau, nonneg, gamma):
    """``(g, g', kinks)`` of the denoiser at precision gamma (scalar functions of r)."""
    v = 1.0 / gamma
    if kind == "soft":
        th = tau * np.sqrt(v)
        if nonneg:
            return (lambda r: max(r - th, 0.0)), (lambda r: float(r > th)), (th,)
        return (lambda r: np.sign(r) * max(abs(r) - th, 0.0)), (lambda r: float(abs(r) > th)), (-th, th)
    le = np.log(density / (1.0 - density))
    if prior == "binary":
        g = lambda r: expit((r - 0.5) * gamma + le)
        return g, (lambda r: g(r) * (1.0 - g(r)) * gamma), (0.5 - le * v,)
    sv = signal_var + v
    c0 = le + 0.5 * np.log(v / sv)
    c1 = 0.5 * (gamma - 1.0 / sv)
    k = signal_var / sv
    von = signal_var * v / sv

    def g(r):
        return expit(c0 + c1 * r * r) * k * r

    def dg(r):  # gamma Var[X | r] = gamma [pi (1 - pi) mon^2 + pi von] (no cancellation at large gamma)
        u = c0 + c1 * r * r
        pi = expit(u)
        mon = k * r
        return (pi * expit(-u) * mon * mon + pi * von) * gamma

    rc = np.sqrt(max(-c0 / c1, 0.0)) if c1 > 0 else 0.0
    return g, dg, (-rc, rc)


#: Gauss-Hermite nodes (probabilists') for the Gaussian noise around each nonzero of a given signal.
_GH_NODES = 201


def _signal_channel(signal, prior, density, signal_var, gamma, tau):
    """``(E1, alpha1)`` of the Bayes denoiser on ``R = x_j + sqrt(tau) Z`` averaged over the entries of ``signal``.

    The zeros share one adaptive quadrature (as :func:`scalar_channel`); the nonzeros are few and
    distinct, each by Gauss-Hermite quadrature (``_GH_NODES`` nodes) over Z, which is accurate
    when the denoiser varies on the scale of ``sqrt(tau)`` or slower around ``x_j`` (the noisy,
    matched case, ``tau gamma`` of order 1: within 2e-10 relative of adaptive quadrature at
    gamma = 3, 30, 500, tested); at most two distinct nonzeros (the binary prior) are adaptive.
    """
    g, dg, pts = _denoiser(prior, density, signal_var, "bayes", None, False, gamma)
    sd = np.sqrt(tau)
    nz = signal[signal != 0.0]
    n0 = signal.size - nz.size
    E = n0 * _normal_expect(lambda r: g(r) ** 2, 0.0, sd, pts) if n0 else 0.0
    a = n0 * _normal_expect(dg, 0.0, sd, pts) if n0 else 0.0
    vals, counts = np.unique(nz, return_counts=True)
    if vals.size <= 2:
        for v, c in zip(vals, counts):
            E += c * _normal_expect(lambda r, v=v: (g(r) - v) ** 2, v, sd, pts)
            a += c * _normal_expect(dg, v, sd, pts)
    elif vals.size:
        z, wz = np.polynomial.hermite_e.hermegauss(_GH_NODES)
        wz = wz / wz.sum()
        R = vals[:, None] + sd * z[None, :]
        E += float(counts @ (((g(R) - vals[:, None]) ** 2) @ wz))
        a += float(counts @ (dg(R) @ wz))
    return E / signal.size, a / signal.size


def scalar_channel(*, prior, density, gamma, tau, signal_var=1.0, denoiser="bayes", threshold=None, nonneg=False):
    """``(E1, alpha1)``: MSE and mean derivative of the denoiser on ``R = X + sqrt(tau) Z``.

    ``E1 = E[(g(R; gamma) - X)^2]``, ``alpha1 = E[g'(R; gamma)]`` for X from the prior
    (``"bernoulli_gaussian"``: ``(1 - density) delta_0 + density N(0, signal_var)``;
    ``"binary"``: Bernoulli(density) on {0, 1}); ``denoiser="bayes"`` is the posterior
    mean of that prior at noise variance ``1/gamma``, ``"soft"`` the soft threshold at
    ``threshold / sqrt(gamma)``. Each Gaussian expectation by adaptive quadrature, split
    at the denoiser's kinks / transitions; the Gaussian component integrates the
    conditional law of X given R (no nested integral).
    """
    kind = check_choice("denoiser", denoiser, ["bayes", "soft"])
    g, dg, pts = _denoiser(prior, density, signal_var, kind, threshold, nonneg, gamma)
    sd0 = np.sqrt(tau)
    e0 = _normal_expect(lambda r: g(r) ** 2, 0.0, sd0, pts)
    a0 = _normal_expect(dg, 0.0, sd0, pts)
    if prior == "binary":
        e1 = _normal_expect(lambda r: (g(r) - 1.0) ** 2, 1.0, sd0, pts)
        a1 = _normal_expect(dg, 1.0, sd0, pts)
    else:
        s2 = signal_var + tau
        kk = signal_var / s2
        vx = signal_var * tau / s2
        e1 = _normal_expect(lambda r: (g(r) - kk * r) ** 2 + vx, 0.0, np.sqrt(s2), pts)
        a1 = _normal_expect(dg, 0.0, np.sqrt(s2), pts)
    return (1.0 - density) * e0 + density * e1, (1.0 - density) * a0 + density * a1


def marchenko_pastur_eigenvalues(delta, n_nodes=400):
    """``(lam, w)``: quadrature of the eigenvalue law of ``A^T A``, A (m, n) with i.i.d. N(0, 1/m) entries, m/n = delta.

    The law is ``(1 - delta) delta_0 + delta (mu / delta)`` with mu Marchenko-Pastur of ratio
    delta on ``[(1 - sqrt(delta))^2, (1 + sqrt(delta))^2]``, density ``sqrt((b-mu)(mu-a)) / (2 pi delta mu)``.
    Substituting ``mu = c + h cos(theta)`` makes the integrand smooth; Gauss-Legendre in theta.
    ``sum w f(lam)`` approximates the mean of f over the n eigenvalues (``sum w = 1``).
    """
    delta = check_float("delta", delta, low=0.0, high=1.0, low_open=True)
    a, b = (1 - np.sqrt(delta)) ** 2, (1 + np.sqrt(delta)) ** 2
    c, h = (a + b) / 2, (b - a) / 2
    th, wt = np.polynomial.legendre.leggauss(n_nodes)
    th = (th + 1) * np.pi / 2
    wt = wt * np.pi / 2
    mu = c + h * np.cos(th)
    dens = (h * np.sin(th)) ** 2 / (2 * np.pi * delta * mu)
    lam = np.concatenate([[0.0], mu / delta])
    w = np.concatenate([[1.0 - delta], delta * wt * dens])
    w /= w.sum()  # exact mass 1 (the quadrature error of the MP mass is ~1e-16 already)
    return lam, w


def vamp_state_evolution(spectrum, n=None, *, prior, density, signal_var=1.0, noise=0.0, denoiser="bayes",
                         threshold=None, nonneg=False, signal=None, n_iter=200, rtol=1e-12):
    """VAMP's predicted per-coordinate MSE of x1, iteration by iteration (see the module docstring).

    Parameters
    ----------
    spectrum : array of singular values of A, or "iid"
        Singular values (R <= n of them; the other n - R eigenvalues of ``A^T A`` are 0), or
        ``"iid"``: A with i.i.d. N(0, 1/m) entries, ``n`` is then ``delta = m/n`` in (0, 1]
        (Marchenko-Pastur, :func:`marchenko_pastur_eigenvalues`).
    n : int (columns) or float delta (with "iid")
    prior : {"bernoulli_gaussian", "binary"}
    density : float in (0, 1)
    signal_var : float > 0
        Variance of the nonzero values (Bernoulli-Gaussian).
    noise : float >= 0
        Noise standard deviation (the LMMSE step assumes it, as ``decode("vamp", noise=...)``).
    denoiser : {"bayes", "soft"}; threshold : float (soft: tau); nonneg : bool (soft)
    signal : array (n,), optional
        The SE *conditioned on a given signal*: every expectation over X is the average over the
        entries of ``signal`` (its empirical law) instead of the prior's, while the denoiser
        keeps the prior (``density``, ``signal_var``) and the start is ``gamma2 = 1/E_prior[X^2]``,
        ``tau2 = ||signal||^2 / n`` (the decoder's). Bayes denoiser only. Theorem 1 of [RSF19]
        holds for any signal sequence whose empirical law converges, so at finite n this is the
        SE of the realized x; it differs from the prior's SE by the sampling fluctuation of
        that law (O(n^-1/2)), which the SE can amplify where it contracts slowly (docs/decoders.md,
        VAMP at kappa = 1e4).
    n_iter : int
        Iterations; stops early once E1 changes by less than ``rtol`` relative (the rest repeat it).

    Returns
    -------
    ndarray (n_iter,)
        ``E1`` (MSE of x1) after each iteration, from the decoder's start ``r2 = 0``,
        ``gamma2 = 1/tau2 = 1/E[X^2]`` (the LMMSE step first).
    """
    check_choice("prior", prior, list(_PRIORS))
    density = check_float("density", density, low=0.0, high=1.0, low_open=True, high_open=True)
    signal_var = check_float("signal_var", signal_var, low=0.0, low_open=True)
    noise = check_float("noise", noise, low=0.0)
    n_iter = check_int("n_iter", n_iter, low=1)
    if isinstance(spectrum, str):
        check_choice("spectrum", spectrum, ["iid"])
        lam, w = marchenko_pastur_eigenvalues(n)
    else:
        s = check_finite_array("spectrum", spectrum, ndim=(1,))
        n = check_int("n", n, low=s.size)
        lam = np.concatenate([s * s, np.zeros(n - s.size)])
        w = np.full(n, 1.0 / n)
    if denoiser == "soft" and threshold is None:
        raise ValueError("denoiser='soft' needs threshold (tau >= 0); got None.")
    nz = lam > 0
    tw = noise**2
    ex2 = density * (signal_var if prior == "bernoulli_gaussian" else 1.0)
    g2, t2 = 1.0 / ex2, ex2  # r2 = 0: error -x, variance E[X^2]; the LMMSE step is linear, so exact
    if signal is not None:
        signal = check_finite_array("signal", signal, ndim=(1,))
        if isinstance(spectrum, str) or signal.size != n or denoiser != "bayes":
            raise ValueError(f"signal must have n = {n} entries, with a singular-value spectrum and "
                             f"denoiser='bayes'; got {signal.size} entries, spectrum "
                             f"{spectrum if isinstance(spectrum, str) else 'array'!r}, denoiser={denoiser!r}.")
        t2 = float(signal @ signal) / n
    out = np.empty(n_iter)
    amin = 1e-11
    for it in range(n_iter):
        if noise > 0:
            gw = 1.0 / tw
            den = gw * lam + g2
            a2 = float(w @ (g2 / den))
            E2 = float(w @ ((gw * gw * lam * tw + g2 * g2 * t2) / den**2))
        else:  # gw -> inf: projection on the row space
            a2 = float(w[~nz].sum())
            E2 = a2 * t2
        a2 = min(max(a2, amin), 1 - amin)
        g1 = g2 * (1 - a2) / a2
        t1 = max((E2 - a2 * a2 * t2) / (1 - a2) ** 2, 1e-300)
        if signal is None:
            E1, a1 = scalar_channel(prior=prior, density=density, gamma=g1, tau=t1, signal_var=signal_var,
                                    denoiser=denoiser, threshold=threshold, nonneg=nonneg)
        else:
            E1, a1 = _signal_channel(signal, prior, density, signal_var, g1, t1)
        out[it] = E1
        if it > 0 and abs(out[it] - out[it - 1]) <= rtol * out[it]:
            out[it:] = E1
            break
        a1 = min(max(a1, amin), 1 - amin)
        g2 = g1 * (1 - a1) / a1
        t2 = (E1 - a1 * a1 * t1) / (1 - a1) ** 2
    return out


def amp_state_evolution(*, prior, density, delta, signal_var=1.0, noise=0.0, n_iter=500, rtol=1e-12):
    """Bayes-optimal AMP's state evolution on i.i.d. Gaussian A: ``v_{t+1} = noise^2 + mmse(v_t)/delta``.

    From ``v_0 = noise^2 + E[X^2]/delta``; returns ``mmse(v_t)``, the per-coordinate MSE
    of x^{t+1}, for t = 0..n_iter-1 (early stop as :func:`vamp_state_evolution`). ``mmse(v)``
    is :func:`scalar_channel`'s E1 with the matched denoiser (``gamma = 1/tau = 1/v``).
    For ``prior="binary"`` this is ``delta * binary_state_evolution(...)`` of
    :mod:`csbench.theory.phase_transition`.
    """
    check_choice("prior", prior, list(_PRIORS))
    delta = check_float("delta", delta, low=0.0, low_open=True)
    density = check_float("density", density, low=0.0, high=1.0, low_open=True, high_open=True)
    noise = check_float("noise", noise, low=0.0)
    n_iter = check_int("n_iter", n_iter, low=1)
    ex2 = density * (signal_var if prior == "bernoulli_gaussian" else 1.0)
    v = noise**2 + ex2 / delta
    out = np.empty(n_iter)
    for it in range(n_iter):
        out[it] = scalar_channel(prior=prior, density=density, gamma=1.0 / v, tau=v, signal_var=signal_var)[0]
        if it > 0 and abs(out[it] - out[it - 1]) <= rtol * out[it]:
            out[it:] = out[it]
            break
        v = noise**2 + out[it] / delta
    return out
