"""How well a learned dictionary and its codes match the truth.

Dictionaries are (m, n) arrays whose columns are atoms (the csbench convention
for A); W is the true dictionary (n features), D a learned one (d atoms, d may
differ from n). Cosines are of columns; by default their absolute value is used,
so an atom and its negation count as the same feature (``signed=True`` keeps the sign).

Dictionary metrics (Sharkey, Braun & Millidge 2022, *Taking features out of
superposition with sparse autoencoders*; Bricken et al. 2023):

* MMCS = (1/n) sum_i max_j |cos(w_i, d_j)| (mean over the *true* features of
  the best cosine of any learned atom; ``over="learned"`` averages over atoms);
* recovered(t) = fraction of true features with max_j |cos(w_i, d_j)| >= t;
* an optimal one-to-one matching pi maximising sum_i |cos(w_i, d_pi(i))|
  (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`);
* dictionary MCC = (1/n) sum over matched pairs of |cos| (unmatched true
  features, when d < n, count 0).

Code metrics, after mapping learned latents to true features by a matching:
latent MCC (mean |Pearson correlation| of matched true and learned code
columns, the identifiability literature's mean correlation coefficient,
Hyvärinen & Morioka 2016, Khemakhem et al. 2020), exact support recovery,
explained variance and reconstruction MSE against mean L0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .._validate import check_choice, check_finite_array, check_float


def _unit_columns(param, A):
    A = check_finite_array(param, A, ndim=2)
    norms = np.linalg.norm(A, axis=0)
    if (norms == 0).any():
        raise ValueError(f"{param} has {int((norms == 0).sum())} zero column(s) (first {int(np.argmax(norms == 0))}); "
                         f"allowed: columns of nonzero norm.")
    return A / norms


def cosine_matrix(W, D, *, signed=False):
    """``C[i, j] = cos(w_i, d_j)`` (``|.|`` unless ``signed``), shape (n, d); W and D need the same m."""
    Wn, Dn = _unit_columns("W", W), _unit_columns("D", D)
    if Wn.shape[0] != Dn.shape[0]:
        raise ValueError(f"W has m={Wn.shape[0]} rows and D has {Dn.shape[0]}; allowed: the same m.")
    C = Wn.T @ Dn
    return C if signed else np.abs(C)


def mmcs(W, D, *, over="true", signed=False):
    """Mean max cosine similarity: mean over true features (or learned atoms) of the best |cos|."""
    check_choice("over", over, ["true", "learned"])
    C = cosine_matrix(W, D, signed=signed)
    return float(C.max(axis=1 if over == "true" else 0).mean())


def recovered_fraction(W, D, threshold=0.9, *, signed=False):
    """Fraction of true features whose best learned atom has |cos| >= ``threshold``."""
    threshold = check_float("threshold", threshold, low=-1.0, high=1.0)
    return float((cosine_matrix(W, D, signed=signed).max(axis=1) >= threshold).mean())


@dataclass
class Matching:
    """An optimal one-to-one matching of true features to learned atoms.

    ``true[i]`` is matched to ``learned[i]`` with cosine ``cos[i]`` (absolute
    value unless signed) and ``sign[i]`` = sign of the signed cosine; there are
    min(n, d) pairs, sorted by true feature. ``n`` is the number of true features.
    """

    true: np.ndarray
    learned: np.ndarray
    cos: np.ndarray
    sign: np.ndarray
    n: int

    @property
    def mcc(self):
        """Dictionary MCC: sum of matched |cos| over n (unmatched features count 0)."""
        return float(self.cos.sum() / self.n)

    def permutation(self, d):
        """``perm[j]`` = true feature matched to learned atom j, or -1; length ``d``."""
        perm = np.full(d, -1, np.int64)
        perm[self.learned] = self.true
        return perm


def match(W, D, *, signed=False):
    """Optimal one-to-one matching maximising the total |cos| (Hungarian algorithm)."""
    S = cosine_matrix(W, D, signed=True)
    C = S if signed else np.abs(S)
    rows, cols = linear_sum_assignment(C, maximize=True)
    return Matching(rows.astype(np.int64), cols.astype(np.int64), C[rows, cols], np.sign(S[rows, cols]), S.shape[0])


def dictionary_mcc(W, D, *, signed=False):
    """Mean |cos| over the optimal one-to-one matching, divided by the n true features."""
    return match(W, D, signed=signed).mcc


def dictionary_report(W, D):
    """All dictionary metrics at once: dict with mmcs, mmcs_learned, recovered_0.9, recovered_0.99, mcc."""
    C = cosine_matrix(W, D)
    rows, cols = linear_sum_assignment(C, maximize=True)
    best = C.max(axis=1)
    return {"mmcs": float(best.mean()), "mmcs_learned": float(C.max(axis=0).mean()),
            "recovered_0.9": float((best >= 0.9).mean()), "recovered_0.99": float((best >= 0.99).mean()),
            "mcc": float(C[rows, cols].sum() / C.shape[0])}


def _codes(param, Z):
    return check_finite_array(param, Z, ndim=2)


def matched_codes(Z, matching, n):
    """Learned codes Z (T, d) mapped to true features: ``out[:, true[i]] = sign[i] * Z[:, learned[i]]`` (T, n)."""
    Z = _codes("Z", Z)
    out = np.zeros((Z.shape[0], n))
    out[:, matching.true] = Z[:, matching.learned] * matching.sign
    return out


def _correlations(X, Z):
    """|Pearson correlation| between columns of X (T, n) and Z (T, d); 0 where a column is constant."""
    Xc, Zc = X - X.mean(0), Z - Z.mean(0)
    sx, sz = np.sqrt((Xc * Xc).sum(0)), np.sqrt((Zc * Zc).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        R = (Xc.T @ Zc) / np.outer(sx, sz)
    return np.abs(np.nan_to_num(R, nan=0.0, posinf=0.0, neginf=0.0))


def latent_mcc(X, Z, matching=None):
    """Mean |Pearson correlation| of true codes X (T, n) and learned codes Z (T, d) over matched pairs.

    ``matching`` (e.g. from :func:`match` on the dictionaries) fixes the pairs;
    without it they are chosen by a Hungarian matching on the code correlations
    (the identifiability literature's MCC). Divided by n: unmatched true features count 0.
    """
    X, Z = _codes("X", X), _codes("Z", Z)
    if X.shape[0] != Z.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples and Z has {Z.shape[0]}; allowed: the same number.")
    R = _correlations(X, Z)
    if matching is None:
        rows, cols = linear_sum_assignment(R, maximize=True)
    else:
        rows, cols = matching.true, matching.learned
    return float(R[rows, cols].sum() / X.shape[1])


def support_recovery(X, X_hat, *, tol=1e-6):
    """Fraction of samples whose support {i : |x_i| > tol} equals that of ``X_hat`` exactly.

    For learned codes, pass ``matched_codes(Z, matching, n)`` (an active
    unmatched latent then does not count; use :func:`unmatched_activity` to see it).
    """
    X, X_hat = _codes("X", X), _codes("X_hat", X_hat)
    tol = check_float("tol", tol, low=0.0)
    return float(((np.abs(X) > tol) == (np.abs(X_hat) > tol)).all(axis=1).mean())


def unmatched_activity(Z, matching, *, tol=1e-6):
    """Fraction of samples in which some learned latent without a true partner is active."""
    Z = _codes("Z", Z)
    free = np.setdiff1d(np.arange(Z.shape[1]), matching.learned)
    return float((np.abs(Z[:, free]) > tol).any(axis=1).mean()) if free.size else 0.0


def explained_variance(H, H_hat):
    """``1 - sum ||h - h_hat||^2 / sum ||h - mean(h)||^2`` over samples (the mean over the batch)."""
    H, H_hat = _codes("H", H), _codes("H_hat", H_hat)
    total = ((H - H.mean(0)) ** 2).sum()
    return float(1.0 - ((H - H_hat) ** 2).sum() / total) if total > 0 else float("nan")


def reconstruction_mse(H, H_hat):
    """Mean over samples of ``||h - h_hat||^2`` (summed over the m coordinates)."""
    H, H_hat = _codes("H", H), _codes("H_hat", H_hat)
    return float(((H - H_hat) ** 2).sum(axis=1).mean())


def mean_l0(Z, *, tol=0.0):
    """Mean number of latents with ``|z| > tol`` per sample."""
    return float((np.abs(_codes("Z", Z)) > tol).sum(axis=1).mean())


def identity_matching(n):
    """The matching of a dictionary to itself (codes already in the true features' basis)."""
    idx = np.arange(n, dtype=np.int64)
    return Matching(idx, idx.copy(), np.ones(n), np.ones(n), n)


def cluster_ci(values, conf=0.95):
    """Mean over clusters with a t interval: ``values`` holds one number per cluster (e.g. per dictionary).

    Each cluster's value is the mean of its samples (equal cluster sizes), so
    the samples within one dictionary/seed are not treated as independent:
    ``mean +- t_{G-1, (1+conf)/2} sd / sqrt(G)`` over the G cluster means
    (the cluster-robust interval for equal cluster sizes; Cameron & Miller 2015).
    Returns ``(mean, low, high)``; with one cluster the interval is infinite.
    """
    from scipy.stats import t as student_t

    v = np.asarray(values, float).ravel()
    conf = check_float("conf", conf, low=0.0, high=1.0, low_open=True, high_open=True)
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError(f"values must be a non-empty array of finite numbers, got {v!r}.")
    mean = float(v.mean())
    if v.size == 1:
        return mean, -np.inf, np.inf
    half = float(student_t.ppf((1 + conf) / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return mean, mean - half, mean + half
