"""Decision rules for linear read-outs (csbench.decision) and the decoders' rule parameters."""
from itertools import combinations

import numpy as np
import pytest

from csbench import decode
from csbench.decision import (
    apply_rule,
    decide,
    exact_recovery,
    fit_threshold,
    select_rule,
    top_k,
    training_signals,
)


def _all_supports(n, k):
    """Every binary k-sparse signal of length n: the exact-k binary prior, enumerated."""
    X = np.zeros((len(list(combinations(range(n), k))), n))
    for r, S in enumerate(combinations(range(n), k)):
        X[r, list(S)] = 1.0
    return X


def _lmmse_reference(A, k):
    """Plain-numpy LMMSE map from the enumerated prior: x_hat = mu + C A^T (A C A^T)^+ (y - A mu)."""
    X = _all_supports(A.shape[1], k)
    mu = X.mean(axis=0)
    C = np.cov(X.T, bias=True)
    G = A @ C @ A.T
    return lambda Y: mu + (Y - A @ mu) @ np.linalg.pinv(G, rcond=1e-10).T @ (C @ A.T).T


def _brute_threshold_rate(S, X):
    """Best exact-recovery rate of 1[S >= t] over every distinct t (midpoints of sorted scores)."""
    v = np.unique(S)
    cands = np.concatenate([[v[0] - 1], 0.5 * (v[1:] + v[:-1]), [v[-1] + 1]])
    return max(exact_recovery(S >= t, X).mean() for t in cands)


def test_fit_threshold_matches_brute_force():
    rng = np.random.default_rng(np.random.SeedSequence(11))
    for trial in range(20):
        n, k, N = 12, int(rng.integers(1, 4)), 60
        X = np.zeros((N, n))
        for r in range(N):
            X[r, rng.choice(n, k, replace=False)] = 1.0
        S = X * rng.uniform(0.2, 1.0) + rng.normal(0, 0.25, (N, n))
        t = fit_threshold(S, X)
        assert exact_recovery(S >= t, X).mean() == pytest.approx(_brute_threshold_rate(S, X), abs=1e-12)
    # nothing recoverable: falls back to the most correct coordinates
    S = np.array([[0.0, 1.0], [1.0, 0.0]])
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    t = fit_threshold(S, X)
    assert ((S >= t) == (X != 0)).sum() == 2


@pytest.mark.parametrize("rule", ["topk", "fitted"])
def test_lmmse_rules_against_enumerated_prior_reference(rule):
    n, m, k = 10, 5, 2
    A = np.random.default_rng(np.random.SeedSequence(3)).standard_normal((m, n)) / np.sqrt(m)
    X = _all_supports(n, k)  # every signal of the prior once: exact recovery rate = exact probability
    Y = X @ A.T
    ref = _lmmse_reference(A, k)
    np.testing.assert_allclose(decode("lmmse", A, Y, k=k, rule="raw").X_hat, ref(Y), atol=1e-9)
    if rule == "topk":
        S = ref(Y)
        expect = np.zeros_like(S)
        np.put_along_axis(expect, np.argsort(-S, axis=1)[:, :k], 1.0, axis=1)
    else:  # threshold fitted by brute force on the same training stream, then applied
        X_tr, _ = training_signals("binary", n, k, 2000, seed=0)
        S_tr = ref(X_tr @ A.T)
        best = _brute_threshold_rate(S_tr, X_tr)
        t = fit_threshold(S_tr, X_tr)
        assert exact_recovery(S_tr >= t, X_tr).mean() == pytest.approx(best, abs=1e-12)
        expect = (ref(Y) >= t).astype(float)
    got = decode("lmmse", A, Y, k=k, rule=rule).X_hat
    np.testing.assert_array_equal(got, expect)
    rate = exact_recovery(got, X).mean()
    fixed = exact_recovery(decode("lmmse", A, Y, k=k).X_hat, X).mean()
    assert rate > fixed  # at m/n = 1/2 the LMMSE output of an active coordinate sits far below 1/2


def test_matched_filter_topk_against_exact_probability_and_argsort():
    n, m, k = 12, 6, 2
    A = np.random.default_rng(np.random.SeedSequence(8)).standard_normal((m, n)) / np.sqrt(m)
    X = _all_supports(n, k)
    Y = X @ A.T
    got = decode("matched_filter", A, Y, k=k, rule="topk").X_hat
    S = Y @ A
    order = np.argsort(-S, axis=1)
    # independent reference: recovered iff the k-th largest score is on the support and the (k+1)-th is not
    # independent reference: recovered iff the k largest scores (argsort) are all on the support
    ref = np.all(np.take_along_axis(X, order[:, :k], 1) == 1, axis=1)
    np.testing.assert_array_equal(exact_recovery(got, X), ref)
    assert 0.2 < ref.mean() < 1.0  # a case where the rule matters
    # matched filter top-k at k = 1 is decided by the largest score: exact recovery iff argmax is the feature
    X1 = np.eye(n)
    rate1 = exact_recovery(decode("matched_filter", A, X1 @ A.T, k=1, rule="topk").X_hat, X1).mean()
    assert rate1 == pytest.approx(np.mean(np.argmax(A.T @ A, axis=1) == np.arange(n)))


