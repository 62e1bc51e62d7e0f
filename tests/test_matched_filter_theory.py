"""Matched-filter theory vs Monte Carlo of csbench's own pipeline.

Oracle: ``make_problem`` + ``decode("matched_filter")`` + ``score`` on seeded
problems (Gaussian and unit encoders, binary signals), plus plain-numpy
simulations of the score distributions. Tolerance: 4 standard errors.
"""
import numpy as np
import pytest
from scipy.special import log_ndtr
from threadpoolctl import threadpool_limits

import csbench
from csbench import theory


def run_mf(encoder, n, k, m, trials, seed=0, block=100):
    """Per-trial ``exact`` and ``n_wrong`` of the threshold-1/2 matched filter."""
    cell = csbench.Cell(encoder=encoder, signal="binary", n=n, k=k)
    exact, wrong = [], []
    with threadpool_limits(1):
        for start in range(0, trials, block):
            meas, truth = csbench.make_problem(cell, m, min(block, trials - start), seed, first_trial=start)
            res = csbench.decode("matched_filter", meas.A, meas.Y, k=k)
            sc = csbench.score(truth.X, res.X_hat, binary=True)
            exact.append(sc["exact"])
            wrong.append(sc["n_wrong"])
    return np.concatenate(exact), np.concatenate(wrong)


def within(samples, value, z=4.0):
    samples = np.asarray(samples, dtype=float)
    mean = samples.mean()
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    return abs(mean - value) <= z * se, (mean, value, se)


@pytest.mark.parametrize("encoder,n,k,m,trials", [
    ("gaussian", 512, 4, 144, 2000),   # P ~ 0.50
    ("gaussian", 1024, 8, 300, 1000),  # P ~ 0.33
    ("unit", 512, 4, 141, 1500),       # P ~ 0.51, approximate formula (k >= 3)
    ("unit", 100, 2, 40, 2000),        # P ~ 0.35, exact formula (k = 2)
])
def test_success_probability_matches_decoder(encoder, n, k, m, trials):
    p = theory.mf_success_probability(n, k, m, encoder)
    assert 0.1 < p < 0.9
    exact, wrong = run_mf(encoder, n, k, m, trials)
    ok, info = within(exact, p)
    assert ok, info
    ok, info = within(wrong, theory.mf_expected_wrong(n, k, m, encoder))
    assert ok, info


@pytest.mark.parametrize("n,k,p", [(256, 2, 0.1), (512, 4, 0.2)])
def test_chernoff_m_is_sufficient(n, k, p):
    m = int(np.ceil(theory.chernoff_m(n, k, p)))
    exact, _ = run_mf("gaussian", n, k, m, 300, seed=7)
    assert exact.mean() >= 1 - p
    assert theory.mf_success_probability(n, k, m) >= 1 - p


def test_error_probabilities_plain_numpy():
    rng = np.random.default_rng(5)
    n, k, m, T = 512, 4, 144, 150_000
    fp, fn = theory.mf_error_probabilities(n, k, m)
    a = rng.standard_normal((T, m)) / np.sqrt(m)
    u = rng.standard_normal((T, m)) * np.sqrt((k - 1) / m)  # sum of the other k-1 columns
    y = rng.standard_normal((T, m)) * np.sqrt(k / m)        # y, independent of an off-support column
    miss = ((a * a).sum(1) + (a * u).sum(1)) <= 0.5
    false_pos = (a * y).sum(1) > 0.5
    for samples, value in [(miss, fn), (false_pos, fp)]:
        ok, info = within(samples, value)
        assert ok, info
    assert theory.mf_error_probabilities(100, 0, 10) == (0.0, 0.0)


@pytest.mark.parametrize("encoder,n,k,m", [("gaussian", 1000, 3, 100), ("unit", 512, 8, 285)])
def test_success_probability_conditional_monte_carlo(encoder, n, k, m):
    """Rao-Blackwellised oracle: simulate the k support columns, average the exact
    off-support factor given ||y||; precise enough to test the unit approximation."""
    rng = np.random.default_rng(k)
    vals = []
    for _ in range(10):
        U = rng.standard_normal((2000, m, k))
        U /= np.linalg.norm(U, axis=1, keepdims=True) if encoder == "unit" else np.sqrt(m)
        y = U.sum(axis=2)
        on = np.einsum("tmk,tm->tk", U, y).min(axis=1) > 0.5
        R = (y * y).sum(axis=1)
        if encoder == "unit":
            off = (n - k) * np.log1p(-theory.cos_sf(np.minimum(0.5 / np.sqrt(R), 1.0), m))
        else:
            off = (n - k) * log_ndtr(0.5 * np.sqrt(m / R))
        vals.append(on * np.exp(off))
    ok, info = within(np.concatenate(vals), theory.mf_success_probability(n, k, m, encoder))
    assert ok, info


def test_minimal_m_definition_and_edges():
    for ens in ("gaussian", "unit"):
        m = theory.mf_minimal_m(256, 3, 0.5, ens)
        assert theory.mf_success_probability(256, 3, m, ens) >= 0.5
        assert theory.mf_success_probability(256, 3, m - 1, ens) < 0.5
    assert theory.mf_minimal_m(100, 0) == 1
    m9 = theory.mf_minimal_m(256, 3, 0.9)
    assert m9 > theory.mf_minimal_m(256, 3, 0.5)
    assert m9 < theory.chernoff_m(256, 3, 0.1)  # the Chernoff value is sufficient, hence larger
    probs = theory.mf_success_probability(256, 3, np.arange(40, 200, 20))
    assert np.all(np.diff(probs) > 0)


