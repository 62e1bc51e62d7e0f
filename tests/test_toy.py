"""Toy models without torch: spec validation, analyses, closed forms, the native decoder."""
import numpy as np
import pytest

import csbench
from csbench.encoders import check_encoder
from csbench.toy import ToyModel, ToySpec, load_model
from csbench.toy import analysis as an
from csbench.toy.theory import circle_loss, circle_loss_seed, minimise_one_sparse_loss, one_sparse_loss

SEED001 = ToySpec(n=100, m=10, family="untied", bias=False, p=0.02, values="signed", target="relu", loss="l4",
                  lr=3e-3, steps=1000, batch=2048)


@pytest.mark.parametrize("changes, match", [
    (dict(n=0), r"n=0 is out of range; allowed: n >= 1"),
    (dict(m=6), r"m=6 is out of range; allowed: 1 <= m <= 5"),
    (dict(p=0.0), r"p=0.0 is out of range; allowed: finite values in \(0.0, 1.0\]"),
    (dict(p=1.5), r"p=1.5 is out of range"),
    (dict(p=[0.1] * 4), r"p has 4 entries but n=5"),
    (dict(activation="gelo"), r"activation='gelo' is not one of .*Did you mean 'gelu'"),
    (dict(loss="l3"), r"loss='l3' is not one of \['mse', 'l4'\]"),
    (dict(lr=float("nan")), r"lr=nan is out of range; allowed: finite values in \(0.0, inf\)"),
    (dict(steps=0), r"steps=0 is out of range"),
])
def test_bad_specs_raise_naming_key_value_range(changes, match):
    with pytest.raises(ValueError, match=match):
        ToySpec(**{"n": 5, "m": 2, **changes})


def test_untied_allows_m_above_n_and_encoder_validates_before_training():
    assert ToySpec(n=3, m=5, family="untied").m == 5
    with pytest.raises(ValueError, match=r"lr=-1.0 is out of range"):
        check_encoder("toy", 2, 5, {"lr": -1.0})  # no training, no torch needed
    with pytest.raises(TypeError, match="Did you mean 'activation'"):
        check_encoder("toy", 2, 5, {"activaton": "relu"})


def test_naive_baseline_closed_form_matches_monte_carlo():
    # Seed 001's naive model: 10 neurons each copy one feature through the ReLU, 90 features output 0.
    nb = an.naive_baseline(SEED001, q=2)
    assert nb["mean_active"] == pytest.approx(0.9 / 6, abs=1e-15)
    assert an.naive_baseline(SEED001)["mean_active"] == pytest.approx(0.9 / 10, abs=1e-15)  # the spec's L4
    assert an.naive_baseline(SEED001, q=4)["mean_active"] == pytest.approx(0.9 / 10, abs=1e-15)
    W_in = np.zeros((10, 100))
    W_in[np.arange(10), nb["kept"]] = 1.0
    model = ToyModel(SEED001, {"W_in": W_in, "W_out": W_in.T.copy()})
    rng = np.random.default_rng(np.random.SeedSequence(7))
    for q in (2, 4):
        mc = an.per_feature_error(model, rng, samples=100_000, q=q)
        se = np.sqrt((mc["active_se"] ** 2).sum()) / 100
        closed = an.naive_baseline(SEED001, q=q)
        assert abs(mc["active"].mean() - closed["mean_active"]) < 4 * se
        assert np.all(mc["active"][nb["kept"]] == 0.0)
        se_unc = (np.sqrt(mc["unconditional"].var() / 100) + 1e-12)
        assert abs(mc["unconditional"].mean() - closed["mean_unconditional"]) < 4 * max(se_unc, se * 0.02)


def test_geometry_of_known_codes():
    th = 2 * np.pi * np.arange(5) / 5
    P = 0.9 * np.stack([np.cos(th), np.sin(th)])  # regular pentagon
    np.testing.assert_allclose(an.feature_dimensionality(P), 2 / 5, rtol=1e-12)  # 1 / (1 + 2cos^2 72 + 2cos^2 144)
    g = an.angles_2d(P)
    np.testing.assert_allclose(g["angle_gaps_deg"], 72.0, atol=1e-12)
    assert g["directions"] == 5
    anti = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 2.0]])
    np.testing.assert_allclose(an.feature_dimensionality(anti), [0.5, 0.5, 1.0], rtol=1e-12)
    np.testing.assert_allclose(an.feature_norms(anti), [1, 1, 2])
    assert an.mean_abs_cos(anti) == pytest.approx((1 + 0 + 0) / 3)


