"""csbench.sae.routes (inference routes at their best decision rule, clustered intervals, m* crossings) and the
--quick runs of experiments/amortisation_gap.py (2 x 2 table and grid) and experiments/sae_frontier.py."""
import math

import numpy as np
import pytest

import csbench
from csbench import intervals
from csbench.decision import top_k
from csbench.sae import ActivationData, ActivationSpec
from csbench.sae import metrics as M
from csbench.sae import routes as R


def _data(n=32, m=16, k=3, seed=0, amplitude="half_normal"):
    W = np.random.default_rng(seed).standard_normal((m, n))
    W /= np.linalg.norm(W, axis=0)
    return ActivationData(W, ActivationSpec(n, support="ksparse", k=k, amplitude=amplitude), seed=seed)


def test_crossing_interpolates_in_log_m_and_censors():
    m, mid = [10, 20, 40], [0.2, 0.4, 0.8]
    est, lo, hi = R.crossing(m, [0.0, 0.1, 0.3], mid, [0.6, 0.9, 1.0])
    assert est == pytest.approx(20 * 2**0.25, rel=1e-12)  # a quarter of the way from 0.4 to 0.8, in ln m
    assert lo == -math.inf and hi == math.inf  # upper band already above 1/2 at m = 10; lower band never reaches it


def test_routes_on_an_orthonormal_dictionary_recover_every_code():
    """m = n, orthonormal W: every per-sample route recovers the support exactly, the matched filter is x itself."""
    Q = np.linalg.qr(np.random.default_rng(3).standard_normal((12, 12)))[0]
    data = ActivationData(Q, ActivationSpec(12, support="ksparse", k=2, amplitude="uniform"), seed=1)
    H, X = data.sample(0, 200)
    Ht, Xt = data.sample(1000, 1200)
    rows = R.dictionary_rows(Q, H, X, Ht, Xt, 2, M.identity_matching(12))
    by = {r["route"]: r for r in rows}
    assert set(by) == set(R.ROUTES)
    np.testing.assert_allclose(R.route_codes(Q, H, 2, ["matched_filter"])["matched_filter"][0], X, atol=1e-12)
    for r in rows:
        assert r["exact"] == r["trials"] == 200, r
        assert r["mcc"] > 0.999 and r["ok"] == 1.0


def test_best_rule_of_the_matched_filter_is_chosen_on_training_samples():
    """In superposition (n = 64, m = 16, k = 3) the matched filter's best rule is top-k, and its exact recovery is
    then that of csbench.decision.top_k on the test scores; the own-support rule (>= 0.01) recovers nothing."""
    data = _data(64, 16, 3)
    H, X = data.sample(0, 400)
    Ht, Xt = data.sample(10_000, 10_400)
    S, St = H @ data.W, Ht @ data.W
    r = R.score_route(X, S, Xt, St, M.identity_matching(64), 3)
    assert r["rule"] == "topk" and r["own"] == 0
    assert r["exact"] == int(np.all((top_k(S, 3) != 0) == (X != 0), axis=1).sum())
    # the choice does not look at the test samples: the same training set gives the same rule and threshold
    r2 = R.score_route(X[:50], S[:50], Xt, St, M.identity_matching(64), 3)
    assert (r2["rule"], r2["threshold"]) == (r["rule"], r["threshold"])


def test_lasso_beats_the_matched_filter_and_the_fitted_encoder_sits_between():
    """Known W at n = 32, m = 16, k = 3: lasso+ MCC > fitted ReLU encoder MCC > matched-filter MCC."""
    data = _data()
    H, X = data.sample(0, 300)
    Ht, Xt = data.sample(10_000, 10_300)
    Z, conv = R.fitted_encoder_codes(data.W, data.sample(20_000, 24_096)[1], H)
    by = {r["route"]: r for r in R.dictionary_rows(data.W, H, X, Ht, Xt, 3, M.identity_matching(32))}
    enc = M.latent_mcc(X, Z, M.identity_matching(32))
    assert by["lasso+"]["mcc"] > 0.97 and by["basis_pursuit+"]["exact"] / 300 > 0.8
    assert by["lasso+"]["mcc"] > enc > by["matched_filter"]["mcc"] + 0.05


def test_summarise_uses_cluster_intervals_over_dictionaries():
    rows = [{"d": "a", "route": "x", "exact": e, "own": 0, "trials": 100, "mcc": c, "rule": "topk", "ok": 1.0}
            for e, c in [(80, 0.9), (60, 0.8), (95, 0.95)]]
    (e,) = R.summarise(rows, ("d", "route"))
    est, lo, hi = intervals.cluster_interval([80, 60, 95], [100, 100, 100])
    assert e["exact"] == {"mean": pytest.approx(est), "low": pytest.approx(lo), "high": pytest.approx(hi)}
    assert e["mcc"]["mean"] == pytest.approx(np.mean([0.9, 0.8, 0.95]))
    assert e["mcc"]["low"] < e["mcc"]["mean"] < e["mcc"]["high"] <= 1.0
    # clustered: wider than the Wilson interval of 300 pooled samples
    _, clo, chi = intervals.conditional_interval([80, 60, 95], [100, 100, 100])
    assert hi - lo > chi - clo
    assert e["dictionaries"] == 3 and e["rules"] == {"topk": 3}


