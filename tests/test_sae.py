"""Sparse autoencoders and dictionary learning (csbench.sae): data, metrics, training, encoder, cache."""
import json
import pathlib

import numpy as np
import pytest

from csbench.sae import metrics as M
from csbench.sae.data import GRID, ActivationData, ActivationSpec
from csbench.sae.models import SAESpec, sae_encode


def _orthonormal(n, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]


# ---------------------------------------------------------------- data


def test_generator_identical_across_block_sizes_workers_and_offsets():
    W = np.random.default_rng(0).standard_normal((8, 16))
    data = ActivationData(W, ActivationSpec(16, support="ksparse", k=3, amplitude="half_normal", noise=0.1), seed=5)
    start, stop = 1000, 2 * GRID + 700  # spans three grid blocks
    H, X = data.sample(start, stop)
    H2, X2 = data.sample(start, stop, workers=3)
    assert np.array_equal(H, H2) and np.array_equal(X, X2)
    for bs in (1, 333, GRID, 5 * GRID):
        Hb = np.concatenate([h for h, _ in data.blocks(stop - start, bs, start=start)])
        assert np.array_equal(Hb, H), bs
    # sample i alone equals sample i of the big request; codes do not depend on W
    assert np.array_equal(data.sample(start + 4242, start + 4243)[0][0], H[4242])
    other = ActivationData(2 * W[:4], data.spec, seed=5)
    assert np.array_equal(other.sample(start, stop)[1], X)
    assert (np.count_nonzero(X, axis=1) == 3).all() and (X >= 0).all()
    # noise: h - W x is N(0, 0.1^2) per coordinate
    resid = H - X @ W.T
    assert abs(resid.std() - 0.1) < 0.005 and abs(resid.mean()) < 0.005
    # another seed gives other samples
    assert not np.array_equal(ActivationData(W, data.spec, seed=6).sample(start, stop)[0], H)


def test_training_cycle_wraps_over_a_fixed_training_set():
    W = _orthonormal(4, 0)
    data = ActivationData(W, ActivationSpec(4, p=0.3), seed=1)
    it = data.cycle(300, n_train=1000, dtype=np.float64)
    got = np.concatenate([next(it)[0] for _ in range(5)])
    Hs = data.sample(0, 1000)[0]
    assert np.array_equal(got, np.concatenate([Hs, Hs])[:1500])


@pytest.mark.parametrize("freq,decay,expected", [
    ("constant", 1.0, lambda i: np.full(i.size, 0.2)),
    ("geometric", 0.9, lambda i: 0.2 * 0.9**i),
    ("power", 1.5, lambda i: 0.2 * (i + 1.0) ** -1.5),
])
def test_bernoulli_frequencies_match_monte_carlo(freq, decay, expected):
    spec = ActivationSpec(12, p=0.2, frequency=freq, decay=decay, amplitude="signed_uniform")
    p = spec.frequencies()
    assert np.allclose(p, expected(np.arange(12)))
    X = ActivationData(np.eye(12), spec, seed=3).sample(0, 40_000)[1]
    freq_hat = (X != 0).mean(0)
    assert np.all(np.abs(freq_hat - p) < 4 * np.sqrt(p * (1 - p) / 40_000) + 1e-12)
    vals = X[X != 0]
    assert vals.min() >= -1 and vals.max() <= 1 and abs(vals.mean()) < 0.03  # U(-1, 1)


@pytest.mark.parametrize("amp,mean", [("binary", 1.0), ("uniform", 0.5), ("half_normal", np.sqrt(2 / np.pi))])
def test_amplitude_means(amp, mean):
    X = ActivationData(np.eye(6), ActivationSpec(6, support="ksparse", k=2, amplitude=amp), 0).sample(0, 20_000)[1]
    vals = X[X != 0]
    assert vals.size == 40_000 and abs(vals.mean() - mean) < 0.01


@pytest.mark.parametrize("kw,match", [
    ({"p": 1.5}, "p=1.5 is out of range"),
    ({"support": "gauss"}, "support='gauss' is not one of"),
    ({"frequency": "geometric", "decay": 1.2}, "decay=1.2 is out of range"),
    ({"k": 9}, "k=9 is out of range"),
    ({"amplitude": "normal"}, "amplitude='normal' is not one of"),
])
def test_bad_activation_specs_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        ActivationSpec(8, **kw)


