"""Shared-dictionary paths (one A, many signals) against the per-trial paths on the same seeded problems.

OMP and the lasso in Gram mode take ``G = A^T A`` and ``A^T Y`` from BLAS-3 products; AMP stacks its
running trials into two matrix products per iteration. Each must give the per-trial path's result to
1e-10 with the same supports, iteration counts and statuses (issue 19). The per-trial paths are
themselves checked against scikit-learn and numpy references (test_omp, test_lasso, test_amp).
"""
import numba
import numpy as np
import pytest
from ref_amp import ref_amp

from csbench.decoders import decode
from csbench.theory import minimax_threshold

M, N, K, T = 60, 200, 6, 48


def _problem(seed, m=M, n=N, k=K, trials=T, signal="gauss", unit=True):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    if unit:
        A /= np.linalg.norm(A, axis=0)
    X = np.zeros((trials, n))
    for t in range(trials):
        S = rng.choice(n, k, replace=False)
        X[t, S] = rng.choice([-1.0, 1.0], k) if signal == "signed" else rng.standard_normal(k)
    return A, X @ A.T, X


def _same(fast, slow, support_tol=0.0, rows=slice(None)):
    """Values to 1e-10 (relative to the largest entry) and supports on ``rows``; n_iter and statuses everywhere."""
    scale = max(np.abs(slow.X_hat).max(), 1.0)
    np.testing.assert_allclose(fast.X_hat[rows], slow.X_hat[rows], rtol=0, atol=1e-10 * scale)
    thr = support_tol * scale
    assert np.array_equal(np.abs(fast.X_hat[rows]) > thr, np.abs(slow.X_hat[rows]) > thr)
    assert np.array_equal(fast.n_iter, slow.n_iter)
    assert np.array_equal(fast.status, slow.status)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("tol", [None, 1e-3])
def test_omp_gram_equals_per_trial(positive, tol):
    A, Y, _ = _problem(1, k=8)
    if positive:
        Y = np.abs(Y)
    kw = dict(k=8, positive=positive, tol=tol)
    if tol is not None:
        kw["n_nonzero_coefs"] = 12
    fast = decode("omp", A, Y, gram=True, **kw)
    slow = decode("omp", A, Y, gram=False, **kw)
    copies = decode("omp", np.repeat(A[None], T, axis=0), Y, **kw)  # the per-trial kernel on per-trial A
    np.testing.assert_array_equal(slow.X_hat, copies.X_hat)
    _same(fast, slow)
    assert (fast.n_iter > 0).all()
    if tol is not None:  # the residual is formed and decides: k-sparse y stop before the cap, |y| do not
        assert (fast.n_iter < 12).all() if not positive else (fast.status == 1).all()


@pytest.mark.parametrize("kw", [dict(lam_ratio=0.01), dict(lam=0.05, positive=True), dict(lam_ratio=1e-3)])
def test_lasso_gram_equals_per_trial(kw):
    # lam_ratio = 1e-3 at k = 20 of m = 60 hands some trials to the homotopy (n_iter > SWITCH_EPOCHS or
    # a large support): both kernels run with G
    hard = kw.get("lam_ratio") == 1e-3
    A, Y, _ = _problem(2, k=20 if hard else K, signal="signed")
    fast = decode("lasso", A, Y, gram=True, tol=1e-10, **kw)
    slow = decode("lasso", A, Y, gram=False, tol=1e-10, **kw)
    assert (fast.status == 0).all()
    if not hard:
        _same(fast, slow)
        return
    # near the transition the epoch count of CD on an ill-conditioned working set is sensitive to
    # rounding: measured 47 of 48 trials with identical counts (95 vs 93 on the other); solutions,
    # supports and statuses agree
    assert (fast.n_iter > 100).sum() > 5  # trials went through the homotopy
    fast.n_iter[:] = slow.n_iter
    _same(fast, slow)


AMP_CASES = [dict(), dict(damping=0.2), dict(nonneg=True), dict(denoiser="bayes_binary"), dict(max_iter=60)]


