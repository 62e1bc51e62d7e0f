"""Encoders: shapes, normalisation, structure, file loading, diagnostics."""
import numpy as np
import pytest

from csbench import ENCODERS, Cell, coherence_stats, make_problem
from csbench.encoders import check_encoder

NAMES = ["gaussian", "rademacher", "dct", "unit", "antipodal", "sparse"]


@pytest.mark.parametrize("name", NAMES)
def test_shape_and_isometry_in_expectation(name):
    m, n, T = 32, 64, 600
    meas, truth = make_problem(Cell(name, "binary", n, 6), m, T, seed=11)
    assert meas.A.shape == (T, m, n) and meas.Y.shape == (T, m) and truth.X.shape == (T, n)
    X = truth.X.copy()
    if name == "antipodal":  # keep at most one feature of each antipodal pair
        X[:, 1::2] = 0.0
    ratio = np.linalg.norm(np.einsum("tij,tj->ti", meas.A, X), axis=1) ** 2 / np.maximum((X**2).sum(1), 1)
    ratio = ratio[(X**2).sum(1) > 0]
    se = ratio.std(ddof=1) / np.sqrt(len(ratio))
    # E||Ax||^2 = ||x||^2: the sample mean is within 4 standard errors of 1
    assert abs(ratio.mean() - 1.0) < 4 * se
    assert se < 0.02


def test_column_norms():
    A = make_problem(Cell("rademacher", "binary", 50, 1), 9, 1, 0)[0].A[0]
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, rtol=1e-14)
    for name in ("unit", "antipodal", "sparse"):
        A = make_problem(Cell(name, "binary", 50, 1), 9, 1, 0)[0].A[0]
        np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, rtol=1e-14)
    A = make_problem(Cell("gaussian", "binary", 4000, 1), 50, 1, 0)[0].A[0]
    # ||a_j||^2 ~ chi2_50 / 50: mean 1, sd sqrt(2/50)/sqrt(4000) ~ 0.0032 for the mean of 4000 columns
    assert abs((A**2).sum(0).mean() - 1) < 4 * np.sqrt(2 / 50 / 4000)


def test_gaussian_entries_are_standard_normal():
    # sqrt(m) A: 2e5 entries of N(0, 1) (Philox draws): KS test, variance and the chi2_m column norms
    from scipy import stats

    m, n = 40, 5000
    A = make_problem(Cell("gaussian", "binary", n, 1), m, 1, 3)[0].A[0]
    z = (A * np.sqrt(m)).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / z.size)
    assert stats.kstest(m * (A**2).sum(0), stats.chi2(m).cdf).pvalue > 1e-3


def test_dct_rows_orthogonal_columns_unit_on_average():
    m, n = 24, 128
    A = make_problem(Cell("dct", "binary", n, 1), m, 1, 0)[0].A[0]
    np.testing.assert_allclose(A @ A.T, (n / m) * np.eye(m), rtol=0, atol=1e-12)
    assert (A**2).sum() == pytest.approx(n, rel=1e-12)  # mean squared column norm exactly 1
    assert np.linalg.norm(A, axis=0).std() > 0.05  # ... but not every column (a different ensemble)
    with pytest.raises(ValueError, match="m=200 exceeds n=128"):
        make_problem(Cell("dct", "binary", n, 1), 200, 1, 0)


def test_antipodal_pairs_exact():
    A = make_problem(Cell("antipodal", "binary", 20, 1), 7, 2, 0)[0].A
    np.testing.assert_array_equal(A[:, :, 1::2], -A[:, :, 0::2])
    with pytest.raises(ValueError, match="even"):
        make_problem(Cell("antipodal", "binary", 21, 1), 7, 1, 0)


def test_sparse_structure():
    A = make_problem(Cell("sparse", "binary", 30, 1, encoder_params={"d": 3}), 10, 1, 0)[0].A[0]
    assert (np.count_nonzero(A, axis=0) == 3).all()
    np.testing.assert_allclose(np.abs(A[A != 0]), 1 / np.sqrt(3))
    with pytest.raises(ValueError, match="d=11"):
        make_problem(Cell("sparse", "binary", 30, 1, encoder_params={"d": 11}), 10, 1, 0)


def test_file_encoder(tmp_path):
    M = np.arange(24, dtype=float).reshape(4, 6) + 1
    np.save(tmp_path / "a.npy", M)
    np.savez(tmp_path / "b.npz", W=M, other=M)
    meas, _ = make_problem(Cell("file", "binary", 6, 2, encoder_params={"path": str(tmp_path / "a.npy")}), 3, 2, 0)
    np.testing.assert_array_equal(meas.A[0], M[:3])
    p = {"path": str(tmp_path / "b.npz"), "tensor": "W", "normalize": "unit"}
    A = make_problem(Cell("file", "binary", 6, 2, encoder_params=p), 4, 1, 0)[0].A[0]
    np.testing.assert_allclose(A, M / np.linalg.norm(M, axis=0))
    with pytest.raises(ValueError, match="pass tensor"):
        check_encoder("file", 3, 6, {"path": str(tmp_path / "b.npz")})
    with pytest.raises(ValueError, match="m=5 exceeds the 4 rows.*allowed: 1 <= m <= 4"):
        check_encoder("file", 5, 6, {"path": str(tmp_path / "a.npy")})
    with pytest.raises(ValueError, match="no such file"):
        check_encoder("file", 3, 6, {"path": str(tmp_path / "missing.npy")})


@pytest.mark.parametrize("bad, msg", [
    (np.array([[1.0, np.nan], [0, 1]]), "non-finite"),
    (np.array([[1.0, np.inf], [0, 1]]), "non-finite"),
    (np.ones((2, 2, 2)), "2-D"),
    (np.ones(3), "2-D"),
])
def test_file_encoder_rejects_bad_matrices(tmp_path, bad, msg):
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match=msg):
        check_encoder("file", 1, 2, {"path": str(tmp_path / "bad.npy")})


def test_unknown_encoder_and_param():
    with pytest.raises(ValueError, match="Did you mean 'gaussian'"):
        ENCODERS.get("gausian")
    with pytest.raises(TypeError, match="unexpected parameter 'dd'.*Did you mean 'd'"):
        check_encoder("sparse", 10, 20, {"dd": 2})
    with pytest.raises(ValueError, match="m=0"):
        make_problem(Cell(), 0, 1, 0)


def test_coherence_stats_against_brute_force():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((7, 40))
    s = coherence_stats(A, block=16)
    U = A / np.linalg.norm(A, axis=0)
    G = np.abs(U.T @ U)[np.triu_indices(40, 1)]
    assert s["max_abs_cos"] == pytest.approx(G.max(), rel=1e-12)
    assert s["mean_abs_cos"] == pytest.approx(G.mean(), rel=1e-12)
    assert s["welch_bound"] == pytest.approx(np.sqrt(33 / (7 * 39)), rel=1e-12)
    assert s["welch_bound"] <= s["max_abs_cos"]
    assert s["col_norm_max"] == pytest.approx(np.linalg.norm(A, axis=0).max())
