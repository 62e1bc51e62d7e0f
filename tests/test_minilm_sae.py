"""SAEs on real activations: ArrayData as training data, and experiments/minilm_sae.py at reduced size."""
import importlib.util

import numpy as np
import pytest

from csbench.sae import ArrayData, SAESpec
from csbench.real import minilm


def test_array_data_cycles_in_order_and_has_a_content_identity():
    H = np.arange(20.0).reshape(10, 2)
    data = ArrayData(H)
    it = data.cycle(4)
    got = [next(it)[0][:, 0] for _ in range(3)]
    np.testing.assert_array_equal(np.concatenate(got), H[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1], 0])
    it = data.cycle(3, n_train=4)
    np.testing.assert_array_equal(np.concatenate([next(it)[0][:, 1] for _ in range(3)]),
                                  H[[0, 1, 2, 3, 0, 1, 2, 3, 0], 1])
    assert next(it)[1].shape == (3, 0)
    assert ArrayData(H.copy()).key_dict() == data.key_dict()
    assert ArrayData(H + 1e-9).key_dict() != data.key_dict()
    with pytest.raises(ValueError, match="n_train"):
        data.cycle(4, n_train=11)
    with pytest.raises(ValueError, match="H"):
        ArrayData(np.array([[np.nan, 0.0]]))


def test_sae_on_array_data_equals_the_generator_with_a_fixed_training_set(tmp_path):
    """ArrayData(first N samples) cycles the rows in the order ActivationData.cycle(n_train=N) does, so an SAE
    trained on it has exactly the same weights; it recovers a planted orthonormal dictionary and is cached."""
    pytest.importorskip("torch")
    from csbench.sae import ActivationData, ActivationSpec
    from csbench.sae.training import train

    Q = np.linalg.qr(np.random.default_rng(np.random.SeedSequence(5)).standard_normal((8, 8)))[0]
    gen = ActivationData(Q, ActivationSpec(8, support="ksparse", k=1, amplitude="uniform"), seed=0)
    spec = SAESpec(m=8, d=16, kind="topk", k=1, lr=1e-2, steps=500, batch=128, n_train=3000)
    ref = train(spec, gen, [0], use_cache=False, progress=False)[0]
    arr = ArrayData(gen.sample(0, 3000)[0].astype(np.float32))
    mdl = train(spec.replace(n_train=None), arr, [0], cache=tmp_path, progress=False)[0]
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        np.testing.assert_array_equal(mdl.params[name], ref.params[name])
    assert np.abs(Q.T @ mdl.dictionary).max(1).min() > 0.99
    again = train(spec.replace(n_train=None), ArrayData(arr.H), [0], cache=tmp_path, progress=False)[0]
    assert again.from_cache and np.array_equal(again.params["W_dec"], mdl.params["W_dec"])


@pytest.mark.skipif(importlib.util.find_spec(minilm.MODULE) is None, reason=f"needs {minilm.INSTALL}")
def test_minilm_sae_quick(tmp_path, experiment):
    for mod in ("torch", "tokenizers", "safetensors"):
        pytest.importorskip(mod)
    exp = experiment("minilm_sae")
    doc = exp.main(["--quick", "--no-progress", "--out", str(tmp_path), "--cache", str(tmp_path / "c"),
                    "--act-cache", str(tmp_path / "a")])
    # tokens: every 12th sentence of the shipped text, [CLS] and [SEP] dropped (counted by the tokenizer here)
    sentences = [s for p in exp.TEXTS for s in minilm.load_sentences(p)][::12]
    assert doc["tokens"]["sentences"] == len(sentences) >= 30
    assert doc["tokens"]["total"] == sum(len(i) - 2 for i in minilm.token_ids(sentences))
    assert doc["tokens"]["heldout"] == 120 and len(doc["rows"]) == 3
    assert (tmp_path / "minilm_sae.json").is_file() and not (tmp_path / "minilm_sae.png").exists()  # --quick: no figure
    for r in doc["rows"]:
        e = r["eval"]
        assert 0 < e["sae"]["nmse"] < 1.5
        # least squares on the same support cannot reconstruct worse than the SAE's own amplitudes
        assert e["sae_refit"]["nmse"] <= e["sae"]["nmse"] + 1e-9
        for raw, refit in zip(e["lasso"], e["lasso_refit"]):
            assert refit["nmse"] <= raw["nmse"] + 1e-9 and refit["l0"] <= raw["l0"]
        assert e["omp_matched"]["l0"] <= e["sae"]["l0"] + 1e-9
        if r["kind"] == "topk":
            assert e["sae"]["l0"] <= r["k"]
        else:  # the lasso at lambda/2 minimises the SAE's own per-sample loss: it can only be lower
            assert e["lasso_own_objective"]["loss"] <= e["sae"]["loss"] + 1e-6
