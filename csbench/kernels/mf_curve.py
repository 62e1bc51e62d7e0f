"""Numba kernels of the matched filter's exact one-pass success curve (:func:`csbench.studies.minimal_m._mf_curve`).

Rows of a trial's nested master are streamed once; the correlations ``s`` are
accumulated so that the decision at every m = 1 .. M costs O(n) per row.
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def mf_curve_scaled(R, x, supp, i0, t0, per_m, topk, signed, normalize, s, c, pen, succ):
    """Matched-filter success at m = i0 + 1 .. i0 + len(R) from master rows ``R`` (rows i0.. of the master).

    Resumable: ``s``, ``c`` (zeros at i0 = 0) carry ``s(m) = sum_{i<m} r_i (r_i . x)``
    and ``c_j(m) = sum_{i<m} R_ij^2`` between calls; ``pen`` is 0 off the
    support and -inf on it. The score is ``x'(m) = g s(m) / m`` (``per_m``)
    or ``g s(m)``; the decision ``x' >= thr`` is evaluated as ``s >= t0 m``
    (or ``s >= t0``) with ``t0 = thr / g``, so on integer rows (lattice
    encoders, ``g = 1``) it is exact. With ``normalize`` the score is
    ``s_j / c_j`` and ``t0 = thr``. Success: decide 1 when the score is
    ``>= thr``: ``min_S x_l x'_l >= thr > max_{S^c} x'`` (``signed``: ``|x'|``
    off the support, for x in {-1, 0, 1} and the sign rule); top-k rule
    ``min x'_S > max x'_{S^c}``, or equal with the tie going to the support: the
    largest support index at the minimum below the smallest off-support index at
    the maximum (the lowest-index tie rule of
    :func:`csbench.decoders.linear.top_k_mask`, so the curve is ``decode``'s
    top-k exactly on lattice matrices). Rows beyond ``succ.size`` are ignored.
    """
    B, n = R.shape
    for r in range(min(B, succ.size - i0)):
        i = i0 + r
        yi = 0.0
        for l in supp:
            yi += R[r, l] * x[l]
        vout = -np.inf
        jout = n
        for j in range(n):
            s[j] += R[r, j] * yi
            if normalize:
                c[j] += R[r, j] * R[r, j]
                v = s[j] / c[j] if c[j] > 0 else s[j]
            else:
                v = s[j]
            if signed:
                v = abs(v)
            v += pen[j]
            if v > vout:
                vout = v
                jout = j
        vin = np.inf
        lin = -1
        for l in supp:
            v = (s[l] / c[l] if c[l] > 0 else s[l]) if normalize else s[l]
            v *= x[l]
            if v <= vin:
                vin = v
                lin = l
        if topk:
            succ[i] = vin > vout or (vin == vout and lin < jout)
        else:
            t = t0 * (i + 1.0) if per_m else t0
            succ[i] = vin >= t and vout < t


@njit(cache=True, nogil=True)
def mf_curve_columns(R, x, supp, topk, signed, thr, succ):
    """As :func:`mf_curve_scaled` for unit-column matrices ``A_m = R[:m] D_m^{-1}``.

    ``x'_j(m) = sum_l x_l C_jl(m) / (r_j r_l)`` with ``C(m) = R[:m]^T R[:m, S]``
    and ``r_j^2 = sum_{i<m} R_ij^2`` (cost O(M n k)).
    """
    M, n = R.shape
    k = supp.size
    C = np.zeros((n, k))
    r2 = np.zeros(n)
    insupp = np.zeros(n, np.bool_)
    for l in supp:
        insupp[l] = True
    for i in range(M):
        for j in range(n):
            rij = R[i, j]
            r2[j] += rij * rij
            for a in range(k):
                C[j, a] += rij * R[i, supp[a]]
        vin = np.inf
        vout = -np.inf
        lin = -1
        jout = n
        for j in range(n):
            v = 0.0
            for a in range(k):
                l = supp[a]
                den = np.sqrt(r2[j] * r2[l])
                if den > 0:
                    v += x[l] * C[j, a] / den
            if insupp[j]:
                v *= x[j]
                if v <= vin:
                    vin = v
                    lin = j
            else:
                if signed:
                    v = abs(v)
                if v > vout:
                    vout = v
                    jout = j
        if topk:
            succ[i] = vin > vout or (vin == vout and lin < jout)
        else:
            succ[i] = vin >= thr and vout < thr
