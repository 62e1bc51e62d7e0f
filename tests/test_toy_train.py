"""Toy-model training (needs the ``learn`` extra: skipped without torch)."""
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import csbench  # noqa: E402
from csbench.problems import Cell, make_problem  # noqa: E402
from csbench.toy import ToySpec, fit, instance_seeds, train  # noqa: E402
from csbench.toy import analysis as an  # noqa: E402
from csbench.toy import training as train_mod  # noqa: E402
from csbench.toy.theory import minimise_one_sparse_loss, one_sparse_loss  # noqa: E402

torch.set_num_threads(1)
SMALL = ToySpec(n=6, m=3, family="tied", activation="relu", p=0.2, steps=60, batch=32)
SEED002 = dict(n=5, m=2, bias=False, data="identity", lr=1e-2, steps=1000)


def test_same_seed_identical_weights_and_batch_equals_one_by_one():
    seeds = instance_seeds(11, 3)
    specs = [SMALL, SMALL.replace(p=0.5), SMALL.replace(importance=0.7)]
    batch = fit(specs, seeds, progress=False)
    again = fit(specs, instance_seeds(11, 3), progress=False)
    for a, b in zip(batch, again):
        np.testing.assert_array_equal(a.params["W"], b.params["W"])
    for i in range(3):
        alone = fit([specs[i]], [seeds[i]], progress=False)[0]
        for k in ("W", "b"):
            np.testing.assert_array_equal(alone.params[k], batch[i].params[k])
        assert alone.loss == batch[i].loss
    assert not np.array_equal(batch[0].params["W"], batch[1].params["W"])


def test_untied_batch_equals_one_by_one():
    spec = ToySpec(n=8, m=3, family="untied", bias=True, values="signed", target="relu", loss="l4", steps=40, batch=16)
    seeds = instance_seeds(2, 2)
    batch = fit([spec, spec], seeds, progress=False)
    alone = fit([spec], seeds[1:], progress=False)[0]
    for k in ("W_in", "W_out", "b1", "b2"):
        np.testing.assert_array_equal(alone.params[k], batch[1].params[k])


def test_cache_hit_returns_same_arrays_without_training(tmp_path, monkeypatch):
    seeds = instance_seeds(0, 2)
    first = train(SMALL, seeds, cache=tmp_path, progress=False)
    assert not any(m.from_cache for m in first) and len(list(tmp_path.glob("*.safetensors"))) == 2

    def no_training(*a, **k):
        raise AssertionError("trained on a cache hit")

    monkeypatch.setattr(train_mod, "fit", no_training)
    second = train(SMALL, seeds, cache=tmp_path, progress=False)
    assert all(m.from_cache for m in second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.params["W"], b.params["W"])
        np.testing.assert_array_equal(a.params["b"], b.params["b"])
    monkeypatch.setenv("CSBENCH_TOY_CACHE", str(tmp_path))
    assert train(SMALL, seeds[:1], progress=False)[0].from_cache


def test_seed002_pentagon_relu_and_gelu_against_direct_minimisation():
    out = {}
    for act in ("relu", "gelu"):
        model = fit([ToySpec(**SEED002, activation=act)], instance_seeds(0, 1), progress=False)[0]
        W = model.params["W"].astype(float)
        geo = an.angles_2d(W)
        _, L_min, _ = minimise_one_sparse_loss(5, 2, act, restarts=4, seed=1)
        out[act] = (geo, one_sparse_loss(W, act), L_min, model.loss)
    geo, L, L_min, loss = out["relu"]
    np.testing.assert_allclose(geo["angle_gaps_deg"], 72.0, atol=1.0)
    assert geo["norms"].max() / geo["norms"].min() - 1 < 0.01
    assert L == pytest.approx(L_min, rel=1e-3)  # L_min = 0.80179 (pentagon at r^2 = 1 / (1 + 2 cos^2 72))
    assert loss * 25 == pytest.approx(L, rel=1e-3)  # training loss is the mean over the 25 entries
    geo, L, L_min, _ = out["gelu"]  # reported in docs/toy_models.md: norms 1.036, L = 0.7471
    np.testing.assert_allclose(geo["angle_gaps_deg"], 72.0, atol=1.0)
    assert L == pytest.approx(L_min, rel=1e-3)
    np.testing.assert_allclose(geo["norms"], 1.0364, atol=0.005)


def test_toy_encoder_and_native_decoder_equal_forward_pass(tmp_path):
    for fam, bias in (("tied", True), ("untied", True)):
        cell = Cell(encoder="toy", signal="uniform", n=6, k=2,
                    encoder_params=dict(family=fam, bias=bias, activation="gelu", steps=30, batch=16,
                                        cache_dir=str(tmp_path), seed=4))
        meas, truth = make_problem(cell, 3, 2, seed=0)
        res = csbench.decode("native", meas.A, meas.Y, source=meas.source)  # the problem hands over its models
        models = train(ToySpec(n=6, m=3, family=fam, bias=bias, activation="gelu", steps=30, batch=16),
                       instance_seeds(4, 2), cache=tmp_path, progress=False)
        assert all(m.from_cache for m in models)  # the encoder's trial t is instance_seeds(4)[t]
        for t in range(2):
            np.testing.assert_array_equal(meas.A[t], models[t].encoder_matrix)
            assert meas.source[t].spec == models[t].spec
            np.testing.assert_allclose(res.X_hat[t], models[t].forward(truth.X[t:t + 1])[0], rtol=0, atol=1e-12)


def test_training_without_torch_fails_with_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        fit([SMALL], instance_seeds(0, 1), progress=False)


def test_cli_train_then_cache_hit(tmp_path, capsys):
    from csbench.cli import main

    spec = tmp_path / "s.toml"
    spec.write_text("[model]\nn = 5\nm = 2\nsteps = 20\nbatch = 8\n[train]\nseed = 3\ninstances = 2\n")
    assert main(["train", str(spec), "--cache-dir", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr().out.count("(trained)") == 2
    assert main(["train", str(spec), "--cache-dir", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr().out.count("(cached)") == 2