def test_memory_is_costed_before_drawing():
    data = ActivationData(np.eye(64), ActivationSpec(64), 0)
    with pytest.raises(MemoryError, match=r"10000000 samples of m=64 dims and n=64 features need 9\.54 GiB"):
        data.sample(0, 10_000_000, max_bytes=2**30)
    with pytest.raises(ValueError, match="W has 5 columns but spec.n=64"):
        ActivationData(np.ones((3, 5)), ActivationSpec(64), 0)


# ---------------------------------------------------------------- metrics


def test_permuted_sign_flipped_copy_is_a_perfect_match():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((10, 20))
    perm = rng.permutation(20)
    signs = np.where(rng.random(20) < 0.5, -1.0, 1.0)
    D = 3.0 * W[:, perm] * signs  # scaled too: cosines ignore norms
    assert M.mmcs(W, D) == pytest.approx(1.0, abs=1e-12)
    assert M.recovered_fraction(W, D, 0.99) == 1.0
    mt = M.match(W, D)
    assert np.array_equal(mt.learned[np.argsort(mt.true)], np.argsort(perm))
    assert np.allclose(mt.sign, signs[np.argsort(perm)])
    assert mt.mcc == pytest.approx(1.0, abs=1e-12)
    assert M.mmcs(W, D, signed=True) < 0.9  # the sign matters when asked to
    # codes: matched_codes maps learned latents back with their signs
    X = rng.standard_normal((50, 20))
    Z = X[:, perm] * signs
    assert np.allclose(M.matched_codes(Z, mt, 20), X)
    assert M.latent_mcc(X, Z, mt) == pytest.approx(1.0)
    assert M.latent_mcc(X, Z) == pytest.approx(1.0)


def test_orthogonal_perturbations_give_closed_form_cosines():
    n, m = 6, 12
    Q = _orthonormal(m, 2)
    W, U = Q[:, :n], Q[:, n:]  # U orthogonal to every true atom and to each other
    theta = np.linspace(0.05, 1.2, n)
    D = np.cos(theta) * W + np.sin(theta) * U
    assert M.mmcs(W, D) == pytest.approx(np.cos(theta).mean(), abs=1e-12)
    assert M.dictionary_mcc(W, D) == pytest.approx(np.cos(theta).mean(), abs=1e-12)
    assert M.recovered_fraction(W, D, 0.9) == pytest.approx((np.cos(theta) >= 0.9).mean())
    rep = M.dictionary_report(W, D)
    assert rep["recovered_0.99"] == pytest.approx((np.cos(theta) >= 0.99).mean())
    # a smaller learned dictionary: unmatched true features count 0 in the MCC
    assert M.dictionary_mcc(W, D[:, :3]) == pytest.approx(np.cos(theta[:3]).sum() / n, abs=1e-12)
    # mmcs over learned atoms: the same here (one-to-one)
    assert M.mmcs(W, D, over="learned") == pytest.approx(np.cos(theta).mean(), abs=1e-12)


def test_code_metrics_on_hand_made_cases():
    X = np.array([[1.0, 0, 0], [0, 2.0, 0], [0, 0, 0.5], [1.0, 1.0, 0]])
    assert M.latent_mcc(X, X) == pytest.approx(1.0)
    assert M.support_recovery(X, X) == 1.0
    Xh = X.copy()
    Xh[3, 2] = 0.3  # one false positive
    assert M.support_recovery(X, Xh) == 0.75
    assert M.mean_l0(X) == pytest.approx(5 / 4)
    H = X @ np.eye(3)
    assert M.explained_variance(H, H) == 1.0
    assert M.explained_variance(H, np.tile(H.mean(0), (4, 1))) == pytest.approx(0.0)
    assert M.reconstruction_mse(H, 0 * H) == pytest.approx((H**2).sum(1).mean())
    # a constant latent has correlation 0, not NaN
    assert M.latent_mcc(X, np.ones_like(X)) == 0.0


# ---------------------------------------------------------------- encoder (numpy)


