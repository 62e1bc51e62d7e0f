"""Bad inputs get a clear error naming the parameter (issue 10, items 11 and 12)."""
import tracemalloc

import numpy as np
import pytest

from csbench import Cell, decode, make_problem, minimal_m
from csbench import encoders
from csbench._validate import check_float
from csbench.encoders.stored import from_file, stored_matrix as load_matrix

A = np.random.default_rng(0).standard_normal((5, 10))
Y = np.ones(5)


def test_scipy_sparse_A_says_toarray():
    sp = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"A is a scipy.sparse csr_matrix of shape \(5, 10\).*A.toarray\(\)"):
        decode("lasso", sp.csr_matrix(A), Y)


@pytest.mark.parametrize("name, params, msg", [
    ("amp", {"threshold": np.inf}, r"threshold=inf is out of range; allowed: finite values in \[0.0, inf\)\."),
    ("lasso", {"lam": np.inf}, r"lam=inf is out of range; allowed: finite values in \(0.0, inf\)\."),
    ("lasso", {"lam": -np.inf}, r"lam=-inf is out of range; allowed: finite values in \(0.0, inf\)\."),
    ("matched_filter", {"threshold": -np.inf}, r"threshold=-inf is out of range; allowed: any finite real\."),
])
def test_infinite_parameters_message_has_open_bounds(name, params, msg):
    with pytest.raises(ValueError, match=msg):
        decode(name, A, Y, **params)


def test_range_wording():
    with pytest.raises(ValueError, match=r"allowed: finite values in \[0.0, 1.0\)\."):
        check_float("d", 1.0, low=0.0, high=1.0, high_open=True)
    with pytest.raises(ValueError, match=r"allowed: finite values in \(-inf, 2\]\."):
        check_float("d", np.nan, high=2)


@pytest.mark.parametrize("name, key, value", [("basis_pursuit", "nonneg", "yes"),
                                              ("matched_filter", "normalize", "no"),
                                              ("relu_readout", "normalize", "no")])
def test_string_flags_are_not_truthy(name, key, value):
    with pytest.raises(TypeError, match=f"{key} must be True or False, got '{value}'"):
        decode(name, A, Y, **{key: value})


def test_make_problem_of_a_dict():
    with pytest.raises(TypeError, match=r"cell must be a csbench.Cell.*got dict \(use Cell\(\*\*d\)\)"):
        make_problem({"n": 10, "k": 2}, 5, 2, 0)


def test_minimal_m_k0_names_k():
    with pytest.raises(ValueError, match=r"k=0 is out of range; allowed: 1 <= k <= 64"):
        minimal_m("matched_filter", n=64, k=0, trials=2)


@pytest.mark.parametrize("kw, msg", [({"k": -1, "n": 0}, "n=0 is out of range"),
                                     ({"k": -1, "n": 10}, "k=-1 is out of range; allowed: 0 <= k <= 10"),
                                     ({"encoder": "gausian"}, "Did you mean 'gaussian'")])
def test_cell_validates_at_construction(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Cell(**kw)


def test_file_encoder_bad_files_name_the_path(tmp_path):
    good = np.arange(12.0).reshape(3, 4)
    np.save(tmp_path / "a.npy", good)
    raw = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(raw[:-20])
    (tmp_path / "text.npy").write_text("1 2 3\n4 5 6\n")
    (tmp_path / "text.npz").write_text("1 2 3\n")
    for name in ["trunc.npy", "text.npy", "text.npz"]:
        p = str(tmp_path / name)
        with pytest.raises(ValueError, match=f"path={p!r}: not a readable numpy matrix file"):
            load_matrix(p)
    np.save(tmp_path / "c.npy", good.astype(complex))
    with pytest.raises(TypeError, match="must hold real numbers, got dtype complex128"):
        load_matrix(tmp_path / "c.npy")
    bad = good.copy()
    bad[1, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.testing.assert_array_equal(from_file(None, 1, 4, path=tmp_path / "nan.npy"), good[:1])  # rows used only
    with pytest.raises(ValueError, match=r"non-finite.*first at index \(1, 2\)"):
        from_file(None, 2, 4, path=tmp_path / "nan.npy")


def test_file_encoder_maps_and_reads_only_needed_rows(tmp_path):
    big = np.random.default_rng(1).standard_normal((2000, 1000))  # 16 MB on disk
    np.save(tmp_path / "big.npy", big)
    del big
    tracemalloc.start()
    M = load_matrix(tmp_path / "big.npy")
    A = from_file(None, 10, 1000, path=tmp_path / "big.npy")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(M, np.memmap) and M.shape == (2000, 1000)
    assert peak < 1_000_000, peak  # 10 rows are 80 kB; reading the whole matrix would be 16 MB
    np.testing.assert_array_equal(A, np.load(tmp_path / "big.npy")[:10])
    assert not hasattr(encoders.stored, "_load_matrix")  # no cache of whole matrices
