"""Greedy decoders: equality with plain-numpy references from the papers, the tie rule, statuses, errors."""
import numpy as np
import pytest
import ref_greedy as R

from csbench.decoders import decode
from csbench.decoders.base import DEPENDENT_ATOMS, DIVERGED, MAX_ITER, NONFINITE, OK
from csbench.decoders.greedy import step_norm

M, N, K = 60, 150, 8


def _problems(T, m=M, n=N, k=K, seed=0, shared=True, noise=0.01):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n) if shared else (T, m, n))
    A /= np.linalg.norm(A, axis=-2, keepdims=True)
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    Y = (X @ A.T if shared else np.einsum("tmn,tn->tm", A, X)) + noise * rng.standard_normal((T, m))
    return A, Y, X


def _refs(A, k):
    return {
        "iht": ({}, lambda a, y: R.iht(a, y, k, 1.0 / np.linalg.norm(a, 2) ** 2)),
        "niht": ({}, lambda a, y: R.niht(a, y, k)),
        "htp": ({}, lambda a, y: R.htp(a, y, k)),
        "cosamp": ({}, lambda a, y: R.cosamp(a, y, k)),
        "subspace_pursuit": ({}, lambda a, y: R.subspace_pursuit(a, y, k)),
        "matching_pursuit": ({"n_steps": 3 * k}, lambda a, y: R.matching_pursuit(a, y, 3 * k)),
        "mp_tol": ({"n_steps": 40, "tol": 0.05}, lambda a, y: R.matching_pursuit(a, y, 40, 0.05)),
        "matching_k": ({"steps": 3}, lambda a, y: R.matching_k(a, y, k, 3)),
        "binary_mp": ({"binary": True}, lambda a, y: R.matching_k(a, y, k, k)),
    }


_NAME = {"mp_tol": "matching_pursuit", "binary_mp": "matching_pursuit"}


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("case", ["iht", "niht", "htp", "cosamp", "subspace_pursuit", "matching_pursuit", "mp_tol",
                                  "matching_k", "binary_mp"])
def test_equals_reference(case, shared):
    A, Y, _ = _problems(5, seed=3 if shared else 4, shared=shared)
    params, ref = _refs(A, K)[case]
    res = decode(_NAME.get(case, case), A, Y, k=K, **params)
    for t in range(len(Y)):
        a = A if shared else A[t]
        x, st, it = ref(a, Y[t])
        np.testing.assert_array_equal(np.flatnonzero(res.X_hat[t]), np.flatnonzero(x))
        np.testing.assert_allclose(res.X_hat[t], x, rtol=0, atol=1e-10)
        assert (res.status[t], res.n_iter[t]) == (st, it)


def test_reference_cases_are_not_trivial():
    """The seeded cases above exercise real iterations and estimate x to about the noise level (0.01)."""
    A, Y, X = _problems(5, seed=3)
    for name, lo in [("niht", 20), ("htp", 3), ("cosamp", 5), ("subspace_pursuit", 2)]:
        res = decode(name, A, Y, k=K)
        assert (res.n_iter >= lo).all() and (res.status == OK).all()
        rel = np.linalg.norm(res.X_hat - X, axis=1) / np.linalg.norm(X, axis=1)
        assert (rel < 0.03).all(), (name, rel)
    res = decode("matching_pursuit", A, Y, k=K, n_steps=40, tol=0.05)
    assert set(res.status) <= {OK, MAX_ITER} and res.n_iter.max() > K


def test_noiseless_exact_recovery():
    A, Y, X = _problems(4, m=80, k=6, seed=5, noise=0.0)
    for name in ["niht", "htp", "cosamp", "subspace_pursuit"]:
        res = decode(name, A, Y, k=6, tol=1e-12) if name != "htp" else decode(name, A, Y, k=6)
        np.testing.assert_allclose(res.X_hat, X, atol=1e-8, err_msg=name)


def test_matching_k_one_step_is_matched_filter_topk():
    A, Y, _ = _problems(6, seed=7)
    a = decode("matching_k", A, Y, k=K, steps=1).X_hat
    b = decode("matched_filter", A, Y, k=K, rule="topk").X_hat
    np.testing.assert_array_equal(a, b)


def _lattice(T, m, n, k, seed):
    rng = np.random.default_rng(seed)
    S = rng.choice([-1.0, 1.0], size=(m, n))
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = 1.0
    return S, X @ S.T, X


