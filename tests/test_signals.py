"""Signal models: sparsity, value sets, Bernoulli rates, frequency profiles."""
import numpy as np
import pytest

from csbench import SIGNALS, Cell, make_problem
from csbench.signals import check_signal, feature_weights


def draw(signal, n=200, k=7, trials=300, **params):
    return make_problem(Cell("gaussian", signal, n, k, signal_params=params), 2, trials, seed=5)[1].X


@pytest.mark.parametrize("name", ["binary", "signed", "gaussian", "uniform"])
def test_exactly_k_nonzeros(name):
    X = draw(name)
    assert (np.count_nonzero(X, axis=1) == 7).all()


def test_value_sets():
    assert set(np.unique(draw("binary"))) == {0.0, 1.0}
    signed = draw("signed")
    assert set(np.unique(signed)) == {-1.0, 0.0, 1.0}
    plus = (signed == 1).sum()
    N = 300 * 7
    # P(+1) = 1/2: binomial tolerance 4 sd
    assert abs(plus - N / 2) < 4 * np.sqrt(N / 4)
    u = draw("uniform")
    assert ((u[u != 0] > 0) & (u[u != 0] < 1)).all()
    g = draw("gaussian")[draw("gaussian") != 0]
    assert abs(g.mean()) < 4 / np.sqrt(g.size) and abs(g.std() - 1) < 0.1


@pytest.mark.parametrize("values, lo", [("signed", -1.0), ("positive", 0.0)])
def test_bernoulli_rate_and_values(values, lo):
    n, T, p = 100, 400, 0.02
    X = draw("bernoulli", n=n, k=0, trials=T, p=p, values=values)
    active = np.count_nonzero(X)
    N = n * T
    assert abs(active - N * p) < 4 * np.sqrt(N * p * (1 - p))
    nz = X[X != 0]
    assert nz.min() >= lo and nz.max() <= 1.0
    if values == "signed":
        assert abs((nz > 0).mean() - 0.5) < 4 * np.sqrt(0.25 / nz.size)


def test_bernoulli_default_rate_is_k_over_n():
    X = draw("bernoulli", n=50, k=5, trials=400)
    N = 50 * 400
    assert abs(np.count_nonzero(X) - N * 0.1) < 4 * np.sqrt(N * 0.1 * 0.9)


def test_power_profile_frequencies():
    n, T = 20, 4000
    X = draw("binary", n=n, k=1, trials=T, profile="power", alpha=1.0)
    w = feature_weights(n, "power", 1.0)
    counts = np.count_nonzero(X, axis=0)
    # k = 1: feature i is chosen with probability w_i exactly
    assert np.all(np.abs(counts - T * w) < 4.5 * np.sqrt(T * w * (1 - w)))


def test_signal_validation():
    with pytest.raises(ValueError, match="k=11"):
        check_signal("binary", 10, 11, {})
    with pytest.raises(ValueError, match="k=-1"):
        check_signal("binary", 10, -1, {})
    with pytest.raises(ValueError, match="Did you mean 'binary'"):
        SIGNALS.get("binry")
    with pytest.raises(ValueError, match="profile='zipf'"):
        check_signal("signed", 10, 2, {"profile": "zipf"})
    with pytest.raises(ValueError, match="p=1.5"):
        check_signal("bernoulli", 10, 2, {"p": 1.5})