@pytest.mark.parametrize("kw", AMP_CASES)
def test_amp_gemm_equals_per_trial(kw):
    signal = "binary" if kw.get("denoiser") else "signed"
    A, Y, X = _problem(3, m=100, n=250, k=10, signal=signal, unit=False)
    if kw.get("nonneg") or signal == "binary":
        Y = np.abs(X) @ A.T
    Y[5] = 0.0  # y = 0: x = 0, n_iter 0, status ok at once in both paths
    fast = decode("amp", A, Y, k=10, gemm=True, **kw)
    slow = decode("amp", A, Y, k=10, gemm=False, **kw)
    # soft thresholding leaves entries at rounding level (|x_j| ~ 1e-17) whose sign of |r| - theta
    # rounding decides: supports are compared above 1e-12 max|x|. Trials that never converge (Bayes
    # AMP oscillating until max_iter = 1000) amplify rounding (measured 8e-14 after 10 iterations,
    # 5e-12 after 40, O(1) after 1000): their values are compared up to the cap of 60 only.
    rows = (slow.status == 0) if kw.get("max_iter") is None else slice(None)
    _same(fast, slow, support_tol=1e-12, rows=rows)
    assert fast.n_iter[5] == 0 and fast.status[5] == 0 and not fast.X_hat[5].any()
    assert len(np.unique(fast.n_iter)) > 3  # trials leave the stack at many different iterations
    if kw.get("max_iter") == 60:  # a mix: trials stop at different iterations, others hit the cap
        assert 0 < (fast.status == 1).sum() < T - 5


def test_amp_gemm_matches_numpy_reference_and_divergence():
    # an independent oracle (plain numpy, one trial at a time) for the stacked path
    A, Y, _ = _problem(4, m=100, n=250, k=10, signal="signed", unit=False)
    fast = decode("amp", A, Y, k=10, gemm=True)
    tau = minimax_threshold(100 / 250)
    for t in range(0, T, 7):
        x, it, st = ref_amp(A, Y[t], tau=tau)
        np.testing.assert_allclose(fast.X_hat[t], x, rtol=0, atol=1e-9)
        assert (fast.n_iter[t], fast.status[t]) == (it, st)
    # a matrix AMP is not made for (non-zero mean): trials diverge, each at its own iteration, and keep
    # their last finite iterate; the stacked path reports the same
    rng = np.random.default_rng(5)
    B = rng.standard_normal((100, 250)) / 10 + 0.3
    Yb = Y @ np.linalg.pinv(A).T @ B.T
    fast, slow = decode("amp", B, Yb, k=10, gemm=True), decode("amp", B, Yb, k=10, gemm=False)
    assert (slow.status == 2).sum() > T // 2
    np.testing.assert_array_equal(fast.status, slow.status)
    np.testing.assert_array_equal(fast.n_iter, slow.n_iter)
    np.testing.assert_allclose(fast.X_hat, slow.X_hat, rtol=0, atol=1e-10 * np.abs(slow.X_hat).max())


def test_gemm_and_gram_paths_do_not_depend_on_threads(monkeypatch):
    import csbench.decoders.amp as amp_mod

    monkeypatch.setattr(amp_mod, "GEMM_BLOCK_ENTRIES", 250 * 16)  # blocks of 16 trials: 3 blocks, 2 threads
    A, Y, _ = _problem(6, m=100, n=250, k=10, signal="signed", unit=False)
    old = numba.get_num_threads()
    try:
        outs = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            outs.append([decode("amp", A, Y, k=10, gemm=True).X_hat, decode("omp", A, Y, k=10, gram=True).X_hat,
                         decode("lasso", A, Y, lam_ratio=0.01, gram=True).X_hat])
    finally:
        numba.set_num_threads(old)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    slow = decode("amp", A, Y, k=10, gemm=False)
    np.testing.assert_allclose(outs[0][0], slow.X_hat, rtol=0, atol=1e-10 * np.abs(slow.X_hat).max())


def test_gemm_switch_is_checked():
    A, Y, _ = _problem(7, trials=3)
    with pytest.raises(ValueError, match="gemm=True needs one matrix A"):
        decode("amp", np.repeat(A[None], 3, axis=0), Y, k=K, gemm=True)
    with pytest.raises(ValueError, match="gemm='always'"):
        decode("amp", A, Y, k=K, gemm="always")


@pytest.mark.parametrize("name, kw, support_tol", [
    ("omp", dict(gram=True), 0.0), ("omp", dict(gram=False), 0.0),
    ("lasso", dict(lam_ratio=0.01, gram=True), 0.0), ("lasso", dict(lam_ratio=0.01, gram=False), 0.0),
    ("amp", dict(gemm=True), 1e-3), ("amp", dict(gemm=False), 1e-3)])
def test_float32_same_supports_as_float64(name, kw, support_tol):
    # well conditioned: unit-norm Gaussian columns, k = 6 of m = 60 (far above every transition), x = +-1
    # (a Gaussian x has entries below float32 resolution: OMP then stops one atom early in float32,
    # by design, CORR_FLOOR32)
    A, Y, X = _problem(8, signal="signed")
    r64 = decode(name, A, Y, k=K, **kw)
    r32 = decode(name, A, Y, k=K, dtype="float32", **kw)
    assert r32.X_hat.dtype == np.float32 and r64.X_hat.dtype == np.float64
    assert (r32.status == 0).all() and ((r64.status == 0).all() or name == "amp")
    s64 = np.abs(r64.X_hat) > support_tol * np.abs(r64.X_hat).max(1, keepdims=True)
    s32 = np.abs(r32.X_hat) > support_tol * np.abs(r32.X_hat).max(1, keepdims=True)
    assert np.array_equal(s64, s32)
    # float32 rounding of A, Y and of the Gram data: x agrees to ~1e-6 (AMP stops at its float32
    # tolerance TOL32 = 1e-5 instead of 1e-9: ~1e-4)
    np.testing.assert_allclose(r32.X_hat, r64.X_hat, rtol=0, atol=(5e-4 if name == "amp" else 2e-5))