def test_sae_encode_relu_and_topk_by_hand():
    params = {"W_enc": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), "b_enc": np.array([0.0, -0.5, 0.0]),
              "b_dec": np.array([0.5, 0.0])}
    Y = np.array([[1.5, 1.0], [0.0, -1.0]])
    pre = np.array([[1.0, 0.5, 2.0], [-0.5, -1.5, -1.5]])
    assert np.array_equal(sae_encode(params, Y), np.maximum(pre, 0))
    assert np.array_equal(sae_encode(params, Y, k=1), [[0, 0, 2.0], [0, 0, 0]])
    assert np.array_equal(sae_encode(params, Y[0], k=2), [1.0, 0, 2.0])
    with pytest.raises(ValueError, match="k=4 is out of range"):
        sae_encode(params, Y, k=4)
    with pytest.raises(ValueError, match="Y has 3 columns but the SAE's input dimension is m=2"):
        sae_encode(params, np.ones((1, 3)))


@pytest.mark.parametrize("kw,match", [({"kind": "topk", "k": 0}, "k=0 is out of range"),
                                      ({"l1": -1.0}, "l1=-1.0 is out of range"),
                                      ({"kind": "jump"}, "kind='jump' is not one of")])
def test_bad_sae_specs_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        SAESpec(m=4, d=8, **kw)


# ---------------------------------------------------------------- training (torch)


def _planted(n=16, seed=1):
    W = _orthonormal(n, seed)
    return W, ActivationData(W, ActivationSpec(n, support="ksparse", k=1, amplitude="uniform"), seed=0)


def test_l1_sae_recovers_planted_orthonormal_dictionary():
    pytest.importorskip("torch")
    from csbench.sae.training import fit

    W, data = _planted()
    spec = SAESpec(m=16, d=32, kind="l1", l1=3e-2, lr=1e-2, steps=800, batch=256)
    models = fit([spec, spec.replace(l1=0.1)], [data, data], [0, 0], progress=False)
    for mdl in models:
        assert M.mmcs(W, mdl.dictionary) > 0.99
        assert np.allclose(np.linalg.norm(mdl.dictionary, axis=0), 1.0, atol=1e-5)
        h = mdl.history
        assert h["loss"].shape == (800,) and h["mse"][-50:].mean() < 0.1 * h["mse"][:50].mean()
        assert np.allclose(h["loss"], h["mse"] + mdl.spec.l1 * h["l1"], rtol=1e-5)
        assert 0 <= mdl.dead_fraction < 0.5
        # 1-sparse h = a w_i, a ~ U(0,1): the optimal code is the lasso shrinkage max(a - lam/2, 0),
        # so E ||f||_1 = (1 - lam/2)^2 / 2
        lam = mdl.spec.l1
        assert h["l1"][-200:].mean() == pytest.approx((1 - lam / 2) ** 2 / 2, abs=0.015)
    # the larger L1 coefficient (same initialisation and data) gives sparser codes
    assert models[1].history["l0"][-100:].mean() < models[0].history["l0"][-100:].mean()


def test_topk_sae_k1_recovers_planted_dictionary_and_matches_numpy_encoder():
    torch = pytest.importorskip("torch")
    from csbench.sae.training import fit, forward

    W, data = _planted()
    spec = SAESpec(m=16, d=32, kind="topk", k=1, lr=1e-2, steps=800, batch=256)
    mdl = fit([spec], [data], [3], progress=False)[0]
    assert M.mmcs(W, mdl.dictionary) > 0.99
    assert mdl.history["l0"].max() <= 1.0
    H, X = data.sample(10**6, 10**6 + 500)
    Z = mdl.encode(H)
    assert ((Z > 0).sum(1) <= 1).all()
    P = {k: torch.from_numpy(v)[None] for k, v in mdl.params.items()}
    Ft, Ht = forward(torch, P, torch.from_numpy(H.astype(np.float32))[None], 1)
    assert np.allclose(Z, Ft[0].numpy(), rtol=1e-5, atol=1e-5)
    assert np.array_equal(Z > 0, Ft[0].numpy() > 0)
    assert np.allclose(mdl.reconstruct(H), Ht[0].numpy(), atol=1e-5)
    # the codes recover the planted 1-sparse supports after matching
    mt = M.match(W, mdl.dictionary)
    assert M.support_recovery(X, M.matched_codes(Z, mt, 16), tol=0.05) > 0.95
    assert M.latent_mcc(X, Z, mt) > 0.95


