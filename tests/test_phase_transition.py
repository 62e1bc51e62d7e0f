"""Tests of csbench.theory.phase_transition against independent computations.

Oracles: the statistical-dimension form of the l1 phase transition (Amelunxen,
Lotz, McCoy & Tropp 2014) evaluated by quadrature; state evolution of soft-threshold
AMP evaluated by quadrature; the small-delta asymptotics of Donoho & Tanner;
Monte Carlo for the binary mmse.
"""
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from csbench.theory import (bayes_binary_threshold, binary_mmse, binary_state_evolution,
                            m_small_delta, m_weak, minimax_threshold, rho_weak)

DELTAS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9]


def soft_risk(a, sigma, theta, nonneg):
    """E[(eta(a + sigma Z; theta) - a)^2] by quadrature (eta soft, or one-sided)."""
    if nonneg:
        eta = lambda u: max(u - theta, 0.0)
    else:
        eta = lambda u: np.sign(u) * max(abs(u) - theta, 0.0)
    f = lambda z: (eta(a + sigma * z) - a) ** 2 * norm.pdf(z)
    kinks = [z for z in ((theta - a) / sigma, (-theta - a) / sigma) if -15 < z < 15]
    return quad(f, -15.0, 15.0, points=kinks or None, epsabs=0.0, epsrel=1e-10, limit=200)[0]


@pytest.mark.parametrize("nonneg", [False, True])
def test_rho_weak_equals_statistical_dimension_curve(nonneg):
    # ALMT14: l1 succeeds iff delta > D(eps) = min_tau eps (1+tau^2) + (1-eps) kappa E[(|Z|-tau)_+^2 ; Z>tau]
    kappa = 1 if nonneg else 2
    for d in DELTAS:
        eps = rho_weak(d, nonneg) * d
        tail = lambda t: kappa * quad(lambda u: (u - t) ** 2 * norm.pdf(u), t, np.inf,
                                      epsabs=0, epsrel=1e-13)[0]
        res = minimize_scalar(lambda t: eps * (1 + t * t) + (1 - eps) * tail(t), bounds=(0, 10),
                              method="bounded", options={"xatol": 1e-12})
        assert res.fun == pytest.approx(d, abs=1e-9)
        assert res.x == pytest.approx(minimax_threshold(d, nonneg), abs=1e-6)


def test_rho_weak_values_vectorised_and_edges():
    r = rho_weak(np.array([0.25, 0.5]))
    assert r.shape == (2,)
    # Values of the DMM formula (grid + Brent); Magni's rho_se docs give 0.386 / 0.558 at 0.5.
    assert r == pytest.approx([0.267384, 0.385690], abs=2e-6)
    assert rho_weak(0.5, nonneg=True) == pytest.approx(0.558228, abs=2e-6)
    assert rho_weak(0.19) == pytest.approx(0.238, abs=5e-4)
    assert rho_weak(0.19, True) == pytest.approx(0.318, abs=5e-4)
    assert minimax_threshold(np.array([[0.5]])).shape == (1, 1)
    assert rho_weak(1.0) == 1.0 and rho_weak(1.0, True) == 1.0 and minimax_threshold(1.0) == 0.0
    # delta = m/n > 1 (n/m passed by mistake) raises, naming the parameter, the value and the hint
    for f in (rho_weak, minimax_threshold):
        with pytest.raises(ValueError, match=r"delta=4.0 is out of range; allowed: 0 < delta <= 1.*m/n"):
            f(4.0)
        with pytest.raises(ValueError, match=r"delta=1.5 is out of range"):
            f(np.array([0.5, 1.5]), nonneg=True)
    # Nonnegativity helps: rho_W+ > rho_W, both increasing in delta.
    rs, rp = rho_weak(np.array(DELTAS)), rho_weak(np.array(DELTAS), True)
    assert np.all(rp > rs) and np.all(np.diff(rs) > 0) and np.all(np.diff(rp) > 0)
    with pytest.raises(ValueError, match="delta"):
        rho_weak(0.0)
    with pytest.raises(ValueError, match="delta"):
        rho_weak([0.5, np.nan])


@pytest.mark.parametrize("nonneg", [False, True])
def test_state_evolution_contracts_below_rho_weak_only(nonneg):
    # Least-favourable signal (|x| >> sigma): the SE map sigma^2 -> (1/delta) E[...] is
    # linear, slope = (1/delta)[(1-eps) E eta(sigma Z)^2 + eps E(eta(a + sigma Z) - a)^2] / sigma^2.
    for d in (0.25, 0.5):
        tau = minimax_threshold(d, nonneg)
        slopes = []
        for f in (0.98, 1.02):
            eps = f * rho_weak(d, nonneg) * d
            sigma = 1e-3
            mse = (1 - eps) * soft_risk(0.0, sigma, tau * sigma, nonneg) + eps * soft_risk(1.0, sigma, tau * sigma, nonneg)
            slopes.append(mse / d / sigma**2)
        assert slopes[0] < 1.0 - 0.004 and slopes[1] > 1.0 + 0.004


