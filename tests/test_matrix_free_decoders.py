"""Decoders on operators equal their dense selves (issue 9, item 3: "decoders on operators").

Each operator path runs on a DenseOperator (BLAS products) and on ``SlowOperator``,
which implements only ``_matvec``, ``_rmatvec`` and ``columns`` with numpy's
pairwise sums (other rounding than BLAS) and refuses ``dense()``, so the generic
path is what is tested. Acceptance: equal to the dense decoder to 1e-10, bit for
bit where the arithmetic is the same (the matched filter's decisions, lattice ties).
"""
import numpy as np

import csbench
import pytest
from scipy.sparse.linalg import aslinearoperator

from csbench import decode
from csbench.decoders.lasso import WS_MIN, WS_WIDE
from csbench.operators import DenseOperator, Operator


class SlowOperator(Operator):
    """An ndarray known only through ``_matvec``, ``_rmatvec`` and ``columns`` (records the column requests)."""

    def __init__(self, A, lattice_d=None):
        self._A = np.ascontiguousarray(A, dtype=np.float64)
        if lattice_d is not None:
            self.lattice_d = lattice_d
        self.requests = []
        super().__init__(self._A.shape)

    def _matvec(self, x):
        return (self._A * np.ravel(x)[None, :]).sum(axis=1)

    def _rmatvec(self, r):
        return (self._A * np.ravel(r)[:, None]).sum(axis=0)

    def columns(self, idx):
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        self.requests.append(idx.size)
        return np.ascontiguousarray(self._A[:, idx])

    def dense(self):
        raise AssertionError("a matrix-free decoder asked for the dense matrix")


def problems(m=40, n=128, k=5, T=3, signal="signed", seed=0, shared=True):
    """Gaussian A / sqrt(m) (shared, or one per trial) and k-sparse X; returns (A, X, Y)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, m, n, k]))
    A = rng.standard_normal((m, n) if shared else (T, m, n)) / np.sqrt(m)
    X = np.zeros((T, n))
    for t in range(T):
        S = rng.choice(n, k, replace=False)
        X[t, S] = {"signed": rng.standard_normal(k), "binary": 1.0, "positive": rng.random(k) + 0.5}[signal]
    Y = X @ A.T if shared else np.einsum("tmn,tn->tm", A, X)
    return A, X, Y


def as_ops(A, kind, shared):
    make = DenseOperator if kind == "dense" else SlowOperator
    return make(A) if shared else [make(At) for At in A]


CASES = [
    ("matched_filter", "binary", {}),
    ("matched_filter", "binary", {"rule": "sign", "normalize": True}),
    ("matched_filter", "binary", {"rule": "topk"}),
    ("matched_filter", "signed", {"rule": "raw", "normalize": True}),
    ("relu_readout", "binary", {}),
    ("relu_readout", "binary", {"bias": "edmonds", "c_prime": 0.1, "activation": "threshold"}),
    ("amp", "signed", {}),
    ("amp", "positive", {"nonneg": True, "damping": 0.2}),
    ("amp", "binary", {"denoiser": "bayes_binary"}),
    ("omp", "signed", {}),
    ("omp", "signed", {"tol": 1e-20}),
    ("omp", "positive", {"positive": True}),
    ("lasso", "signed", {"tol": 1e-12}),
    ("lasso", "positive", {"tol": 1e-12, "positive": True, "lam_ratio": 1e-2}),
    ("lasso", "signed", {"tol": 1e-12, "lam": 0.05, "debias": True}),
]


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per_trial"])
@pytest.mark.parametrize("kind", ["dense", "slow"])
@pytest.mark.parametrize("name, signal, params", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_operator_decoder_equals_dense(name, signal, params, kind, shared):
    A, X, Y = problems(signal=signal, shared=shared, seed=len(params))
    dense = decode(name, A, Y, k=5, **params)
    ops = as_ops(A, kind, shared)
    res = decode(name, ops, Y, k=5, **params)
    np.testing.assert_allclose(res.X_hat, dense.X_hat, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(res.status, dense.status)
    assert (dense.status == 0).all()
    if name in ("matched_filter", "relu_readout", "omp", "amp"):  # same iteration: same counts
        np.testing.assert_array_equal(res.n_iter, dense.n_iter)
    if name in ("omp", "amp", "lasso") and signal != "binary" and "lam" not in params:  # easy: both recover X
        np.testing.assert_allclose(dense.X_hat, X, atol=0.05 if name == "lasso" else 1e-6)
    if kind == "slow":
        for op in (ops if not shared else [ops]):
            if name == "omp":  # the generic col_norms_sq (one block of <= 256 columns), then one column per atom
                assert op.requests[0] == 128 and set(op.requests[1:]) == {1}


def test_lasso_regenerates_only_working_sets():
    """Columns come in working sets of |supp| + max(WS_MIN, WS_WIDE m) <= 20 + 80 of n = 400, never all of A."""
    A, _, Y = problems(m=20, n=400, k=3, T=2, seed=4)
    op = SlowOperator(A)
    res = decode("lasso", op, Y, tol=1e-12)
    np.testing.assert_allclose(res.X_hat, decode("lasso", A, Y, tol=1e-12).X_hat, rtol=0, atol=1e-10)
    assert op.requests and max(op.requests) <= 20 + max(WS_MIN, WS_WIDE * 20) == 100


def test_lasso_equals_dense_near_the_transition():
    """k = 14 of m = 40 (homotopy territory for the dense solver): still equal at a tight gap."""
    A, _, Y = problems(k=14, T=4, seed=3)
    dense = decode("lasso", A, Y, tol=1e-13)
    res = decode("lasso", SlowOperator(A), Y, tol=1e-13)
    np.testing.assert_allclose(res.X_hat, dense.X_hat, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(res.status, dense.status)


def test_batch_split_does_not_change_results():
    A, _, Y = problems(T=4, seed=5)
    op = SlowOperator(A)
    for name, params in [("amp", {}), ("omp", {}), ("lasso", {})]:
        whole = decode(name, op, Y, k=5, **params)
        for t in range(4):
            one = decode(name, op, Y[t], k=5, **params)
            np.testing.assert_array_equal(one.X_hat[0], whole.X_hat[t])
            assert one.n_iter[0] == whole.n_iter[t] and one.status[0] == whole.status[t]


def lattice_problem(m=24, n=400, k=3, T=6, seed=1):
    """Rademacher +-1/sqrt(m), binary x: scores (S^T S x) / m hit 1/2 exactly."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, m, n]))
    S = rng.choice([-1.0, 1.0], size=(m, n))
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = 1.0
    return S / np.sqrt(m), S, X


