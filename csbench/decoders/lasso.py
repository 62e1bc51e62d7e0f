"""The lasso, solved by working-set coordinate descent or the homotopy (numba), batched over trials.

Objective per trial: ``1/2 ||y - A x||^2 + lam ||x||_1`` (optionally ``x >= 0``);
scikit-learn's ``Lasso(alpha=lam / m, fit_intercept=False)`` solves the same
problem. The kernels live in :mod:`csbench.kernels.lasso` and :mod:`csbench.kernels.homotopy`.
"""
from __future__ import annotations

import numpy as np

from functools import partial

from .._validate import check_bool, check_finite_array, check_float, check_gram, check_int, optional
from .backend import kernels
from .base import DECODERS, MAX_ITER, NONFINITE, OK, DecodeResult, outputs, register_operator, run_trials
from .precision import TOL32, as_dtype, check_dtype, gram_matrix, operator_path

_k = kernels("lasso")  # numba loads on the first call, not on import
_h = kernels("homotopy")  # compiled when a trial first needs the homotopy

__all__ = ["lasso", "lasso_path", "debias_support"]

#: Default ``lam_ratio`` (lam = 1e-3 ||A^T y||_inf): the "weakly regularised lasso" of seed 003.
DEFAULT_LAM_RATIO = 1e-3
#: ``gram="auto"`` precomputes G = A^T A for a shared (m, n) A when n <= GRAM_MAX_N (G then
#: takes <= 128 MiB) and T >= n / 4 trials: measured (n, m) = (1000, 200), (2000, 200), shared A,
#: 1000 trials, one thread: 0.058 vs 0.102 and 0.124 vs 0.186 ms per problem including G.
GRAM_MAX_N = 4096


def _check_x0(x0, T, n):
    """Warm start as a fresh (T, n) float64 array (zeros if ``x0`` is None)."""
    if x0 is None:
        return np.zeros((T, n))
    x0 = check_finite_array("x0", x0, ndim=(1, 2))
    if x0.shape not in ((n,), (T, n)):
        raise ValueError(f"x0 must have shape ({n},) or ({T}, {n}), got {x0.shape}.")
    return np.array(np.broadcast_to(x0, (T, n)), dtype=np.float64, order="C")


#: Value checks of the lasso's parameters (``check(name, value)``), run by decode() and DecoderSpec;
#: ``lasso_path`` shares the ones it has.
CHECKS = {
    "lam": optional(partial(check_float, low=0.0, low_open=True)),
    "lam_ratio": optional(partial(check_float, low=0.0, low_open=True)),
    "positive": check_bool,
    "tol": partial(check_float, low=0.0, high=1.0, low_open=True, high_open=True),
    "max_iter": partial(check_int, low=1),
    "debias": check_bool,
    "gram": check_gram,
    "dtype": check_dtype,
}


def _gram(A, T, gram):
    """``A^T A`` if Gram mode applies (see ``GRAM_MAX_N``), else an empty (0, 0) array."""
    if A.ndim == 3:
        if gram is True:
            raise ValueError("gram=True needs one matrix A of shape (m, n) shared by all trials; "
                             f"got per-trial A of shape {A.shape}.")
        use = False
    else:
        n = A.shape[1]
        use = gram if gram != "auto" else (n <= GRAM_MAX_N and 4 * T >= n)
    return gram_matrix(A) if use else np.empty((0, 0))


