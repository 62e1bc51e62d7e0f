"""The lasso decoder: exact against scikit-learn, KKT, guards, batching, reference CD, recovery."""
import numba
import numpy as np
import pytest
from sklearn.linear_model import Lasso, lars_path

from csbench import Cell, decode, make_problem, theory
from csbench.decoders.lasso import debias_support, lasso_path
from csbench.kernels.homotopy import chol_delete, homotopy_batch
from ref_lasso import duality_gap, ref_lasso

TIGHT = dict(tol=1e-14, max_iter=100_000)


def homotopy_one(A, y, c, lam, positive, max_steps, G, x, ws_size=0, check_every=8):
    """One trial of :func:`homotopy_batch`; returns (steps, lam_reached). ``c = A^T y`` is unused: the kernel computes it."""
    steps, reached = np.zeros(1, np.int64), np.zeros(1)
    X = x[None]  # a view: the kernel writes the solution into x
    homotopy_batch(np.ascontiguousarray(A)[None], y[None], np.arange(1), np.array([lam]), positive,
                   np.array([max_steps], np.int64), G, X, steps, reached, ws_size, check_every, 0, 1)
    return int(steps[0]), float(reached[0])


@pytest.fixture(scope="module")
def signed():
    return make_problem(Cell(n=120, k=6, signal="signed"), 50, 4, seed=3)


@pytest.fixture(scope="module")
def binary():
    return make_problem(Cell(n=120, k=6, signal="binary"), 50, 4, seed=4)


def sk_lasso(A, y, lam, positive=False):
    m = A.shape[0]
    est = Lasso(alpha=lam / m, fit_intercept=False, tol=1e-14, max_iter=1_000_000, positive=positive)
    return est.fit(A, y).coef_


def lam_of(A, y, ratio, positive=False):
    c = A.T @ y
    return ratio * (max(c.max(), 0.0) if positive else np.abs(c).max())


def rel_err(x, ref):
    return np.abs(x - ref).max() / np.abs(ref).max()


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("ratio", [0.2, 0.01])
def test_equals_sklearn_per_trial_A(signed, binary, positive, ratio):
    meas, _ = binary if positive else signed
    res = decode("lasso", meas.A, meas.Y, lam_ratio=ratio, positive=positive, **TIGHT)
    assert (res.status_names == "ok").all()
    for t in range(len(meas.Y)):
        lam = lam_of(meas.A[t], meas.Y[t], ratio, positive)
        ref = sk_lasso(meas.A[t], meas.Y[t], lam, positive)
        assert rel_err(res.X_hat[t], ref) < 1e-6
        # the same problem given as absolute lam
        one = decode("lasso", meas.A[t], meas.Y[t], lam=lam, positive=positive, **TIGHT).X_hat[0]
        assert rel_err(one, ref) < 1e-6


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("positive", [False, True])
def test_equals_sklearn_shared_A(signed, binary, positive, gram):
    meas, truth = binary if positive else signed
    A = meas.A[0]
    Y = truth.X @ A.T
    res = decode("lasso", A, Y, lam=0.05, positive=positive, gram=gram, **TIGHT)
    for t in range(len(Y)):
        assert rel_err(res.X_hat[t], sk_lasso(A, Y[t], 0.05, positive)) < 1e-6


@pytest.mark.parametrize("positive", [False, True])
def test_kkt(signed, positive):
    meas, _ = signed
    res = decode("lasso", meas.A, meas.Y, lam_ratio=0.03, positive=positive, **TIGHT)
    for t in range(len(meas.Y)):
        A, y, x = meas.A[t], meas.Y[t], res.X_hat[t]
        lam = lam_of(A, y, 0.03, positive)
        g = A.T @ (y - A @ x)
        on = x != 0
        assert on.sum() >= 2
        if positive:
            assert (x >= 0).all()
            assert g.max() <= lam * (1 + 1e-9)
            np.testing.assert_allclose(g[on], lam, rtol=1e-9)
        else:
            assert np.abs(g).max() <= lam * (1 + 1e-9)
            np.testing.assert_allclose(g[on], lam * np.sign(x[on]), rtol=1e-9)


