"""Counting, coherence, sum-zero orthant and antipodal-pair theory vs independent oracles.

Oracles: ``math.comb`` (exact integers), closed forms (Archimedes' uniform
cosine in R^3, the uniform angle in R^2, the Mercedes frame), Monte Carlo with
csbench's encoders and decoders, and a second numerical method.
"""
import math

import numpy as np
import pytest
from scipy.special import erf

import csbench
from csbench import theory
from csbench.encoders.random import unit
from csbench.theory import matched_filter as mf


def se_ok(estimate, samples, value, z=4.0):
    """|mean - value| <= z standard errors (plus float slack)."""
    samples = np.asarray(samples, dtype=float)
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    return abs(estimate - value) <= z * se + 1e-12, (estimate, value, se)


# ----------------------------------------------------------------------------- counting
NK = [(1, 0), (1, 1), (5, 2), (10, 3), (64, 32), (100, 1), (1000, 10), (1000, 500),
      (10**6, 3), (10**6, 10**3), (10**7, 1), (10**9, 1000), (10**9, 10**9 - 2)]


@pytest.mark.parametrize("n,k", NK)
def test_log2_binom_matches_math_comb(n, k):
    exact = math.log2(math.comb(n, k)) if math.comb(n, k) > 1 else 0.0
    got = theory.log2_binom(n, k)
    assert isinstance(got, float)
    if exact == 0.0:
        assert got == 0.0
    else:
        assert got == pytest.approx(exact, rel=1e-9)


def test_log2_binom_vectorised_and_bounds():
    n = np.array([10, 100, 1000, 4096, 10**5])
    k = np.array([3, 7, 50, 16, 100])
    exact = np.array([math.log2(math.comb(int(a), int(b))) for a, b in zip(n, k)])
    np.testing.assert_allclose(theory.log2_binom(n, k), exact, rtol=1e-9)
    # (n/k)^k <= C(n, k) <= (e n / k)^k <= 2^{n H2(k/n)} ... and the seed's bound below all
    lower = k * np.log2(n / k)
    upper = k * np.log2(np.e * n / k)
    np.testing.assert_allclose(theory.binom_lower_bits(n, k), lower, rtol=1e-14)
    np.testing.assert_allclose(theory.binom_upper_bits(n, k), upper, rtol=1e-14)
    assert np.all(lower <= exact) and np.all(exact <= upper)
    assert np.all(exact <= theory.entropy_bits(n, k) + 1e-9)
    np.testing.assert_allclose(theory.counting_bound(n, k), lower - k, rtol=1e-14)
    assert np.all(theory.counting_bound(n, k) <= exact)
    np.testing.assert_allclose(theory.bits_per_dimension(n, k, 40), exact / 40, rtol=1e-9)


def test_entropy_bits_stirling():
    # log2 C(n, pn) = n H2(p) - 1/2 log2(2 pi n p (1-p)) + O(1/n)
    for n, k in [(1000, 100), (5000, 2500), (20000, 37)]:
        p = k / n
        h = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
        assert theory.entropy_bits(n, k) == pytest.approx(n * h, rel=1e-12)
        exact = math.log2(math.comb(n, k))
        stirling = n * h - 0.5 * math.log2(2 * math.pi * n * p * (1 - p))
        assert abs(exact - stirling) < 0.01
    assert theory.entropy_bits(10, 0) == 0.0 and theory.entropy_bits(10, 10) == 0.0


def test_counting_bound_value_and_validation():
    assert theory.counting_bound(1024, 8) == pytest.approx(48.0, abs=1e-12)  # 8 (7 - 1)
    with pytest.raises(ValueError, match="k=11"):
        theory.log2_binom(10, 11)
    with pytest.raises(ValueError, match="allowed"):
        theory.counting_bound(10, 0)
    with pytest.raises(TypeError, match="integer"):
        theory.log2_binom(10, 2.5)
    with pytest.raises(ValueError, match="2.5"):
        theory.log2_binom([10, 12], [2, 2.5])
    assert theory.log2_binom(1e6, 1) == pytest.approx(math.log2(1e6), rel=1e-9)