def _solve(A, Y, lams, ratio, positive, tol, max_iter, X, G):
    """Run the lasso kernels in place on ``X``; return (n_iter, status).

    :func:`csbench.kernels.lasso.lasso_batch` runs coordinate descent on every trial for at most
    ``SWITCH_EPOCHS`` epochs (and ``SWITCH_NNZ * m`` nonzeros); the trials it leaves unsolved are solved by
    :func:`csbench.kernels.homotopy.homotopy_batch` (a kernel compiled only when first needed) and
    polished by a second CD call; ``max_iter`` caps epochs plus homotopy steps per trial.
    """
    T = Y.shape[0]
    n_iter = np.zeros(T, np.int64)
    status = np.zeros(T, np.int8)
    m, n = A.shape[-2:]
    A3 = A if A.ndim == 3 else A[None]
    lam_used = np.zeros(T)
    B = Y @ A if G.shape[0] else np.empty((0, 0), G.dtype)  # Gram mode: A^T y of every trial in one product
    run_trials(_k.lasso_batch, T, A3, Y, np.arange(T), lams, ratio, positive, tol,
               np.full(T, min(max_iter, _k.SWITCH_EPOCHS), np.int64), _k.WS_START, int(_k.SWITCH_NNZ * m), G, B, X,
               n_iter, status, lam_used)
    unsolved = (status == _k.SWITCH) | (status == _k.MAX_ITER)
    status[unsolved & (n_iter >= max_iter)] = _k.MAX_ITER
    hard = np.flatnonzero(unsolved & (n_iter < max_iter))
    if hard.size:
        steps = _homotopy(A3, Y, hard, lam_used, positive, max_iter - n_iter, G, X)
        more = np.zeros(T, np.int64)
        run_trials(_k.lasso_batch, hard.size, A3, Y, hard, lam_used, False, positive, tol, max_iter - n_iter - steps,
                   _k.WS_START, n, G, B, X, more, status, lam_used)
        n_iter += steps + more
    bad = status == _k.NONFINITE_INPUT
    if bad.any():
        # decode() leaves A's finiteness to the kernel's first pass (checks_finite_A): raise its usual
        # error for NaN/inf in A; a finite A whose A^T y overflows gets status nonfinite
        check_finite_array("A", A, ndim=(2, 3))
        status[bad] = NONFINITE
    return n_iter, status


def _homotopy(A3, Y, hard, lams, positive, budget, G, X):
    """:func:`csbench.kernels.homotopy.homotopy_batch` on the trials ``hard`` (in place on X); returns steps (T,)."""
    steps = np.zeros(Y.shape[0], np.int64)
    run_trials(_h.homotopy_batch, hard.size, A3, Y, hard, lams, positive, budget, G, X, steps, np.zeros(Y.shape[0]),
               int(_k.HOMOTOPY_WS * A3.shape[1]), _k.HOMOTOPY_CHECK)
    return steps


def debias_support(A, Y, X):
    """Least squares on each trial's support: ``x_S = argmin ||y - A_S z||``, zero elsewhere.

    Solved with ``numpy.linalg.lstsq`` (SVD): the unique least-squares solution
    when ``A_S`` has full column rank, and the minimum-norm one when ``|S| > m``
    or ``A_S`` is rank deficient. Returns a new (T, n) array.
    """
    out = np.zeros_like(X)
    for t in range(X.shape[0]):
        S = np.flatnonzero(X[t])
        if S.size:
            At = A if A.ndim == 2 else A[t]
            out[t, S] = np.linalg.lstsq(At[:, S], Y[t], rcond=None)[0]
    return out


def check_problem(params, n, k):
    """At most one of ``lam`` and ``lam_ratio``."""
    if params["lam"] is not None and params["lam_ratio"] is not None:
        raise ValueError(f"give at most one of lam and lam_ratio, got lam={params['lam']!r} and "
                         f"lam_ratio={params['lam_ratio']!r}.")
    return params


def lam_rule(lam, lam_ratio):
    """``(value, ratio)``: lam is ``value`` (``ratio`` False) or ``value * lam_max`` per trial (True); both paths."""
    if lam is not None:
        return lam, False
    return (DEFAULT_LAM_RATIO if lam_ratio is None else lam_ratio), True


def study_defaults(params, given, study):
    """The exact criterion on real signals: ``debias=True`` (the default lam's shrinkage leaves a relative error
    above ``rel_tol`` = 1e-3 at every m: median 1.33e-3 at n = 256, 1.10e-3 at n = 1024, m = n, k = 8, signed)."""
    if not study.binary and study.criterion == "exact" and "debias" not in given:
        params["debias"] = True
    return params