@pytest.mark.parametrize("normalize", [False, True])
def test_lattice_ties_are_decided_exactly(normalize):
    A, S, X = lattice_problem()
    m = A.shape[0]
    Y = X @ A.T  # float measurements, y sqrt(m) integer to rounding
    exact = (X @ S.T) @ S  # integer scores times m
    ties = np.count_nonzero(2 * exact == m)
    float_scores = Y @ A
    float_wrong = np.count_nonzero((float_scores >= 0.5) != (2 * exact >= m))
    assert ties > 20 and float_wrong > 0  # ties are real, and rounding decides some of them wrongly
    oracle = (2 * exact >= m).astype(float)
    dense = decode("matched_filter", A, Y, normalize=normalize)
    np.testing.assert_array_equal(dense.X_hat, oracle)
    for op in (DenseOperator(A), SlowOperator(A, lattice_d=m)):
        res = decode("matched_filter", op, Y, normalize=normalize)
        np.testing.assert_array_equal(res.X_hat, oracle)
        raw = decode("matched_filter", op, Y, rule="raw", normalize=normalize).X_hat
        np.testing.assert_array_equal(raw, decode("matched_filter", A, Y, rule="raw", normalize=normalize).X_hat)
        relu = decode("relu_readout", op, Y, activation="threshold", normalize=normalize).X_hat
        np.testing.assert_array_equal(relu, oracle)


def test_false_lattice_claim_raises():
    A, _, Y = problems(signal="binary")
    with pytest.raises(ValueError, match="declares lattice_d=40"):
        decode("matched_filter", SlowOperator(A, lattice_d=40), np.rint(Y * np.sqrt(40)) / np.sqrt(40))


def test_k_zero():
    A, _, Y = problems()
    op = SlowOperator(A)
    for name, params in [("omp", {}), ("matched_filter", {"rule": "topk"}), ("relu_readout", {"bias": "edmonds"})]:
        dense, res = decode(name, A, Y, k=0, **params), decode(name, op, Y, k=0, **params)
        np.testing.assert_allclose(res.X_hat, dense.X_hat, rtol=0, atol=1e-14)  # relu: raw scores (b = 0)
        np.testing.assert_array_equal(res.status, dense.status)
    assert not decode("omp", op, Y, k=0).X_hat.any()
    with pytest.raises(ValueError, match="density = k/n = 0/128"):
        decode("amp", op, Y, k=0, denoiser="bayes_binary")


