"""Linear read-outs: the matched filter and the ReLU / threshold read-out.

Both start from the correlations ``X' = A^T Y`` (one matrix product, BLAS) and
apply a coordinate-wise rule; they are the decoders a single network layer can
implement, the "linear" side of the dense superposition question.

Decision rule (seed 003): a coordinate is decided 1 when its score is
``>= 1/2``. On lattice matrices (entries in ``{0, +-1/sqrt(d)}``, e.g. the
``rademacher`` and ``sparse`` encoders) with lattice measurements (``y`` in
``Z^m / sqrt(d)``, e.g. integer x, no noise) scores hit 1/2 exactly;
:func:`correlations` then computes them in integer arithmetic, so ties are
decided exactly, identically here, in :func:`csbench.metrics.score` and in the
exact matched-filter path of :mod:`csbench.studies.minimal_m`.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .._validate import check_bool, check_choice, check_float, check_int, or_choice
from ..decision import decide, top_k
from .backend import kernels
from .base import DECODERS, PerOperator, col_norms_sq, one_shot, register_operator

_lattice = kernels("lattice")  # numba loads on the first call, not on import


#: An entry of A within this relative distance of +-c counts as the lattice value +-c.
LATTICE_RTOL = 1e-12
#: ``sqrt(d) A^T Z`` of a lattice operator must lie this close to an integer vector (it is ~1e-10 away).
LATTICE_ITOL = 1e-3
#: ``y sqrt(d)`` within this distance of an integer vector (relative to max(1, |.|)) is on the lattice.
LATTICE_YTOL = 1e-8


def lattice_matrix(A):
    """``(S, d)`` with ``A = S / sqrt(d)``, ``S`` in {-1, 0, 1} (float array) and d a positive integer; else None.

    The nonzero entries of A must all have one magnitude ``c`` (to
    ``LATTICE_RTOL``, which absorbs the rounding of ``+-1/sqrt(m)``) with
    ``1/c^2`` an integer to 1e-9.
    """
    flat = A.reshape(-1)
    nz = flat[:64][flat[:64] != 0]
    c = float(abs(nz[0])) if nz.size else float(np.abs(flat).max(initial=0.0))
    if not (c > 0 and np.isfinite(c)) or not _lattice.on_lattice(flat, c, LATTICE_RTOL):
        return None
    d = round(1.0 / (c * c))
    if d < 1 or abs(1.0 / (c * c) - d) > 1e-9 * d:
        return None
    return np.sign(A), d


def lattice_vector(Y, d):
    """``Y sqrt(d)`` rounded to integers if it is an integer array (to ``LATTICE_YTOL``), else None."""
    Z = Y * np.sqrt(d)
    Zr = np.rint(Z)
    if np.all(np.abs(Z - Zr) <= LATTICE_YTOL * np.maximum(1.0, np.abs(Zr))):
        return Zr
    return None


def correlations(A, Y, normalize=False):
    """``X'[t] = A[t]^T Y[t]`` for shared (m, n) or per-trial (T, m, n) ``A``.

    With ``normalize=True`` coordinate j is divided by ``||a_j||^2`` (so that a
    lone active feature reads exactly 1 whatever the column norm).

    Lattice inputs (``A = S / sqrt(d)``, ``Y = Z / sqrt(d)`` with integer S, Z;
    see :func:`lattice_matrix`, :func:`lattice_vector`) are computed exactly:
    ``X' = (S^T Z) / d`` (normalised: ``(S^T Z)_j / nnz(s_j)``), the integer
    ``S^T Z`` formed in float64 without rounding (integers below 2^53) and
    divided once, so ``X'`` is the correctly rounded exact value and a
    comparison with a dyadic threshold such as 1/2 is exact.
    """
    lat = lattice_matrix(A)
    Z = lattice_vector(Y, lat[1]) if lat is not None else None
    if Z is not None:
        S, d = lat
        W = Z @ S if A.ndim == 2 else np.matmul(Z[:, None, :], S)[:, 0, :]
        if normalize:
            nnz = np.count_nonzero(S, axis=-2).reshape(-1 if A.ndim == 3 else 1, A.shape[-1])
            return W / np.where(nnz > 0, nnz, 1)
        return W / d
    if A.ndim == 2:
        Xp = Y @ A
        sq = np.einsum("ij,ij->j", A, A)[None, :]
    else:
        Xp = np.matmul(Y[:, None, :], A)[:, 0, :]
        sq = np.einsum("tij,tij->tj", A, A)
    if normalize:
        Xp /= np.where(sq > 0, sq, 1.0)
    return Xp


def top_k_mask(Xp, k):
    """Indicator (float) of the k largest entries of each row of ``Xp`` (:func:`csbench.decision.top_k`)."""
    return top_k(Xp, k)


def _needs_k(param, value, decoder):
    """``check_problem`` of a decoder whose ``param=value`` uses k: raise when k is None."""

    def check(params, n, k):
        if params[param] == value and k is None:
            raise ValueError(f"{decoder} with {param}={value!r} needs k (0 <= k <= n); got k=None.")
        return params

    return check


#: Value checks of the matched filter's parameters (run by decode() and DecoderSpec).
MF_CHECKS = {
    "rule": partial(check_choice, choices=["threshold", "sign", "topk", "fitted", "best", "raw"]),
    "threshold": check_float,
    "normalize": check_bool,
}

#: Training signals (and their seed) of the matched filter's ``rule="fitted"``. Fixed, not parameters:
#: the matrix-free operator path shares the dense decoder's parameters (and refuses "fitted").
FIT_N_TRAIN, FIT_SEED = 2000, 0

def mf_study_defaults(params, given, study):
    """``signal="signed"`` (values in {-1, 0, 1}): ``rule="sign"``; the 0/1 rules cannot decode -1 entries."""
    if study.signal == "signed" and not study.binary:
        if "rule" not in given:
            params["rule"] = "sign"
        elif params["rule"] != "sign":
            raise ValueError(f"matched_filter rule={params['rule']!r} cannot decode the entries of signal='signed' "
                             "(values in {-1, 0, 1}) exactly; use rule='sign' (sign(x') 1[|x'| >= 1/2]).")
    return params


def _mf_needs_k(params, n, k):
    if params["rule"] in ("topk", "fitted", "best") and k is None:
        raise ValueError(f"matched_filter with rule={params['rule']!r} needs k (0 <= k <= n); got k=None.")
    return params


@DECODERS.register("matched_filter", "A^T y, then 1[x' >= 1/2] (binary), sign-aware, top-k, fitted "
                   "threshold, or raw", signals=("binary", "signed"), checks=MF_CHECKS, linear_readout=True,
                   study_defaults=mf_study_defaults, problem_check=_mf_needs_k)
def matched_filter(A, Y, k, *, rule="threshold", threshold=0.5, normalize=False):
    """Matched filter ``x' = A^T y`` followed by a decision rule.

    ``rule="threshold"``: ``x_hat_i = 1[x'_i >= threshold]`` (binary signals; the
    Threshold_{1/2} perceptron of seeds 003/004, "decide 1 when the score is
    >= 1/2"); ``rule="sign"``: ``x_hat_i = sign(x'_i) 1[|x'_i| >= threshold]``
    (signals in {-1, 0, 1}); ``rule="topk"``: indicator of the k largest
    ``x'_i`` (needs k); ``rule="fitted"``: ``1[x'_i >= t]`` with t fitted per
    matrix on ``FIT_N_TRAIN`` binary k-sparse training signals of their own seed
    stream (:func:`csbench.decision.decide`, needs k; dense A only);
    ``rule="best"``: per matrix, the best of threshold / fitted / top-k on
    those training signals (dense A only);
    ``rule="raw"``: ``x'`` itself. ``normalize=True``
    divides ``x'_j`` by ``||a_j||^2``. Ties on lattice matrices are exact
    (see :func:`correlations`).
    """
    if rule in ("fitted", "best"):
        return one_shot(decide(lambda A2, Y2: correlations(A2, Y2, normalize), A, Y, k, rule,
                               threshold=threshold, n_train=FIT_N_TRAIN, train_seed=FIT_SEED))
    return matched_filter_from(partial(correlations, A, Y), k, rule=rule, threshold=threshold, normalize=normalize)


def matched_filter_from(scores, k, *, rule, threshold, normalize):
    """The matched filter's decision rule on ``Xp = scores(normalize)`` (parameters checked by decode()).

    :func:`matched_filter` passes :func:`correlations`,
    :func:`matched_filter_operator` its operator products, so both paths decide alike.
    """
    if rule in ("fitted", "best"):
        raise ValueError(f"matched_filter rule={rule!r} needs a dense A (it measures training signals); "
                         "allowed here: 'threshold', 'sign', 'topk', 'raw'.")
    Xp = scores(normalize)
    if rule == "threshold":
        return one_shot((Xp >= threshold).astype(np.float64))
    if rule == "sign":
        return one_shot(np.sign(Xp) * (np.abs(Xp) >= threshold))
    if rule == "topk":
        return one_shot(top_k_mask(Xp, k))
    return one_shot(Xp)


def edmonds_bias(m, n, k, c_prime=1.0):
    """Edmonds' bias ``b = 2 eps`` with ``eps = c' delta sqrt(k)``, ``delta = sqrt(4 ln n / m)``.

    Seed 004, Lemmas 1, 3 and 4: delta bounds all pairwise coherences w.h.p.,
    eps bounds the interference on one coordinate with probability
    1 - exp(-c'^2 / 2), and ``ReLU(x' - 2 eps)`` then errs by at most 3 eps.
    """
    return 2.0 * c_prime * np.sqrt(4.0 * np.log(n) / m) * np.sqrt(k)


#: Value checks of the ReLU read-out's parameters (run by decode() and DecoderSpec).
RELU_CHECKS = {
    "bias": or_choice(check_float, ["edmonds"]),
    "c_prime": partial(check_float, low=0.0),
    "activation": partial(check_choice, choices=["relu", "threshold"]),
    "normalize": check_bool,
}


@DECODERS.register("relu_readout", "ReLU(A^T y - b), b fixed or Edmonds' 2*eps; or Threshold_1/2",
                   signals=("binary",), checks=RELU_CHECKS, linear_readout=True,
                   problem_check=_needs_k("bias", "edmonds", "relu_readout"))
def relu_readout(A, Y, k, *, bias=0.0, c_prime=1.0, activation="relu", normalize=False):
    """ReLU read-out ``x_hat = ReLU(A^T y - b)`` (seed 004, Lemma 4).

    ``bias`` is a number or ``"edmonds"`` (``b = 2 eps``, see :func:`edmonds_bias`;
    needs k). ``activation="threshold"`` gives ``1[A^T y - b > 1/2]``, the
    Threshold_{1/2} read-out of Lemma 4 (1) when ``b = 0`` (decide 1 when ``>= 1/2``).
    """
    m, n = A.shape[-2:]
    return relu_readout_from(partial(correlations, A, Y), m, n, k, bias=bias, c_prime=c_prime,
                             activation=activation, normalize=normalize)


def relu_readout_from(scores, m, n, k, *, bias, c_prime, activation, normalize):
    """The ReLU read-out's rule on ``scores(normalize)`` (see :func:`matched_filter_from`)."""
    b = edmonds_bias(m, n, k, c_prime) if bias == "edmonds" else bias
    Z = scores(normalize) - b
    if activation == "relu":
        return one_shot(np.maximum(Z, 0.0))
    return one_shot((Z >= 0.5).astype(np.float64))


