"""Decoders on operators: the matched filter, the ReLU read-out, AMP, OMP and the lasso without a dense A.

``decode(name, A, Y, k=...)`` accepts for ``A`` a :class:`csbench.operators.Operator`
shared by all trials, or a sequence of T operators (one per trial); the decoder
then touches A only through ``A x`` (``matvec``), ``A^T r`` (``rmatvec``),
regenerated columns ``A[:, S]`` (``columns``) and ``||a_j||^2``
(``col_norms_sq``), so a trial needs O(m s + n) memory (s: selected atoms or
working-set columns) besides what the operator itself holds, not the 8 m n
bytes of a dense A. Each path runs the same iteration with the same rules as its
dense self (which stays the reference), and the same parameters (same defaults,
same checks):

* ``matched_filter``, ``relu_readout``: one ``rmatvec`` per trial, then the
  dense decision rule itself (:func:`csbench.decoders.linear.matched_filter_from`).
  Lattice ties (A = S/sqrt(d), S in {-1, 0, 1}, y sqrt(d) integer) are decided
  exactly, as on the dense path: the integer scores ``S^T Z`` are recovered as
  ``rint(sqrt(d) A^T Z)`` (the float product's error, about ``m eps sum|Z|``, is
  far below 1/2) and divided once, giving the dense path's bits. An operator
  says it is a lattice matrix by an integer attribute ``lattice_d`` (a
  :class:`~csbench.operators.DenseOperator` is tested like a dense A); other
  operators get the float product, whose ties at exactly 1/2 may round either way.
* ``amp``: the iteration of :mod:`csbench.decoders.amp` with one ``matvec`` and one
  ``rmatvec`` per iteration and the same denoiser kernel, thresholds, Onsager term,
  damping and stopping rules.
* ``omp``: per atom one ``rmatvec`` (``c = A^T r``) and the dense selection rule
  ``argmax |c_j| / ||a_j||`` (ties: lowest index); the selected columns are
  regenerated into an m x s block, the Cholesky factor of their Gram matrix is
  appended (same dependence rule ``DEP_TOL``) and nonnegative OMP runs the same
  warm-started NNLS, with the kernels of :mod:`csbench.kernels.omp`.
* ``lasso``: the same objective ``1/2 ||y - A x||^2 + lam ||x||_1``, lam default
  and duality-gap stop as :mod:`csbench.decoders.lasso`, by an outer working-set
  loop (Massias, Gramfort & Salmon 2018; Bertrand et al. 2022): the gradient
  ``g = A^T r`` (one ``rmatvec``) gives the gap ``P(x) - D(theta)`` with
  ``theta = r min(1, lam / ||g||_inf)``; if it exceeds ``tol ||y||^2 / 2``, the
  working set W = supp(x) plus the ``max(WS_MIN, 4 m)`` other features with the
  largest ``|g_j|`` (``g_j`` if positive) is regenerated (m x |W|) and the dense
  lasso solves the problem restricted to W from x (to ``INNER_FRACTION`` of the
  tolerance). The restricted optimum is the global one once W holds the
  solution's support, and the final gap is checked on all of A.

Decoders without an operator path (``basis_pursuit``, ``lmmse``,
``trained_readout``, the native ones) raise an error naming the dense A's size.
Results do not depend on the batch: each trial uses only its own products.
"""
from __future__ import annotations

import sys

import numpy as np

from .._lazy import lazy_module
from .._validate import check_finite_array, check_int
from .base import (DECODERS, DEPENDENT_ATOMS, DIVERGED, MAX_ITER, NONFINITE, OK, DecodeResult,
                   register_operator)
from . import lasso as _lasso
from .amp import amp_params
from .linear import lattice_matrix, lattice_vector, matched_filter_from, relu_readout_from

_ka = lazy_module("csbench.kernels.amp")
_ko = lazy_module("csbench.kernels.omp")
_kl = lazy_module("csbench.kernels.lasso")

__all__ = ["is_operator", "check_operator_inputs", "operator_correlations"]

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
#: ``sqrt(d) A^T Z`` of a lattice operator must lie this close to an integer vector (it is ~1e-10 away).
LATTICE_ITOL = 1e-3