def test_zero_measurements_and_statuses():
    A, _, Y = problems()
    Y[1] = 0.0
    op = SlowOperator(A)
    for name, params in [("amp", {"max_iter": 3}), ("omp", {"n_nonzero_coefs": 2, "tol": 1e-30}),
                         ("lasso", {"max_iter": 1, "tol": 1e-12})]:
        dense, res = decode(name, A, Y, k=5, **params), decode(name, op, Y, k=5, **params)
        np.testing.assert_array_equal(res.status, dense.status)
        assert list(res.status_names) == ["max_iter", "ok", "max_iter"], (name, res.status_names)
        assert not res.X_hat[1].any()
    # a repeated column is a dependent atom for both paths
    A2 = np.hstack([A, A[:, :1]])
    Y2 = (A2[:, [0, 128]] @ [1.0, 1.0])[None]
    dense, res = decode("omp", A2, Y2, k=3), decode("omp", SlowOperator(A2), Y2, k=3)
    np.testing.assert_allclose(res.X_hat, dense.X_hat, atol=1e-12)
    assert res.status_names[0] == dense.status_names[0]


def test_bad_inputs_raise_before_work():
    A, _, Y = problems()
    op = SlowOperator(A)
    with pytest.raises(ValueError, match="Y has 39 measurements per trial but A has m=40"):
        decode("omp", op, Y[:, :39], k=5)
    with pytest.raises(ValueError, match="A holds 2 per-trial operators but Y holds 3"):
        decode("omp", [op, op], Y, k=5)
    with pytest.raises(ValueError, match=r"A\[1\] has shape \(40, 127\)"):
        decode("omp", [op, SlowOperator(A[:, :127]), op], Y, k=5)
    with pytest.raises(TypeError, match=r"A\[1\] is ndarray"):
        decode("omp", [op, A, op], Y, k=5)
    with pytest.raises(TypeError, match="without columns"):
        decode("omp", aslinearoperator(A), Y, k=5)
    with pytest.raises(ValueError, match="k=129 is out of range"):
        decode("omp", op, Y, k=129)
    Ybad = Y.copy()
    Ybad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Y"):
        decode("lasso", op, Ybad)
    with pytest.raises(ValueError, match="gram=True needs a dense A"):
        decode("omp", op, Y, k=5, gram=True)
    with pytest.raises(ValueError, match="n_nonzero_coefs=129 is out of range"):
        decode("omp", op, Y, n_nonzero_coefs=129)
    assert op.requests == []  # nothing was computed


def test_nonfinite_operator_column_raises():
    A, _, Y = problems()
    A[3, 7] = np.inf
    with pytest.raises(ValueError, match="non-finite column: \\|\\|a_7\\|\\|"):
        decode("omp", SlowOperator(A), Y, k=5)
    # an operator is not scanned for NaN/inf (that would be a pass over all of A): non-finite products
    # give a status and a zero estimate instead of decode()'s ValueError for a dense A
    res = decode("lasso", SlowOperator(A), Y)
    assert list(res.status_names) == ["nonfinite"] * 3 and not res.X_hat.any()
    res = decode("amp", SlowOperator(A), Y)
    assert list(res.status_names) == ["diverged"] * 3 and not res.X_hat.any() and not res.n_iter.any()


@pytest.mark.parametrize("name", ["basis_pursuit", "lmmse"])
def test_dense_only_decoder_says_so(name):
    A, _, Y = problems()
    with pytest.raises(ValueError, match=rf"decoder '{name}' needs a dense A \(8 n m = 8 \* 128 \* 40 = 40960 "
                                         r"bytes per matrix\); it stays dense.*amp, .*lasso, matched_filter, .*omp"):
        decode(name, SlowOperator(A), Y)


GEN = getattr(__import__("csbench.operators", fromlist=["x"]), "GeneratedOperator", None)


@pytest.mark.skipif(GEN is None, reason="csbench.operators.GeneratedOperator not merged yet (branch mfgen)")
def test_generated_operator_equals_its_dense_matrix():
    """The counter-based operator against the dense matrix it regenerates: every matrix-free decoder agrees."""
    m, n, k = 40, 300, 4
    gen = GEN("gaussian", (np.uint64(7), np.uint64(3)), m, n)
    A = gen.dense()
    rng = np.random.default_rng(np.random.SeedSequence([11, m, n]))
    X = np.zeros((3, n))
    for t in range(3):
        X[t, rng.choice(n, k, replace=False)] = rng.choice([-1.0, 1.0], k)
    Y = X @ A.T
    for name, params in [("matched_filter", {"rule": "raw"}), ("amp", {}), ("omp", {}), ("lasso", {"tol": 1e-12})]:
        dense, res = decode(name, A, Y, k=k, **params), decode(name, gen, Y, k=k, **params)
        np.testing.assert_allclose(res.X_hat, dense.X_hat, rtol=0, atol=1e-10, err_msg=name)
        np.testing.assert_array_equal(res.status, dense.status)