@pytest.mark.parametrize("steps", [1, 2, 4, 12])
def test_lattice_ties_lowest_index(steps):
    """+-1 dictionaries, binary x: scores are integers, ties are exact and go to the lowest index."""
    m, n, k = 24, 200, 12
    S, Z, _ = _lattice(6, m, n, k, seed=11)
    A, Y = S / np.sqrt(m), Z / np.sqrt(m)
    res = decode("matching_k", A, Y, k=k, steps=steps)
    n_ties = 0
    for t in range(6):
        x, _st, _it = R.matching_k(S, Z[t], k, steps)  # integer arithmetic: exact scores
        np.testing.assert_array_equal(res.X_hat[t], x)
        c = S.T @ Z[t]
        n_ties += np.sum(c == np.sort(c)[-k]) > 1
    assert n_ties > 0  # the case does contain ties at the top-k boundary
    if steps == 1:  # the matched filter's top-k rule breaks exact ties the same way
        np.testing.assert_array_equal(decode("matched_filter", A, Y, k=k, rule="topk").X_hat, res.X_hat)
    if steps == k:
        np.testing.assert_array_equal(decode("matching_pursuit", A, Y, k=k, binary=True).X_hat, res.X_hat)


def test_duplicate_columns_tie_to_lowest_index():
    """Column 2 duplicates column 9 and x = e_9: every decoder picks index 2 (lowest index among equal scores)."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((20, 30))
    A /= np.linalg.norm(A, axis=0)
    A[:, 2] = A[:, 9]
    y = A[:, 9].copy()
    # CoSaMP merges both copies (2s = 2 atoms) and stops with a dependent least-squares set
    assert decode("cosamp", A, y, k=1).status[0] == DEPENDENT_ATOMS
    for name, kw in [("iht", {}), ("niht", {}), ("htp", {}), ("subspace_pursuit", {}),
                     ("matching_pursuit", {}), ("matching_k", {}), ("matching_pursuit", {"binary": True})]:
        x = decode(name, A, y, k=1, **kw).X_hat[0]
        assert np.flatnonzero(x).tolist() == [2], name
        assert x[2] == pytest.approx(1.0, abs=1e-7), name  # IHT stops at relative change 1e-9


def test_statuses():
    A, Y, _ = _problems(3, seed=2)
    assert (decode("iht", A, Y, k=K, max_iter=2).status == MAX_ITER).all()
    # CoSaMP: the first merged set has 2s = 50 <= m = 60 atoms, the second 3s = 75 > m: dependent
    res = decode("cosamp", A, Y, k=25)
    assert (res.status == DEPENDENT_ATOMS).all() and (res.n_iter == 1).all()
    assert (np.count_nonzero(res.X_hat, axis=1) == 25).all()  # the first iterate is kept
    assert (decode("subspace_pursuit", A, Y, k=40).status == DEPENDENT_ATOMS).all()
    # IHT with a step far too large diverges
    res = decode("iht", A, Y, k=K, step=10.0)
    assert (res.status == DIVERGED).all() and np.isfinite(res.X_hat).all()
    # finite A whose products overflow
    res = decode("niht", A * 1e300, Y * 1e300, k=K)
    assert (res.status == NONFINITE).all() and np.isfinite(res.X_hat).all()
    # MP: n_steps used up above tol -> max_iter, tol reached -> ok
    assert (decode("matching_pursuit", A, Y, k=K, n_steps=2, tol=1e-6).status == MAX_ITER).all()
    assert (decode("matching_pursuit", A, Y, k=K, n_steps=500, tol=0.5).status == OK).all()


def test_batch_independence_and_zero_y():
    A, Y, _ = _problems(4, seed=9)
    Y[2] = 0.0
    for name in ["iht", "niht", "htp", "cosamp", "subspace_pursuit", "matching_pursuit", "matching_k"]:
        full = decode(name, A, Y, k=K)
        one = decode(name, A, Y[1:2], k=K)
        np.testing.assert_array_equal(full.X_hat[1], one.X_hat[0])
        if name != "matching_k":
            assert not full.X_hat[2].any() and full.status[2] == OK


def test_step_norm():
    A, _, _ = _problems(1, seed=0)
    assert step_norm(A, 2) == pytest.approx(1 / np.linalg.svd(A, compute_uv=False)[0] ** 2, rel=1e-14)


@pytest.mark.parametrize("name, kw, msg", [
    ("matching_k", {"steps": 9}, "steps=9 must lie in"),
    ("matching_pursuit", {"binary": True, "tol": 0.1}, "tol"),
    ("iht", {"n_nonzero_coefs": 151}, "n_nonzero_coefs"),
    ("iht", {"step": -1.0}, "step"),
    ("htp", {"step": "auto"}, "step"),
])
def test_bad_inputs(name, kw, msg):
    A, Y, _ = _problems(1)
    with pytest.raises(ValueError, match=msg):
        decode(name, A, Y, k=K, **kw)


def test_needs_k():
    A, Y, _ = _problems(1)
    for name in ["iht", "cosamp", "matching_k", "matching_pursuit"]:
        with pytest.raises(ValueError, match="k"):
            decode(name, A, Y)


@pytest.mark.parametrize("name, kw", [("iht", {}), ("niht", {}), ("htp", {}), ("cosamp", {}),
                                      ("subspace_pursuit", {}), ("matching_pursuit", {"n_steps": 20}),
                                      ("matching_pursuit", {"n_steps": 40, "tol": 0.05}), ("matching_k", {"steps": 3}),
                                      ("matching_pursuit", {"binary": True}), ("cosamp", {"n_nonzero_coefs": 25})])
def test_operator_path_equals_dense(name, kw):
    """DenseOperator (BLAS products, regenerated columns) against the dense kernels: same supports, statuses, n_iter."""
    from csbench.operators import DenseOperator

    A, Y, _ = _problems(4, seed=12)
    dense = decode(name, A, Y, k=K, **kw)
    op = decode(name, DenseOperator(A), Y, k=K, **kw)
    np.testing.assert_array_equal(op.X_hat != 0, dense.X_hat != 0)
    np.testing.assert_allclose(op.X_hat, dense.X_hat, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(op.status, dense.status)
    np.testing.assert_array_equal(op.n_iter, dense.n_iter)


@pytest.mark.parametrize("steps", [1, 3, 10])
def test_operator_lattice_ties(steps):
    """A generated Rademacher operator (lattice_d = m): exact integer scores, the dense path's ties."""
    from csbench.operators import GeneratedOperator

    m, n, k = 16, 300, 10
    op = GeneratedOperator("rademacher", (7, 9), m, n)
    A = op.dense()
    rng = np.random.default_rng(0)
    X = np.zeros((5, n))
    for t in range(5):
        X[t, rng.choice(n, k, replace=False)] = 1.0
    Y = X @ A.T
    np.testing.assert_array_equal(decode("matching_k", op, Y, k=k, steps=steps).X_hat,
                                  decode("matching_k", A, Y, k=k, steps=steps).X_hat)


