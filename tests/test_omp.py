"""OMP decoder: exact agreement with scikit-learn, a numpy reference and NNLS; statuses; determinism."""
import warnings

import numba
import numpy as np
import pytest
from scipy.optimize import nnls
from sklearn.linear_model import orthogonal_mp

from csbench.decoders import decode
from csbench.decoders.base import DEPENDENT_ATOMS, MAX_ITER, NONFINITE, OK
from csbench.decoders.omp import omp_solve
from ref_omp import omp_ref

M, N, K = 60, 150, 6


def _problems(T, m=M, n=N, k=K, seed=0, unit=True, noise=0.01, shared=False, nonneg=False):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n) if shared else (T, m, n)) / np.sqrt(m)
    if unit:
        A /= np.linalg.norm(A, axis=-2, keepdims=True)
    X = np.zeros((T, n))
    for t in range(T):
        idx = rng.choice(n, k, replace=False)
        X[t, idx] = rng.uniform(0.5, 1.5, k) * (1 if nonneg else rng.choice([-1, 1], k))
    Y = (X @ A.T if shared else np.einsum("tmn,tn->tm", A, X)) + noise * rng.standard_normal((T, m))
    return A, Y, X


def _sk(A, y, **kw):
    """scikit-learn OMP: coefficients and selection order (from the path)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        path = orthogonal_mp(A, y, return_path=True, **kw)
    path = path.reshape(A.shape[1], -1)
    order, seen = [], set()
    for step in range(path.shape[1]):
        new = set(np.flatnonzero(path[:, step])) - seen
        assert len(new) == 1
        order += list(new)
        seen |= new
    return path[:, -1], order


@pytest.mark.parametrize("stop", ["n_nonzero_coefs", 0.5, 0.004])
def test_equals_sklearn_per_trial(stop):
    A, Y, _ = _problems(12, seed=1)
    T = len(Y)
    if stop != "n_nonzero_coefs":  # tol = 0.5 stops before k atoms, 0.004 after k (noise level 0.006)
        tol = stop
        X, it, st, sel = omp_solve(A, Y, min(M, N), tol=tol)
        kw = {"tol": tol}
    else:
        X, it, st, sel = omp_solve(A, Y, K)
        kw = {"n_nonzero_coefs": K}
    for t in range(T):
        x_sk, order = _sk(A[t], Y[t], **kw)
        assert list(sel[t, : it[t]]) == order
        np.testing.assert_allclose(X[t], x_sk, rtol=0, atol=1e-8)
    assert (st == OK).all()
    if stop != "n_nonzero_coefs":  # the rule bounds the squared residual
        R = Y - np.einsum("tmn,tn->tm", A, X)
        assert (np.sum(R**2, 1) <= tol).all() and len(set(it)) > 1


@pytest.mark.parametrize("gram", [True, False])
def test_equals_sklearn_shared(gram):
    A, Y, _ = _problems(20, seed=2, shared=True)
    X, it, st, sel = omp_solve(A, Y, K, gram=gram)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        X_sk = orthogonal_mp(A, Y.T, n_nonzero_coefs=K, precompute=True).T
    np.testing.assert_allclose(X, X_sk, rtol=0, atol=1e-8)
    for t in range(3):
        assert list(sel[t]) == _sk(A, Y[t], n_nonzero_coefs=K)[1]


def test_non_unit_columns_equal_sklearn_on_normalised_columns():
    # sklearn's rule is argmax |a_j^T r| (unit columns assumed); ours divides by ||a_j||,
    # i.e. sklearn on A D^{-1} with x = D^{-1} z.
    A, Y, _ = _problems(10, seed=3, unit=False)
    rng = np.random.default_rng(30)
    A = A * rng.uniform(0.2, 5.0, (10, 1, N))
    X, it, st, sel = omp_solve(A, Y, K)
    for t in range(10):
        d = np.linalg.norm(A[t], axis=0)
        z, order = _sk(A[t] / d, Y[t], n_nonzero_coefs=K)
        assert list(sel[t]) == order
        np.testing.assert_allclose(X[t], z / d, rtol=0, atol=1e-8)
    # and the raw (unnormalised) rule would have chosen differently somewhere
    raw = [_sk(A[t], Y[t], n_nonzero_coefs=K)[1] for t in range(10)]
    assert any(raw[t] != list(sel[t]) for t in range(10))


def test_kernel_equals_numpy_reference():
    A, Y, _ = _problems(8, seed=4, noise=0.05)
    for positive in (False, True):
        Yp = np.abs(Y) if positive else Y
        for tol in (None, 0.05):
            X, it, st, sel = omp_solve(A, Yp, 10, tol=tol, positive=positive)
            for t in range(8):
                x_ref, S, s_ref = omp_ref(A[t], Yp[t], 10, tol=tol, positive=positive)
                assert list(sel[t, : it[t]]) == S and st[t] == s_ref
                np.testing.assert_allclose(X[t], x_ref, rtol=0, atol=1e-10)


def test_dependent_atoms():
    rng = np.random.default_rng(5)
    m = 8
    a, u, z = rng.standard_normal((3, m))
    # near-duplicate column: numerically dependent (pivot ~ 1e-18 relative)
    A = np.column_stack([a, a + 1e-9 * u])
    y = 2 * a + z
    res = decode("omp", A, y, n_nonzero_coefs=2)
    assert res.status_names[0] == "dependent_atoms" and res.n_iter[0] == 1
    j = int(np.flatnonzero(res.X_hat[0])[0])
    np.testing.assert_allclose(res.X_hat[0, j], A[:, j] @ y / (A[:, j] @ A[:, j]), rtol=1e-12)
    # a column that is (up to 1e-9) a combination of two selected ones
    Q = np.linalg.qr(rng.standard_normal((m, m)))[0]
    e1, e2, e3 = Q[:, 0], Q[:, 1], Q[:, 2]
    A = np.column_stack([e1, e2, 0.6 * e1 - 0.8 * e2 + 1e-9 * e3])
    y = 3 * e1 + 0.5 * e2 + 0.2 * e3
    X, it, st, sel = omp_solve(A, y[None], 3)
    assert st[0] == DEPENDENT_ATOMS and list(sel[0, :2]) == [0, 1] and it[0] == 2
    np.testing.assert_allclose(X[0], [3, 0.5, 0], atol=1e-12)
    # exact duplicate of a selected atom: its correlation is rounding noise (< CORR_FLOOR ||y||),
    # so OMP stops with the least-squares fit on the independent atoms
    b = rng.standard_normal(m)
    A = np.column_stack([a, b, a])
    y = 3 * a + 2 * b + z
    for gram in (True, False):
        X, it, st, sel = omp_solve(A, y[None], 3, gram=gram)
        assert st[0] == OK and it[0] == 2 and np.isfinite(X).all()
        np.testing.assert_allclose(X[0, :2], np.linalg.lstsq(A[:, :2], y, rcond=None)[0], atol=1e-12)
        assert X[0, 2] == 0.0


def test_positive_recovers_and_matches_nnls():
    # nonnegative 8-sparse signals, m = 80, n = 300: far above NNOMP's transition
    A, Y, X0 = _problems(20, m=80, n=300, k=8, seed=6, noise=0.0, nonneg=True)
    res = decode("omp", A, Y, k=8, positive=True)
    assert (res.X_hat >= 0).all() and (res.status == OK).all()
    np.testing.assert_allclose(res.X_hat, X0, atol=1e-10)
    # harder: noise-only targets, many atoms; coefficients of some selected atoms hit 0
    A, _, _ = _problems(10, m=40, n=120, seed=7)
    Y = np.abs(np.random.default_rng(8).standard_normal((10, 40)))
    X, it, st, sel = omp_solve(A, Y, 25, positive=True)
    assert (X >= 0).all()
    dropped = 0
    for t in range(10):
        S = sel[t, : it[t]]
        np.testing.assert_allclose(X[t, S], nnls(A[t][:, S], Y[t])[0], rtol=0, atol=1e-9)
        dropped += int(np.sum(X[t, S] == 0))
    assert dropped > 0  # the active-set (drop) branch was exercised


def _fingerprint(res):
    return res.X_hat.copy(), res.n_iter.copy(), res.status.copy()


@pytest.mark.parametrize("shared", [False, True])
def test_batched_equals_single_calls_bitwise(shared):
    # T (s-1) >= n: a shared batch uses Gram mode (BLAS products), single calls do not: for a shared A
    # they agree to rounding (same supports, n_iter, statuses); per-trial batches are bit-identical
    A, Y, _ = _problems(40, seed=9, shared=shared)
    old = numba.get_num_threads()
    try:
        for positive in (False, True):
            Yp = np.abs(Y) if positive else Y
            outs = []
            for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):  # 2 unless NUMBA_NUM_THREADS=1
                numba.set_num_threads(threads)
                outs.append(_fingerprint(decode("omp", A, Yp, k=K, positive=positive)))
            singles = [decode("omp", A if shared else A[t], Yp[t], k=K, positive=positive) for t in range(40)]
            Xs = np.vstack([s.X_hat for s in singles])
            assert all(np.array_equal(outs[0][0], o[0]) for o in outs)  # any thread count, the same bits
            for X, it, st in outs:
                if shared:
                    np.testing.assert_allclose(X, Xs, rtol=0, atol=1e-12 * np.abs(Xs).max())
                    assert np.array_equal(X != 0, Xs != 0)
                else:
                    assert np.array_equal(X, Xs)
                assert np.array_equal(it, [s.n_iter[0] for s in singles])
                assert np.array_equal(st, [s.status[0] for s in singles])
    finally:
        numba.set_num_threads(old)
    if shared:
        (Xg, ig, sg, selg), (Xp, ip, sp, selp) = omp_solve(A, Y, K, gram=True), omp_solve(A, Y, K, gram=False)
        np.testing.assert_allclose(Xg, Xp, rtol=0, atol=1e-12 * np.abs(Xp).max())
        assert np.array_equal(selg, selp) and np.array_equal(ig, ip) and np.array_equal(sg, sp)


@pytest.mark.parametrize("shared", [False, True])
def test_nonfinite_A_raises_and_overflow_is_flagged(shared):
    # decode() leaves A's finiteness to OMP's first pass: NaN/inf still raise decode()'s error;
    # a finite A whose column norms overflow (1e200^2) gives status nonfinite and x = 0 for the
    # trials that see it, the others are unaffected.
    A, Y, _ = _problems(3, seed=13, shared=shared)
    bad = A.copy()
    bad[(1, 2) if shared else (1, 2, 3)] = np.nan
    with pytest.raises(ValueError, match=r"A contains 1 non-finite"):
        decode("omp", bad, Y, k=K)
    if not shared:
        big = A.copy()
        big[1, 0, 7] = 1e200
        res, ok = decode("omp", big, Y, k=K), decode("omp", A, Y, k=K)
        assert list(res.status) == [OK, NONFINITE, OK] and list(res.n_iter) == [K, 0, K]
        assert not res.X_hat[1].any()
        np.testing.assert_array_equal(res.X_hat[[0, 2]], ok.X_hat[[0, 2]])


def test_inputs_not_mutated_and_read_only_accepted():
    A, Y, _ = _problems(5, seed=10)
    A0, Y0 = A.copy(), Y.copy()
    A.flags.writeable = False
    Y.flags.writeable = False
    res = decode("omp", A, Y, k=K)
    assert np.array_equal(A, A0) and np.array_equal(Y, Y0)
    np.testing.assert_array_equal(res.X_hat, omp_solve(A0, Y0, K)[0])


def test_stopping_rules_and_trivial_cases():
    A, Y, _ = _problems(3, seed=11)
    # y = 0 and ||y||^2 <= tol: no atom (scikit-learn would take one)
    res = decode("omp", A, np.zeros((3, M)), k=K)
    assert (res.X_hat == 0).all() and (res.n_iter == 0).all() and (res.status == OK).all()
    res = decode("omp", A, Y, tol=1.001 * float(np.max(np.sum(Y**2, 1))))
    assert (res.n_iter == 0).all()
    # k = 0: nothing to select
    assert (decode("omp", A, Y, k=0).X_hat == 0).all()
    # tol not reachable within n_nonzero_coefs atoms -> max_iter; default s_max is min(k, m)
    res = decode("omp", A, Y, n_nonzero_coefs=2, tol=1e-12)
    assert (res.status == MAX_ITER).all() and (res.n_iter == 2).all()
    assert (decode("omp", A[:, :5], Y[:, :5], k=20).n_iter == 5).all()
    # exact k-sparse y: the residual vanishes (to rounding) and OMP stops early
    A2, Y2, X2 = _problems(3, seed=12, noise=0.0)
    res = decode("omp", A2, Y2, n_nonzero_coefs=20)
    assert (res.status == OK).all() and (res.n_iter == K).all()
    np.testing.assert_allclose(res.X_hat, X2, atol=1e-12)


@pytest.mark.parametrize("params, exc, msg", [
    ({"n_nonzero_coefs": 0}, ValueError, "n_nonzero_coefs=0"),
    ({"n_nonzero_coefs": N + 1}, ValueError, f"1 <= n_nonzero_coefs <= {N}"),  # above m: capped
    ({"n_nonzero_coefs": 2.5}, TypeError, "n_nonzero_coefs must be an integer"),
    ({"tol": -1.0}, ValueError, "tol=-1.0"),
    ({"positive": "yes"}, TypeError, "positive must be True or False"),
    ({"gram": "always"}, ValueError, "gram='always'"),
])
def test_bad_params(params, exc, msg):
    A, Y, _ = _problems(2, seed=13)
    with pytest.raises(exc, match=msg.replace("[", r"\[").replace("(", r"\(")):
        decode("omp", A, Y, k=K, **params)


def test_bad_params_need_stopping_rule_and_shapes():
    A, Y, _ = _problems(2, seed=14)
    with pytest.raises(ValueError, match="needs a stopping rule"):
        decode("omp", A, Y)
    with pytest.raises(ValueError, match=f"n_nonzero_coefs <= {N - 100}"):  # n < m: bound is n
        decode("omp", A[:, :, : N - 100].repeat(3, axis=1), np.tile(Y, 3), n_nonzero_coefs=N - 99)
    with pytest.raises(ValueError, match="gram=True needs one matrix"):
        decode("omp", A, Y, k=K, gram=True)


def test_chol_append_builds_the_factor_and_rejects_dependent_columns():
    # oracle: numpy's Cholesky factor of the same Gram matrix (R upper, R^T R = G)
    from csbench.kernels._linalg import back_solve, chol_append, forward_solve

    rng = np.random.default_rng(4)
    B = rng.standard_normal((15, 8))
    B[:, 7] = B[:, 2] - 0.5 * B[:, 5]  # column 7 lies in the span of 2 and 5
    G = B.T @ B
    R = np.full((8, 8), np.nan)
    for s in range(7):
        w = G[:s, s].copy()
        assert chol_append(R, s, w, G[s, s], 1e-10)
    np.testing.assert_allclose(np.triu(R[:7, :7]), np.linalg.cholesky(G[:7, :7]).T, rtol=1e-12, atol=1e-12)
    assert np.isnan(R[np.tril_indices(7, -1)]).all()  # nothing written below the diagonal
    before = R.copy()
    w = G[:7, 7].copy()
    assert not chol_append(R, 7, w, G[7, 7], 1e-10)  # pivot ~1e-15 relative: dependent
    np.testing.assert_array_equal(R, before)
    assert not chol_append(R, 1, np.array([np.nan]), 1.0, 1e-10)  # a NaN pivot is never accepted
    z = G[:7, 0] + 2 * G[:7, 3]  # R^T R z = G_S (e_0 + 2 e_3): two triangular solves give e_0 + 2 e_3
    forward_solve(R, 7, z)
    back_solve(R, 7, z)
    np.testing.assert_allclose(z, np.eye(7)[0] + 2 * np.eye(7)[3], rtol=0, atol=1e-12)


def test_n_nonzero_coefs_capped_at_m_checked_against_n():
    # more atoms than rows: capped at m (as the default k is), identical to asking for m atoms;
    # a minimal-m search can then start below n_nonzero_coefs instead of failing in every trial
    from csbench import minimal_m

    rng = np.random.default_rng(4)
    A = rng.standard_normal((5, 40)) / np.sqrt(5)
    Y = rng.standard_normal((3, 5))
    capped = decode("omp", A, Y, n_nonzero_coefs=10)
    exact = decode("omp", A, Y, n_nonzero_coefs=5)
    assert np.array_equal(capped.X_hat, exact.X_hat) and capped.n_iter.max() <= 5
    with pytest.raises(ValueError, match="n_nonzero_coefs=41 is out of range; allowed: 1 <= n_nonzero_coefs <= 40"):
        decode("omp", A, Y, n_nonzero_coefs=41)
    res = minimal_m("omp", n=64, k=2, trials=6, seed=1, n_nonzero_coefs=10)
    assert res.censored_reason == "" and np.isfinite(res.m_star) and 2 <= res.m_star <= 30
    assert np.all(np.isfinite(res.critical))