def test_sae_encode_equals_torch_module_output_l1():
    torch = pytest.importorskip("torch")
    from csbench.sae.training import fit, forward

    _, data = _planted(8)
    spec = SAESpec(m=8, d=12, l1=1e-2, lr=1e-2, steps=50, batch=64)
    mdl = fit([spec], [data], [0], progress=False)[0]
    H = data.sample(0, 300)[0] + 0.05
    P = {k: torch.from_numpy(v)[None] for k, v in mdl.params.items()}
    Ft, _ = forward(torch, P, torch.from_numpy(H.astype(np.float32))[None])
    Z = sae_encode(mdl.params, H)
    assert Z.shape == (300, 12) and (Z > 0).any()
    assert np.allclose(Z, Ft[0].numpy(), rtol=1e-5, atol=1e-6)


def test_batch_equals_one_by_one_and_same_seed_same_weights():
    pytest.importorskip("torch")
    from csbench.sae.training import fit

    _, data = _planted(8)
    spec = SAESpec(m=8, d=12, l1=1e-2, lr=1e-2, steps=30, batch=64)
    both = fit([spec, spec.replace(l1=0.1)], [data, data], [0, 1], progress=False)
    one = fit([spec.replace(l1=0.1)], [data], [1], progress=False)[0]
    assert np.allclose(both[1].params["W_dec"], one.params["W_dec"], atol=1e-6)
    again = fit([spec], [data], [0], progress=False)[0]
    assert np.allclose(again.params["W_enc"], both[0].params["W_enc"], atol=1e-6)


def test_cache_round_trip_and_verification(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from csbench.sae import training
    from csbench.sae.models import load_sae

    _, data = _planted(8)
    spec = SAESpec(m=8, d=12, kind="topk", k=2, lr=1e-2, steps=20, batch=32)
    first = training.train(spec, data, [7], cache=tmp_path, progress=False)[0]
    assert not first.from_cache
    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("retrained despite a cache hit"))
    second = training.train(spec, data, [7], cache=tmp_path / ".", progress=False)[0]  # another spelling
    assert second.from_cache and second.spec == spec
    for k in first.params:
        assert np.array_equal(first.params[k], second.params[k])
    assert np.array_equal(first.history["mse"].astype(np.float32), second.history["mse"])
    assert np.array_equal(first.dead, second.dead)
    H = data.sample(0, 20)[0]
    assert np.array_equal(first.encode(H), second.encode(H))
    # the file is verified: a wrong identity or non-finite weights are refused
    path = next(tmp_path.glob("*.safetensors"))
    with pytest.raises(ValueError, match="was written for another SAE instance"):
        load_sae(path, identity={"other": 1})
    second.params["W_dec"] = second.params["W_dec"].copy()
    second.params["W_dec"][0, 0] = np.nan
    second.save(path)
    with pytest.raises(ValueError, match="parameter W_dec has non-finite entries"):
        load_sae(path)


def test_cluster_ci_is_the_t_interval_over_clusters():
    mean, lo, hi = M.cluster_ci([1.0, 2.0, 3.0, 4.0])
    # sd = sqrt(5/3), t_{3, 0.975} = 3.182446
    assert mean == 2.5 and hi - mean == pytest.approx(3.182446 * np.sqrt(5 / 3) / 2, rel=1e-6)
    assert lo == pytest.approx(2 * mean - hi)
    assert M.cluster_ci([0.7])[1] == -np.inf


