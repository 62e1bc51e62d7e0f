"""Weight files (.safetensors, .npz, .npy) and the `model` encoder: loading, orientation, errors."""
import numpy as np
import pytest

from csbench import Cell, make_problem
from csbench.encoders import check_encoder
from csbench.encoders.stored import model_matrix
from csbench.tensors import load_matrix, load_tensor, normalize_atoms, tensor_names

W = np.arange(1.0, 13.0).reshape(3, 4)  # (p, q) = (3, 4)


@pytest.fixture
def files(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"layer.weight": W.astype(np.float32), "layer.bias": np.ones(3, np.float32),
                  "cube": np.ones((2, 2, 2), np.float32)}, str(tmp_path / "m.safetensors"))
    np.savez(tmp_path / "m.npz", W=W, b=np.ones(3))
    np.save(tmp_path / "m.npy", W)
    bad = W.copy()
    bad[1, 2] = np.nan
    st.save_file({"W": bad}, str(tmp_path / "nan.safetensors"))
    return tmp_path


def test_load_every_format_and_orientation(files):
    for f, name in (("m.safetensors", "layer.weight"), ("m.npz", "W"), ("m.npy", None)):
        np.testing.assert_array_equal(load_tensor(files / f, name), W)
        np.testing.assert_array_equal(load_matrix(files / f, name, atoms="rows"), W.T)  # 3 atoms in R^4
        np.testing.assert_array_equal(load_matrix(files / f, name, atoms="columns"), W)  # 4 atoms in R^3
    assert tensor_names(files / "m.safetensors") == ["cube", "layer.bias", "layer.weight"]
    assert tensor_names(files / "m.npy") == []
    assert load_tensor(files / "m.safetensors", "layer.bias").shape == (3,)
    A = load_matrix(files / "m.npz", "W", atoms="columns", normalize="unit")
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, rtol=1e-15)
    np.testing.assert_allclose(A, W / np.linalg.norm(W, axis=0), rtol=1e-15)
    A = normalize_atoms(W.copy(), "mean")  # one factor, mean squared column norm 1
    np.testing.assert_allclose(np.mean(np.sum(A**2, axis=0)), 1.0, rtol=1e-14)
    np.testing.assert_allclose(A * np.sqrt(np.mean(np.sum(W**2, axis=0))), W, rtol=1e-14)


@pytest.mark.parametrize("f, name, exc, msg", [
    ("missing.safetensors", None, ValueError, "missing.safetensors.*no such file"),
    ("m.txt", None, ValueError, "must end in one of"),
    ("m.safetensors", "layer.weigth", ValueError, "'layer.weigth' is not a tensor in .*m.safetensors.*Did you mean 'layer.weight'"),
    ("m.npz", "w", ValueError, "'w' is not a tensor in .*m.npz.*Did you mean 'W'"),
    ("m.safetensors", None, ValueError, "holds tensors .*pass name="),
    ("m.npy", "W", ValueError, "one unnamed array"),
    ("m.safetensors", "cube", ValueError, "'cube' in .*m.safetensors.* must be 2-D, got a 3-D"),
    ("m.npz", "b", ValueError, "must be 2-D, got a 1-D"),
    ("nan.safetensors", "W", ValueError, "nan.safetensors.*1 non-finite value.*index \\(1, 2\\)"),
])
def test_loading_errors(files, f, name, exc, msg):
    (files / "m.txt").write_text("x")
    with pytest.raises(exc, match=msg):
        load_matrix(files / f, name)


def test_missing_safetensors_package(files, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("safetensors"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match="pip install safetensors"):
        tensor_names(files / "nan.safetensors")


def test_model_encoder_from_file(files):
    p = {"path": str(files / "m.safetensors"), "tensor": "layer.weight", "atoms": "columns", "normalize": "none"}
    meas, _ = make_problem(Cell("model", "binary", 4, 2, encoder_params=p), 3, 2, seed=0)
    np.testing.assert_array_equal(meas.A[0], W)
    np.testing.assert_array_equal(meas.A[1], W)  # fixed: no randomness across trials
    p = {"path": str(files / "m.npz"), "tensor": "W", "atoms": "rows"}  # unit atoms (the default)
    A = make_problem(Cell("model", "binary", 3, 1, encoder_params=p), 4, 1, seed=0)[0].A[0]
    np.testing.assert_allclose(A, W.T / np.linalg.norm(W.T, axis=0), rtol=1e-15)
    with pytest.raises(ValueError, match=r"\(m, n\)=\(3, 3\) does not match the fixed 4 x 3.*allowed: m = 4, n = 3"):
        check_encoder("model", 3, 3, p)
    with pytest.raises(ValueError, match="exactly one of dictionary"):
        check_encoder("model", 4, 3, {})
    with pytest.raises(ValueError, match="tensor='WW' is not a tensor.*Did you mean 'W'"):
        check_encoder("model", 4, 3, {**p, "tensor": "WW"})
    with pytest.raises(ValueError, match="atoms='row' is not one of.*Did you mean 'rows'"):
        check_encoder("model", 4, 3, {**p, "atoms": "row"})
    with pytest.raises(ValueError, match="non-finite"):
        check_encoder("model", 4, 3, {"path": str(files / "nan.safetensors"), "tensor": "W"})


def test_file_encoder_reads_safetensors(files):
    p = {"path": str(files / "m.safetensors"), "tensor": "layer.weight"}
    np.testing.assert_array_equal(make_problem(Cell("file", "binary", 4, 1, encoder_params=p), 2, 1, 0)[0].A[0], W[:2])


def test_model_matrix_is_cached_read_only(files):
    A = model_matrix(4, 3, path=files / "m.npz", tensor="W", atoms="rows", normalize="none")
    assert A is model_matrix(4, 3, path=files / "m.npz", tensor="W", atoms="rows", normalize="none")
    assert not A.flags.writeable


def test_model_encoder_in_maximal_k(tmp_path):
    """A fixed dictionary at its own m: an orthonormal one stores every k (censored at k_max = n); with two
    copies of each atom, x_{2i} = 1 alone gives A^T y = 1 on both copies, so the matched filter fails at k = 1."""
    from csbench import maximal_k

    np.save(tmp_path / "eye.npy", np.eye(16))
    r = maximal_k("matched_filter", encoder="model", n=16, m=16, trials=5, n_jobs=1,
                  encoder_params={"path": str(tmp_path / "eye.npy"), "atoms": "columns"})
    assert r.n_censored == 5 and r.k_max == 16
    np.save(tmp_path / "twice.npy", np.repeat(np.eye(8), 2, axis=1))  # (8, 16), columns 2i and 2i+1 equal
    r = maximal_k("matched_filter", encoder="model", n=16, m=8, trials=5, n_jobs=1,
                  encoder_params={"path": str(tmp_path / "twice.npy"), "atoms": "columns"})
    assert r.k_star == 0 and (r.critical == 0).all()