def test_packed_kernels_against_plain_numpy():
    """Bit-packed +-1 columns: the 64 x 64 bit transpose, the packing of the rademacher master (rows not a
    multiple of 64, columns not a multiple of 128) and the integer correlations S^T z, against numpy."""
    from csbench.kernels import greedy as kg
    from csbench.operators import GeneratedOperator

    rng = np.random.default_rng(3)
    a = rng.integers(0, 2**63, 64, dtype=np.uint64) | (np.uint64(1) << np.uint64(63))
    bits = (a[:, None] >> np.arange(64, dtype=np.uint64)[None, :]) & np.uint64(1)
    b = a.copy()
    kg.transpose64(b)
    np.testing.assert_array_equal((b[:, None] >> np.arange(64, dtype=np.uint64)[None, :]) & np.uint64(1), bits.T)
    for v in (0, 1, 2**64 - 1, 0x8000000000000001, 12345678901234567):
        assert kg.popcount64(np.uint64(v)) == bin(v).count("1")
    for m, n in [(1, 5), (64, 128), (65, 300), (130, 257)]:
        op = GeneratedOperator("rademacher", (123, 456), m, n)
        Z = op.raw_rows(0, m)
        P = np.empty((n, -(-m // 64)), np.uint64)
        kg.rademacher_packed(op.key[0], op.key[1], np.int64(m), P)
        rows = np.arange(m)
        got = (P[:, rows // 64] >> (rows % 64).astype(np.uint64)) & np.uint64(1)  # (n, m)
        np.testing.assert_array_equal(1.0 - 2.0 * got.T, Z)
        z = rng.integers(-9, 12, m)
        c = np.empty(n)
        kg.packed_correlations(P, np.int64(m), z.astype(np.int64), c)
        np.testing.assert_array_equal(c, Z.T @ z)


@pytest.mark.parametrize("m,n,k", [(70, 260, 9), (130, 1000, 12), (9, 200, 6)])
def test_packed_operator_path_equals_dense(m, n, k):
    """Matching-k and binary MP on a rademacher operator (bit-packed columns, popcount updates) give the dense
    path's x and step counts, ties included (m = 9: many exact ties), for several m (partial last word)."""
    from csbench.operators import GeneratedOperator

    op = GeneratedOperator("rademacher", (31, 41), m, n)
    A = op.dense()
    rng = np.random.default_rng(m)
    X = np.zeros((4, n))
    for t in range(4):
        X[t, rng.choice(n, k, replace=False)] = 1.0
    Y = X @ A.T
    for name, p in [("matching_k", {"steps": 1}), ("matching_k", {"steps": 2}), ("matching_k", {"steps": 4}),
                    ("matching_pursuit", {"binary": True})]:
        d, o = decode(name, A, Y, k=k, **p), decode(name, [op] * 4, Y, k=k, **p)
        np.testing.assert_array_equal(o.X_hat, d.X_hat)
        np.testing.assert_array_equal(o.n_iter, d.n_iter)
    c = (A.T @ Y[0]) * m
    assert np.sum(np.rint(c) == np.sort(np.rint(c))[-k]) > 1 or m > 9  # m = 9 has a tie at the top-k boundary