def test_float32_inputs_of_omp_solve_and_dtype_check():
    from csbench.decoders.omp import omp_solve

    A, Y, _ = _problem(9)
    X32, it32, st32, sel32 = omp_solve(A.astype(np.float32), Y.astype(np.float32), K, gram=True)
    X64, it64, st64, sel64 = omp_solve(A, Y, K, gram=True)
    assert X32.dtype == np.float32 and np.array_equal(sel32, sel64) and np.array_equal(st32, st64)
    with pytest.raises(ValueError, match=r"dtype='float16' is not one of \['float64', 'float32'\]"):
        decode("omp", A, Y, k=K, dtype="float16")
    assert decode("lasso", A, Y, dtype=np.float32).X_hat.dtype == np.float32  # numpy dtypes accepted


def test_float32_omp_selections_at_a_larger_size():
    # OMP's float32 Gram mode updates its correlations in float32 (csbench.kernels.omp): the same atoms in
    # the same order as float64 on a seeded well-conditioned batch (n = 1024, m = 192, k = 16, x = +-1),
    # every status ok, and the selections are those of the true supports
    from csbench.decoders.omp import omp_solve

    A, Y, X = _problem(21, m=192, n=1024, k=16, trials=40, signal="signed")
    _, it64, st64, sel64 = omp_solve(A, Y, 16, gram=True)
    X32, it32, st32, sel32 = omp_solve(A.astype(np.float32), Y.astype(np.float32), 16, gram=True)
    assert np.array_equal(sel32, sel64) and np.array_equal(it32, it64) and (st32 == 0).all() and (st64 == 0).all()
    assert np.array_equal(np.sort(sel32, axis=1), np.sort(np.nonzero(X)[1].reshape(40, 16), axis=1))
    np.testing.assert_allclose(X32, X, rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("code, damping", [(0, 0.0), (0, 0.3), (1, 0.0), (1, 0.3), (2, 0.2)])
def test_stacked_denoising_equals_the_per_trial_step_bitwise(dtype, code, damping):
    # the stacked path's denoiser (branch-free soft thresholds, norms in a second pass) gives the bits of
    # the per-trial kernel's step (_denoise_step) on every row, NaN and ties at the threshold included
    import csbench.kernels.amp as ka

    rng = np.random.default_rng(5)
    rows, n, m = 6, 257, 70
    R = rng.standard_normal((rows, n)).astype(dtype)
    X = (rng.standard_normal((rows, n)) * (rng.random((rows, n)) < 0.3)).astype(dtype)
    Z = rng.standard_normal((rows, m)).astype(dtype)
    theta = 1.3 * np.sqrt((Z[0].astype(np.float64) ** 2).sum() / m)
    R[0, :4], X[0, :4] = np.array([np.nan, 0.0, 0.0, 0.0], dtype), 0.0
    R[0, 1], R[0, 2] = theta, -theta  # exactly at the threshold (float64 rows)
    Xn, stats = np.empty_like(X), np.empty((3, rows))
    ka.gemm_denoise(R.copy(), X, Z, Xn, *stats, code, 1.3, -2.0, damping, np.empty(n, np.int64))
    for t in range(rows):
        r, xn = (R[t] + X[t]).astype(dtype), np.empty(n, dtype)
        _, dsum, dx2, xn2 = ka._denoise_step(r, Z[t], 1.3, -2.0, code, damping, X[t], xn, np.empty(n, np.int64))
        assert np.array_equal(xn, Xn[t], equal_nan=True)
        assert np.array_equal([dsum, dx2, xn2], stats[:, t], equal_nan=True)


def test_dense_only_parameters_on_operators():
    # matrix-free paths compute in float64: dtype="float32" returns their X_hat as float32 (the rule of
    # csbench.decoders.precision); gemm=True has no operator meaning and raises
    from csbench import Cell, make_problem

    meas, _ = make_problem(Cell(encoder="gaussian", n=60, k=3), 30, 2, seed=0, memory_budget=1)
    for name in ("amp", "omp", "lasso"):
        r64 = decode(name, meas.A, meas.Y, k=3)
        r32 = decode(name, meas.A, meas.Y, k=3, dtype="float32")
        assert r32.X_hat.dtype == np.float32
        np.testing.assert_array_equal(r32.X_hat, r64.X_hat.astype(np.float32))
    with pytest.raises(ValueError, match="gemm=True needs one dense matrix A"):
        decode("amp", meas.A, meas.Y, k=3, gemm=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_matrix_by_panels(monkeypatch, dtype):
    # above GRAM_SYRK_MAX_N, G = A^T A is formed by gemm row panels (numpy's OpenBLAS segfaults in threaded
    # dsyrk at n >= 15360, docs/benchmarks.md): the same entries to rounding, exactly symmetric, A's dtype;
    # OMP and the lasso in Gram mode then give the per-trial results as before
    from csbench.decoders import precision

    monkeypatch.setattr(precision, "GRAM_SYRK_MAX_N", 64)
    monkeypatch.setattr(precision, "GRAM_PANEL", 48)  # 200 = 4 panels of 48 and one of 8
    A, Y, _ = _problem(4)
    A32 = A.astype(dtype)
    G = precision.gram_matrix(A32)
    ref = A32.astype(np.float64).T @ A32.astype(np.float64)
    assert G.dtype == dtype and G.shape == (N, N)
    assert np.array_equal(G, G.T)
    eps = np.finfo(dtype).eps
    assert np.abs(G - ref).max() <= 8 * M * eps * np.abs(ref).max()
    for name, kw in (("omp", dict(k=K)), ("lasso", dict(lam_ratio=0.01, tol=1e-10))):
        _same(decode(name, A, Y, gram=True, **kw), decode(name, A, Y, gram=False, **kw))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_omp_gram_nonfinite_products_flagged_like_per_trial(dtype):
    # Gram mode checks ||a_j||^2 once per batch and A^T y per trial (csbench.kernels.omp._batch_norms,
    # _all_finite): an overflowing A^T y flags its own trial only, an overflowing column norm every trial
    # (status nonfinite, x = 0, n_iter 0), as the float64 per-trial path does (in float32 the per-trial
    # path computes in float64, where these products do not overflow)
    from csbench.statuses import NONFINITE, OK

    A, Y, _ = _problem(5, trials=4)
    big = 1e300 if dtype == "float64" else 1e36
    A1, Y1 = A.copy(), Y.copy()
    A1[:, 3] *= big ** 0.25  # ||a_3||^2 = big^0.5: finite; y . a_3 overflows for the trial with y = big
    Y1[2] = big
    A2 = A.copy()
    A2[:, 5] *= big ** 0.6  # ||a_5||^2 overflows
    for Ab, Yb, want in ((A1, Y1, [OK, OK, NONFINITE, OK]), (A2, Y, [NONFINITE] * 4)):
        Ab, Yb = Ab.astype(dtype), Yb.astype(dtype)
        fast = decode("omp", Ab, Yb, k=K, gram=True, dtype=dtype)
        assert list(fast.status) == want
        if dtype == "float64":
            assert list(decode("omp", Ab, Yb, k=K, gram=False).status) == want
        assert fast.X_hat.dtype == np.dtype(dtype)
        bad = fast.status == NONFINITE
        assert not fast.X_hat[bad].any() and (fast.n_iter[bad] == 0).all()
        assert (fast.n_iter[~bad] == K).all()


def test_gemm_blocks_on_threads_run_with_one_blas_thread(monkeypatch):
    # 2+ blocks on 2+ numba threads: each block's products on one BLAS thread (no nested threads,
    # csbench.decoders.amp._run_blocks), the limit lifted afterwards, results as in the nested mode
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import csbench.decoders.amp as amp_mod

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    seen = []
    inner = amp_mod._amp_gemm_block

    def spy(*args):
        seen.append(blas_threads())
        return inner(*args)

    monkeypatch.setattr(amp_mod, "_amp_gemm_block", spy)
    monkeypatch.setattr(amp_mod, "GEMM_BLOCK_ENTRIES", 250 * 16)  # 3 blocks of 16 trials
    A, Y, _ = _problem(7, m=100, n=250, k=10, signal="signed", unit=False)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        with threadpoolctl.threadpool_limits(2, user_api="blas"):
            res = decode("amp", A, Y, k=10, gemm=True)
            assert len(seen) == 3 and all(t == [1] * len(t) for t in seen)
            assert all(t == 2 for t in blas_threads())
            monkeypatch.setattr(amp_mod, "AMP_THREADS", "nested")
            nested = decode("amp", A, Y, k=10, gemm=True)
            assert all(t == [2] * len(t) for t in seen[3:])
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(res.X_hat, nested.X_hat)
    np.testing.assert_array_equal(res.n_iter, nested.n_iter)