def test_guards(signed):
    meas, _ = signed
    A, y = meas.A[0], meas.Y[0]
    lmax = np.abs(A.T @ y).max()
    for kw in (dict(lam=lmax), dict(lam=2 * lmax), dict(lam_ratio=1.0), dict(lam_ratio=3.0)):
        res = decode("lasso", A, y, **kw)
        assert (res.X_hat == 0).all() and res.n_iter[0] == 0 and res.status_names[0] == "ok"
    # just below lam_max the solution has one nonzero (gap at 0 is (1 - s)^2 ||y||^2 / 2 = 5e-7 P(0) > tol)
    res = decode("lasso", A, y, lam=lmax * 0.999)
    assert (res.X_hat != 0).sum() == 1 and res.n_iter[0] >= 1
    # positive: lam_max = max(A^T y, 0); y = -A e_j has only one positive correlation pattern
    res = decode("lasso", A, np.zeros(50), lam=0.1)
    assert (res.X_hat == 0).all() and res.n_iter[0] == 0 and res.status_names[0] == "ok"
    neg = -A[:, :3] @ np.ones(3)
    c = A.T @ neg
    res = decode("lasso", A, neg, lam=max(c.max(), 0.0) * 1.0001, positive=True)
    assert (res.X_hat == 0).all() and res.n_iter[0] == 0


def test_zero_columns(signed):
    meas, _ = signed
    A = meas.A[0].copy()
    A[:, [5, 17]] = 0.0
    y = meas.Y[0]
    x0 = np.zeros(120)
    x0[5] = 3.0  # a warm start on a zero column is dropped
    res = decode("lasso", A, y, lam=0.02, x0=x0, **TIGHT)
    assert res.X_hat[0, 5] == 0 and res.X_hat[0, 17] == 0
    keep = np.setdiff1d(np.arange(120), [5, 17])
    assert rel_err(res.X_hat[0, keep], sk_lasso(A[:, keep], y, 0.02)) < 1e-6


def test_max_iter_status(signed):
    meas, _ = signed
    res = decode("lasso", meas.A, meas.Y, lam_ratio=0.01, tol=1e-14, max_iter=1)
    assert (res.status_names == "max_iter").all() and (res.n_iter == 1).all()
    assert np.isfinite(res.X_hat).all()


def test_batch_equals_loop_bitwise_any_threads(signed):
    meas, truth = signed
    A, Y = meas.A, meas.Y
    shared_Y = truth.X @ A[0].T
    prev = numba.get_num_threads()
    try:
        outs = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            per = decode("lasso", A, Y, lam_ratio=0.01)
            outs.append(per.X_hat)
            for t in range(len(Y)):
                one = decode("lasso", A[t], Y[t], lam_ratio=0.01)
                np.testing.assert_array_equal(one.X_hat[0], per.X_hat[t])
                assert one.n_iter[0] == per.n_iter[t] and one.status[0] == per.status[t]
            for gram in (False, True):
                sh = decode("lasso", A[0], shared_Y, lam=0.02, gram=gram)
                outs.append(sh.X_hat)
                for t in range(len(Y)):
                    one = decode("lasso", A[0], shared_Y[t], lam=0.02, gram=gram)
                    if gram:  # A^T Y of a batch is one BLAS product: the same to rounding, not bit for bit
                        np.testing.assert_allclose(one.X_hat[0], sh.X_hat[t], rtol=0, atol=1e-12)
                        assert np.array_equal(one.X_hat[0] != 0, sh.X_hat[t] != 0)
                        assert one.n_iter[0] == sh.n_iter[t] and one.status[0] == sh.status[t]
                    else:
                        np.testing.assert_array_equal(one.X_hat[0], sh.X_hat[t])
        for a, b in zip(outs[:3], outs[3:]):  # 1 thread vs 2 threads
            np.testing.assert_array_equal(a, b)
    finally:
        numba.set_num_threads(prev)
    # shared A given as per-trial copies: the same arithmetic, the same bits
    copies = decode("lasso", np.repeat(A[:1], 4, axis=0), shared_Y, lam=0.02, gram=False)
    np.testing.assert_array_equal(copies.X_hat, outs[1])


