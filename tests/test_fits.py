"""csbench.fits against closed forms, Monte Carlo and scikit-learn."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from csbench.fits import (fit_constant, fit_scaling, logistic_fit, quantile_ci,
                          scaling_x)


def test_quantile_ci_order_statistics_n100():
    # classical table (e.g. Conover 1999, Table A3): 95 % CI for the median of 100 = (X_(40), X_(61))
    x = np.arange(1.0, 101.0)
    est, lo, hi, cov = quantile_ci(x[::-1], 0.5, 0.95)
    assert (est, lo, hi) == (50.0, 40.0, 61.0)
    assert cov == pytest.approx(stats.binom.cdf(60, 100, 0.5) - stats.binom.cdf(39, 100, 0.5), abs=1e-12)
    assert cov >= 0.95
    # too few points for a two-sided 95 % interval: unbounded ends, censored values allowed
    est, lo, hi, _ = quantile_ci([3.0, 1.0, np.inf], 0.5)
    assert (est, lo, hi) == (3.0, -np.inf, np.inf)
    with pytest.raises(ValueError, match="NaN"):
        quantile_ci([1.0, np.nan])


def test_quantile_ci_monte_carlo_coverage():
    rng = np.random.default_rng(0)
    N, reps, q = 25, 4000, 0.75
    true = stats.expon.ppf(q)
    hits, cov = 0, None
    for _ in range(reps):
        _, lo, hi, cov = quantile_ci(rng.exponential(size=N), q)
        hits += lo <= true <= hi
    se = np.sqrt(cov * (1 - cov) / reps)
    assert abs(hits / reps - cov) <= 4 * se  # continuous data: coverage is exactly the binomial one


def test_logistic_fit_matches_sklearn_and_recovers_m50():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    m = np.geomspace(50, 400, 12).round()
    b0, b1 = -40.0, 8.0  # m50 = exp(5) = 148.4
    N = np.full(m.size, 400)
    s = rng.binomial(N, stats.logistic.cdf(b0 + b1 * np.log(m)))
    fit = logistic_fit(m, s, N)
    X = np.repeat(np.log(m), 2)[:, None]
    yv = np.tile([1, 0], m.size)
    w = np.column_stack([s, N - s]).ravel()
    sk = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X - np.log(m).mean(), yv, sample_weight=w)
    assert fit.b1 == pytest.approx(sk.coef_[0, 0], rel=1e-4)
    assert fit.b0 == pytest.approx(sk.intercept_[0] - sk.coef_[0, 0] * np.log(m).mean(), rel=1e-4)
    m50, lo, hi = fit.m_at(0.5)
    assert lo <= np.exp(5.0) <= hi and hi / lo < 1.1


def test_fit_constant_closed_form_and_coverage():
    rng = np.random.default_rng(2)
    x = np.array([10.0, 20, 40, 80, 160])
    sig = 0.05 * x
    z = stats.norm.ppf(0.975)
    c_true, hits, reps = 1.7, 0, 2000
    for r in range(reps):
        y = c_true * x + sig * rng.standard_normal(x.size)
        f = fit_constant(x, y, y - z * sig, y + z * sig)
        hits += f.low <= c_true <= f.high
        if r == 0:  # oracle: weighted least squares by numpy on sqrt(w)-scaled rows
            ref = np.linalg.lstsq((x / sig)[:, None], y / sig, rcond=None)[0][0]
            assert f.c == pytest.approx(ref, rel=1e-12)
    # nominal 95 %; Birge inflation can only widen, so coverage is >= 95 % up to MC error
    assert hits / reps >= 0.95 - 4 * np.sqrt(0.95 * 0.05 / reps)
    assert hits / reps <= 0.995


def test_bootstrap_recovers_constant():
    rng = np.random.default_rng(3)
    ks = np.array([2, 4, 8, 16])
    n = 4096
    xs = scaling_x(n, ks, "log2_binom")
    c_true = 1.3
    # per-trial critical m: median exactly c x (symmetric noise), 80 trials per point
    crit = [np.round(c_true * x * (1 + 0.08 * rng.standard_normal(80))) for x in xs]
    rows = []
    for k, cr in zip(ks, crit):
        est, lo, hi, _ = quantile_ci(cr)
        rows.append({"decoder": "d", "n": n, "k": k, "m_star": est, "ci_low": lo, "ci_high": hi, "critical": cr})
    tab = pd.DataFrame(rows)
    f_w = fit_scaling(tab, "log2_binom")
    f_b = fit_scaling(tab, "log2_binom", method="bootstrap", n_boot=300)
    for f in (f_w, f_b):
        assert f.loc[0, "c_low"] <= c_true <= f.loc[0, "c_high"]
        assert f.loc[0, "c_high"] - f.loc[0, "c_low"] < 0.1
    assert f_b.loc[0, "c"] == f_w.loc[0, "c"]


def test_scaling_x_values():
    np.testing.assert_allclose(scaling_x(1024, 8, "k_ln_n"), 8 * np.log(1024))
    np.testing.assert_allclose(scaling_x(1024, 8, "k_log2_en_k"), 8 * np.log2(np.e * 128))
    np.testing.assert_allclose(scaling_x(10, 3, "log2_binom"), np.log2(120), rtol=1e-12)
    with pytest.raises(ValueError, match="scale"):
        scaling_x(10, 3, "k_log_n")


def test_two_points_do_not_give_a_negative_bound_for_a_positive_constant():
    """Issue 10 item 15: two scattered points gave c - t_1 se < 0 (t_1 = 12.7) for c ~ 1."""
    x = np.array([20.0, 40.0])
    y = np.array([18.0, 48.0])  # scatter far beyond the quoted intervals
    lo, hi = y - 1.0, y + 1.0
    f = fit_constant(x, y, lo, hi)
    sig = 1.0 / stats.norm.ppf(0.975)  # (high - low) / (2 z)
    se = 1.0 / np.sqrt(np.sum(x * x) / sig**2)  # quoted errors only, no Birge inflation
    assert f.c == pytest.approx(np.sum(x * y) / np.sum(x * x), rel=1e-12)
    assert f.se == pytest.approx(se, rel=1e-12) and f.low > 0
    assert f.low == pytest.approx(f.c - stats.norm.ppf(0.975) * se, rel=1e-12)
    assert "too few to test the scaling law" in f.note
    g = fit_constant(x, y)  # no intervals: no interval at all, said so
    assert np.isnan(g.low) and np.isnan(g.high) and "no interval" in g.note
    tab = pd.DataFrame({"decoder": "d", "n": 1024, "k": [2, 4], "m_star": y, "ci_low": lo, "ci_high": hi})
    out = fit_scaling(tab, "k_ln_n")
    assert out.loc[0, "c_low"] > 0 and out.loc[0, "note"].startswith("2 points")
    assert fit_constant(np.array([10.0, 20, 40]), np.array([9.0, 21, 39])).note == ""