def test_fitted_threshold_never_sees_the_evaluation_signals():
    n, m, k = 40, 12, 3
    A = np.random.default_rng(np.random.SeedSequence(21)).standard_normal((m, n)) / np.sqrt(m)
    X_eval, _ = training_signals("binary", n, k, 50, seed=99)
    Y_eval = X_eval @ A.T
    # spy: every batch the read-out is asked to score while fitting
    seen = []

    def raw(A2, Y2):
        seen.append(Y2.copy())
        return Y2 @ A2
    decide(raw, A, Y_eval, k, "fitted", n_train=300)
    fit_batches = [Y2 for Y2 in seen if Y2.shape[0] == 300]
    assert len(fit_batches) == 1
    np.testing.assert_array_equal(fit_batches[0], training_signals("binary", n, k, 300, seed=0)[0] @ A.T)
    # adversarial evaluation rows that would drag a threshold fitted on them: decisions on the first 50 rows
    # must not change (a fit on the evaluation signals would move the threshold and fail this)
    adv = 3.0 * Y_eval  # scores tripled: a threshold fitted on these rows would move up
    base = decode("lmmse", A, Y_eval, k=k, rule="fitted").X_hat
    mixed = decode("lmmse", A, np.vstack([Y_eval, adv, adv, adv]), k=k, rule="fitted").X_hat[:50]
    np.testing.assert_array_equal(base, mixed)
    base = decode("matched_filter", A, Y_eval, k=k, rule="fitted").X_hat
    mixed = decode("matched_filter", A, np.vstack([Y_eval, adv, adv]), k=k, rule="fitted").X_hat[:50]
    np.testing.assert_array_equal(base, mixed)
    # and the training stream is not the evaluation stream for the same seed value
    X_tr, _ = training_signals("binary", n, k, 50, seed=0)
    from csbench import Cell, make_problem

    _, truth = make_problem(Cell("gaussian", "binary", n, k), m, 50, seed=0)
    assert not np.array_equal(X_tr, truth.X)


def test_trained_readout_rules_per_matrix_and_select_rule():
    n, m, k = 24, 10, 2
    A = np.random.default_rng(np.random.SeedSequence(2)).standard_normal((m, n)) / np.sqrt(m)
    X, _ = training_signals("binary", n, k, 80, seed=7)
    Y = X @ A.T
    kw = {"k": k, "n_samples": 1024, "max_iter": 60}
    raw = decode("trained_readout", A, Y, **kw).X_hat
    top = decode("trained_readout", A, Y, rule="topk", **kw).X_hat
    np.testing.assert_array_equal(top.sum(1), k)
    assert np.all(raw[top == 1].min() >= 0)
    fitted = decode("trained_readout", A, Y, rule="fitted", **kw).X_hat
    assert set(np.unique(fitted)) <= {0.0, 1.0}
    best = decode("trained_readout", A, Y, rule="best", **kw).X_hat
    assert any(np.array_equal(best, X2) for X2 in (fitted, top, (raw >= 0.5).astype(float)))
    rule, _, rates = select_rule(Y @ A, X, k=k)
    assert rule in rates and rates[rule] == max(rates.values()) and set(rates) == {"threshold", "fitted", "topk"}
    assert rates["fitted"] >= rates["threshold"]  # fitted maximises training recovery over all thresholds


def test_rule_validation():
    S = np.zeros((2, 3))
    with pytest.raises(ValueError, match="rule='best'"):
        apply_rule(S, "best")
    with pytest.raises(ValueError, match="needs k"):
        apply_rule(S, "topk")
    with pytest.raises(ValueError, match="k=4"):
        top_k(S, 4)
    with pytest.raises(ValueError, match="needs k"):
        decode("matched_filter", np.eye(3), np.ones((1, 3)), rule="fitted")


def test_best_rule_is_the_training_winner_per_matrix():
    n, m, k, T = 30, 12, 3, 3
    rng = np.random.default_rng(np.random.SeedSequence(41))
    A = rng.standard_normal((T, m, n)) / np.sqrt(m)  # one matrix per trial
    X, _ = training_signals("binary", n, k, T, seed=5)
    Y = np.einsum("tmn,tn->tm", A, X)

    def raw(A2, Y2):
        return Y2 @ A2
    out, used = decide(raw, A, Y, k, "best", n_train=400, return_rules=True)
    X_tr, _ = training_signals("binary", n, k, 400, seed=0)
    for t in range(T):
        rule, tau, rates = select_rule(X_tr @ A[t].T @ A[t], X_tr, k=k)
        assert used[t] == rule and rates[rule] == max(rates.values())
        np.testing.assert_array_equal(out[t], apply_rule(Y[t:t + 1] @ A[t], rule, k, tau)[0])
    # the decoders' rule="best" goes through the same selection
    np.testing.assert_array_equal(decode("matched_filter", A, Y, k=k, rule="best").X_hat,
                                  decide(raw, A, Y, k, "best"))