def test_inputs_not_mutated_and_read_only(signed):
    meas, _ = signed
    A, Y = meas.A.copy(), meas.Y.copy()
    x0 = np.full((4, 120), 0.1)
    A.setflags(write=False)
    Y.setflags(write=False)
    x0.setflags(write=False)
    res = decode("lasso", A, Y, lam_ratio=0.05, x0=x0, debias=True)
    np.testing.assert_array_equal(A, meas.A)
    np.testing.assert_array_equal(Y, meas.Y)
    assert (x0 == 0.1).all()
    assert res.X_hat.flags.writeable and res.X_hat.shape == (4, 120)


@pytest.mark.parametrize("positive", [False, True])
def test_matches_numpy_reference(positive):
    rng = np.random.default_rng(7)
    m, n = 30, 70
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    x = np.zeros(n)
    x[rng.choice(n, 5, replace=False)] = rng.standard_normal(5) + 2.0 * positive
    y = A @ x + 0.05 * rng.standard_normal(m)
    lam = lam_of(A, y, 0.05, positive)
    ref, _ = ref_lasso(A, y, lam, positive, tol=1e-15)
    res = decode("lasso", A, y, lam=lam, positive=positive, **TIGHT)
    assert rel_err(res.X_hat[0], ref) < 1e-8
    # the stopping rule is the documented duality gap: at tol=1e-4 the returned point satisfies it
    loose = decode("lasso", A, y, lam=lam, positive=positive, tol=1e-4)
    assert duality_gap(A, y, loose.X_hat[0], lam, positive) <= 1e-4 * 0.5 * (y @ y)


def test_bad_params(signed):
    meas, _ = signed
    A, Y = meas.A, meas.Y
    cases = [
        (dict(lam=-1.0), ValueError, "lam=-1.0"),
        (dict(lam=0.0), ValueError, "lam=0.0"),
        (dict(lam_ratio=-0.5), ValueError, "lam_ratio=-0.5"),
        (dict(lam=0.1, lam_ratio=0.1), ValueError, "at most one of lam and lam_ratio"),
        (dict(tol=0.0), ValueError, "tol=0.0"),
        (dict(tol=-1e-3), ValueError, "tol=-0.001"),
        (dict(max_iter=0), ValueError, "max_iter=0"),
        (dict(max_iter=2.5), TypeError, "max_iter must be an integer"),
        (dict(x0=np.zeros(7)), ValueError, "x0 must have shape (120,) or (4, 120)"),
        (dict(x0=np.zeros((3, 120))), ValueError, "x0 must have shape"),
        (dict(positive="yes"), TypeError, "positive must be True or False"),
        (dict(debias=1), TypeError, "debias must be True or False"),
        (dict(gram="sometimes"), ValueError, "gram='sometimes'"),
        (dict(gram=True), ValueError, "gram=True needs one matrix A"),
        (dict(lam="big"), TypeError, "lam must be a real number"),
    ]
    for kw, exc, msg in cases:
        with pytest.raises(exc) as info:
            decode("lasso", A, Y, **kw)
        assert msg in str(info.value), (kw, str(info.value))
    with pytest.raises(ValueError, match="allowed"):
        decode("lasso", A, Y, max_iter=0)


def test_warm_start_and_path(signed):
    meas, _ = signed
    A, y = meas.A[0], meas.Y[0]
    lmax = np.abs(A.T @ y).max()
    lams = lmax * np.array([0.5, 0.1, 0.02, 0.005])
    coefs, n_iter, status = lasso_path(A, y, lams, **TIGHT)
    assert coefs.shape == (4, 1, 120) and (status == 0).all()
    for i, lam in enumerate(lams):
        assert rel_err(coefs[i, 0], sk_lasso(A, y, lam)) < 1e-6
    # warm start at the solution: converged after the first gap check, no epoch
    cold = decode("lasso", A, y, lam=lams[2], tol=1e-10)
    warm = decode("lasso", A, y, lam=lams[2], tol=1e-10, x0=coefs[2, 0])
    assert warm.n_iter[0] == 0 < cold.n_iter[0]
    np.testing.assert_array_equal(warm.X_hat[0], coefs[2, 0])
    # positive with a negative warm start: projected onto x >= 0 first
    pos = decode("lasso", A, y, lam=lams[1], positive=True, x0=-np.ones(120), **TIGHT)
    assert rel_err(pos.X_hat[0], sk_lasso(A, y, lams[1], positive=True)) < 1e-6