# ---------------------------------------------------------------- operator path
def _lattice_d(op):
    """d if ``op`` is ``S / sqrt(d)`` with S in {-1, 0, 1}: tested for a DenseOperator, else ``op.lattice_d``."""
    from ..operators import DenseOperator

    if isinstance(op, DenseOperator):
        lat = lattice_matrix(op.A)
        return None if lat is None else lat[1]
    d = getattr(op, "lattice_d", None)
    return None if d is None else check_int("A.lattice_d", d, low=1)


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
    lattice = PerOperator(_lattice_d)
    norms = PerOperator(col_norms_sq)
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


def matched_filter_operator(ops, Y, k, *, rule, threshold, normalize):
    """Matched filter on operators (:func:`csbench.decoders.linear.matched_filter`'s rule)."""
    return matched_filter_from(lambda norm: operator_correlations(ops, Y, norm), k, rule=rule,
                               threshold=threshold, normalize=normalize)


def relu_readout_operator(ops, Y, k, *, bias, c_prime, activation, normalize):
    """ReLU read-out on operators (:func:`csbench.decoders.linear.relu_readout`'s rule)."""
    m, n = ops[0].shape
    return relu_readout_from(lambda norm: operator_correlations(ops, Y, norm), m, n, k, bias=bias,
                             c_prime=c_prime, activation=activation, normalize=normalize)


register_operator("matched_filter")(matched_filter_operator)
register_operator("relu_readout")(relu_readout_operator)