# ----------------------------------------------------------------------------- coherence
def test_lemma1_delta_and_welch_closed_forms():
    assert theory.lemma1_delta(1000, 100) == pytest.approx(math.sqrt(4 * math.log(1000) / 100), rel=1e-14)
    # Mercedes frame: 3 unit vectors at 120 degrees in R^2 meet the Welch bound 1/2
    ang = 2 * np.pi * np.arange(3) / 3
    A = np.vstack([np.cos(ang), np.sin(ang)])
    stats = csbench.coherence_stats(A)
    assert theory.welch_bound(3, 2) == pytest.approx(0.5, abs=1e-15)
    assert stats["max_abs_cos"] == pytest.approx(theory.welch_bound(3, 2), abs=1e-12)
    assert theory.welch_bound(10, 10) == 0.0
    np.testing.assert_allclose(theory.welch_bound([20, 100], 5),
                               [math.sqrt(15 / (5 * 19)), math.sqrt(95 / (5 * 99))], rtol=1e-14)


def test_cos_law_closed_forms():
    x = np.linspace(-1, 1, 41)
    # R^2: angle uniform, P(cos <= x) = 1 - arccos(x)/pi; R^3: cos uniform on [-1, 1]
    np.testing.assert_allclose(theory.cos_cdf(x, 2), 1 - np.arccos(x) / np.pi, atol=1e-12)
    np.testing.assert_allclose(theory.cos_cdf(x, 3), (1 + x) / 2, atol=1e-12)
    np.testing.assert_allclose(theory.cos_sf(x, 7) + theory.cos_cdf(x, 7), 1.0, atol=1e-14)
    assert theory.expected_mean_abs_cos(2) == pytest.approx(2 / np.pi, rel=1e-14)
    assert theory.expected_mean_abs_cos(3) == pytest.approx(0.5, rel=1e-14)


def test_cos_law_and_mean_abs_cos_monte_carlo():
    m, n = 20, 200
    rng = np.random.default_rng(11)
    c, mean_abs = [], []
    for _ in range(20):
        U = unit(rng, m, n)
        G = U.T @ U
        c.append(G[np.triu_indices(n, 1)])
        mean_abs.append(csbench.coherence_stats(U)["mean_abs_cos"])
    c = np.concatenate(c)  # 398000 pair cosines (weakly dependent within a draw)
    for x in (-0.3, 0.0, 0.2, 0.45):
        emp = (c <= x).mean()
        exact = theory.cos_cdf(x, m)
        assert abs(emp - exact) < 4 * np.sqrt(exact * (1 - exact) / len(c)) + 2e-3
    ok, info = se_ok(np.mean(mean_abs), mean_abs, theory.expected_mean_abs_cos(m))
    assert ok, info


@pytest.mark.parametrize("n,m,trials", [(50, 10, 300), (300, 30, 60)])
def test_expected_max_coherence_monte_carlo(n, m, trials):
    rng = np.random.default_rng(n + m)
    mx = [csbench.coherence_stats(unit(rng, m, n))["max_abs_cos"] for _ in range(trials)]
    expected = theory.expected_max_coherence(n, m)
    ok, info = se_ok(np.mean(mx), mx, expected)
    assert ok, info
    assert theory.welch_bound(n, m) < expected < 1.0


def test_expected_max_coherence_limits_and_lemma1():
    assert theory.expected_max_coherence(1, 10) == 0.0
    assert theory.expected_max_coherence(5, 1) == 1.0
    # two vectors: E|c| exactly
    assert theory.expected_max_coherence(2, 9) == pytest.approx(theory.expected_mean_abs_cos(9), rel=1e-8)
    # Lemma 1 (seed 004): all |cos| <= delta with probability >= 1/2; check by Monte Carlo
    n, m = 500, 100
    delta = theory.lemma1_delta(n, m)
    rng = np.random.default_rng(3)
    below = [csbench.coherence_stats(unit(rng, m, n))["max_abs_cos"] <= delta for _ in range(20)]
    assert np.mean(below) >= 0.5
    assert theory.expected_max_coherence(n, m) < delta