# ----------------------------------------------------------------------------- the scripts, --quick
def _contains(v):
    return v["low"] - 1e-12 <= v["mean"] <= v["high"] + 1e-12


def test_amortisation_gap_quick_two_by_two(tmp_path, experiment):
    pytest.importorskip("torch")
    doc = experiment("amortisation_gap").main(["--quick", "--no-progress", "--out", str(tmp_path),
                                                "--cache", str(tmp_path / "cache")])
    assert (tmp_path / "amortisation_gap.json").is_file()
    summ = {(e["dictionary"], e["route"]): e for e in doc["summary"]}
    dicts = {d for d, _ in summ}
    assert dicts == {"true W", "L1 SAE (l1=0.01)", "TopK SAE (k=3)", "dict. learning (alpha=0.1)"}
    for d in dicts:  # every inference route on every dictionary; the SAE encoder on the SAEs' dictionaries
        routes = {r for dd, r in summ if dd == d}
        assert set(R.ROUTES) <= routes
        assert ("SAE encoder" in routes) == d.startswith(("L1", "TopK"))
    assert "encoder (fitted, W fixed)" in {r for d, r in summ if d == "true W"}
    for e in summ.values():
        assert _contains(e["exact"]) and _contains(e["own"]) and _contains(e["mcc"])
        assert e["exact"]["mean"] >= e["own"]["mean"] - 0.05  # the best rule is chosen on other samples
        assert e["dictionaries"] == 3
    # with W known, per-sample inference recovers nearly every code (n = 16, m = 8, k = 3) ...
    assert summ[("true W", "basis_pursuit+")]["mcc"]["mean"] > 0.95
    assert summ[("true W", "lasso+")]["exact"]["mean"] > 0.7
    # ... the matched filter does not, and every route on a learned dictionary stays below the true-W lasso
    assert summ[("true W", "matched_filter")]["mcc"]["mean"] < summ[("true W", "lasso+")]["mcc"]["mean"] - 0.2
    for (d, r), e in summ.items():
        if d != "true W":
            assert 0 < e["mmcs"]["mean"] < 1 and e["mcc"]["mean"] < summ[("true W", "lasso+")]["mcc"]["mean"]


def test_amortisation_grid_quick(tmp_path, experiment):
    pytest.importorskip("torch")
    mod = experiment("amortisation_gap")
    cells = mod.grid_cells()
    assert len(cells) == 28 and all(k < m < n for n, m, k in cells)
    doc = mod.main(["--grid", "--quick", "--no-progress", "--out", str(tmp_path), "--cache", str(tmp_path / "c")])
    assert (tmp_path / "amortisation_grid.json").is_file() and (tmp_path / "amortisation_grid.png").is_file()
    assert [(t["n"], t["m"], t["k"]) for t in doc["table"]] == [(16, 8, 3), (32, 16, 3)]
    for t in doc["table"]:
        assert t["mcc_lasso_true"] > 0.95 and t["mcc_lasso_true"] > t["mcc_sae_encoder"]
        assert t["mcc_best_on_sae"] >= t["mcc_lasso_sae"] and t["mcc_best_on_true"] >= t["mcc_lasso_true"]
    for e in doc["summary"]:
        assert _contains(e["exact"]) and _contains(e["mcc"])


def test_sae_frontier_quick(tmp_path, experiment):
    pytest.importorskip("torch")
    doc = experiment("sae_frontier").main(["--quick", "--no-progress", "--out", str(tmp_path),
                                            "--cache", str(tmp_path / "c")])
    assert (tmp_path / "sae_frontier.json").is_file() and (tmp_path / "sae_frontier.png").is_file()
    n = doc["setting"]["n"]
    for k in doc["setting"]["k"]:
        th = doc["theory"][str(k)]
        assert th["8k ln n"] == pytest.approx(8 * k * np.log(n))
        assert th["rho_W (l1, x >= 0)"] == pytest.approx(csbench.theory.m_weak(n, k, nonneg=True))
        assert th["k log2(en/k)"] == pytest.approx(k * np.log2(np.e * n / k))
    curves = {(c["k"], c["dictionary"], c["route"]): c for c in doc["curves"]}
    assert {c["label"] for c in doc["curves"]} >= {"(i) matched filter, true W", "(ii) SAE encoder",
                                                   "(iii) lasso+ on the SAE's dictionary",
                                                   "(iv) lasso+ on the true W"}
    for c in doc["curves"]:
        assert [p["m"] for p in c["points"]] == doc["setting"]["m"]
        for p in c["points"]:
            assert p["low"] - 1e-12 <= p["success"] <= p["high"] + 1e-12
            assert p["low_given"] - 1e-12 <= p["success"] <= p["high_given"] + 1e-12
    # the true-dictionary lasso succeeds at least as often as the SAE encoder and the matched filter, at every m
    for k in doc["setting"]["k"]:
        lasso = curves[(k, "true W", "lasso+")]["points"]
        for other in ((k, "SAE", "SAE encoder"), (k, "true W", "matched_filter")):
            assert all(a["success"] >= b["success"] - 0.05 for a, b in zip(lasso, curves[other]["points"]))
    # n = 32, k = 4: the true-W lasso crosses 50 % on the grid (m in {8, 16, 24}), the matched filter does not
    assert isinstance(curves[(4, "true W", "lasso+")]["m_star"], float)
    assert curves[(4, "true W", "matched_filter")]["m_star"] == "above grid"