def test_validation_messages():
    with pytest.raises(ValueError, match="ensemble"):
        theory.mf_success_probability(10, 2, 5, "gausian")
    with pytest.raises(ValueError, match="k=11"):
        theory.mf_success_probability(10, 11, 5)
    with pytest.raises(ValueError, match="q="):
        theory.mf_minimal_m(10, 2, q=1.0)
    with pytest.raises(ValueError, match="m contains 1"):
        theory.mf_success_probability(10, 2, [1, 5], "unit")
    with pytest.raises(ValueError, match="p="):
        theory.chernoff_m(10, 2, 0.0)


# --- the +-1 (Rademacher) ensemble and independent binary features -------------------------


def _rademacher_brute_force(n, k, m):
    """P(success) by enumerating every support block in {+-1}^(m x k) and every off-support
    column in {+-1}^m (decision 1[score >= 1/2]); and the per-coordinate error rates."""
    signs = np.array(np.meshgrid(*[[-1, 1]] * m, indexing="ij")).reshape(m, -1).T  # (2^m, m)
    blocks = np.array(np.meshgrid(*[[-1, 1]] * (m * k), indexing="ij")).reshape(m * k, -1).T.reshape(-1, m, k)
    y = blocks.sum(axis=2)  # (B, m), in units of 1/sqrt(m)
    on = np.einsum("bmk,bm->bk", blocks, y)  # m * scores on the support
    off = y @ signs.T  # (B, 2^m): m * score of every possible off-support column
    on_ok = (2 * on >= m).all(axis=1)
    F = (2 * off < m).mean(axis=1)
    return (on_ok * F ** (n - k)).mean(), (1 - F).mean(), (2 * on < m).mean()


@pytest.mark.parametrize("k, m", [(1, 5), (2, 4), (2, 5), (3, 3), (3, 4), (3, 5)])
def test_rademacher_exact_equals_brute_force(k, m):
    for n in (k, k + 1, 7):
        p, fp, fn = _rademacher_brute_force(n, k, m)
        assert theory.mf_success_probability(n, k, m, "rademacher") == pytest.approx(p, rel=1e-12, abs=1e-15)
        efp, efn = theory.mf_error_probabilities(n, k, m, "rademacher")
        assert (efp, efn) == pytest.approx((fp, fn), rel=1e-12, abs=1e-15)


def test_rademacher_exact_matches_decoder():
    """Seed 003's string example: k = 3 strings hashed to +-1 vectors, summed; odd m, so no
    score is ever exactly 1/2 and the tie rule does not matter."""
    n, k, m, trials = 100, 3, 61, 2000
    p = theory.mf_success_probability(n, k, m, "rademacher")
    assert 0.25 < p < 0.4  # 0.3117
    exact, wrong = run_mf("rademacher", n, k, m, trials)
    ok, info = within(exact, p)
    assert ok, info
    ok, info = within(wrong, theory.mf_expected_wrong(n, k, m, "rademacher"))
    assert ok, info
    with pytest.raises(ValueError, match=r"k=4 is out of range for ensemble='rademacher'.*k <= 3"):
        theory.mf_success_probability(n, 4, m, "rademacher")


def test_bernoulli_features_success_matches_decoder():
    """x_i ~ Bernoulli(p) iid with value 1 (seed 004 Theorem 3's model), Gaussian A."""
    n, p_on, m, trials = 64, 0.05, 41, 2000
    p = theory.mf_success_probability_bernoulli(n, p_on, m, tail=1e-10)
    assert 0.2 < p < 0.4  # 0.2932
    cell = csbench.Cell("gaussian", "bernoulli", n, 3, signal_params={"p": p_on, "values": "one"})
    with threadpool_limits(1):
        meas, truth = csbench.make_problem(cell, m, trials, seed=5)
        res = csbench.decode("matched_filter", meas.A, meas.Y)
    assert set(np.unique(truth.X)) == {0.0, 1.0}
    assert truth.X.sum(1).mean() == pytest.approx(n * p_on, abs=4 * np.sqrt(n * p_on / trials))
    exact = csbench.score(truth.X, res.X_hat, binary=True)["exact"]
    ok, info = within(exact, p)
    assert ok, info
    # the mixture: p = 1 puts all mass on k = n, p = 0 on k = 0
    assert theory.mf_success_probability_bernoulli(8, 0.0, 5) == 1.0
    assert theory.mf_success_probability_bernoulli(8, 1.0, 5) == pytest.approx(
        float(theory.mf_success_probability(8, 8, 5)), abs=1e-12)


def test_chernoff_default_is_p_one():
    assert theory.chernoff_m(1024, 4) == pytest.approx(32 * np.log(1024), rel=1e-14)
    assert theory.chernoff_m(1024, 4, 1.0) == theory.chernoff_m(1024, 4)
    with pytest.raises(ValueError, match=r"p=.*out of range; allowed: 0 < p <= 1"):
        theory.chernoff_m(1024, 4, 1.5)
