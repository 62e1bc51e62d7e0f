"""Faults, integrity and strict inputs (issue 18, items 10, 12 and 13)."""

import numpy as np
import pytest

import csbench
from csbench.config import ConfigError, Sweep
from csbench.harness import run_sweep


# --------------------------------------------------------------------------- item 13: strict booleans
@pytest.mark.parametrize("study, kw", [("minimal_m", {"k": 2}), ("maximal_k", {"m": 20})])
@pytest.mark.parametrize("value", ["yes", 2, None])
def test_check_monotone_must_be_a_boolean(study, kw, value):
    with pytest.raises(TypeError, match=rf"check_monotone must be True or False, got {value!r}"):
        getattr(csbench, study)("lasso", n=32, trials=2, check_monotone=value, **kw)


@pytest.mark.parametrize("kw, exc, msg", [
    ({"progress": "no"}, TypeError, "progress must be True or False, got 'no'"),
    ({"progress": 1}, TypeError, "progress must be True or False, got 1"),
    ({"executor": "thread"}, ValueError, r"executor='thread' is not one of \['processes', 'threads'\]"),
])
def test_run_options_are_checked_before_work(kw, exc, msg, monkeypatch):
    import csbench.decoders

    monkeypatch.setattr(csbench.decoders, "decode", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(exc, match=msg):
        csbench.minimal_m("lasso", n=32, k=2, trials=2, **kw)


def test_sweep_progress_must_be_a_boolean():
    with pytest.raises(TypeError, match="progress must be True or False, got 'no'"):
        run_sweep(Sweep(decoders=["matched_filter"], n=20, k=2, m=[8], trials=2), progress="no")


@pytest.mark.parametrize("value", ['"yes"', "2"])
def test_toml_auto_check_monotone_must_be_a_boolean(tmp_path, value):
    p = tmp_path / "s.toml"
    p.write_text(f'name = "s"\nn = 32\nk = 2\nm = "auto"\ntrials = 2\ndecoders = ["lasso"]\n'
                 f'[auto]\ncheck_monotone = {value}\n')
    with pytest.raises(ConfigError, match=r"key 'auto.check_monotone': check_monotone must be True or False, "
                                          rf"got {value.strip(chr(34))!r}".replace("'2'", "2")):
        csbench.config.load_sweep(p)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "header"])
def test_malformed_safetensors_one_line_with_the_path(tmp_path, damage):
    pytest.importorskip("safetensors")
    from safetensors.numpy import save_file

    from csbench.tensors import load_tensor

    good = tmp_path / "good.safetensors"
    save_file({"W": np.ones((4, 5))}, str(good))
    data = good.read_bytes()
    bad = tmp_path / f"{damage}.safetensors"
    bad.write_bytes({"truncated": data[:len(data) // 2], "garbage": bytes(range(256)) * 3, "empty": b"",
                     "header": data[:60]}[damage])
    with pytest.raises(ValueError, match=rf"path='{bad}': not a readable .safetensors file \(.+\)") as info:
        load_tensor(bad)
    assert "\n" not in str(info.value)
    np.testing.assert_array_equal(load_tensor(good), np.ones((4, 5)))