def _linear_operator_type():
    """``scipy.sparse.linalg.LinearOperator`` if SciPy's linalg is loaded (no operator can exist otherwise), else None."""
    mod = sys.modules.get("scipy.sparse.linalg")
    return None if mod is None else mod.LinearOperator


def is_operator(A):
    """Whether ``A`` is a (scipy) linear operator or a non-empty sequence holding one (never imports SciPy)."""
    lo = _linear_operator_type()
    if lo is None:
        return False
    if isinstance(A, lo):
        return True
    return isinstance(A, (list, tuple)) and any(isinstance(a, lo) for a in A)


def check_operator_inputs(entry, A, Y, k):
    """Validate operator inputs of decoder ``entry``; return ``(ops, Y, k)``.

    ``A`` is one :class:`~csbench.operators.Operator` (shared) or a sequence of
    T operators with one common shape (m, n); ``Y`` is (m,) or (T, m), finite;
    ``k`` is None or ``0 <= k <= n``. ``ops`` is a list of T operators (the
    shared one repeated). A decoder without an operator path raises ValueError.
    """
    from ..operators import as_operator

    shared = not isinstance(A, (list, tuple))
    ops = []
    for i, a in enumerate([A] if shared else A):
        if not isinstance(a, _linear_operator_type()):
            raise TypeError(f"A is a sequence of per-trial operators, so every A[i] must be a "
                            f"csbench.operators.Operator; A[{i}] is {type(a).__name__}.")
        try:
            ops.append(as_operator(a))
        except TypeError as exc:
            raise TypeError(f"A{'' if shared else f'[{i}]'}: {exc}") from None
    m, n = ops[0].shape
    for i, op in enumerate(ops):
        if op.shape != (m, n):
            raise ValueError(f"all operators in A must have one shape; A[{i}] has shape {op.shape}, A[0] {(m, n)}.")
    if m < 1 or n < 1:
        raise ValueError(f"A must have m >= 1 rows and n >= 1 columns, got shape {(m, n)}.")
    if "operator" not in entry.info:
        ok = sorted(e.name for e in DECODERS if "operator" in e.info)
        raise ValueError(f"decoder {entry.name!r} needs a dense A (8 n m = 8 * {n} * {m} = {8 * n * m} bytes per "
                         f"matrix); it stays dense. Use a matrix-free decoder ({', '.join(ok)}), pass A.dense() "
                         "if it fits in memory, or raise the memory budget.")
    Y = check_finite_array("Y", Y, ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[None, :]
    if Y.shape[1] != m:
        raise ValueError(f"Y has {Y.shape[1]} measurements per trial but A has m={m} rows; "
                         f"A is ({m}, {n}), Y{Y.shape}.")
    T = Y.shape[0]
    if not shared and len(ops) != T:
        raise ValueError(f"A holds {len(ops)} per-trial operators but Y holds {T} trials; give one operator "
                         "per trial, or one operator (not in a sequence) shared by all.")
    if k is not None:
        k = check_int("k", k, low=0, high=n)
    return (ops * T if shared else ops), Y, k


def _outputs(T, n):
    return np.zeros((T, n)), np.zeros(T, np.int64), np.zeros(T, np.int8)


class _PerOp:
    """Values computed once per distinct operator of a batch (a shared operator is one object)."""

    def __init__(self, func):
        self.func, self.memo = func, {}

    def __call__(self, op):
        key = id(op)
        if key not in self.memo:
            self.memo[key] = (op, self.func(op))  # keep op alive so its id is not reused
        return self.memo[key][1]


def _col_norms_sq(op):
    """``||a_j||^2`` of ``op``; non-finite values (a NaN/inf in A) raise ValueError, as a dense A's would."""
    nsq = np.asarray(op.col_norms_sq(), dtype=np.float64)
    if not np.isfinite(nsq).all():
        j = int(np.flatnonzero(~np.isfinite(nsq))[0])
        raise ValueError(f"A has a non-finite column: ||a_{j}||^2 = {nsq[j]!r} (A must be finite).")
    return nsq


def _lattice_d(op):
    """d if ``op`` is ``S / sqrt(d)`` with S in {-1, 0, 1}: tested for a DenseOperator, else ``op.lattice_d``."""
    from ..operators import DenseOperator

    if isinstance(op, DenseOperator):
        lat = lattice_matrix(op.A)
        return None if lat is None else lat[1]
    d = getattr(op, "lattice_d", None)
    return None if d is None else check_int("A.lattice_d", d, low=1)


# ---------------------------------------------------------------- matched filter, ReLU read-out

def operator_correlations(ops, Y, normalize=False):
    """``X'[t] = A_t^T Y[t]`` (one ``rmatvec`` per trial), as :func:`csbench.decoders.linear.correlations`.

    With ``normalize`` coordinate j is divided by ``||a_j||^2``. A lattice trial
    (``A_t = S / sqrt(d)``, see the module docstring, and ``Y[t] sqrt(d)`` integer
    to ``LATTICE_YTOL``) gets the exact ``(S^T Z)_j / d`` (normalised: ``/ nnz(s_j)``),
    bit for bit the dense path's value. The lattice test is per trial (the dense
    path tests the whole batch), so the two differ only on batches mixing
    lattice and non-lattice measurements.
    """
    T, n = Y.shape[0], ops[0].shape[1]
    lattice = _PerOp(_lattice_d)
    norms = _PerOp(_col_norms_sq)
    out = np.empty((T, n))
    for t, op in enumerate(ops):
        d = lattice(op)
        Z = lattice_vector(Y[t], d) if d is not None else None
        if Z is None:
            out[t] = op.rmatvec(Y[t])
            if normalize:
                sq = norms(op)
                out[t] /= np.where(sq > 0, sq, 1.0)
            continue
        V = np.sqrt(d) * op.rmatvec(Z)
        W = np.rint(V)
        err = np.abs(V - W).max(initial=0.0)
        if not err <= LATTICE_ITOL:
            raise ValueError(f"A (trial {t}) declares lattice_d={d}, but sqrt(d) A^T z for integer z is {err:.3g} "
                             "away from an integer vector: its entries are not 0 or +-1/sqrt(d).")
        if normalize:
            nnz = np.rint(norms(op) * d)
            out[t] = W / np.where(nnz > 0, nnz, 1.0)
        else:
            out[t] = W / d
    return out


@register_operator("matched_filter")
def matched_filter_operator(ops, Y, k, *, rule, threshold, normalize):
    """Matched filter on operators (:func:`csbench.decoders.linear.matched_filter`'s rule)."""
    return matched_filter_from(lambda norm: operator_correlations(ops, Y, norm), k, rule=rule,
                               threshold=threshold, normalize=normalize)


@register_operator("relu_readout")
def relu_readout_operator(ops, Y, k, *, bias, c_prime, activation, normalize):
    """ReLU read-out on operators (:func:`csbench.decoders.linear.relu_readout`'s rule)."""
    m, n = ops[0].shape
    return relu_readout_from(lambda norm: operator_correlations(ops, Y, norm), m, n, k, bias=bias,
                             c_prime=c_prime, activation=activation, normalize=normalize)


# ---------------------------------------------------------------- AMP

def _amp_one(op, y, x, code, tau, logit_eps, damping, max_iter, tol):
    """AMP on one problem (the iteration of :func:`csbench.kernels.amp.amp_batch`); writes x, returns (n_iter, status)."""
    m, n = op.shape
    x[:] = 0.0
    ynorm = np.sqrt(y @ y)
    if ynorm == 0.0:
        return 0, OK
    z = y.copy()
    xn = np.empty(n)
    idx = np.empty(n, np.int64)
    r = op.rmatvec(z)  # x^0 + A^T z^0
    for it in range(1, max_iter + 1):
        s2 = (z @ z) / m
        _, dsum = _ka._denoise(r, tau * np.sqrt(s2), max(s2, 1e-300), logit_eps, code, damping, x, xn, idx)
        d = xn - x
        dx2, xn2 = d @ d, xn @ xn
        if not np.isfinite(dx2 + xn2 + dsum):
            return it - 1, DIVERGED
        res = y - op.matvec(xn)
        zn = res + (dsum / m) * z
        if damping > 0.0:
            zn = (1.0 - damping) * zn + damping * z
        res2, zn2 = res @ res, zn @ zn
        if not np.isfinite(zn2 + res2):
            return it - 1, DIVERGED
        x[:] = xn
        z = zn
        if np.sqrt(zn2) > _ka.BLOWUP * ynorm:
            return it, DIVERGED
        if np.sqrt(dx2) <= tol * np.sqrt(xn2) or np.sqrt(res2) <= tol * ynorm:
            return it, OK
        r = x + op.rmatvec(z)
    return max_iter, MAX_ITER


@register_operator("amp")
def amp_operator(ops, Y, k, *, denoiser, nonneg, threshold, density, damping, max_iter, tol):
    """AMP on operators: two products per iteration (:func:`csbench.decoders.amp.amp`'s iteration and rules)."""
    m, n = ops[0].shape
    code, tau, eps = amp_params(m, n, k, denoiser, nonneg, threshold, density)
    logit_eps = float(np.log(eps / (1.0 - eps))) if code == _ka.BAYES_BINARY else 0.0
    X, n_iter, status = _outputs(Y.shape[0], n)
    for t, op in enumerate(ops):
        n_iter[t], status[t] = _amp_one(op, Y[t], X[t], code, tau, logit_eps, float(damping), max_iter, tol)
    return DecodeResult(X, n_iter, status)


# ---------------------------------------------------------------- OMP

def _omp_one(op, y, nsq, s_max, tol, positive, x):
    """OMP on one trial with products and regenerated columns (rules of :func:`csbench.kernels.omp.omp_one`).

    Writes x; returns ``(n_iter, status)``. ``nsq`` = ``||a_j||^2``.
    """
    m, n = op.shape
    x[:] = 0.0
    c = op.rmatvec(y)
    if not np.isfinite(c).all():
        return 0, NONFINITE
    inv_norm = np.zeros(n)
    np.divide(1.0, np.sqrt(nsq), out=inv_norm, where=nsq > 0)
    rr = float(y @ y)
    floor = _ko.CORR_FLOOR * np.sqrt(rr)
    if rr == 0.0 or rr <= tol:
        return 0, OK
    s1 = max(s_max, 1)
    As = np.empty((m, s1))            # the selected columns, in selection order
    Gs = np.zeros((s1, s1))           # their Gram matrix (positive: read by the NNLS kernel)
    R, w, z, xs = np.empty((s1, s1)), np.empty(s1), np.empty(s1), np.zeros(s1)
    bs, ds, inv_s = np.empty(s1), np.empty(s1), np.empty(s1)   # A_S^T y, ||a_s||^2, 1/||a_s|| by position
    pos = np.arange(s1, dtype=np.int64)                        # positions index the local arrays
    pp, inP = np.empty(s1, np.int64), np.zeros(s1, np.bool_)
    chosen = np.zeros(n, np.bool_)
    b = c.copy()
    S = []
    ns = npp = 0
    status = OK
    while ns < s_max:
        j, v = _ko._select(c, inv_norm, chosen, positive)
        if j < 0 or v <= floor:
            break
        a = op.columns(np.array([j]))[:, 0]
        g = As[:, :ns].T @ a
        if positive:
            As[:, ns], bs[ns], ds[ns], inv_s[ns] = a, b[j], nsq[j], inv_norm[j]
            Gs[:ns, ns] = Gs[ns, :ns] = g
            Gs[ns, ns] = nsq[j]
            S.append(j)
            chosen[j] = True
            ns += 1
            npp, st = _ko._nnls(Gs, np.empty((0, 0)), True, pos, ns, bs, ds, inv_s, xs, inP, pp, npp, R, w, z,
                                floor)
            if st == _ko.DEPENDENT and xs[ns - 1] == 0.0:  # the new atom could not enter: drop it
                ns -= 1
                S.pop()
                chosen[j] = False
            if st != OK:  # the kernels' codes are base.STATUSES indices
                status = st
                break
        else:
            w[:ns] = g
            if not _ko.chol_append(R, ns, w, nsq[j], _ko.DEP_TOL):
                status = DEPENDENT_ATOMS
                break
            As[:, ns], bs[ns] = a, b[j]
            S.append(j)
            chosen[j] = True
            ns += 1
            xs[:ns] = bs[:ns]
            _ko.forward_solve(R, ns, xs)
            _ko.back_solve(R, ns, xs)
        r = y - As[:, :ns] @ xs[:ns]
        rr = float(r @ r)
        if rr == 0.0 or rr <= tol or ns == s_max:
            break
        c = op.rmatvec(r)
    if status == OK and tol >= 0.0 and rr > tol and ns == s_max:
        status = MAX_ITER
    x[S] = xs[:ns]
    return ns, status


@register_operator("omp")
def omp_operator(ops, Y, k, *, n_nonzero_coefs, tol, positive, gram):
    """OMP on operators: an ``rmatvec`` per atom, columns regenerated (:func:`csbench.decoders.omp.omp`'s rules).

    ``gram`` has no effect (there is no dense A to take ``A^T A`` of); ``gram=True`` raises.
    """
    m, n = ops[0].shape
    if gram is True:
        raise ValueError("gram=True needs a dense A (G = A^T A); on an operator use gram='auto' or False.")
    if n_nonzero_coefs is not None:
        s_max = check_int("n_nonzero_coefs", n_nonzero_coefs, low=1, high=min(m, n))
    elif tol is None and k is None:
        raise ValueError("omp needs a stopping rule: pass k (to decode), n_nonzero_coefs "
                         f"(1 <= n_nonzero_coefs <= min(m, n) = {min(m, n)}) or tol >= 0; got none.")
    else:
        s_max = min(m, n) if tol is not None else min(k, m)
    norms = _PerOp(_col_norms_sq)
    X, n_iter, status = _outputs(Y.shape[0], n)
    tol_k = -1.0 if tol is None else float(tol)
    for t, op in enumerate(ops):
        n_iter[t], status[t] = _omp_one(op, Y[t], norms(op), s_max, tol_k, positive, X[t])
    return DecodeResult(X, n_iter, status)


# ---------------------------------------------------------------- lasso

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
    lmax = _kl.lam_max(g, positive)
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
        gap = _kl._gap(float(r @ r), float(y @ r), float(np.abs(x).sum()), _kl.lam_max(g, positive), lam)
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
        res = _lasso.lasso(AW, y[None], None, lam=lam, lam_ratio=None, positive=positive, tol=max(inner, 1e-300),
                           max_iter=max_iter - n_iter, x0=x[W][None], debias=False, gram=False)
        n_iter += int(res.n_iter[0]) + 1
        x[:] = 0.0
        x[W] = res.X_hat[0]
        supp = np.flatnonzero(x)
        r = y - AW @ x[W]
        g = op.rmatvec(r)
        if res.status[0] != OK:
            return n_iter, int(res.status[0])


@register_operator("lasso")
def lasso_operator(ops, Y, k, *, lam, lam_ratio, positive, tol, max_iter, x0, debias, gram):
    """The lasso on operators: same objective, lam and duality-gap stop as :func:`csbench.decoders.lasso.lasso`.

    ``gram`` has no effect on an operator; ``gram=True`` raises.
    """
    if gram is True:
        raise ValueError("gram=True needs a dense A (G = A^T A); on an operator use gram='auto' or False.")
    if lam is not None and lam_ratio is not None:
        raise ValueError(f"give at most one of lam and lam_ratio, got lam={lam!r} and lam_ratio={lam_ratio!r}.")
    value, ratio = (lam, False) if lam is not None else (
        (_lasso.DEFAULT_LAM_RATIO if lam_ratio is None else lam_ratio), True)
    T, n = Y.shape[0], ops[0].shape[1]
    X = _lasso._check_x0(x0, T, n)
    _, n_iter, status = _outputs(T, n)
    for t, op in enumerate(ops):
        n_iter[t], status[t] = _lasso_one(op, Y[t], X[t], value, ratio, positive, tol, max_iter)
        if debias and status[t] != NONFINITE:
            S = np.flatnonzero(X[t])
            if S.size:
                X[t, S] = _lasso.debias_support(op.columns(S), Y[t:t + 1], X[t:t + 1, S])[0]
    return DecodeResult(X, n_iter, status)