@DECODERS.register("lasso", "min 1/2||y-Ax||^2 + lam||x||_1 (or x >= 0): working-set CD / homotopy, numba",
                   checks_finite_A=True, checks=CHECKS, problem_check=check_problem, study_defaults=study_defaults)
def lasso(A, Y, k, *, lam=None, lam_ratio=None, positive=False, tol=1e-8, max_iter=10_000,
          x0=None, debias=False, gram="auto", dtype="float64"):
    """Lasso ``min_x 1/2 ||y - A x||^2 + lam ||x||_1`` (Tibshirani 1996), x >= 0 if ``positive``.

    Parameters
    ----------
    lam : float > 0, optional
        Absolute regularisation (scikit-learn ``alpha = lam / m``).
    lam_ratio : float > 0, optional
        ``lam = lam_ratio * lam_max`` per trial, ``lam_max = ||A^T y||_inf``
        (``max(0, max_j a_j.y)`` if ``positive``), the smallest lam whose
        solution is 0. Give at most one of ``lam``, ``lam_ratio``; by default
        ``lam_ratio = 1e-3``, the weakly regularised lasso of seed 003 (close to
        basis pursuit for noiseless y).
    positive : bool
        Constrain ``x >= 0``.
    tol : float in (0, 1)
        Stop when the duality gap ``P(x) - D(theta) <= tol * ||y||^2 / 2``
        (``||y||^2 / 2 = P(0)``), with ``D(theta) = y.theta - ||theta||^2 / 2``
        at the feasible dual point ``theta = r * min(1, lam / ||A^T r||_inf)``,
        ``r = y - A x`` (``max_j a_j.r`` instead of the norm if ``positive``).
    max_iter : int >= 1
        Cap on coordinate-descent epochs (over working sets) plus homotopy
        steps per trial; a trial that hits it gets status ``max_iter``.
    x0 : array (n,) or (T, n), optional
        Warm start (zeros by default; negative entries are set to 0 if
        ``positive``). See :func:`lasso_path` for continuation along lams.
    debias : bool
        Replace x by least squares on its support (:func:`debias_support`).
    gram : "auto", True or False
        Precompute ``G = A^T A`` and ``A^T y`` for all trials (``Y A``) once for a
        shared (m, n) A, as BLAS-3 products; gradients are then ``A^T y - G x``,
        working-set Gram matrices are read from G, and coordinate descent never
        passes over A (the homotopy, for trials it hands over, computes ``A^T y``
        once and then follows the path on rows of G). "auto" does so when
        ``n <= GRAM_MAX_N`` and ``T >= n / 4``. Results agree with ``gram=False`` (and across different splits of a batch) to
        rounding, not bit for bit.
    dtype : "float64" or "float32"
        float32: A and Y rounded to float32; Gram mode stores G and ``A^T Y`` in
        float32 (CD runs in float64 on them and solves the problem they define),
        other paths compute in float64 on the rounded values; ``tol`` is raised to
        at least ``TOL32`` = 1e-5; X_hat is float32 (:mod:`csbench.decoders.precision`).

    Notes
    -----
    Working-set coordinate descent with Gram updates and active-set steps,
    described in :mod:`csbench.kernels.lasso`. Near and below the l1
    transition (CD not converged after ``SWITCH_EPOCHS`` = 100 epochs, or an
    iterate with more than ``SWITCH_NNZ * m`` = 0.3 m nonzeros) the trial is
    solved by the exact homotopy / LARS-lasso path from lam_max
    (:mod:`csbench.kernels.homotopy`) and the duality gap is checked by CD.
    The homotopy runs on a working set of columns with a KKT check over all
    of A every ``HOMOTOPY_CHECK`` = 16 kinks (exact; see
    :func:`csbench.kernels.homotopy.homotopy_batch`). Measured (n, m) = (1000,
    200), signed x, lam_ratio 1e-3, one thread, 20 trials, per problem: k = 10:
    0.14 ms (CD only); k = 30: 0.65 ms; k = 40: 2.9 ms; k = 50: 10 ms; k = 60:
    14 ms, all status ok (homotopy over all columns: 4.6 / 13 / 17 ms; CD alone: 165 ms, and 525 /
    554 ms with 10 / 17 of 20 trials at ``max_iter``). At (4096, 180-215, 32)
    the working set halves the homotopy time. Continuation along lam for CD was measured
    and not adopted: at (1000, 200, 60) 10 stages took 0.57 and 20 stages
    1.03 of the direct CD time.

    Returns
    -------
    DecodeResult
        ``n_iter`` counts CD epochs plus homotopy steps. ``y = 0`` or ``lam >= lam_max`` gives x = 0,
        status ok, n_iter 0 at once; columns with zero norm get x_j = 0. ``k`` is ignored.

    References
    ----------
    Friedman, Hastie & Tibshirani (2010), coordinate descent; Massias, Gramfort
    & Salmon (2018) and Bertrand et al. (2022), working sets and dual points;
    Osborne, Presnell & Turlach (2000) and Efron et al. (2004), homotopy / LARS-lasso.
    """
    value, ratio = lam_rule(lam, lam_ratio)
    T, n = Y.shape[0], A.shape[-1]
    X = _check_x0(x0, T, n)
    if dtype == "float32":
        A, Y = as_dtype(np.float32, A, Y)
        tol = max(tol, TOL32)
    G = _gram(A, T, gram)
    if not G.shape[0]:  # no float32 path: float64 on the (rounded) values
        A, Y = as_dtype(np.float64, A, Y)
    n_iter, status = _solve(A, Y, np.full(T, value), ratio, positive, tol, max_iter, X, G)
    if debias:
        X = debias_support(A, Y, X)
    return DecodeResult(X.astype(np.float32) if dtype == "float32" else X, n_iter, status)