@pytest.mark.skipif(GEN is None, reason="csbench.operators.GeneratedOperator not merged yet (branch mfgen)")
def test_generated_rademacher_decides_ties_exactly():
    m, n, k = 24, 400, 3
    gen = GEN("rademacher", (np.uint64(5), np.uint64(1)), m, n)
    assert getattr(gen, "lattice_d", None) == m, "a Rademacher GeneratedOperator must declare lattice_d = m"
    S = np.rint(gen.dense() * np.sqrt(m))
    rng = np.random.default_rng(np.random.SeedSequence([12, m, n]))
    X = np.zeros((6, n))
    for t in range(6):
        X[t, rng.choice(n, k, replace=False)] = 1.0
    Y = X @ gen.dense().T
    exact = (X @ S.T) @ S
    assert np.count_nonzero(2 * exact == m) > 0
    np.testing.assert_array_equal(decode("matched_filter", gen, Y).X_hat, (2 * exact >= m).astype(float))


class StreamOperator(Operator):
    """Gaussian A / sqrt(m) never stored: column block b is regenerated from ``SeedSequence([seed, b])``."""

    B = 1024

    def __init__(self, m, n, seed):
        self.seed = seed
        super().__init__((m, n))

    def _block(self, b):
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, b]))
        return rng.standard_normal((self.shape[0], min(self.B, self.shape[1] - b * self.B))) / np.sqrt(self.shape[0])

    def _matvec(self, x):
        x = np.ravel(x)
        out = np.zeros(self.shape[0])
        for b in range(-(-self.shape[1] // self.B)):
            xb = x[b * self.B:(b + 1) * self.B]
            if xb.any():
                out += self._block(b) @ xb
        return out

    def _rmatvec(self, r):
        return np.concatenate([self._block(b).T @ np.ravel(r) for b in range(-(-self.shape[1] // self.B))])

    def columns(self, idx):
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        out = np.empty((self.shape[0], idx.size))
        for b in np.unique(idx // self.B):
            sel = np.flatnonzero(idx // self.B == b)
            out[:, sel] = self._block(b)[:, idx[sel] - b * self.B]
        return out


def test_memory_stays_far_below_the_dense_matrix():
    """tracemalloc peak of each matrix-free decoder on a never-stored A: O(m s + n + block), not 8 m n."""
    import tracemalloc

    m, n, k, T = 80, 1 << 14, 4, 2
    op = StreamOperator(m, n, seed=9)
    rng = np.random.default_rng(np.random.SeedSequence([13, m, n]))
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = rng.choice([-1.0, 1.0], k)
    Y = np.stack([op.matvec(x) for x in X])
    dense_mb = op.dense_nbytes / 2**20  # 10 MiB
    # AMP: 10 iterations (memory does not grow with them; 55-76 to converge here, 0.1 s per product)
    cases = [("matched_filter", {}), ("amp", {"max_iter": 10}), ("omp", {}), ("lasso", {})]
    for name, params in cases:  # imports and first-call set-up outside the measurement
        decode(name, StreamOperator(8, 64, seed=1), np.ones(8), k=2, **params)
    for name, params in cases:
        tracemalloc.start()
        res = decode(name, op, Y, k=k, **params)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        # outputs (T n) + a few n-vectors + one block (8 m B = 0.6 MiB) + the lasso's m x (|supp| + 4m) block
        assert peak_mb < 0.25 * dense_mb, (name, peak_mb)  # measured 1.0 / 1.5 / 1.5 / 1.7 MiB
        if name in ("omp", "lasso"):
            np.testing.assert_allclose(res.X_hat, X, atol=1e-9 if name == "omp" else 0.01)


def test_dense_and_operator_omp_agree_on_n_nonzero_coefs_above_m():
    """Both paths resolve n_nonzero_coefs in one place (capped at m): the operator path used to refuse it."""
    from csbench.operators import DenseOperator

    meas, _ = csbench.make_problem(csbench.Cell("gaussian", "binary", 64, 3), 20, 3, seed=4)
    dense = decode("omp", meas.A, meas.Y, n_nonzero_coefs=30)
    free = decode("omp", [DenseOperator(np.ascontiguousarray(a)) for a in meas.A], meas.Y, n_nonzero_coefs=30)
    assert np.array_equal(dense.n_iter, free.n_iter) and np.array_equal(dense.status, free.status)
    assert dense.n_iter.max() <= 20
    np.testing.assert_allclose(free.X_hat, dense.X_hat, atol=1e-10)