def test_sae_recovery_quick(tmp_path, experiment):
    pytest.importorskip("torch")
    exp = experiment("sae_recovery")
    with pytest.raises(SystemExit, match="inside the committed reference data"):  # before any work
        exp.main(["--quick", "--json", str(pathlib.Path(exp.__file__).resolve().parents[1] / "data" / "sae" / "x.json")])
    doc = exp.main(["--quick", "--no-progress", "--out", str(tmp_path / "o"), "--json", str(tmp_path / "r.json"),
                    "--cache", str(tmp_path)])
    assert json.loads((tmp_path / "o" / "sae_recovery.json").read_text()) == json.loads((tmp_path / "r.json").read_text())
    assert doc["setting"]["profile"] == "quick" and json.loads((tmp_path / "r.json").read_text())["complete"]
    assert not (tmp_path / "r.png").exists()  # --quick draws no figure; --replot draws it beside the JSON
    assert len(exp.main(["--replot", str(tmp_path / "r.json")])["rows"]) == len(doc["rows"])
    assert (tmp_path / "r.png").is_file()
    rows = doc["rows"]
    assert len(rows) == 2 * (2 + 1 + 1)  # ratios x (two L1 coefficients, TopK, dictionary learning)
    for r in rows:
        assert 0 < r["mmcs"]["min"] <= r["mmcs"]["mean"] <= r["mmcs"]["max"] <= 1 + 1e-9
        assert r["recovered_0.99"]["mean"] <= r["recovered_0.9"]["mean"]
        if r["learner"] == "TopK SAE":
            assert r["l0"] <= 1.0
    # the frequent features are found by every learner in the reduced setting: dictionary learning with
    # 2n atoms recovers most of them
    dl = next(r for r in rows if r["learner"] == "dictionary learning" and r["ratio"] == 2)
    assert dl["mmcs"]["mean"] > 0.8


def test_dictionary_learning_recovers_planted_orthonormal_dictionary():
    from csbench.sae.dictlearn import learn_dictionary

    W, data = _planted()
    H = data.sample(0, 3000)[0]
    res = learn_dictionary(H, 16, alpha=0.05, max_iter=3, positive_code=True)
    assert M.mmcs(W, res.dictionary) > 0.99
    assert np.allclose(np.linalg.norm(res.dictionary, axis=0), 1.0)
    with pytest.raises(ValueError, match="alpha=0.0 is out of range"):
        learn_dictionary(H, 16, alpha=0.0)


def test_learned_encoder_and_sae_encoder_decoder_in_the_engine(tmp_path):
    """A trained SAE's dictionary is the ``learned`` encoder and its encoder the ``sae_encoder`` decoder: they run
    through make_problem, decode and maximal_k like any encoder and decoder; the file's identity is its content."""
    pytest.importorskip("torch")
    import shutil

    import csbench
    from csbench.sae.training import fit

    W, data = _planted()
    spec = SAESpec(m=16, d=32, kind="topk", k=1, lr=1e-2, steps=300, batch=256)
    mdl = fit([spec], [data], [3], progress=False)[0]
    mdl.save(tmp_path / "sae.safetensors")
    shutil.copy(tmp_path / "sae.safetensors", tmp_path / "copy.safetensors")
    cell = csbench.Cell("learned", "binary", 32, 1, encoder_params={"path": str(tmp_path / "sae.safetensors")})
    assert cell.key() == csbench.Cell("learned", "binary", 32, 1,
                                      encoder_params={"path": str(tmp_path / "copy.safetensors")}).key()
    meas, truth = csbench.make_problem(cell, 16, 5, seed=0)
    np.testing.assert_array_equal(meas.A[0], mdl.dictionary)  # round trip through the file
    res = csbench.decode("sae_encoder", meas.A, meas.Y, k=1, source=meas.source)
    np.testing.assert_array_equal(res.X_hat, mdl.encode(meas.Y))  # exactly the trained module's codes
    with pytest.raises(ValueError, match="needs the SAE that produced A"):
        csbench.decode("sae_encoder", meas.A, meas.Y, k=1)
    with pytest.raises(ValueError, match=r"\(m, n\)=\(8, 32\) does not match the learned 16 x 32"):
        csbench.make_problem(cell, 8, 1, seed=0)
    for decoder in ("sae_encoder", "omp"):  # the SAE's encoder and a CS decoder on the same problems
        r = csbench.maximal_k(decoder, "learned", n=32, m=16, trials=4, n_jobs=1, k_max=6,
                              encoder_params={"path": str(tmp_path / "sae.safetensors")}, criterion="support")
        assert 0 <= r.k_star <= 6 and r.encoder == "learned"