def test_state_evolution_for_unit_signals():
    # Full noiseless SE for x in {0, +-1} (amplitude 1) from sigma^2 = eps/delta, by quadrature.
    # At 0.75 rho_W it contracts to 0 at the rate predicted by the least-favourable slope
    # (1/delta)[(1-eps) 2 M(tau) + eps (1+tau^2)], M(t) = (1+t^2) Phi(-t) - t phi(t);
    # at 1.25 rho_W it stalls at a positive fixed point.
    d = 0.5
    tau = minimax_threshold(d)
    trace = {}
    for f in (0.75, 1.25):
        eps = f * rho_weak(d) * d
        s2, trace[f] = eps / d, []
        for _ in range(45):
            s = np.sqrt(s2)
            s2 = ((1 - eps) * soft_risk(0.0, s, tau * s, False) + eps * soft_risk(1.0, s, tau * s, False)) / d
            trace[f].append(s2)
    eps = 0.75 * rho_weak(d) * d
    M = (1 + tau**2) * norm.cdf(-tau) - tau * norm.pdf(tau)
    slope = ((1 - eps) * 2 * M + eps * (1 + tau**2)) / d
    lo = trace[0.75]
    assert np.all(np.diff(lo) < 0) and lo[-1] < 1e-3
    assert lo[-1] / lo[-2] == pytest.approx(slope, abs=0.01)
    hi = trace[1.25]
    assert hi[-1] > 0.2 and abs(hi[-1] / hi[-2] - 1) < 1e-4


def test_small_delta_asymptotics():
    # rho_W(delta) ~ 1 / (2 ln(1/delta)) (Donoho & Tanner 2009); convergence is slow (log-log terms).
    deltas = [1e-6, 1e-12, 1e-24, 1e-48, 1e-96]
    for nonneg in (False, True):
        ratio = np.array([rho_weak(d, nonneg) * 2 * np.log(1 / d) for d in deltas])
        assert np.all(np.diff(ratio) < 0)  # approaches 1 from above
        assert np.all(ratio > 1.0)
        assert ratio[-1] < 1.012
        assert ratio[0] < 1.09


def test_m_weak_and_small_delta_form():
    for n, k, nonneg in [(1000, 50, False), (1000, 50, True), (10**6, 100, False)]:
        m = m_weak(n, k, nonneg)
        assert k < m < n
        assert k / m == pytest.approx(rho_weak(m / n, nonneg), rel=1e-9)
    m = m_small_delta(10**6, 100)
    assert m == pytest.approx(2 * 100 * np.log(10**6 / m), rel=1e-12)
    # For fixed k and n -> infinity the two agree to the slow log-log rate (measured 1.2% at n=1e6).
    assert m_small_delta(10**6, 100) / m_weak(10**6, 100) == pytest.approx(1.0, abs=0.03)
    assert m_weak(100, 0) == 0.0 and m_weak(100, 100) == 100.0 and m_small_delta(100, 0) == 0.0
    with pytest.raises(ValueError, match="k"):
        m_weak(100, 101)
    with pytest.raises(TypeError, match="n"):
        m_small_delta(100.5, 3)


@pytest.mark.parametrize("eps", [0.05, 0.2])
def test_binary_mmse_monte_carlo(eps):
    rng = np.random.default_rng(7)
    N = 400_000
    for v in (0.05, 0.3, 2.0):
        X = (rng.random(N) < eps).astype(float)
        R = X + np.sqrt(v) * rng.standard_normal(N)
        # posterior mean from Bayes' rule with the Gaussian likelihoods (not the logistic form)
        l1 = eps * norm.pdf(R, 1.0, np.sqrt(v))
        l0 = (1 - eps) * norm.pdf(R, 0.0, np.sqrt(v))
        sq = (X - l1 / (l0 + l1)) ** 2
        se = sq.std() / np.sqrt(N)
        assert binary_mmse(eps=eps, v=v) == pytest.approx(sq.mean(), abs=4 * se)
    # limits: mmse -> eps (1 - eps) as v -> infinity, -> 0 as v -> 0
    assert binary_mmse(eps=eps, v=1e6) == pytest.approx(eps * (1 - eps), rel=1e-5)
    assert binary_mmse(eps=eps, v=1e-3) < 1e-50


def test_bayes_binary_threshold_is_the_state_evolution_transition():
    for eps in (0.1, 0.3):
        d = bayes_binary_threshold(eps=eps)
        above = binary_state_evolution(eps=eps, delta=1.02 * d, n_iter=300)
        below = binary_state_evolution(eps=eps, delta=0.98 * d, n_iter=300)
        assert above[-1] < 1e-30
        assert below[-1] > 1e-3
    # Measured values (reported); Bayes AMP beats nonnegative l1 (rho_W+) at every density
    assert bayes_binary_threshold(eps=0.1) == pytest.approx(0.238465, abs=1e-5)
    for eps in (0.05, 0.1, 0.3):
        d = bayes_binary_threshold(eps=eps)
        assert eps / d > rho_weak(d, nonneg=True)
    with pytest.raises(ValueError, match="eps"):
        bayes_binary_threshold(eps=1.0)
    for f, args in ((binary_mmse, (0.1, 0.5)), (binary_state_evolution, (0.5, 0.1)), (bayes_binary_threshold, (0.1,))):
        with pytest.raises(TypeError, match="positional"):  # keyword-only: no order to get wrong
            f(*args)
