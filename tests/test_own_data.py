"""Bringing your own matrix or model weights: identity by content, one vocabulary, clear errors."""
import json
import os
import shutil

import numpy as np
import pytest

import csbench
from csbench import Cell
from csbench.cli import main
from csbench.tensors import content_id, load_matrix


@pytest.fixture
def own(tmp_path):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 96)) / np.sqrt(40)
    np.save(tmp_path / "mine.npy", A)
    return tmp_path, A


def test_the_same_npy_under_any_path_gives_identical_results(own, monkeypatch):
    d, A = own
    shutil.copy(d / "mine.npy", d / "renamed.npy")
    monkeypatch.chdir(d)
    results = []
    for p in ["mine.npy", "./mine.npy", str(d / "mine.npy"), "renamed.npy"]:
        r = csbench.minimal_m("omp", "file", n=96, k=3, trials=6, n_jobs=1, encoder_params={"path": p}, m_max=40)
        results.append((r.m_star, tuple(r.critical)))
    assert len(set(results)) == 1
    assert content_id("mine.npy") == content_id(d / "renamed.npy")
    np.save(d / "other.npy", A * 1.0000001)
    assert content_id(d / "other.npy") != content_id("mine.npy")


def test_the_same_safetensors_under_two_paths_gives_identical_k_star(tmp_path, monkeypatch):
    st = pytest.importorskip("safetensors.numpy")
    W = np.random.default_rng(4).standard_normal((120, 48))  # 120 atoms (rows) in R^48
    st.save_file({"w_in": W}, str(tmp_path / "my_model.safetensors"))
    (tmp_path / "sub").mkdir()
    shutil.copy(tmp_path / "my_model.safetensors", tmp_path / "sub" / "copy.safetensors")
    monkeypatch.chdir(tmp_path)
    ks = []
    for p in ["my_model.safetensors", "./my_model.safetensors", str(tmp_path / "my_model.safetensors"),
              "sub/copy.safetensors"]:
        ep = {"path": p, "tensor": "w_in", "atoms": "rows"}
        r = csbench.maximal_k("omp", "model", n=120, m=48, trials=6, n_jobs=1, encoder_params=ep)
        ks.append((r.k_star, tuple(r.critical)))
    assert len(set(ks)) == 1


def test_bfloat16_and_float16_safetensors_are_read_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    W = torch.randn(6, 5)
    st.save_file({"bf": W.to(torch.bfloat16), "h": W.to(torch.float16)}, str(tmp_path / "w.safetensors"))
    bf = load_matrix(tmp_path / "w.safetensors", "bf")
    np.testing.assert_array_equal(bf, W.to(torch.bfloat16).to(torch.float64).numpy())  # exact conversion
    h = load_matrix(tmp_path / "w.safetensors", "h")
    np.testing.assert_array_equal(h, W.to(torch.float16).to(torch.float64).numpy())
    meas, _ = csbench.make_problem(Cell("file", "binary", 5, 1, encoder_params={
        "path": str(tmp_path / "w.safetensors"), "tensor": "bf"}), 6, 1, 0)
    np.testing.assert_array_equal(meas.A[0], bf)


def test_load_matrix_and_the_file_encoder_share_one_orientation(own):
    d, A = own
    np.testing.assert_array_equal(load_matrix(d / "mine.npy"), A)  # the stored matrix is A (atoms = columns)
    meas, _ = csbench.make_problem(Cell("file", "binary", 96, 2, encoder_params={"path": str(d / "mine.npy")}),
                                   40, 1, 0)
    np.testing.assert_array_equal(meas.A[0], load_matrix(d / "mine.npy"))
    rows = csbench.make_problem(Cell("file", "binary", 40, 2, encoder_params={"path": str(d / "mine.npy"),
                                                                              "atoms": "rows"}), 96, 1, 0)[0]
    np.testing.assert_array_equal(rows.A[0], A.T)


def test_a_file_with_fewer_rows_than_m_max_names_m_max(own):
    d, _ = own
    with pytest.raises(ValueError, match=r"m_max=96 \(the default m_max is n\) does not fit encoder='file'.*"
                                         r"allowed: 1 <= m <= 40\. Pass m_max=\.\.\."):
        csbench.minimal_m("lasso", "file", n=96, k=2, trials=2, encoder_params={"path": str(d / "mine.npy")})


def test_unscaled_columns_get_a_warning_that_says_what_to_do(own):
    d, A = own
    np.save(d / "big.npy", A * 30)
    with pytest.warns(UserWarning, match="mean squared norm 9.*normalize='unit'"):
        Cell("file", "binary", 96, 2, encoder_params={"path": str(d / "big.npy")}).validate(40)
    meas, _ = csbench.make_problem(Cell("file", "binary", 96, 2, encoder_params={"path": str(d / "big.npy"),
                                                                                 "normalize": "unit"}), 40, 1, 0)
    np.testing.assert_allclose(np.linalg.norm(meas.A[0], axis=0), 1.0, rtol=1e-12)


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"csbench {csbench.__version__}"
    for cmd in ["demo", "run", "minimal-m", "maximal-k", "status", "export", "report", "list", "compile", "train"]:
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = capsys.readouterr().out
        assert "examples:" in out, cmd
        assert "docs/harness.md" not in out
    with pytest.raises(SystemExit):
        main(["minimal-m", "--help"])
    assert "(default: 1024)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["minimal-m", "--k", "2"])
    assert e.value.code == 2 and "--decoder" in capsys.readouterr().err


def test_status_explains_statuses_other_than_ok(tmp_path, capsys):
    sweep = csbench.Sweep.from_dict({"name": "cap", "n": 64, "k": 8, "m": [24], "trials": 3,
                                     "decoders": [{"name": "amp", "params": {"max_iter": 2}}]})
    csbench.run_sweep(sweep, tmp_path / "r", progress=False)
    assert main(["status", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "trial(s) max_iter: the decoder stopped at its iteration cap" in out and "raise the decoder's max_iter" \
        in out.lower()
    json.dumps({})
    assert os.path.exists(tmp_path / "r")
