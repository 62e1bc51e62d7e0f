"""The lmmse and trained_readout decoders against closed forms and Monte Carlo."""
import numpy as np
import pytest

from csbench import Cell, decode, make_problem
from csbench.decoders.readouts import prior_moments


def _dense_moments(signal, n, k, params, draws, rng):
    """Monte Carlo mean and covariance of a signal model (an independent check of prior_moments)."""
    from csbench.signals import SIGNALS
    f = SIGNALS.get(signal).func
    X = np.stack([f(rng, n, k, **params) for _ in range(draws)])
    return X.mean(0), np.cov(X, rowvar=False, bias=True)


def _numpy_lmmse(A, y, mu, S, noise):
    M = A @ S @ A.T + noise**2 * np.eye(A.shape[0])
    return mu + S @ A.T @ np.linalg.solve(M, y - A @ mu)


@pytest.mark.parametrize("signal, params, noise", [
    ("binary", {}, 0.0), ("signed", {}, 0.1), ("uniform", {}, 0.0), ("gaussian", {}, 0.05),
    ("bernoulli", {"p": 0.1, "values": "positive"}, 0.0),
    ("bernoulli", {"values": "signed", "profile": "power", "alpha": 0.7}, 0.2),
])
def test_lmmse_equals_numpy_closed_form(signal, params, noise):
    n, k, m, T = 30, 3, 12, 6
    meas, truth = make_problem(Cell("gaussian", signal, n, k, noise, signal_params=params), m, T, seed=3)
    mu, d, beta = prior_moments(signal, n, k, params)
    S = np.diag(d) + beta
    ref = np.stack([_numpy_lmmse(meas.A[t], meas.Y[t], mu, S, noise) for t in range(T)])
    per = decode("lmmse", meas.A, meas.Y, k=k, signal=signal, signal_params=params, noise=noise, rule="raw").X_hat
    np.testing.assert_allclose(per, ref, rtol=0, atol=1e-10)
    shared = decode("lmmse", meas.A[0], meas.Y, k=k, signal=signal, signal_params=params, noise=noise,
                    rule="raw").X_hat
    np.testing.assert_allclose(shared[0], ref[0], rtol=0, atol=1e-10)
    # the moments themselves against a Monte Carlo of the signal model (40000 draws)
    mc_mu, mc_S = _dense_moments(signal, n, k, params, 40000, np.random.default_rng(0))
    np.testing.assert_allclose(mc_mu, mu, atol=5 * np.sqrt(d.max() / 40000))
    np.testing.assert_allclose(mc_S, S, atol=6 * np.sqrt(max((d + mu**2).max(), 1e-3) / 40000))
