"""Seed-000 MLP diagnostics: the Helmholtz split, closed forms vs finite differences, entropy rate."""
import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from csbench.real.mlp import (MLP, check_decomposition, coherence, diagnose, dsigma, energy, fd_divergence,
                         fd_gradient, gaussian_mean_dsigma, psi, sigma, tied)

ACTS = ["relu", "gelu"]


def random_mlp(act, d=8, h=32, seed=0):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    return MLP(rng.standard_normal((h, d)) / np.sqrt(d), rng.standard_normal((d, h)) / np.sqrt(h),
               0.5 * rng.standard_normal(h), rng.standard_normal(d), act)


def points(d, N=100, seed=1):
    return np.random.default_rng(np.random.SeedSequence(seed)).standard_normal((N, d))


@pytest.mark.parametrize("act", ACTS)
def test_activation_closed_forms(act):
    z = np.linspace(-6, 6, 241) + 1e-3  # avoid the ReLU kink at 0
    np.testing.assert_allclose(fd_gradient(lambda Z: psi(Z[:, 0], act), z[:, None])[:, 0], sigma(z, act), atol=1e-9)
    np.testing.assert_allclose(fd_gradient(lambda Z: sigma(Z[:, 0], act), z[:, None])[:, 0], dsigma(z, act), atol=1e-9)
    if act == "gelu":  # z Φ(z) with Φ the normal cdf (erf form)
        np.testing.assert_allclose(sigma(z, act), z * norm.cdf(z), rtol=1e-14, atol=1e-300)
    for mu, tau in [(0.0, 1.0), (0.7, 0.4), (-1.3, 2.5)]:  # E σ'(z), z ~ N(mu, tau^2), by quadrature
        quad = integrate.quad(lambda z: dsigma(np.array(z), act) * norm.pdf(z, mu, tau), -np.inf, np.inf,
                              points=None, limit=200)[0]
        assert abs(gaussian_mean_dsigma(mu, tau, act) - quad) < 1e-8


@pytest.mark.parametrize("act", ACTS)
def test_tied_weights_have_no_remainder(act):
    rng = np.random.default_rng(np.random.SeedSequence(2))
    mlp = tied(rng.standard_normal((40, 10)), rng.standard_normal(40), act)
    al = mlp.alignment()
    assert np.abs(al["r"]).max() <= 1e-12
    np.testing.assert_allclose(al["a"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(al["cos"], 1.0, rtol=1e-12)
    assert al["swirl"].max() <= 1e-24
    X = points(10)
    assert np.abs(mlp.remainder(X)).max() <= 1e-12 * np.abs(mlp(X)).max()
    e = energy(mlp, X)
    assert e["energy_ratio"] <= 1e-24 and abs(e["cross_term"]) <= 1e-12
    np.testing.assert_allclose(mlp.grad_potential(X), mlp(X), rtol=1e-12, atol=1e-12)
    if act == "relu":  # a_j = 1 and σ' >= 0: ΔU > 0, the entropy *grows* (seed 000 predicts a decrease)
        assert mlp.entropy_rate_gaussian() > 0


@pytest.mark.parametrize("act", ACTS)
def test_random_weights_decomposition_at_100_points(act):
    mlp = random_mlp(act)
    X = points(8)
    f = mlp(X)
    gU_fd = fd_gradient(mlp.potential, X)  # ∇U by central differences of the closed-form U
    np.testing.assert_array_less(np.linalg.norm(f - (gU_fd + mlp.remainder(X) + mlp.b_out), axis=1),
                                 1e-8 * np.linalg.norm(f, axis=1))
    assert np.abs(fd_divergence(mlp.remainder, X)).max() <= 1e-8
    assert np.abs(mlp.div_remainder(X)).max() <= 1e-14
    np.testing.assert_allclose(fd_divergence(mlp, X), mlp.divergence(X), atol=1e-8)
    c = check_decomposition(mlp, X)
    assert c["decomposition_error"] <= 1e-8 and c["div_R_fd"] <= 1e-8 and c["grad_U_error"] <= 1e-8
    # the remainder is not zero for independent weights (the check is not vacuous)
    assert energy(mlp, X)["energy_ratio"] > 0.1


@pytest.mark.parametrize("act", ACTS)
def test_exact_entropy_rate_vs_monte_carlo(act):
    mlp = random_mlp(act, d=6, h=24, seed=3)
    X = points(6, N=20000, seed=4)
    div = fd_divergence(mlp, X, h=1e-4)  # finite-difference divergence, no closed form used
    se = div.std(ddof=1) / np.sqrt(len(div))
    exact = mlp.entropy_rate_gaussian()
    assert abs(div.mean() - exact) <= 4 * se, (div.mean(), exact, se)
    assert se < 0.1 * abs(exact)  # resolves the sign
    div = fd_divergence(mlp, 1.7 * X, h=1e-4)  # N(0, s^2 I): the same check at another scale
    assert abs(div.mean() - mlp.entropy_rate_gaussian(scale=1.7)) <= 4 * div.std(ddof=1) / np.sqrt(len(div))


def test_coherence_against_direct_computation():
    rng = np.random.default_rng(np.random.SeedSequence(5))
    W = rng.standard_normal((50, 12))
    c = coherence(W, seed=1)
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    G = np.abs(U @ U.T)[np.triu_indices(50, 1)]
    assert c["dictionary"]["max_abs_cos"] == pytest.approx(G.max(), rel=1e-12)
    assert c["dictionary"]["mean_abs_cos"] == pytest.approx(G.mean(), rel=1e-12)
    assert sum(c["dictionary"]["hist"]) == 50 * 49 // 2
    assert c["dictionary"]["welch_bound"] == pytest.approx(np.sqrt((50 - 12) / (12 * 49)), rel=1e-12)
    assert c["random"]["max_abs_cos"] != c["dictionary"]["max_abs_cos"]


def test_diagnose_is_reproducible_and_consistent():
    mlp = random_mlp("gelu", d=8, h=32, seed=6)
    Xr = points(8, N=300, seed=7) * 0.5 + 1.0
    a, b = diagnose(mlp, Xr, n_gauss=500, seed=11), diagnose(mlp, Xr, n_gauss=500, seed=11)
    assert a == b
    assert a["gauss"]["entropy_rate_exact"] == pytest.approx(mlp.entropy_rate_gaussian(), rel=1e-15)
    assert a["real"]["entropy_rate"] == pytest.approx(mlp.divergence(Xr).mean(), rel=1e-12)
    assert a["check"]["decomposition_error"] <= 1e-8


@pytest.mark.parametrize("bad, msg", [
    (dict(W_out=np.ones((3, 5))), r"W_out has shape \(3, 5\); allowed: \(4, 6\)"),
    (dict(activation="tanh"), "activation='tanh' is not one of"),
    (dict(b_in=np.ones(4)), r"allowed: \(6,\)/\(4,\)"),
    (dict(W_in=np.zeros((6, 4))), "zero row"),
    (dict(W_in=np.full((6, 4), np.nan)), "W_in contains 24 non-finite"),
])
def test_mlp_validation(bad, msg):
    kw = dict(W_in=np.ones((6, 4)), W_out=np.ones((4, 6)), activation="relu")
    with pytest.raises(ValueError, match=msg):
        MLP(**{**kw, **bad})
    with pytest.raises(ValueError, match="X has 3 columns; allowed: d = 4"):
        MLP(**kw)(np.ones((2, 3)))