def test_debias_support_fallback():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 9))
    y = rng.standard_normal(5)
    X = np.zeros((1, 9))
    X[0, [0, 2, 3]] = 1.0  # full column rank: least squares on the support
    out = debias_support(A, y[None], X)
    S = [0, 2, 3]
    np.testing.assert_allclose(out[0, S], np.linalg.solve(A[:, S].T @ A[:, S], A[:, S].T @ y), rtol=1e-10)
    assert (out[0, [1, 4, 5, 6, 7, 8]] == 0).all()
    X[0, :8] = 1.0  # 8 > m = 5 columns: minimum-norm solution
    out = debias_support(A, y[None], X)
    np.testing.assert_allclose(out[0, :8], np.linalg.pinv(A[:, :8]) @ y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("signal,positive", [("signed", False), ("binary", True), ("binary", False)])
def test_small_lam_recovers_exactly_like_basis_pursuit(signal, positive):
    # n = 400, m = 200, k = 10: far above the l1 transition (2 k ln(n/m) ~ 14)
    meas, truth = make_problem(Cell(n=400, k=10, signal=signal), 200, 4, seed=11)
    res = decode("lasso", meas.A, meas.Y, positive=positive, debias=True)  # default lam_ratio = 1e-3
    assert (res.status_names == "ok").all()
    np.testing.assert_allclose(res.X_hat, truth.X, atol=1e-9)
    bp = decode("basis_pursuit", meas.A, meas.Y, nonneg=positive)
    np.testing.assert_allclose(res.X_hat, bp.X_hat, atol=1e-7)
    # without debiasing: the lasso bias is O(lam), the support is exact
    raw = decode("lasso", meas.A, meas.Y, positive=positive)
    np.testing.assert_array_equal(raw.X_hat != 0, truth.X != 0)
    assert np.abs(raw.X_hat - truth.X).max() < 0.01


# ---- near and below the l1 phase transition: the homotopy (LARS-lasso) takes over from CD ----

def lars_lasso(A, y, lam, positive=False):
    """scikit-learn's LARS-lasso path down to lam: (coef at the end, n_iter, lam where the path ended)."""
    m = A.shape[0]
    alphas, _, coefs, n_iter = lars_path(A, y, alpha_min=lam / m, method="lasso", positive=positive,
                                         return_n_iter=True)
    return coefs[:, -1], n_iter, alphas[-1] * m


def assert_kkt(A, y, x, lam, positive, rtol):
    g = A.T @ (y - A @ x)
    on = x != 0
    if positive:
        assert (x >= 0).all() and g.max() <= lam * (1 + rtol)
        np.testing.assert_allclose(g[on], lam, rtol=rtol)
    else:
        assert np.abs(g).max() <= lam * (1 + rtol)
        np.testing.assert_allclose(g[on], lam * np.sign(x[on]), rtol=rtol)


@pytest.fixture(scope="module")
def hard():
    """(n, m) = (1000, 200): l1 weak transition at k ~ 48.7 (signed) and ~ 65.2 (x >= 0)."""
    assert 48 < 200 * theory.rho_weak(0.2) < 50 and 64 < 200 * theory.rho_weak(0.2, nonneg=True) < 66
    return {(k, pos): make_problem(Cell(n=1000, k=k, signal="binary" if pos else "signed"), 200, 3, seed=21)
            for k, pos in ((50, False), (60, False), (75, True))}


@pytest.mark.parametrize("k,positive", [(50, False), (60, False), (75, True)])
def test_near_and_below_transition_equals_lars(hard, k, positive):
    meas, _ = hard[k, positive]
    res = decode("lasso", meas.A, meas.Y, positive=positive)  # defaults: lam_ratio 1e-3, tol 1e-8, max_iter 1e4
    assert (res.status_names == "ok").all()
    assert (res.n_iter < 1000).all()  # CD alone: 1e3 - 1e4+ epochs here
    stopped = 0
    for t in range(3):
        A, y, x = meas.A[t], meas.Y[t], res.X_hat[t]
        lam = lam_of(A, y, 1e-3, positive)
        assert_kkt(A, y, x, lam, positive, rtol=1e-9)
        assert (x != 0).sum() <= 200
        # scikit-learn's path (the oracle) may end off lam, within 2 % (Philox draws: at 0.9962 lam with 199
        # active for k = 60 and 0.9897 lam with 198 active for k = 75, once each; the former PCG64 draws:
        # once, at 1.0069 lam): compare there
        ref, _, lam_end = lars_lasso(A, y, lam, positive)
        off = abs(lam_end / lam - 1) > 1e-12
        assert abs(lam_end / lam - 1) < 0.02
        stopped += off
        if off:
            x = decode("lasso", A, y, lam=lam_end, positive=positive).X_hat[0]
        assert rel_err(x, ref) < 1e-6
    assert stopped <= 1


def test_hard_batch_equals_loop_bitwise_any_threads(hard):
    meas, _ = hard[60, False]
    prev = numba.get_num_threads()
    try:
        outs = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            outs.append(decode("lasso", meas.A, meas.Y))
        one = decode("lasso", meas.A[1], meas.Y[1])
    finally:
        numba.set_num_threads(prev)
    np.testing.assert_array_equal(outs[0].X_hat, outs[1].X_hat)
    np.testing.assert_array_equal(outs[0].n_iter, outs[1].n_iter)
    np.testing.assert_array_equal(one.X_hat[0], outs[0].X_hat[1])
    assert one.n_iter[0] == outs[0].n_iter[1]


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("positive", [False, True])
def test_homotopy_kernel_equals_lars_path(positive, gram):
    # n = 300, m = 60, k = 20: below the transition (m * rho_W(0.2) ~ 14.6 signed, ~ 19.6 x >= 0)
    meas, _ = make_problem(Cell(n=300, k=20, signal="binary" if positive else "signed"), 60, 3, seed=8)
    for t in range(3):
        A, y = meas.A[t], meas.Y[t]
        c = A.T @ y
        G = A.T @ A if gram else np.empty((0, 0))
        lam = lam_of(A, y, 1e-3, positive)
        x = np.full(300, 7.0)  # overwritten
        steps, lam_reached = homotopy_one(A, y, c, lam, positive, 10_000, G, x)
        ref, n_iter, lam_end = lars_lasso(A, y, lam, positive)
        assert lam_end == pytest.approx(lam, rel=1e-12) and lam_reached == lam
        assert steps == n_iter  # the same sequence of kinks
        assert rel_err(x, ref) < 1e-9
        assert_kkt(A, y, x, lam, positive, rtol=1e-10)
        # max_steps: stops after 6 steps at the exact solution of the lam reached
        steps, lam6 = homotopy_one(A, y, c, lam, positive, 6, G, x)
        ref6, n6, lam6_end = lars_lasso(A, y, lam6, positive)
        assert steps == 6 and lam6 > lam and n6 == 6 and lam6_end == pytest.approx(lam6, rel=1e-12)
        assert rel_err(x, ref6) < 1e-9


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("positive", [False, True])
def test_homotopy_working_set_equals_lars_path(positive, gram):
    # working-set mode: a tiny W and rare KKT checks force returns to checkpoints. The solution must be
    # LARS's; with a check after every kink so must the path (between checks the W-path may skip a
    # column that enters and leaves again: measured once below, 88 kinks instead of 90). Gram mode
    # keeps the rows of G restricted to W and checks the KKT conditions from G
    meas, _ = make_problem(Cell(n=300, k=20, signal="binary" if positive else "signed"), 60, 2, seed=9)
    for t in range(2):
        A, y = meas.A[t], meas.Y[t]
        e = A.T @ A if gram else np.empty((0, 0))
        c = A.T @ y
        lam = lam_of(A, y, 1e-3, positive)
        ref, n_iter, lam_end = lars_lasso(A, y, lam, positive)
        assert lam_end == pytest.approx(lam, rel=1e-12)
        for ws_size, check_every in ((1, 1), (3, 5), (30, 16), (2, 10_000)):
            x = np.full(300, 7.0)
            steps, lam_reached = homotopy_one(A, y, c, lam, positive, 10_000, e, x, ws_size, check_every)
            assert lam_reached == lam and (steps == n_iter or check_every > 1)
            assert rel_err(x, ref) < 1e-9
            assert_kkt(A, y, x, lam, positive, rtol=1e-10)
            # max_steps: the state returned is verified, i.e. exact at the lam reached
            steps, lam9 = homotopy_one(A, y, c, lam, positive, 9, e, x, ws_size, check_every)
            ref9, n9, lam9_end = lars_lasso(A, y, lam9, positive)
            assert steps == 9 and lam9 > lam and lam9_end == pytest.approx(lam9, rel=1e-12)
            assert rel_err(x, ref9) < 1e-9 and (n9 == 9 or check_every > 1)


@pytest.mark.parametrize("encoder", ["antipodal", "rademacher"])
def test_homotopy_dependent_columns(encoder):
    # antipodal pairs a_{2i+1} = -a_{2i} tie exactly; +-1/sqrt(m) columns at m = 8 repeat
    meas, _ = make_problem(Cell(n=200, k=12, signal="signed", encoder=encoder), 30, 2, seed=5)
    small, _ = make_problem(Cell(n=64, k=3, signal="signed", encoder=encoder), 8, 2, seed=5)
    e = np.empty((0, 0))
    for A, y in list(zip(meas.A, meas.Y)) + list(zip(small.A, small.Y)):
        for positive in (False, True):
            c = A.T @ y
            lam = lam_of(A, y, 1e-3, positive)
            x = np.empty(A.shape[1])
            _, lam_reached = homotopy_one(A, y, c, lam, positive, 10_000, e, x)
            assert lam_reached == lam
            assert_kkt(A, y, x, lam, positive, rtol=1e-9)

            def obj(v):
                return 0.5 * np.sum((y - A @ v) ** 2) + lam * np.abs(v).sum()
            assert obj(x) <= obj(sk_lasso(A, y, lam, positive)) * (1 + 1e-10)


def test_chol_delete_matches_fresh_factor():
    rng = np.random.default_rng(2)
    B = rng.standard_normal((12, 9))
    G = B.T @ B
    for q in (0, 4, 8):
        R = np.zeros((10, 10))
        R[:9, :9] = np.linalg.cholesky(G).T
        chol_delete(R, 9, q)
        keep = np.delete(np.arange(9), q)
        np.testing.assert_allclose(R[:8, :8], np.linalg.cholesky(G[np.ix_(keep, keep)]).T, rtol=1e-12, atol=1e-12)
        assert (np.tril(R[:8, :8], -1) == 0).all()


def test_nonfinite_A_checked_by_first_pass(signed):
    # decode() leaves A's finiteness to the lasso's pass c = A^T y: the usual error, also for y = 0 (0 * inf = NaN)
    meas, _ = signed
    for bad in (np.nan, np.inf, -np.inf):
        A = meas.A.copy()
        A[2, 7, 11] = bad
        for Y in (meas.Y, np.zeros_like(meas.Y)):
            with pytest.raises(ValueError, match=r"A contains 1 non-finite.*\(2, 7, 11\)"):
                decode("lasso", A, Y)
        with pytest.raises(ValueError, match=r"A contains 1 non-finite.*\(7, 11\)"):
            decode("lasso", A[2], meas.Y)
        assert np.isfinite(meas.A).all()
    # a finite A whose correlations overflow: status nonfinite and x = 0, other trials solved as usual
    A = meas.A.copy()
    A[1] *= 1e300
    Y = meas.Y.copy()
    Y[1] *= 1e300
    res = decode("lasso", A, Y, lam_ratio=0.01, **TIGHT)
    assert list(res.status_names) == ["ok", "nonfinite", "ok", "ok"]
    assert (res.X_hat[1] == 0).all()
    lam = lam_of(meas.A[0], meas.Y[0], 0.01)
    assert rel_err(res.X_hat[0], sk_lasso(meas.A[0], meas.Y[0], lam)) < 1e-6


def test_kth_largest_matches_sort():
    # oracle: numpy's sort; ties and -inf entries (the homotopy's active columns) included
    from csbench.kernels._linalg import kth_largest

    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 50):
        v = rng.integers(-3, 4, n).astype(float)
        v[rng.random(n) < 0.2] = -np.inf
        for q in range(1, n + 1):
            assert kth_largest(v, q, np.empty(q), np.empty(q, np.int64)) == np.sort(v)[::-1][q - 1]
