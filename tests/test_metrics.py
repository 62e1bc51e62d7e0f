"""Success criteria and Wilson intervals."""
import numpy as np
import pytest
from scipy.stats import norm

from csbench import score, wilson_interval


def test_binary_scoring():
    X = np.array([[1.0, 0, 1, 0], [1, 0, 0, 0]])
    X_hat = np.array([[0.9, 0.2, 0.51, 0.49], [0.4, 0.7, 0.0, 0.0]])
    s = score(X, X_hat, binary=True)
    np.testing.assert_array_equal(s["exact"], [True, False])
    np.testing.assert_array_equal(s["n_wrong"], [0, 2])
    np.testing.assert_array_equal(s["n_false_pos"], [0, 1])
    np.testing.assert_array_equal(s["n_false_neg"], [0, 1])
    np.testing.assert_array_equal(s["support"], [True, False])
    assert s["rel_err"][1] == pytest.approx(np.sqrt(0.36 + 0.49) / 1.0)


def test_real_scoring():
    X = np.array([[2.0, 0, -1, 0], [0.0, 0, 0, 0]])
    X_hat = np.array([[2.001, 0.0, -1.0, 0.005], [0.0, 0, 0, 0.5]])
    s = score(X, X_hat, binary=False, tol=1e-2, support_tol=1e-3)
    assert s["rel_err"][0] == pytest.approx(np.sqrt(1e-6 + 0.005**2) / np.sqrt(5))
    np.testing.assert_array_equal(s["exact"], [True, False])
    np.testing.assert_array_equal(s["n_wrong"], [0, 1])      # 0.005 <= 0.01 * 2 ; 0.5 > 0.01 * 1 (x = 0)
    np.testing.assert_array_equal(s["n_false_pos"], [1, 1])  # 0.005 > 1e-3 * 2
    np.testing.assert_array_equal(s["support"], [False, False])
    assert s["rel_err"][1] == pytest.approx(0.5)             # x = 0: absolute error
    assert all(np.isfinite(v).all() for v in s.values())


def test_wilson_known_values():
    lo, hi = wilson_interval(8, 10)
    # closed form with z = 1.959964: (0.4902, 0.9433) (Newcombe 1998, Table I style values)
    assert lo == pytest.approx(0.49016, abs=2e-5) and hi == pytest.approx(0.94330, abs=2e-5)
    z = norm.ppf(0.975)
    lo0, hi0 = wilson_interval(0, 20)
    assert lo0 == 0 and hi0 == pytest.approx(z**2 / (20 + z**2), rel=1e-12)
    lo, hi = wilson_interval(np.array([0, 5, 10]), np.array([10, 10, 10]))
    np.testing.assert_allclose(lo + hi[::-1], 1.0)   # symmetry s <-> N - s
    with pytest.raises(ValueError, match="conf"):
        wilson_interval(1, 2, conf=1.5)


def test_wilson_coverage_monte_carlo():
    rng = np.random.default_rng(0)
    p, N, R = 0.3, 40, 20000
    s = rng.binomial(N, p, R)
    lo, hi = wilson_interval(s, np.full(R, N))
    cover = np.mean((lo <= p) & (p <= hi))
    # Wilson's interval has close to nominal coverage for N=40, p=0.3 (about 0.94-0.96)
    assert 0.93 < cover < 0.97