def lasso_path(A, Y, lams, *, positive=False, tol=1e-8, max_iter=10_000, x0=None, gram="auto"):
    """Lasso solutions along a sequence of lams, each warm-started from the previous one.

    Parameters
    ----------
    A : array (m, n) or (T, m, n)
    Y : array (m,) or (T, m)
    lams : 1-D array of float > 0
        Absolute regularisation values, best in decreasing order.
    positive, tol, max_iter, x0, gram
        As in :func:`lasso`; ``max_iter`` applies to each lam.

    Returns
    -------
    coefs : ndarray (L, T, n)
    n_iter : ndarray (L, T) of int64
    status : ndarray (L, T) of int8
    """
    from . import check_inputs

    A, Y, _ = check_inputs(A, Y)
    lams = check_finite_array("lams", lams, ndim=1)
    if lams.size == 0 or (lams <= 0).any():
        raise ValueError(f"lams must be a non-empty sequence of values > 0, got {lams!r}.")
    tol, max_iter, positive, gram = (CHECKS[key](key, v) for key, v in
                                     (("tol", tol), ("max_iter", max_iter), ("positive", positive), ("gram", gram)))
    T, n = Y.shape[0], A.shape[-1]
    X = _check_x0(x0, T, n)
    G = _gram(A, T, gram)
    L = lams.size
    coefs = np.empty((L, T, n))
    n_iter = np.empty((L, T), np.int64)
    status = np.empty((L, T), np.int8)
    for i in range(L):
        n_iter[i], status[i] = _solve(A, Y, np.full(T, lams[i]), False, positive, tol, max_iter, X, G)
        coefs[i] = X
    return coefs, n_iter, status


# ---------------------------------------------------------------- operator path
#: Lasso: each working set holds the support plus the ``max(WS_MIN, WS_WIDE * m)`` other features with the
#: largest KKT violation. Near and below the l1 transition the support (~m) moves from pass to pass and
#: narrow sets need many passes (each a product with all of A and a restricted solve). Measured,
#: (n, m) = (16384, 500), signed x, lam_ratio 1e-3, tol 1e-10, DenseOperator, one thread, loaded machine,
#: s per problem with WS_WIDE = 1 / 2 / 4 / 8: k = 20: 0.05 / 0.07 / 0.11 / 0.19; k = 60: 4.5 / 2.5 /
#: 1.6 / 2.1; k = 100: 11.9 (max_iter) / 7.2 / 2.9 / 3.2 (dense lasso: 0.04, 0.34, 1.9). Starting with
#: m and widening to 4 m once the support exceeds 0.3 m: 0.04 / 3.2 / 6.5; doubling per pass: worse. A
#: first pass on m/2 columns, then 4 m: 3x faster at k = 20 (the column gather of a DenseOperator
#: dominates there) but 5-5.75 products with A per problem at k = 60 and 100 instead of 4, and on a
#: generated operator at large n products are the cost.
WS_MIN = 64
WS_WIDE = 4
#: Lasso: the restricted problem is solved to this fraction of the requested gap tolerance.
INNER_FRACTION = 0.25


