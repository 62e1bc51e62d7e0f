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

from .._lazy import lazy_module
from .._validate import check_bool, check_float, check_int, optional, or_choice
from .base import DECODERS, DecodeResult, run_trials
from .linear import lattice_matrix, lattice_vector

_k = lazy_module("csbench.kernels.greedy")  # numba loads on the first call, not on import

__all__ = ["cosamp", "htp", "iht", "matching_k", "matching_pursuit", "niht", "step_norm", "subspace_pursuit"]


def _outputs(T, n):
    return np.zeros((T, n)), np.zeros(T, np.int64), np.zeros(T, np.int8)


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


def _check_problem(params, n, k):
    """``n_nonzero_coefs <= n``."""
    if params.get("n_nonzero_coefs") is not None:
        check_int("n_nonzero_coefs", params["n_nonzero_coefs"], low=1, high=n)
    return params


_S = {"n_nonzero_coefs": optional(partial(check_int, low=1))}
_IT = {"max_iter": partial(check_int, low=1), "tol": partial(check_float, low=0.0, low_open=True)}
_STEP = {"step": or_choice(partial(check_float, low=0.0, low_open=True), ["norm"])}


@DECODERS.register("iht", "iterative hard thresholding x <- H_s(x + mu A^T r), mu = 1/||A||^2 (Blumensath-Davies)",
                   checks={**_S, **_STEP, **_IT}, check_problem=_check_problem)
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
    _m, n = A.shape[-2:]
    s = _sparsity("iht", n_nonzero_coefs, k, n)
    T = Y.shape[0]
    X, n_iter, status = _outputs(T, n)
    run_trials(_k.iht_batch, T, _A3(A), Y, _steps(A, T, step), np.int64(s), False, np.int64(max_iter), float(tol),
               X, n_iter, status)
    return DecodeResult(X, n_iter, status)


@DECODERS.register("niht", "normalised IHT: adaptive step ||g_S||^2/||A_S g_S||^2 with backtracking",
                   checks={**_S, **_IT}, check_problem=_check_problem)
def niht(A, Y, k, *, n_nonzero_coefs=None, max_iter=500, tol=1e-9):
    """Normalised iterative hard thresholding [BD10] (see the module docstring; parameters as :func:`iht`)."""
    _m, n = A.shape[-2:]
    s = _sparsity("niht", n_nonzero_coefs, k, n)
    T = Y.shape[0]
    X, n_iter, status = _outputs(T, n)
    run_trials(_k.iht_batch, T, _A3(A), Y, np.ones(T), np.int64(s), True, np.int64(max_iter), float(tol),
               X, n_iter, status)
    return DecodeResult(X, n_iter, status)


@DECODERS.register("htp", "hard thresholding pursuit: support of H_s(x + mu A^T r), least squares, until it repeats",
                   checks={**_S, **_STEP, "max_iter": partial(check_int, low=1)}, check_problem=_check_problem)
def htp(A, Y, k, *, n_nonzero_coefs=None, step=1.0, max_iter=500):
    """Hard thresholding pursuit [F11]; ``step`` mu (default 1, the paper's; ``"norm"``: ``1/||A||_2^2``).

    ``n_iter`` counts the least-squares fits; status ``ok`` when the support repeats.
    """
    _m, n = A.shape[-2:]
    s = _sparsity("htp", n_nonzero_coefs, k, n)
    T = Y.shape[0]
    X, n_iter, status = _outputs(T, n)
    run_trials(_k.htp_batch, T, _A3(A), Y, _steps(A, T, step), np.int64(s), np.int64(max_iter), X, n_iter, status)
    return DecodeResult(X, n_iter, status)


@DECODERS.register("cosamp", "CoSaMP: merge 2s atoms of A^T r, least squares, prune to s (Needell-Tropp)",
                   checks={**_S, **_IT}, check_problem=_check_problem)
def cosamp(A, Y, k, *, n_nonzero_coefs=None, max_iter=500, tol=1e-9):
    """CoSaMP [NT09] (see the module docstring; stopping as :func:`iht`). Needs ``3 s <= m`` to avoid ``dependent_atoms``."""
    _m, n = A.shape[-2:]
    s = _sparsity("cosamp", n_nonzero_coefs, k, n)
    T = Y.shape[0]
    X, n_iter, status = _outputs(T, n)
    run_trials(_k.cosamp_batch, T, _A3(A), Y, np.int64(s), np.int64(max_iter), float(tol), X, n_iter, status)
    return DecodeResult(X, n_iter, status)


@DECODERS.register("subspace_pursuit", "subspace pursuit: merge s atoms, least squares, keep s, refit (Dai-Milenkovic)",
                   checks={**_S, **_IT}, check_problem=_check_problem)
def subspace_pursuit(A, Y, k, *, n_nonzero_coefs=None, max_iter=500, tol=1e-9):
    """Subspace pursuit [DM09]: stops (ok) when the residual norm does not decrease or ``||r|| <= tol ||y||``.

    Needs ``2 s <= m`` to avoid ``dependent_atoms``.
    """
    _m, n = A.shape[-2:]
    s = _sparsity("subspace_pursuit", n_nonzero_coefs, k, n)
    T = Y.shape[0]
    X, n_iter, status = _outputs(T, n)
    run_trials(_k.sp_batch, T, _A3(A), Y, np.int64(s), np.int64(max_iter), float(tol), X, n_iter, status)
    return DecodeResult(X, n_iter, status)


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
    T, n = Y.shape[0], A.shape[-1]
    X, n_iter, status = _outputs(T, n)
    run_trials(_k.matching_k_batch, T, _A3(A), Y, np.int64(k), np.int64(steps), X, n_iter, status)
    return DecodeResult(X, n_iter, status)


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
                   check_problem=_check_mp)
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
    T, n = Y.shape[0], A.shape[-1]
    X, n_iter, status = _outputs(T, n)
    run_trials(_k.mp_batch, T, _A3(A), Y, np.int64(n_steps), -1.0 if tol is None else float(tol), X, n_iter, status)
    return DecodeResult(X, n_iter, status)


def _check_mk(params, n, k):
    if k is None:
        raise ValueError("matching_k needs k (0 <= k <= n); got k=None.")
    if params["steps"] > max(k, 1):
        raise ValueError(f"steps={params['steps']} must lie in [1, k] = [1, {k}] (k atoms, at least one per step).")
    return params


@DECODERS.register("matching_k", "binary x: s steps, each adds the ceil(k/s) atoms best correlated with r "
                   "(s=1: top-k, s=k: binary MP)", signals=("binary",),
                   checks={"steps": partial(check_int, low=1)}, check_problem=_check_mk)
def matching_k(A, Y, k, *, steps=1):
    """Matching-k with ``steps`` steps (see the module docstring); ``n_iter`` counts the steps."""
    return _matching_k(A, Y, k, steps)