def test_gains_and_attenuation_of_a_hand_built_model():
    # feature 0 enters neuron 0 positively and neuron 1 negatively: r(v) = 0.5 ReLU(v) - 0.2 ReLU(-v)
    spec = ToySpec(n=2, m=2, family="untied", bias=False, values="signed", target="relu")
    W_in = np.array([[1.0, 0.0], [-1.0, 0.0]])
    W_out = np.array([[0.5, -0.2], [0.0, 0.0]])
    model = ToyModel(spec, {"W_in": W_in, "W_out": W_out})
    g = an.gains(model)
    assert g["g_plus"][0] == pytest.approx(0.5) and g["g_minus"][0] == pytest.approx(0.2)
    assert g["r_minus1"][0] == pytest.approx(-0.2)
    # E over v ~ U(-1, 1): (0.5 v - v)^2 on v > 0, (0.2 v)^2 on v < 0
    assert an.attenuation_error(model)[0] == pytest.approx(0.5 * 0.25 / 3 + 0.5 * 0.04 / 3, rel=1e-12)
    st = an.weff_stats(W_in, W_out)
    assert st["diag_mean"] == pytest.approx((0.7 + 0.0) / 2)


def test_one_sparse_loss_gradient_and_circle_formulas():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    W = rng.standard_normal((2, 5))
    for act in ("relu", "gelu"):
        L, G = one_sparse_loss(W, act, grad=True)
        E = np.zeros_like(W)
        E[1, 3] = 1e-6
        assert (one_sparse_loss(W + E, act) - one_sparse_loss(W - E, act)) / 2e-6 == pytest.approx(G[1, 3], rel=1e-6)
    # pentagon at the optimal radius: L = 5 S / (1 + S), S = 2 cos^2 72
    S = 2 * np.cos(2 * np.pi / 5) ** 2
    assert circle_loss(5, 5) == pytest.approx(5 * S / (1 + S), rel=1e-12)
    assert circle_loss_seed(5) == pytest.approx(1 + S, rel=1e-12)
    r = np.sqrt(1 / (1 + S))
    th = 2 * np.pi * np.arange(5) / 5
    assert one_sparse_loss(r * np.stack([np.cos(th), np.sin(th)])) == pytest.approx(circle_loss(5, 5), rel=1e-12)
    assert min(range(1, 11), key=lambda d: circle_loss(d, 10)) == 5
    _, L_min, _ = minimise_one_sparse_loss(5, 2, "relu", restarts=4, seed=0)
    assert L_min == pytest.approx(circle_loss(5, 5), rel=1e-8)


def test_native_decoder_equals_forward_pass_with_explicit_bias_and_rejects_foreign_A():
    rng = np.random.default_rng(np.random.SeedSequence(5))
    spec = ToySpec(n=6, m=3, activation="gelu")
    model = ToyModel(spec, {"W": rng.standard_normal((3, 6)), "b": rng.standard_normal(6)})
    X = rng.random((4, 6))
    A = model.encoder_matrix
    res = csbench.decode("native", A, X @ A.T, activation="gelu", bias=list(model.params["b"]))
    np.testing.assert_allclose(res.X_hat, model.forward(X), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="needs the toy model that produced A"):
        csbench.decode("native", A, X @ A.T)
    with pytest.raises(ValueError, match="bias has 2 entries but A has n=6"):
        csbench.decode("native", A, X @ A.T, activation="relu", bias=[0.0, 1.0])


def test_save_load_roundtrip_named_tensors(tmp_path):
    load_file = pytest.importorskip("safetensors.numpy").load_file

    spec = ToySpec(n=4, m=2, family="untied")
    rng = np.random.default_rng(np.random.SeedSequence(1))
    params = {"W_in": rng.random((2, 4)), "W_out": rng.random((4, 2)), "b1": rng.random(2), "b2": rng.random(4)}
    ToyModel(spec, params, {"entropy": 1, "spawn_key": []}, 0.5).save(tmp_path / "m.safetensors")
    back = load_model(tmp_path / "m.safetensors")
    assert back.spec == spec and back.loss == 0.5 and back.from_cache
    raw = load_file(str(tmp_path / "m.safetensors"))
    assert sorted(raw) == ["W_in", "W_out", "b1", "b2"] and raw["W_in"].shape == (2, 4)
    for k, v in params.items():
        np.testing.assert_array_equal(back.params[k], v.astype(np.float32))


def test_cli_train_without_torch_fails_at_once_with_install_command(tmp_path, monkeypatch, capsys):
    import sys

    from csbench.cli import main

    spec = tmp_path / "s.toml"
    spec.write_text("[model]\nn = 4\nm = 2\n[train]\ninstances = 1\n")
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["train", str(spec), "--cache-dir", str(tmp_path)]) == 2
    assert "pip install torch==2.13.0" in capsys.readouterr().err
    spec.write_text("[model]\nn = 4\nm = 2\nactivation = 'relu6'\n")
    assert main(["train", str(spec)]) == 2
    assert "activation='relu6' is not one of" in capsys.readouterr().err
