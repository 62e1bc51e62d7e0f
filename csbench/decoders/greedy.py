"""Greedy and hard-thresholding decoders: IHT, NIHT, HTP, CoSaMP, subspace pursuit, matching pursuit, matching-k.

All are batched numba kernels (:mod:`csbench.kernels.greedy`). ``s`` is the
sparsity the algorithm keeps (``n_nonzero_coefs``, default k). ``H_s(v)`` keeps
the s entries of largest ``|v_j|`` and zeroes the rest; its support is that
index set (it may hold zero values). Correlations are ``A^T r`` without column
normalisation (the papers assume unit-norm columns; csbench's encoders have
``E ||a_j||^2 = 1``), except matching pursuit's selection ``|a_j^T r| / ||a_j||``.

**Tie rule, every decoder and path:** among equal scores the lowest index wins
(``top_s`` = the first s of a stable sort of ``-score``; single atoms: argmax).

* ``iht`` [BD09]: ``x <- H_s(x + mu A^T (y - A x))``; ``mu = 1 / ||A||_2^2`` by default
  (the paper's ``mu = 1`` assumes ``||A||_2 < 1``; pass ``step=1.0`` for it).
* ``niht`` [BD10]: IHT with the step ``mu = ||g_G||^2 / ||A_G g_G||^2`` on the current
  support G and the backtracking rule ``mu <= (1 - c) ||dx||^2 / ||A dx||^2`` when the
  support changes (c = 0.01, shrink ``kappa (1 - c)``, kappa = 2).
* ``htp`` [F11]: ``S <- L_s(x + mu A^T (y - A x))``, ``x <- argmin_{supp z in S} ||y - A z||``,
  until S repeats; ``mu = 1`` (the paper's).
* ``cosamp`` [NT09]: merge the 2s largest ``|A^T r|`` with the current support, least
  squares on the merged set, prune to the s largest.
* ``subspace_pursuit`` [DM09]: merge s new atoms, least squares, keep the s largest, least
  squares again; stop when the residual does not decrease.
* ``matching_pursuit`` [MZ93]: ``j = argmax |a_j^T r| / ||a_j||``, ``x_j += a_j^T r / ||a_j||^2``,
  ``r -= (a_j^T r / ||a_j||^2) a_j``, no re-projection; ``n_steps`` steps (default k) or
  ``||r||^2 <= tol``. ``binary=True``: the superposition-code variant for x in {0, 1}: k unit
  steps, each adds (x_j = 1) the not-yet-added atom with the largest ``a_j^T r``; it is
  ``matching_k`` with ``steps = k``.
* ``matching_k``: binary x, ``steps`` steps each adding the ``ceil(k / steps)`` (the last:
  the remainder) not-yet-added atoms with the largest ``a_j^T r``. ``steps = 1`` is the
  matched filter's top-k rule (``decode("matched_filter", ..., rule="topk")``) and
  ``steps = k`` binary matching pursuit.

Lattice inputs (``A = S / sqrt(d)``, S in {-1, 0, 1}, ``y sqrt(d)`` integer, e.g. ``+-1``
dictionaries with binary x; :func:`csbench.decoders.linear.lattice_matrix`) run the binary
decoders on the integers ``S`` and ``y sqrt(d)``, so every score is an exact integer and ties
are real ties, decided by the lowest-index rule (in floating point, rounding would decide them).

Statuses: ``ok``; ``max_iter`` (iteration cap; for MP: ``n_steps`` used and ``||r||^2 > tol``);
``diverged`` (``||y - A x|| > 1e3 ||y||``: IHT, NIHT, CoSaMP); ``nonfinite`` (a non-finite
correlation or iterate; x keeps the last finite iterate); ``dependent_atoms`` (HTP, CoSaMP,
SP: a least-squares support with an atom within ``DEP_TOL`` of the span of the others, e.g.
more than m atoms; x is the previous iterate).

References
----------
.. [BD09] T. Blumensath, M. E. Davies, "Iterative hard thresholding for compressed sensing",
   Appl. Comput. Harmon. Anal. 27 (3), 265-274, 2009.
.. [BD10] T. Blumensath, M. E. Davies, "Normalized iterative hard thresholding: guaranteed
   stability and performance", IEEE J. Sel. Topics Signal Process. 4 (2), 298-309, 2010.
.. [F11] S. Foucart, "Hard thresholding pursuit: an algorithm for compressive sensing",
   SIAM J. Numer. Anal. 49 (6), 2543-2563, 2011.
.. [NT09] D. Needell, J. A. Tropp, "CoSaMP: iterative signal recovery from incomplete and
   inaccurate samples", Appl. Comput. Harmon. Anal. 26 (3), 301-321, 2009.
.. [DM09] W. Dai, O. Milenkovic, "Subspace pursuit for compressive sensing signal
   reconstruction", IEEE Trans. Inf. Theory 55 (5), 2230-2249, 2009.
.. [MZ93] S. Mallat, Z. Zhang, "Matching pursuits with time-frequency dictionaries",
   IEEE Trans. Signal Process. 41 (12), 3397-3415, 1993.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .._validate import check_bool, check_float, check_int, optional, or_choice
from .backend import kernels
from .base import DECODERS, DecodeResult, outputs, register_operator, run_trials
from .linear import lattice_matrix, lattice_vector

_k = kernels("greedy")  # numba loads on the first call, not on import

__all__ = ["cosamp", "htp", "iht", "matching_k", "matching_pursuit", "niht", "step_norm", "subspace_pursuit"]


def _A3(A):
    return A if A.ndim == 3 else A[None]


def _sparsity(name, n_nonzero_coefs, k, n):
    """s = n_nonzero_coefs, else k (one of them is required)."""
    if n_nonzero_coefs is not None:
        return n_nonzero_coefs
    if k is None:
        raise ValueError(f"{name} needs a sparsity: pass k (to decode) or n_nonzero_coefs (1 <= n_nonzero_coefs "
                         f"<= n = {n}); got neither.")
    return k


def step_norm(A, T):
    """``1 / ||A||_2^2`` per trial (T,), the spectral norm by SVD (one per matrix; once for a shared A)."""
    if A.ndim == 2:
        nrm = np.linalg.norm(A, 2)
        return np.full(T, 1.0 / nrm**2 if nrm > 0 else 1.0)
    nrm = np.linalg.norm(A, 2, axis=(1, 2))
    return np.where(nrm > 0, 1.0 / np.where(nrm > 0, nrm, 1.0) ** 2, 1.0)


def _steps(A, T, step):
    return step_norm(A, T) if step == "norm" else np.full(T, float(step))


def _run(kernel, A, Y, *args):
    """``kernel(A3, Y, *args, X, n_iter, status, t0, t1)`` over the trials; the :class:`DecodeResult`."""
    T, n = Y.shape[0], A.shape[-1]
    X, n_iter, status = outputs(T, n)
    run_trials(kernel, T, _A3(A), Y, *args, X, n_iter, status)
    return DecodeResult(X, n_iter, status)


def _check_problem(params, n, k):
    """``n_nonzero_coefs <= n``."""
    if params.get("n_nonzero_coefs") is not None:
        check_int("n_nonzero_coefs", params["n_nonzero_coefs"], low=1, high=n)
    return params


def _needs_sparsity(params, given, study):
    """Study defaults of the sparsity-driven decoders (IHT, NIHT, HTP, CoSaMP, SP): they keep exactly s atoms,
    so on ``signal="bernoulli"`` (a random number of active features) the default s = k is wrong for most trials;
    such a study is refused unless ``n_nonzero_coefs`` is given (an upper bound on the support size)."""
    if study.signal == "bernoulli" and "n_nonzero_coefs" not in given:
        raise ValueError("this decoder keeps exactly s = n_nonzero_coefs atoms (default k), but signal='bernoulli' "
                         "has a random number of active features; pass n_nonzero_coefs=<an upper bound on the "
                         "support size>, or use omp (stops on the residual) or lasso for signal='bernoulli'.")
    return params


def _mp_study(params, given, study):
    """Matching pursuit never refits: on real-valued signals its estimate keeps an error far above ``rel_tol``
    (median relative error 0.07-0.14 at m = n = 256, k = 8), so the exact criterion is refused there."""
    if not params["binary"] and not study.binary and study.criterion == "exact":
        raise ValueError(f"matching_pursuit (no re-projection) cannot meet criterion='exact' on signal="
                         f"{study.signal!r}: its error stays far above rel_tol; use criterion='support', "
                         "binary=True on binary signals, or omp / subspace_pursuit, which refit.")
    return params


_S = {"n_nonzero_coefs": optional(partial(check_int, low=1))}
_IT = {"max_iter": partial(check_int, low=1), "tol": partial(check_float, low=0.0, low_open=True)}
_STEP = {"step": or_choice(partial(check_float, low=0.0, low_open=True), ["norm"])}


@DECODERS.register("iht", "iterative hard thresholding x <- H_s(x + mu A^T r), mu = 1/||A||^2 (Blumensath-Davies)",
                   checks={**_S, **_STEP, **_IT}, problem_check=_check_problem,
                   study_defaults=_needs_sparsity)
def iht(A, Y, k, *, n_nonzero_coefs=None, step="norm", max_iter=500, tol=1e-9):
    """Iterative hard thresholding [BD09] (see the module docstring).

    Parameters
    ----------
    n_nonzero_coefs : int, optional
        s, the kept atoms (default k).
    step : "norm" or float > 0
        mu; ``"norm"`` = ``1 / ||A||_2^2`` (one SVD per matrix).
    max_iter : int >= 1
    tol : float > 0
        Stop (ok) when ``||x^{i+1} - x^i|| <= tol ||x^{i+1}||`` or ``||y - A x|| <= tol ||y||``.
    """
    s = _sparsity("iht", n_nonzero_coefs, k, A.shape[-1])
    return _run(_k.iht_batch, A, Y, _steps(A, Y.shape[0], step), np.int64(s), False, np.int64(max_iter), float(tol))


@DECODERS.register("niht", "normalised IHT: adaptive step ||g_S||^2/||A_S g_S||^2 with backtracking",
                   checks={**_S, **_IT}, problem_check=_check_problem,
                   study_defaults=_needs_sparsity)
def niht(A, Y, k, *, n_nonzero_coefs=None, max_iter=500, tol=1e-9):
    """Normalised iterative hard thresholding [BD10] (see the module docstring; parameters as :func:`iht`)."""
    s = _sparsity("niht", n_nonzero_coefs, k, A.shape[-1])
    return _run(_k.iht_batch, A, Y, np.ones(Y.shape[0]), np.int64(s), True, np.int64(max_iter), float(tol))


@DECODERS.register("htp", "hard thresholding pursuit: support of H_s(x + mu A^T r), least squares, until it repeats",
                   checks={**_S, **_STEP, "max_iter": partial(check_int, low=1)}, problem_check=_check_problem,
                   study_defaults=_needs_sparsity)
def htp(A, Y, k, *, n_nonzero_coefs=None, step=1.0, max_iter=500):
    """Hard thresholding pursuit [F11]; ``step`` mu (default 1, the paper's; ``"norm"``: ``1/||A||_2^2``).

    ``n_iter`` counts the least-squares fits; status ``ok`` when the support repeats.
    """
    s = _sparsity("htp", n_nonzero_coefs, k, A.shape[-1])
    return _run(_k.htp_batch, A, Y, _steps(A, Y.shape[0], step), np.int64(s), np.int64(max_iter))


@DECODERS.register("cosamp", "CoSaMP: merge 2s atoms of A^T r, least squares, prune to s (Needell-Tropp)",
                   checks={**_S, **_IT}, problem_check=_check_problem,
                   study_defaults=_needs_sparsity)
def cosamp(A, Y, k, *, n_nonzero_coefs=None, max_iter=500, tol=1e-9):
    """CoSaMP [NT09] (see the module docstring; stopping as :func:`iht`). Needs ``3 s <= m`` to avoid ``dependent_atoms``."""
    s = _sparsity("cosamp", n_nonzero_coefs, k, A.shape[-1])
    return _run(_k.cosamp_batch, A, Y, np.int64(s), np.int64(max_iter), float(tol))


@DECODERS.register("subspace_pursuit", "subspace pursuit: merge s atoms, least squares, keep s, refit (Dai-Milenkovic)",
                   checks={**_S, **_IT}, problem_check=_check_problem,
                   study_defaults=_needs_sparsity)
def subspace_pursuit(A, Y, k, *, n_nonzero_coefs=None, max_iter=500, tol=1e-9):
    """Subspace pursuit [DM09]: stops (ok) when the residual norm does not decrease or ``||r|| <= tol ||y||``.

    Needs ``2 s <= m`` to avoid ``dependent_atoms``.
    """
    s = _sparsity("subspace_pursuit", n_nonzero_coefs, k, A.shape[-1])
    return _run(_k.sp_batch, A, Y, np.int64(s), np.int64(max_iter), float(tol))


def _binary_inputs(A, Y):
    """``(A, Y)`` or, on a lattice (``A = S/sqrt(d)``, ``Y sqrt(d)`` integer), the exact integers ``(S, Y sqrt(d))``.

    Scaling A and y by the same positive ``sqrt(d)`` scales every score ``a_j^T r`` by d,
    so the selections are the same; in integers they are exact.
    """
    lat = lattice_matrix(A)
    if lat is not None:
        Z = lattice_vector(Y, lat[1])
        if Z is not None:
            return np.ascontiguousarray(lat[0]), np.ascontiguousarray(Z)
    return A, Y


def _matching_k(A, Y, k, steps):
    A, Y = _binary_inputs(A, Y)
    return _run(_k.matching_k_batch, A, Y, np.int64(k), np.int64(steps))


def _check_mp(params, n, k):
    if params["binary"]:
        if params["tol"] is not None:
            raise ValueError("matching_pursuit with binary=True takes k unit steps; tol is for binary=False, "
                             f"got tol={params['tol']!r}.")
        if params["n_steps"] is not None:
            raise ValueError("matching_pursuit with binary=True takes exactly k steps; n_steps is for binary=False, "
                             f"got n_steps={params['n_steps']!r}.")
        if k is None:
            raise ValueError("matching_pursuit with binary=True needs k (0 <= k <= n); got k=None.")
    elif params["n_steps"] is None and k is None:
        raise ValueError("matching_pursuit needs a number of steps: pass k (to decode) or n_steps >= 1; got neither.")
    return params


@DECODERS.register("matching_pursuit", "matching pursuit: greedy atom, coefficient a_j^T r/||a_j||^2, no refit; "
                   "binary=True: k unit steps (x in {0,1})",
                   checks={"binary": check_bool, "n_steps": optional(partial(check_int, low=1)),
                           "tol": optional(partial(check_float, low=0.0))},
                   problem_check=_check_mp, study_defaults=_mp_study)
def matching_pursuit(A, Y, k, *, binary=False, n_steps=None, tol=None):
    """Matching pursuit [MZ93] (see the module docstring).

    Parameters
    ----------
    binary : bool
        x in {0, 1}: k unit steps, each adding the not-yet-added atom with the
        largest ``a_j^T r`` (ties: lowest index) = ``matching_k`` with ``steps = k``.
    n_steps : int >= 1, optional
        General MP: the number of steps (an atom may be chosen more than once); default k.
    tol : float >= 0, optional
        General MP: also stop when ``||r||^2 <= tol`` (squared, as OMP's); ``max_iter``
        when n_steps steps end above it.
    """
    if binary:
        return _matching_k(A, Y, k, max(k, 1))
    n_steps = k if n_steps is None else n_steps
    return _run(_k.mp_batch, A, Y, np.int64(n_steps), -1.0 if tol is None else float(tol))


def _check_mk(params, n, k):
    if k is None:
        raise ValueError("matching_k needs k (0 <= k <= n); got k=None.")
    if params["steps"] > max(k, 1):
        raise ValueError(f"steps={params['steps']} must lie in [1, k] = [1, {k}] (k atoms, at least one per step).")
    return params


@DECODERS.register("matching_k", "binary x: s steps, each adds the ceil(k/s) atoms best correlated with r "
                   "(s=1: top-k, s=k: binary MP)", signals=("binary",),
                   checks={"steps": partial(check_int, low=1)}, problem_check=_check_mk)
def matching_k(A, Y, k, *, steps=1):
    """Matching-k with ``steps`` steps (see the module docstring); ``n_iter`` counts the steps."""
    return _matching_k(A, Y, k, steps)


# ---------------------------------------------------------------- operator paths
#
# The same iterations on a csbench.operators.Operator (``A x`` = matvec, ``A^T r`` = rmatvec,
# regenerated columns ``A[:, S]``), with the dense path's selection kernel (``top_s``: same tie
# rule), least-squares kernel (``ls_fit`` on the regenerated block: the same BLAS Gram and LAPACK factor)
# and stopping rules. Products come from the operator (BLAS for a DenseOperator), so results
# agree with the dense path to rounding, not bit for bit.

_NIHT_C, _NIHT_KAPPA = 0.01, 2.0


def _top(score, s):
    """``top_s`` of the kernels (ties: lowest index) on a numpy vector; the selected indices, increasing."""
    s = int(min(s, score.size))
    sel, hv, hi = np.empty(max(s, 1), np.int64), np.empty(max(s, 1)), np.empty(max(s, 1), np.int64)
    return sel[:_k.top_s(np.ascontiguousarray(score, dtype=np.float64), np.int64(s), hv, hi, sel)].copy()


def _ls(op, y, S):
    """``(x_S, A_S)`` least squares on the regenerated columns (the dense ``ls_fit``); x_S None if dependent."""
    p = S.size
    AS = np.ascontiguousarray(op.columns(S))
    R, xs = np.empty((p, p)), np.empty(p)
    ok = _k.ls_fit(AS, y, np.arange(p, dtype=np.int64), np.int64(p), R, xs)
    return (xs if ok else None), AS


def _finite(v):
    return bool(np.isfinite(v).all())


def _iht_one(op, y, s, mu, normalized, max_iter, tol, x):
    OK_, MI, DV, NF = 0, 1, 2, 3
    x[:] = 0.0
    yy = float(y @ y)
    if yy == 0.0 or s == 0:
        return 0, OK_
    ynorm = np.sqrt(yy)
    r = y.copy()
    S = np.empty(0, np.int64)
    for it in range(1, max_iter + 1):
        g = op.rmatvec(r)
        if not _finite(g):
            return it - 1, NF
        if normalized:
            if it == 1:
                S = _top(np.abs(g), s)
            num = float(g[S] @ g[S])
            if num == 0.0:
                return it - 1, OK_
            u = op.columns(S) @ g[S]
            mu = num / float(u @ u)
        shrink = 0
        while True:
            v = x + mu * g
            Sn = _top(np.abs(v), s)
            xn = np.zeros_like(x)
            xn[Sn] = v[Sn]
            if not normalized or np.array_equal(Sn, S) or shrink >= _k.NIHT_MAX_SHRINK:
                break
            d = xn - x
            D = np.flatnonzero(d)
            dd = float(d[D] @ d[D])
            if dd == 0.0:
                break
            Ad = op.columns(D) @ d[D]
            if mu <= (1.0 - _NIHT_C) * dd / float(Ad @ Ad):
                break
            mu /= _NIHT_KAPPA * (1.0 - _NIHT_C)
            shrink += 1
        d = xn - x
        dx2, xn2 = float(d @ d), float(xn @ xn)
        if not np.isfinite(dx2 + xn2):
            return it - 1, NF
        r = y - op.columns(Sn) @ xn[Sn]
        rr = float(r @ r)
        x[:] = xn
        S = Sn
        if not np.isfinite(rr):
            return it, NF
        if np.sqrt(rr) > _k.BLOWUP * ynorm:
            return it, DV
        if np.sqrt(dx2) <= tol * np.sqrt(xn2) or np.sqrt(rr) <= tol * ynorm:
            return it, OK_
    return max_iter, MI


def _htp_one(op, y, s, mu, max_iter, x):
    x[:] = 0.0
    if not np.any(y) or s == 0:
        return 0, 0
    r = y.copy()
    S = np.empty(0, np.int64)
    for it in range(1, max_iter + 2):
        g = op.rmatvec(r)
        if not _finite(g):
            return it - 1, 3
        Sn = _top(np.abs(x + mu * g), s)
        if np.array_equal(Sn, S):
            return it - 1, 0
        if it == max_iter + 1:
            break
        xs, AS = _ls(op, y, Sn)
        if xs is None:
            return it - 1, 4
        x[:] = 0.0
        x[Sn] = xs
        S = Sn
        r = y - AS @ xs
    return max_iter, 1


def _cosamp_one(op, y, s, max_iter, tol, x):
    n = op.shape[1]
    x[:] = 0.0
    yy = float(y @ y)
    if yy == 0.0 or s == 0:
        return 0, 0
    ynorm = np.sqrt(yy)
    r = y.copy()
    S = np.empty(0, np.int64)
    for it in range(1, max_iter + 1):
        g = op.rmatvec(r)
        if not _finite(g):
            return it - 1, 3
        T = np.union1d(_top(np.abs(g), 2 * s), S)
        bs, _ = _ls(op, y, T)
        if bs is None:
            return it - 1, 4
        b = np.zeros(n)
        b[T] = bs
        Sn = _top(np.abs(b), s)
        xn = np.zeros(n)
        xn[Sn] = b[Sn]
        d = xn - x
        dx2, xn2 = float(d @ d), float(xn @ xn)
        r = y - op.columns(Sn) @ xn[Sn]
        rr = float(r @ r)
        if not np.isfinite(rr + dx2 + xn2):
            return it - 1, 3
        x[:] = xn
        S = Sn
        if np.sqrt(rr) > _k.BLOWUP * ynorm:
            return it, 2
        if np.sqrt(dx2) <= tol * np.sqrt(xn2) or np.sqrt(rr) <= tol * ynorm:
            return it, 0
    return max_iter, 1


def _sp_one(op, y, s, max_iter, tol, x):
    n = op.shape[1]
    x[:] = 0.0
    yy = float(y @ y)
    if yy == 0.0 or s == 0:
        return 0, 0
    ynorm = np.sqrt(yy)
    g = op.rmatvec(y)
    if not _finite(g):
        return 0, 3
    S = _top(np.abs(g), s)
    xs, AS = _ls(op, y, S)
    if xs is None:
        return 0, 4
    r = y - AS @ xs
    rr = float(r @ r)
    st, it_done = 1, max_iter
    if np.sqrt(rr) <= tol * ynorm:
        st, it_done = 0, 0
    else:
        for it in range(1, max_iter + 1):
            g = op.rmatvec(r)
            if not _finite(g):
                st, it_done = 3, it - 1
                break
            T = np.union1d(S, _top(np.abs(g), s))
            bs, _ = _ls(op, y, T)
            if bs is None:
                st, it_done = 4, it - 1
                break
            b = np.zeros(n)
            b[T] = bs
            Sn = _top(np.abs(b), s)
            xn, ASn = _ls(op, y, Sn)
            if xn is None:
                st, it_done = 4, it - 1
                break
            rn = y - ASn @ xn
            rrn = float(rn @ rn)
            if not np.isfinite(rrn):
                st, it_done = 3, it - 1
                break
            if rrn >= rr:
                st, it_done = 0, it
                break
            S, xs, r, rr = Sn, xn, rn, rrn
            if np.sqrt(rr) <= tol * ynorm:
                st, it_done = 0, it
                break
    x[S] = xs
    return it_done, st


def _mp_one(op, y, nsq, n_steps, tol, x):
    x[:] = 0.0
    c = op.rmatvec(y)
    if not (_finite(c) and _finite(nsq)):
        return 0, 3
    inv = np.zeros_like(nsq)
    np.divide(1.0, np.sqrt(nsq), out=inv, where=nsq > 0)
    r = y.copy()
    rr = float(r @ r)
    floor = _k.CORR_FLOOR * np.sqrt(rr)
    steps, st = 0, 0
    if rr == 0.0 or rr <= tol:
        return 0, 0
    while steps < n_steps:
        score = np.abs(c) * inv
        j = int(np.argmax(score))  # first maximum: lowest index
        if score[j] <= floor:
            break
        a = c[j] / nsq[j]
        x[j] += a
        r -= a * op.columns(np.array([j]))[:, 0]
        rr = float(r @ r)
        steps += 1
        if not np.isfinite(rr):
            st = 3
            break
        if rr <= tol:
            break
        c = op.rmatvec(r)
    if st == 0 and tol >= 0.0 and rr > tol and steps == n_steps:
        st = 1
    return steps, st


def _packed_columns(op):
    """The columns of a ``rademacher`` generated operator's +-1 matrix S, bit-packed (n, ceil(m/64)) uint64
    (:func:`csbench.kernels.greedy.rademacher_packed`: bit 1 = -1), or None for any other operator."""
    from ..operators import GeneratedOperator

    if not (isinstance(op, GeneratedOperator) and op.kind == "rademacher"):
        return None
    m, n = op.shape
    P = np.empty((n, -(-m // 64)), np.uint64)
    _k.rademacher_packed(op.key[0], op.key[1], np.int64(m), P)
    return P


def _matching_k_one(op, y, k, steps, x):
    """Binary matching-k on an operator; lattice operators (``S/sqrt(d)``) score in exact integers.

    ``rademacher`` generated operators (the +-1 ensemble) never form A: their columns are regenerated
    bit-packed (n m / 8 bytes) and every score update is a popcount (:func:`_packed_columns`,
    :func:`csbench.kernels.greedy.matching_k_packed`), with the same integers and the same selection.
    """
    from .linear import _lattice_d  # the lattice test of the matched filter's operator path

    x[:] = 0.0
    d = _lattice_d(op)
    Z = lattice_vector(y, d) if d is not None else None
    P = _packed_columns(op) if Z is not None and np.abs(Z).max(initial=0.0) < 2**31 else None
    if P is not None:  # the +-1 ensemble: the same integer scores from bit-packed columns, O(n m / 64) per atom
        return _k.matching_k_packed(P, np.int64(op.shape[0]), Z.astype(np.int64), np.int64(k), np.int64(steps), x), 0
    q0 = -(-k // steps) if k else 0
    r = y.copy()
    added = it = 0
    while added < k:
        c = op.rmatvec(r)
        if not _finite(c):
            return it, 3
        if Z is not None:
            c = np.rint(c * d)  # = S^T (r sqrt(d)), an integer vector (A^T r error ~ m eps)
        c[x != 0] = -np.inf
        S = _top(c, min(q0, k - added))
        x[S] = 1.0
        r = r - op.columns(S).sum(axis=1)
        added += S.size
        it += 1
    return it, 0


def _per_trial(ops, Y, one):
    T, n = Y.shape[0], ops[0].shape[1]
    X, n_iter, status = outputs(T, n)
    for t, op in enumerate(ops):
        n_iter[t], status[t] = one(t, op, Y[t], X[t])
    return DecodeResult(X, n_iter, status)


def _op_step(op, step, cache):
    """``step`` or, for "norm", ``1 / ||A||_2^2`` by the largest singular value of the operator (ARPACK)."""
    if step != "norm":
        return float(step)
    if id(op) not in cache:
        from scipy.sparse.linalg import svds

        m, n = op.shape
        if min(m, n) <= 2:
            smax = np.linalg.norm(op.dense(), 2)
        else:
            smax = float(svds(op, k=1, tol=1e-12, return_singular_vectors=False, random_state=0)[0])
        cache[id(op)] = (op, 1.0 / smax**2 if smax > 0 else 1.0)
    return cache[id(op)][1]


@register_operator("iht")
def iht_operator(ops, Y, k, *, n_nonzero_coefs, step, max_iter, tol):
    """IHT on operators; ``step="norm"`` takes ``||A||_2`` from ``scipy.sparse.linalg.svds`` (to ~1e-12)."""
    s = _sparsity("iht", n_nonzero_coefs, k, ops[0].shape[1])
    cache = {}
    return _per_trial(ops, Y, lambda t, op, y, x: _iht_one(op, y, s, _op_step(op, step, cache), False, max_iter,
                                                             tol, x))


@register_operator("niht")
def niht_operator(ops, Y, k, *, n_nonzero_coefs, max_iter, tol):
    """NIHT on operators."""
    s = _sparsity("niht", n_nonzero_coefs, k, ops[0].shape[1])
    return _per_trial(ops, Y, lambda t, op, y, x: _iht_one(op, y, s, 1.0, True, max_iter, tol, x))


@register_operator("htp")
def htp_operator(ops, Y, k, *, n_nonzero_coefs, step, max_iter):
    """HTP on operators (least squares on the regenerated support columns)."""
    s = _sparsity("htp", n_nonzero_coefs, k, ops[0].shape[1])
    cache = {}
    return _per_trial(ops, Y, lambda t, op, y, x: _htp_one(op, y, s, _op_step(op, step, cache), max_iter, x))


@register_operator("cosamp")
def cosamp_operator(ops, Y, k, *, n_nonzero_coefs, max_iter, tol):
    """CoSaMP on operators."""
    s = _sparsity("cosamp", n_nonzero_coefs, k, ops[0].shape[1])
    return _per_trial(ops, Y, lambda t, op, y, x: _cosamp_one(op, y, s, max_iter, tol, x))


@register_operator("subspace_pursuit")
def subspace_pursuit_operator(ops, Y, k, *, n_nonzero_coefs, max_iter, tol):
    """Subspace pursuit on operators."""
    s = _sparsity("subspace_pursuit", n_nonzero_coefs, k, ops[0].shape[1])
    return _per_trial(ops, Y, lambda t, op, y, x: _sp_one(op, y, s, max_iter, tol, x))


@register_operator("matching_pursuit")
def matching_pursuit_operator(ops, Y, k, *, binary, n_steps, tol):
    """Matching pursuit on operators (an ``rmatvec`` and one regenerated column per step)."""
    if binary:
        return _per_trial(ops, Y, lambda t, op, y, x: _matching_k_one(op, y, k, max(k, 1), x))
    n_steps = k if n_steps is None else n_steps
    tol_ = -1.0 if tol is None else float(tol)
    norms = {}

    def one(t, op, y, x):
        if id(op) not in norms:
            norms[id(op)] = (op, np.asarray(op.col_norms_sq(), dtype=np.float64))
        return _mp_one(op, y, norms[id(op)][1], n_steps, tol_, x)

    return _per_trial(ops, Y, one)


@register_operator("matching_k")
def matching_k_operator(ops, Y, k, *, steps):
    """Matching-k on operators (lattice operators: exact integer scores, as the dense path)."""
    return _per_trial(ops, Y, lambda t, op, y, x: _matching_k_one(op, y, k, steps, x))
