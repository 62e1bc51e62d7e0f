"""Intervals for success rates when trials share a dictionary (csbench.intervals)."""
import numpy as np
import pytest
from scipy import stats

from csbench.intervals import (
    cluster_bootstrap_interval,
    cluster_difference_interval,
    cluster_interval,
    conditional_interval,
    rate_interval,
)
from csbench.metrics import wilson_interval


def _simulate(G, T, mu, sd, reps, seed):
    """reps studies of G dictionaries x T signals; dictionary g succeeds w.p. p_g ~ Beta(mean mu, sd)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    ab = mu * (1 - mu) / sd**2 - 1
    p = rng.beta(mu * ab, (1 - mu) * ab, size=(reps, G))
    return rng.binomial(T, p)


@pytest.mark.parametrize("G, T, mu, sd", [(4, 50, 0.35, 0.15), (6, 40, 0.2, 0.1)])
def test_cluster_interval_covers_where_pooled_wilson_does_not(G, T, mu, sd):
    reps = 1000  # >= 200 repetitions; binomial s.e. of a coverage near 0.95 is 0.007
    s = _simulate(G, T, mu, sd, reps, seed=17)
    _, lo, hi = cluster_interval(s, T)
    cov_cluster = np.mean((lo <= mu) & (mu <= hi))
    _, lo_w, hi_w = conditional_interval(s, T)  # the naive "G*T independent trials" Wilson interval
    cov_naive = np.mean((lo_w <= mu) & (mu <= hi_w))
    _, lo_b, hi_b = cluster_bootstrap_interval(s, T, n_boot=500, seed=3)
    cov_boot = np.mean((lo_b <= mu) & (mu <= hi_b))
    assert cov_cluster >= 0.93  # nominal 0.95 within ~3 s.e.
    assert cov_naive < 0.80  # measured 0.58 and 0.73
    assert cov_naive < cov_boot < cov_cluster  # the percentile bootstrap helps but undercovers with few G


def test_no_between_dictionary_variation_keeps_wilson_coverage():
    rng = np.random.default_rng(np.random.SeedSequence(5))
    s = rng.binomial(40, 0.35, size=(1000, 6))
    _, lo, hi = cluster_interval(s, 40)
    assert np.mean((lo <= 0.35) & (0.35 <= hi)) >= 0.94


def test_cluster_variance_equals_variance_of_dictionary_means_for_equal_sizes():
    # independent formula: with equal sizes, v = var_{ddof=1}(per-dictionary rates) / G
    s = np.array([3, 9, 14, 6, 11])
    T = 20
    p = s.sum() / (5 * T)
    v = np.var(s / T, ddof=1) / 5
    n_star = p * (1 - p) / v * (stats.norm.ppf(0.975) / stats.t.ppf(0.975, 4)) ** 2
    est, lo, hi = cluster_interval(s, T)
    lo_ref, hi_ref = (float(v) for v in wilson_interval(p * n_star, n_star))
    assert est == pytest.approx(p)
    assert (lo, hi) == pytest.approx((lo_ref, hi_ref), abs=1e-12)
    assert hi - lo > 2 * (wilson_interval(s.sum(), 100)[1] - wilson_interval(s.sum(), 100)[0])


def test_edge_cases_and_labels():
    est, lo, hi = cluster_interval([[4, 4, 4]], 10)  # identical dictionaries: n_eff = N, shrunk for 2 df
    n_star = 30 * (stats.norm.ppf(0.975) / stats.t.ppf(0.975, 2)) ** 2
    ref = wilson_interval(0.4 * n_star, n_star)
    assert (lo[0], hi[0]) == pytest.approx((float(ref[0]), float(ref[1])), abs=1e-12)
    assert cluster_interval([7], 10)[1:] == (0.0, 1.0)  # one dictionary says nothing about others
    est, lo, hi = cluster_interval([[0, 0, 0]], 10)
    assert est[0] == 0 and lo[0] == 0 and hi[0] > 0
    # unequal sizes: the ratio estimator sum s / sum t
    assert cluster_interval([2, 9], [10, 30])[0] == pytest.approx(11 / 40)
    assert "conditional" in rate_interval([3, 4], 10, method="conditional")[3]
    assert "over dictionaries" in rate_interval([3, 4], 10)[3]
    with pytest.raises(ValueError, match="method='boot'"):
        rate_interval([3, 4], 10, method="boot")
    with pytest.raises(ValueError, match="successes"):
        cluster_interval([3, 12], 10)


def test_cluster_difference_interval_covers_the_true_difference():
    a = _simulate(6, 40, 0.35, 0.15, 1000, seed=31)
    b = _simulate(6, 40, 0.20, 0.10, 1000, seed=32)
    _, lo, hi = cluster_difference_interval(a, 40, b, 40)
    assert np.mean((lo <= 0.15) & (0.15 <= hi)) >= 0.93
    # the naive two-sample Wilson-style difference (pooled binomial s.e.) undercovers
    pa, pb = a.sum(1) / 240, b.sum(1) / 240
    se = np.sqrt(pa * (1 - pa) / 240 + pb * (1 - pb) / 240)
    assert np.mean(np.abs(pa - pb - 0.15) <= 1.96 * se) < 0.85
    with pytest.raises(ValueError, match="2 dictionaries"):
        cluster_difference_interval([3], 10, [4, 5], 10)
