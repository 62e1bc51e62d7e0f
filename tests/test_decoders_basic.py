"""Decoder interface, linear read-outs and basis pursuit."""
import numpy as np
import pytest

import csbench
from csbench import Cell, decode, make_problem
from csbench.decoders.linear import edmonds_bias


@pytest.fixture(scope="module")
def prob():
    meas, truth = make_problem(Cell("gaussian", "binary", 80, 3), 40, 5, seed=2)
    return meas, truth


def test_matched_filter_rules(prob):
    (meas, truth) = prob
    A, Y = meas.A, meas.Y
    raw = np.einsum("tmn,tm->tn", A, Y)
    np.testing.assert_allclose(decode("matched_filter", A, Y, rule="raw").X_hat, raw, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(decode("matched_filter", A, Y).X_hat, (raw > 0.5).astype(float))
    top = decode("matched_filter", A, Y, k=3, rule="topk").X_hat
    assert (top.sum(1) == 3).all()
    for t in range(5):
        assert set(np.flatnonzero(top[t])) == set(np.argsort(-raw[t])[:3])
    sq = (A**2).sum(1)
    np.testing.assert_allclose(decode("matched_filter", A, Y, rule="raw", normalize=True).X_hat, raw / sq, rtol=1e-12, atol=1e-15)


def test_shared_matrix_and_single_trial(prob):
    meas, _ = prob
    A0 = meas.A[0]
    Ys = np.stack([A0 @ np.eye(80)[i] for i in range(4)])
    shared = decode("matched_filter", A0, Ys, rule="raw").X_hat
    per = decode("matched_filter", np.broadcast_to(A0, (4, 40, 80)).copy(), Ys, rule="raw").X_hat
    np.testing.assert_allclose(shared, per, rtol=1e-12)
    one = decode("matched_filter", A0, Ys[1], rule="raw")
    assert one.X_hat.shape == (1, 80) and one.n_iter.shape == (1,)
    np.testing.assert_allclose(one.X_hat[0], shared[1], rtol=1e-12)


def test_relu_readout(prob):
    meas, _ = prob
    A, Y = meas.A, meas.Y
    raw = np.einsum("tmn,tm->tn", A, Y)
    np.testing.assert_allclose(decode("relu_readout", A, Y, bias=0.2).X_hat, np.maximum(raw - 0.2, 0), rtol=1e-12)
    b = 2 * 1.5 * np.sqrt(4 * np.log(80) / 40) * np.sqrt(3)
    assert edmonds_bias(40, 80, 3, 1.5) == pytest.approx(b, rel=1e-14)
    np.testing.assert_allclose(decode("relu_readout", A, Y, k=3, bias="edmonds", c_prime=1.5).X_hat,
                               np.maximum(raw - b, 0), rtol=1e-12)
    np.testing.assert_array_equal(decode("relu_readout", A, Y, activation="threshold").X_hat,
                                  decode("matched_filter", A, Y).X_hat)
    with pytest.raises(ValueError, match="needs k"):
        decode("relu_readout", A, Y, bias="edmonds")


def test_inputs_not_mutated_and_readonly_accepted(prob):
    meas, _ = prob
    A, Y = meas.A.copy(), meas.Y.copy()
    A.setflags(write=False)
    Y.setflags(write=False)
    explicit = {"native": dict(activation="relu", bias=0.0)}  # its default reads b from a toy encoder's model
    for entry in csbench.DECODERS:
        if entry.takes_source and entry.name not in explicit:  # reads out the model that made A (sae_encoder)
            continue
        decode(entry.name, A[:2], Y[:2], k=3, **explicit.get(entry.name, {}))
    np.testing.assert_array_equal(A, meas.A)
    np.testing.assert_array_equal(Y, meas.Y)


def test_basis_pursuit_recovers_above_transition():
    # delta = 0.5, rho = k/m = 0.12, far below rho_W(0.5) ~ 0.385: exact recovery
    meas, truth = make_problem(Cell("gaussian", "signed", 200, 12), 100, 8, seed=4)
    res = decode("basis_pursuit", meas.A, meas.Y)
    assert (res.status_names == "ok").all()
    assert np.abs(res.X_hat - truth.X).max() < 1e-7
    resp = decode("basis_pursuit", meas.A, meas.Y, nonneg=True)  # may be infeasible for signed x: then zeros
    assert (resp.X_hat >= -1e-12).all()


def test_basis_pursuit_fails_below_transition():
    # delta = 0.15, rho = 0.67 >> rho_W(0.15) ~ 0.25: l1 minimiser is not x
    meas, truth = make_problem(Cell("gaussian", "signed", 200, 20), 30, 8, seed=4)
    res = decode("basis_pursuit", meas.A, meas.Y)
    assert (res.status_names == "ok").all()
    err = np.linalg.norm(res.X_hat - truth.X, axis=1) / np.linalg.norm(truth.X, axis=1)
    assert (err > 0.1).all()
    # it is still a feasible point with no larger l1 norm than x
    np.testing.assert_allclose(np.einsum("tmn,tn->tm", meas.A, res.X_hat), meas.Y, atol=1e-8)
    assert (np.abs(res.X_hat).sum(1) <= np.abs(truth.X).sum(1) + 1e-8).all()


@pytest.mark.parametrize("kwargs, exc, msg", [
    ({"k": 81}, ValueError, r"k=81 is out of range; allowed: 0 <= k <= 80"),
    ({"k": -1}, ValueError, r"k=-1"),
    ({"k": 2.5}, TypeError, r"k must be an integer"),
])
def test_bad_k(prob, kwargs, exc, msg):
    meas, _ = prob
    with pytest.raises(exc, match=msg):
        decode("matched_filter", meas.A, meas.Y, **kwargs)


def test_bad_arrays(prob):
    meas, _ = prob
    A, Y = meas.A.copy(), meas.Y.copy()
    A[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"A contains 1 non-finite.*\(1, 2, 3\)"):
        decode("matched_filter", A, Y)
    Y2 = meas.Y.copy()
    Y2[0, 0] = np.inf
    with pytest.raises(ValueError, match="Y contains 1 non-finite"):
        decode("matched_filter", meas.A, Y2)
    with pytest.raises(ValueError, match="Y has 39 measurements per trial but A has m=40"):
        decode("matched_filter", meas.A, meas.Y[:, :39])
    with pytest.raises(ValueError, match="A holds 5 trials but Y holds 4"):
        decode("matched_filter", meas.A, meas.Y[:4])
    with pytest.raises(ValueError, match="A must be 2-D or 3-D"):
        decode("matched_filter", meas.A[None], meas.Y)
    with pytest.raises(ValueError, match="m >= 1"):
        decode("matched_filter", np.zeros((0, 5)), np.zeros((1, 0)))
    with pytest.raises(TypeError, match="real numbers"):
        decode("matched_filter", "abc", meas.Y)


def test_huge_finite_values_accepted():
    # the fast finiteness check sums the array; an overflowing sum must fall back to the exact check
    A = np.full((2, 3), 1e308)
    res = decode("matched_filter", A, np.array([1e-300, 1e-300]), rule="raw")
    np.testing.assert_allclose(res.X_hat, 2e8, rtol=1e-12)
    assert (res.status_names == "ok").all()


def test_unknown_decoder_and_param(prob):
    meas, _ = prob
    with pytest.raises(ValueError, match="unknown decoder 'matched_filtr'.*Did you mean 'matched_filter'"):
        decode("matched_filtr", meas.A, meas.Y)
    with pytest.raises(TypeError, match="unexpected parameter 'treshold'.*Did you mean 'threshold'"):
        decode("matched_filter", meas.A, meas.Y, treshold=0.3)
    with pytest.raises(ValueError, match="rule='top'"):
        decode("matched_filter", meas.A, meas.Y, rule="top")


@pytest.mark.parametrize("name, params, exc, msg", [
    ("lasso", {"tol": 2.0}, ValueError, "tol=2.0 is out of range"),
    ("lasso", {"positive": "yes"}, TypeError, "positive must be True or False"),
    ("lasso", {"gram": "sometimes"}, ValueError, "gram='sometimes'"),
    ("omp", {"n_nonzero_coefs": 0}, ValueError, "n_nonzero_coefs=0 is out of range"),
    ("amp", {"damping": 1.0}, ValueError, "damping=1.0 is out of range"),
    ("amp", {"threshold": True}, TypeError, "threshold must be 'minimax'"),
    ("basis_pursuit", {"nonneg": "yes"}, TypeError, "nonneg must be True or False"),
    ("matched_filter", {"rule": "top"}, ValueError,
     r"rule='top' is not one of \['threshold', 'sign', 'topk', 'fitted', 'best', 'raw'\]. Did you mean 'topk'\?"),
    ("matched_filter", {"threshold": "half"}, TypeError, r"threshold must be a real number, got 'half' \(str\)"),
    ("relu_readout", {"c_prime": -1.0}, ValueError,
     r"c_prime=-1.0 is out of range; allowed: finite values in \[0.0, inf\)"),
    ("relu_readout", {"bias": "edmond"}, ValueError, r"bias='edmond' is not one of \['edmonds'\]"),
    ("relu_readout", {"bias": [0.1]}, TypeError, r"bias must be 'edmonds' or a real number, got \[0.1\] \(list\)"),
    ("lmmse", {"rule": "mmse"}, ValueError, r"rule='mmse' is not one of \['auto', 'threshold', 'topk', 'fitted', 'best', 'raw'\]"),
    ("lmmse", {"signal": "binry"}, ValueError, r"unknown signal 'binry'.*Did you mean 'binary'\?"),
    ("trained_readout", {"n_samples": 0}, ValueError, r"n_samples=0 is out of range; allowed: n_samples >= 1"),
    ("trained_readout", {"seed": -1}, ValueError, r"seed=-1 is out of range; allowed: seed >= 0"),
    ("native", {"activation": "tanh"}, ValueError,
     r"activation='tanh' is not one of \['relu', 'gelu', 'identity', 'model'\]"),
    ("native", {"bias": [0.0, np.nan]}, ValueError, r"bias contains 1 non-finite value\(s\).*first at index \(1,\)"),
])
def test_declared_checks_reject_at_spec_and_decode(name, params, exc, msg):
    # the registration's checks run in check_params (DecoderSpec's constructor) and in decode(), before any
    # work: a 2 x 3 identity would decode, so only the parameter check can raise this message
    with pytest.raises(exc, match=msg):
        csbench.decoders.DECODERS.get(name).check_params(params)
    with pytest.raises(exc, match=msg):
        csbench.DecoderSpec(name, params)
    with pytest.raises(exc, match=msg):
        decode(name, np.eye(2, 3), np.ones(2), k=1, **params)
    assert csbench.DecoderSpec(name).validate() == csbench.decoders.DECODERS.get(name).defaults


def test_spec_key_not_normalised():
    # a check may normalise (np.bool_ -> bool, int -> float) but the stored key stays as given
    spec = csbench.DecoderSpec("amp", {"threshold": 1})
    assert spec.validate()["threshold"] == 1.0 and isinstance(spec.validate()["threshold"], float)
    assert '"threshold":1,' in spec.key() or '"threshold":1}' in spec.key()


@pytest.mark.parametrize("name, params, n, k, msg", [
    ("matched_filter", {"rule": "topk"}, 5, None, r"matched_filter with rule='topk' needs k \(0 <= k <= n\); got k=None"),
    ("relu_readout", {"bias": "edmonds"}, 5, None, r"relu_readout with bias='edmonds' needs k"),
    ("native", {"bias": [0.0, 0.5], "activation": "relu"}, 5, 2,
     r"bias has 2 entries but A has n=5 columns; allowed: a number or n numbers"),
    ("lmmse", {}, 5, None, r"lmmse needs k \(0 <= k <= n\) to know the signal prior; got k=None"),
    ("lmmse", {"signal_params": {"profile": "power"}}, 5, 2, r"profile='power' has no closed-form moments"),
    ("lmmse", {"signal_params": {"profle": "power"}}, 5, 2, r"unexpected parameter 'profle'.*Did you mean 'profile'"),
    ("trained_readout", {"signal": "bernoulli", "signal_params": {"p": 2.0}}, 5, 2,
     r"p=2.0 is out of range; allowed: finite values in \[0.0, 1.0\]"),
    ("amp", {"denoiser": "bayes_binary"}, 5, 5, r"density = k/n = 5/5 must lie in \(0, 1\)"),
    ("amp", {"density": 0.2}, 5, 2, r"density is used only by denoiser='bayes_binary'"),
])
def test_declared_problem_checks(name, params, n, k, msg):
    """Rules needing n and k (or linking parameters) are declared too: check_problem raises without decoding,
    and decode() raises the same message through it."""
    entry = csbench.decoders.DECODERS.get(name)
    checked = entry.check_params(params)
    with pytest.raises((ValueError, TypeError), match=msg):
        entry.check_problem(checked, n, k)
    A = np.random.default_rng(0).standard_normal((3, n))
    with pytest.raises((ValueError, TypeError), match=msg):
        decode(name, A, np.ones(3), k=k, **params)


def test_problem_checks_normalise_once(monkeypatch):
    """decode() runs every declared check exactly once: the bodies hold none of their own."""
    from csbench._validate import check_float
    import csbench.decoders.readouts as ro

    calls = []

    def counting(param, value, **kw):
        calls.append(param)
        return check_float(param, value, **kw)

    entry = csbench.decoders.DECODERS.get("lmmse")
    monkeypatch.setitem(entry.checks, "threshold", counting)
    meas, _ = make_problem(Cell("gaussian", "binary", 20, 2), 12, 2, seed=1)
    res = decode("lmmse", meas.A, meas.Y, k=2, threshold=0.25)
    assert calls == ["threshold"]
    # check_problem merged the signal's defaults into signal_params for the body
    assert entry.check_problem(entry.check_params({}), 20, 2)["signal_params"] == {"profile": "uniform", "alpha": 1.0}
    raw = decode("lmmse", meas.A, meas.Y, k=2, rule="raw").X_hat
    np.testing.assert_array_equal(res.X_hat, (raw >= 0.25).astype(float))
    assert ro.prior_moments("binary", 20, 2)[2] == pytest.approx((2 * 1 / (20 * 19) - 0.01), rel=1e-12)
