"""Linear read-outs: the matched filter and the ReLU / threshold read-out.

Both start from the correlations ``X' = A^T Y`` (one matrix product, BLAS) and
apply a coordinate-wise rule; they are the decoders a single network layer can
implement, the "linear" side of the dense superposition question.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_bool, check_choice, check_float
from .base import DECODERS, one_shot


def correlations(A, Y, normalize=False):
    """``X'[t] = A[t]^T Y[t]`` for shared (m, n) or per-trial (T, m, n) ``A``.

    With ``normalize=True`` coordinate j is divided by ``||a_j||^2`` (so that a
    lone active feature reads exactly 1 whatever the column norm).
    """
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
    """Indicator (float) of the k largest entries of each row of ``Xp``."""
    T, n = Xp.shape
    out = np.zeros((T, n))
    if k == 0:
        return out
    idx = np.argpartition(-Xp, k - 1, axis=1)[:, :k]
    np.put_along_axis(out, idx, 1.0, axis=1)
    return out


@DECODERS.register("matched_filter", "A^T y, then threshold at 1/2 (binary), top-k, or raw")
def matched_filter(A, Y, k, *, rule="threshold", threshold=0.5, normalize=False):
    """Matched filter ``x' = A^T y`` followed by a decision rule.

    ``rule="threshold"``: ``x_hat_i = 1[x'_i > threshold]`` (binary signals; the
    Threshold_{1/2} perceptron of seeds 003/004); ``rule="topk"``: indicator of
    the k largest ``x'_i`` (needs k); ``rule="raw"``: ``x'`` itself.
    ``normalize=True`` divides ``x'_j`` by ``||a_j||^2``.
    """
    check_choice("rule", rule, ["threshold", "topk", "raw"])
    threshold = check_float("threshold", threshold)
    normalize = check_bool("normalize", normalize)
    if rule == "topk" and k is None:
        raise ValueError("matched_filter with rule='topk' needs k (0 <= k <= n); got k=None.")
    Xp = correlations(A, Y, normalize)
    if rule == "threshold":
        return one_shot((Xp > threshold).astype(np.float64))
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


@DECODERS.register("relu_readout", "ReLU(A^T y - b), b fixed or Edmonds' 2*eps; or Threshold_1/2")
def relu_readout(A, Y, k, *, bias=0.0, c_prime=1.0, activation="relu", normalize=False):
    """ReLU read-out ``x_hat = ReLU(A^T y - b)`` (seed 004, Lemma 4).

    ``bias`` is a number or ``"edmonds"`` (``b = 2 eps``, see :func:`edmonds_bias`;
    needs k). ``activation="threshold"`` gives ``1[A^T y - b > 1/2]``, the
    Threshold_{1/2} read-out of Lemma 4 (1) when ``b = 0``.
    """
    check_choice("activation", activation, ["relu", "threshold"])
    check_float("c_prime", c_prime, low=0.0)
    m, n = A.shape[-2:]
    if isinstance(bias, str):
        check_choice("bias", bias, ["edmonds"])
        if k is None:
            raise ValueError("relu_readout with bias='edmonds' needs k (0 <= k <= n); got k=None.")
        b = edmonds_bias(m, n, k, c_prime)
    else:
        b = check_float("bias", bias)
    normalize = check_bool("normalize", normalize)
    Z = correlations(A, Y, normalize) - b
    if activation == "relu":
        return one_shot(np.maximum(Z, 0.0))
    return one_shot((Z > 0.5).astype(np.float64))