# ----------------------------------------------------------------------------- Q_k
@pytest.mark.parametrize("k", [2, 3, 5, 16])
def test_sum_zero_orthant_monte_carlo(k):
    rng = np.random.default_rng(k)
    G = rng.standard_normal((400_000, k))
    zmin = (G - G.mean(axis=1, keepdims=True)).min(axis=1)
    for t in (-2.5, -1.0, -0.4):
        p = (zmin > t).mean()
        q = theory.sum_zero_orthant(k, t)
        assert abs(q - p) <= 4 * np.sqrt(max(p * (1 - p), 1e-6) / zmin.size), (k, t, q, p)


def test_sum_zero_orthant_two_methods_agree():
    t = np.linspace(-8, -0.01, 120)
    levels = mf._recursion_levels(12)  # recursion carried past its default range
    for k, tol in [(8, 1e-9), (9, 1e-9), (10, 1e-10), (12, 1e-10)]:
        rec = mf._q_small(k, t, levels)
        con = mf._q_contour(k, t)
        assert np.abs(rec - con).max() < tol, k


def test_sum_zero_orthant_small_k_and_edges():
    t = np.array([-3.0, -1.0, -0.2, 0.0, 0.5])
    np.testing.assert_array_equal(theory.sum_zero_orthant(1, t), [1, 1, 1, 0, 0])
    np.testing.assert_allclose(theory.sum_zero_orthant(2, t), [erf(3), erf(1), erf(0.2), 0, 0], atol=1e-15)
    assert theory.sum_zero_orthant(0, 1.0) == 1.0
    q = theory.sum_zero_orthant(40, np.linspace(-9, -0.01, 200))
    assert q[0] == 1.0 and np.all(np.diff(q) <= 1e-12) and q[-1] < 1e-30
    with pytest.raises(ValueError, match="NaN"):
        theory.sum_zero_orthant(4, np.nan)


# ----------------------------------------------------------------------------- antipodal
def _ideal_pairs(p, pairs, trials, rng, antipodal):
    """Exactly orthogonal pairs: columns e_i and -e_i (or 0), Bernoulli(p) binary features."""
    A = np.zeros((pairs, 2 * pairs))
    A[np.arange(pairs), 2 * np.arange(pairs)] = 1.0
    if antipodal:
        A[np.arange(pairs), 2 * np.arange(pairs) + 1] = -1.0
    X = (rng.random((trials, 2 * pairs)) < p).astype(float)
    X_hat = csbench.decode("relu_readout", A, X @ A.T).X_hat
    return ((X_hat - X) ** 2).reshape(trials, pairs, 2).sum(axis=2).ravel()


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_antipodal_pair_errors_monte_carlo(p):
    rng = np.random.default_rng(int(p * 100))
    n, k = 100, int(round(100 * p))  # p = k / n
    anti = _ideal_pairs(p, 50, 2000, rng, True)
    one = _ideal_pairs(p, 50, 2000, rng, False)
    ok, info = se_ok(anti.mean(), anti, theory.antipodal_pair_errors(n, k))
    assert ok, info
    ok, info = se_ok(one.mean(), one, theory.one_direction_pair_errors(n, k))
    assert ok, info
    assert theory.use_antipodal(n, k) == (anti.mean() < one.mean()) == (p <= 0.5)


def test_antipodal_vs_halving_as_stated():
    # Toy Models' example from the seed: n = 20, m = 5, k = 2
    cost, saving = theory.antipodal_halving_terms(20, 2, 5)
    assert cost == pytest.approx(0.02) and saving == pytest.approx(1.6)
    assert theory.antipodal_halving_m(20, 2) == pytest.approx(400.0)
    assert theory.use_antipodal_vs_halving(20, 2, 5) is True
    assert theory.use_antipodal_vs_halving(20, 2, 5, as_printed=True) is False
    n, k, m = np.meshgrid([20, 64, 512], [1, 4, 16], [5, 100, 10**4, 10**6])
    cost, saving = theory.antipodal_halving_terms(n, k, m)
    np.testing.assert_array_equal(theory.use_antipodal_vs_halving(n, k, m), cost <= saving)