def _lasso_one(op, y, x, value, ratio, positive, tol, max_iter):
    """Working-set lasso on one trial (see the module docstring); x: warm start in, solution out.

    Returns ``(n_iter, status)``; ``n_iter`` counts the restricted solves'
    epochs and homotopy steps plus one per pass over A.
    """
    m, n = op.shape
    g = op.rmatvec(y)
    if not np.isfinite(g).all():
        x[:] = 0.0
        return 0, NONFINITE
    lmax = _k.lam_max(g, positive)
    lam = value * lmax if ratio else value
    if positive:
        np.maximum(x, 0.0, out=x)
    yy = float(y @ y)
    if yy == 0.0 or lam >= lmax:
        x[:] = 0.0
        return 0, OK
    target = tol * yy / 2
    inner = INNER_FRACTION * tol
    supp = np.flatnonzero(x)
    r = y
    if supp.size:
        r = y - op.columns(supp) @ x[supp]
        g = op.rmatvec(r)
    n_iter = 0
    W = None
    while True:
        gap = _k._gap(float(r @ r), float(y @ r), float(np.abs(x).sum()), _k.lam_max(g, positive), lam)
        if gap <= target:
            return n_iter, OK
        if n_iter >= max_iter:
            return n_iter, MAX_ITER
        score = (g if positive else np.abs(g)).copy()
        score[supp] = np.inf
        p = min(n, supp.size + max(WS_MIN, WS_WIDE * m))
        W_new = np.sort(np.argpartition(-score, p - 1)[:p]) if p < n else np.arange(n)
        if W is not None and np.array_equal(W_new, W):
            inner *= 0.1  # same working set: its problem was not solved tightly enough
        W = W_new
        AW = op.columns(W)
        res = lasso(AW, y[None], None, lam=lam, lam_ratio=None, positive=positive, tol=max(inner, 1e-300),
                           max_iter=max_iter - n_iter, x0=x[W][None], debias=False, gram=False)
        n_iter += int(res.n_iter[0]) + 1
        x[:] = 0.0
        x[W] = res.X_hat[0]
        supp = np.flatnonzero(x)
        r = y - AW @ x[W]
        g = op.rmatvec(r)
        if res.status[0] != OK:
            return n_iter, int(res.status[0])


def lasso_operator(ops, Y, k, *, lam, lam_ratio, positive, tol, max_iter, x0, debias, gram):
    """The lasso on operators: same objective, lam and duality-gap stop as :func:`csbench.decoders.lasso.lasso`.

    ``gram`` has no effect on an operator; ``gram=True`` raises.
    """
    if gram is True:
        raise ValueError("gram=True needs a dense A (G = A^T A); on an operator use gram='auto' or False.")
    value, ratio = lam_rule(lam, lam_ratio)
    T, n = Y.shape[0], ops[0].shape[1]
    X = _check_x0(x0, T, n)
    _, n_iter, status = outputs(T, n)
    for t, op in enumerate(ops):
        n_iter[t], status[t] = _lasso_one(op, Y[t], X[t], value, ratio, positive, tol, max_iter)
        if debias and status[t] != NONFINITE:
            S = np.flatnonzero(X[t])
            if S.size:
                X[t, S] = debias_support(op.columns(S), Y[t:t + 1], X[t:t + 1, S])[0]
    return DecodeResult(X, n_iter, status)


register_operator("lasso")(operator_path(lasso_operator))
