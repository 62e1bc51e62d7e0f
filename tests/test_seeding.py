"""Seeding: reproducibility, independence of streams, nested designs."""
import numpy as np
import pytest

from csbench import Cell, make_problem
from csbench import seeding


def test_same_seed_same_problems():
    c = Cell("gaussian", "signed", 60, 5)
    a1, t1 = make_problem(c, 20, 4, seed=7)
    a2, t2 = make_problem(c, 20, 4, seed=7)
    np.testing.assert_array_equal(a1.A, a2.A)
    np.testing.assert_array_equal(a1.Y, a2.Y)
    np.testing.assert_array_equal(t1.X, t2.X)
    a3, _ = make_problem(c, 20, 4, seed=8)
    assert not np.array_equal(a1.A, a3.A)


def test_blocks_do_not_change_trials():
    c = Cell("rademacher", "binary", 50, 3, noise=0.1)
    full, tf = make_problem(c, 10, 9, seed=1)
    part, tp = make_problem(c, 10, 4, seed=1, first_trial=5)
    np.testing.assert_array_equal(full.A[5:], part.A)
    np.testing.assert_array_equal(full.Y[5:], part.Y)
    np.testing.assert_array_equal(tf.X[5:], tp.X)


@pytest.mark.parametrize("encoder", ["gaussian", "rademacher"])
def test_nested_design_scaled_prefix(encoder):
    c = Cell(encoder, "binary", 40, 4)
    small, ts = make_problem(c, 12, 3, seed=3)
    big, tb = make_problem(c, 30, 3, seed=3)
    np.testing.assert_array_equal(ts.X, tb.X)  # x does not depend on m
    np.testing.assert_allclose(small.A * np.sqrt(12), big.A[:, :12] * np.sqrt(30), rtol=1e-14, atol=0)


@pytest.mark.parametrize("encoder", ["unit", "antipodal"])
def test_nested_design_normalised_prefix(encoder):
    c = Cell(encoder, "binary", 40, 4)
    small, _ = make_problem(c, 12, 2, seed=3)
    big, _ = make_problem(c, 30, 2, seed=3)
    prefix = big.A[:, :12, :]
    # same directions: the m=12 matrix is the 12-row prefix, each column rescaled to norm 1
    np.testing.assert_allclose(small.A, prefix / np.linalg.norm(prefix, axis=1, keepdims=True), rtol=1e-12)


def test_key_excludes_m_and_fills_defaults():
    c1 = Cell("sparse", "binary", 100, 4)
    c2 = Cell("sparse", "binary", 100, 4, encoder_params={"d": 8})  # 8 is the default
    assert c1.key() == c2.key()
    assert '"m"' not in c1.key()
    assert Cell("sparse", "binary", 100, 5).key() != c1.key()


def test_streams_independent_across_trials_cells_and_streams():
    key = Cell().key()
    draws = [seeding.trial_rng(0, key, t, s).standard_normal(4000)
             for t in range(3) for s in (seeding.MATRIX, seeding.SIGNAL)]
    draws.append(seeding.trial_rng(0, Cell(k=5).key(), 0, seeding.MATRIX).standard_normal(4000))
    C = np.corrcoef(draws)
    off = C[~np.eye(len(draws), dtype=bool)]
    # independent N(0,1) samples of size 4000: |corr| < 4.5 / sqrt(4000) ~ 0.071 (each pair, ~1e-5 false alarm)
    assert np.abs(off).max() < 4.5 / np.sqrt(4000)


def test_bad_seed_and_trial():
    with pytest.raises(ValueError, match="seed"):
        seeding.trial_seed(-1, "x", 0, 0)
    with pytest.raises(TypeError, match="trial"):
        seeding.trial_seed(0, "x", 1.5, 0)
