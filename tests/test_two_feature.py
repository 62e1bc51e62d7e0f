"""Seed 004 Theorem 3's own model (two binary features, one dimension): exact optimiser."""
import numpy as np
import pytest

from csbench import theory
from csbench.theory.two_feature import two_feature_loss, two_feature_optimum


def _mc_loss(w, rho, b, rng, size=400_000):
    x = (rng.random((size, 2)) < rho).astype(float)
    h = x @ w
    out = np.maximum(np.outer(h, w) + b, 0.0)
    return ((out - x) ** 2).sum(axis=1).mean(), ((out - x) ** 2).sum(axis=1).std() / np.sqrt(size)


def test_loss_matches_monte_carlo_and_seed_cases():
    rng = np.random.default_rng(np.random.SeedSequence(4))
    for w, b, rho in [((0.9, -1.1), (0.0, 0.0), 0.3), ((0.41, 1.0), (0.21, -0.27), 0.5)]:
        est, se = _mc_loss(np.array(w), rho, np.array(b), rng)
        assert abs(two_feature_loss(w, rho, b) - est) < 4 * se
    # the seed's three configurations: antipodal 2 rho^2, one direction rho, stacked rho (1 - rho)
    rho = 0.23
    assert two_feature_loss([1.0, -1.0], rho) == pytest.approx(2 * rho**2, abs=1e-15)
    assert two_feature_loss([1.0, 0.0], rho) == pytest.approx(rho, abs=1e-15)
    s = np.sqrt(0.5)
    assert two_feature_loss([s, s], rho) == pytest.approx(rho * (1 - rho), abs=1e-15)


def test_no_bias_optimum_reproduces_issue_numbers():
    o = two_feature_optimum(0.1)
    assert o.kind == "antipodal" and o.loss == pytest.approx(0.01945, abs=5e-6)
    assert o.loss < 2 * 0.1**2  # the asymmetric pair beats the seed's symmetric one
    assert abs(abs(o.w[0]) - abs(o.w[1])) > 0.03
    o = two_feature_optimum(0.4)
    assert o.kind == "stacked" and o.loss == pytest.approx(0.24, abs=1e-9)
    np.testing.assert_allclose(np.abs(o.w), np.sqrt(0.5), atol=1e-5)
    assert theory.antipodal_switch_point() == pytest.approx(0.3661, abs=1e-3)


def test_no_bias_optimum_beats_an_independent_brute_force_grid():
    # independent check: a plain grid (no polishing, both signs of both weights) never beats the optimiser
    g = np.linspace(-1.5, 1.5, 601)
    W = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1)
    for rho in (0.05, 0.2, 0.35, 0.38, 0.6, 0.9):
        grid_min = two_feature_loss(W, rho).min()
        o = two_feature_optimum(rho)
        assert o.loss <= grid_min + 1e-12
        assert grid_min - o.loss < 2e-4  # and the grid gets close, so the optimiser is not off somewhere else
        assert (o.kind == "antipodal") == (rho < 0.3661)
        if rho > 0.3661:
            assert o.loss == pytest.approx(rho * (1 - rho), abs=1e-9)


def test_with_bias_optimum_is_asymmetric_two_feature_at_half():
    o = two_feature_optimum(0.5, bias=True)
    assert o.loss == pytest.approx(0.2430, abs=1e-4) and o.loss < 0.25 - 0.006
    assert o.kind == "stacked"
    assert sorted(np.round(np.abs(o.w), 2)) == pytest.approx([0.41, 1.0], abs=0.01)
    assert two_feature_loss(o.w, 0.5, o.b) == pytest.approx(o.loss, abs=1e-12)


def test_bad_rho():
    with pytest.raises(ValueError, match="rho=1.5"):
        two_feature_optimum(1.5)
