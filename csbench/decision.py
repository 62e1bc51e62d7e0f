"""Decision rules for linear read-outs: a read-out's scores -> a 0/1 support estimate.

A linear read-out (matched filter ``A^T y``, the LMMSE map, a trained
``E y + c``, an SAE encoder) produces real scores; deciding which features are
active is a separate choice, and comparing read-outs at one rule compares
rules, not read-outs (issue 17). Three rules:

* ``"threshold"``: ``1[s_i >= threshold]`` with a fixed threshold (1/2, seeds 003/004);
* ``"fitted"``: the same with the threshold chosen by :func:`fit_threshold` on
  *training* signals drawn from their own seed stream (:func:`training_signals`),
  never the signals being evaluated;
* ``"topk"``: the k largest scores (k known, as a TopK encoder has it).

:func:`select_rule` picks, per read-out, the rule with the highest exact
recovery on the training signals, so "the best linear read-out" is chosen
without looking at the evaluation signals; :func:`decide` applies any rule
(or ``"best"``) per matrix for the decoders' ``rule=`` parameter. Pure numpy.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_choice, check_float, check_int
from .seeding import key_words

__all__ = ["RULES", "apply_rule", "decide", "exact_recovery", "fit_threshold", "select_rule", "top_k",
           "training_signals"]

RULES = ("threshold", "fitted", "topk")

#: Entropy tag of the threshold-fitting streams, disjoint from every problem stream
#: (entropy ``[root, *sha256(cell key)]``) and from the trained read-out's samples.
_TAG = key_words("csbench.decision.training_signals")


def _scores(param, scores):
    S = np.asarray(scores, dtype=float)
    if S.ndim != 2:
        raise ValueError(f"{param} must be a 2-D array (signals, features), got shape {S.shape}.")
    return S


def top_k(scores, k):
    """Indicator (float64) of the k largest entries of each row; ties at the k-th value go to the lowest indices.

    The tie rule of the greedy decoders (:mod:`csbench.decoders.greedy`), so that ``matching_k`` with one
    step is the matched filter's top-k exactly, also on lattice matrices where scores tie exactly
    (``argpartition`` alone picks tied entries in an unspecified order).
    """
    S = _scores("scores", scores)
    k = check_int("k", k, low=0, high=S.shape[1])
    out = np.zeros(S.shape)
    if k == 0:
        return out
    thr = -np.partition(-S, k - 1, axis=1)[:, k - 1:k]  # the k-th largest of each row
    above = S > thr
    tie = S == thr
    take = tie & (np.cumsum(tie, axis=1) <= k - above.sum(axis=1, keepdims=True))
    out[above | take] = 1.0
    return out


def apply_rule(scores, rule, k=None, threshold=0.5):
    """0/1 estimate (float64, same shape) from ``scores`` (T, n) by ``rule``.

    ``"threshold"`` and ``"fitted"``: ``1[s_i >= threshold]`` (for ``"fitted"`` pass
    the threshold from :func:`fit_threshold`); ``"topk"``: the k largest per row.
    """
    rule = check_choice("rule", rule, list(RULES))
    S = _scores("scores", scores)
    if rule == "topk":
        if k is None:
            raise ValueError("rule='topk' needs k (0 <= k <= n); got k=None.")
        return top_k(S, k)
    threshold = check_float("threshold", threshold)
    return (S >= threshold).astype(np.float64)


def exact_recovery(X_hat, X):
    """Boolean per row: every coordinate of ``X_hat`` equals the support indicator ``1[x != 0]``."""
    return np.all((np.asarray(X_hat) != 0) == (np.asarray(X) != 0), axis=1)


def fit_threshold(scores_train, X_train):
    """Threshold maximising exact recovery of ``1[s >= t]`` on training signals.

    Row r is recovered exactly iff ``lo_r < t <= hi_r`` with ``lo_r`` the
    largest score off the support and ``hi_r`` the smallest on it. The count
    of rows recovered is piecewise constant in t with breakpoints at the
    ``lo_r`` and ``hi_r``; a sweep over the sorted breakpoints (O(N log N))
    finds the segment with the largest count, and the threshold is its
    midpoint (among equal counts, the widest segment; an unbounded segment
    gives its finite end +- 1/2). If no row can be recovered (every
    ``lo_r >= hi_r``), it maximises the number of correct coordinates instead
    (same sweep over all scores).

    Parameters
    ----------
    scores_train : array_like, shape (N, n)
        The read-out's scores on the training signals.
    X_train : array_like, shape (N, n)
        The training signals (support = nonzero entries).

    Returns
    -------
    float
    """
    S = _scores("scores_train", scores_train)
    X = np.asarray(X_train)
    if X.shape != S.shape:
        raise ValueError(f"X_train has shape {X.shape}; it must match scores_train {S.shape}.")
    if S.shape[0] == 0:
        raise ValueError("scores_train has no rows; fit_threshold needs at least one training signal.")
    on = X != 0
    lo = np.where(on, -np.inf, S).max(axis=1)
    hi = np.where(on, S, np.inf).min(axis=1)
    ok = lo < hi
    if ok.any():
        return _best_segment(lo[ok], hi[ok])
    return _best_hamming(S.ravel(), on.ravel())


def _best_segment(lo, hi):
    """Midpoint of the segment covered by the most intervals (lo_r, hi_r]."""
    pts = np.concatenate([lo, hi])
    delta = np.concatenate([np.ones(lo.size), -np.ones(hi.size)])
    order = np.lexsort((-delta, pts))  # at equal points open (+1) before close (-1): counts touching ends
    pts, delta = pts[order], delta[order]
    count = np.cumsum(delta)  # count on (pts[j], pts[j+1])
    width = np.diff(pts)
    seg = count[:-1]
    cand = np.flatnonzero(seg == seg.max()) if seg.size else np.array([], int)
    cand = cand[width[cand] > 0] if cand.size else cand
    if cand.size == 0:  # only zero-width coincidences: any covered point
        return float(hi[0])
    j = cand[np.argmax(np.where(np.isfinite(width[cand]), width[cand], np.inf))]
    a, b = pts[j], pts[j + 1]
    if np.isfinite(a) and np.isfinite(b):
        return float(0.5 * (a + b))
    return float(b - 0.5) if np.isfinite(b) else float(a + 0.5)


def _best_hamming(s, on):
    """Threshold t maximising #{on and s >= t} + #{off and s < t} (midpoint between sorted scores)."""
    order = np.argsort(s, kind="stable")
    s, on = s[order], on[order]
    # t just above s[j]: correct = (#off among 0..j) + (#on among j+1..)
    off_below = np.cumsum(~on)
    on_above = on.sum() - np.cumsum(on)
    correct = np.concatenate([[on.sum()], off_below + on_above])  # index 0: t below everything
    j = int(np.argmax(correct))
    if j == 0:
        return float(s[0] - 0.5)
    if j == s.size:
        return float(s[-1] + 0.5)
    return float(0.5 * (s[j - 1] + s[j]))


def select_rule(scores_train, X_train, k=None, threshold=0.5, rules=RULES):
    """The rule with the highest exact recovery on the training signals: ``(rule, threshold, rates)``.

    ``threshold`` is the fitted one when ``rule == "fitted"``, else the fixed
    one; ``rates`` maps each rule tried to its training exact-recovery rate.
    Ties go to the earlier rule in ``rules`` (fixed before fitted before top-k).
    ``"topk"`` is tried only when k is given.
    """
    S = _scores("scores_train", scores_train)
    t_fit = fit_threshold(S, X_train)
    rates = {}
    for rule in rules:
        if rule == "topk" and k is None:
            continue
        t = t_fit if rule == "fitted" else threshold
        rates[rule] = float(exact_recovery(apply_rule(S, rule, k, t), X_train).mean())
    best = max(rates, key=lambda r: (rates[r], -list(rules).index(r)))
    return best, (t_fit if best == "fitted" else threshold), rates


def training_signals(signal, n, k, n_samples, seed=0, signal_params=None, m=None, noise=0.0):
    """Training signals for fitting decision rules: ``(X, Z)``, X dense (N, n), Z = noise (N, m) or None.

    Drawn from ``SeedSequence([seed, *sha256("csbench.decision.training_signals")])``
    (signals from its first child, noise ``noise * N(0, 1)`` from its second; needs
    ``m`` when ``noise > 0``): a stream disjoint from every study problem stream
    (entropy ``[root, *sha256(cell key)]``) and from ``trained_readout``'s samples.
    """
    from .signals import SIGNALS, check_signal

    n_samples = check_int("n_samples", n_samples, low=1)
    seed = check_int("seed", seed, low=0)
    noise = check_float("noise", noise, low=0.0)
    sp = check_signal(signal, n, k, dict(signal_params or {}))
    sig, noi = np.random.SeedSequence([seed, *_TAG]).spawn(2)
    rng = np.random.default_rng(sig)
    draw = SIGNALS.get(signal).func
    X = np.stack([draw(rng, n, k, **sp) for _ in range(n_samples)])
    Z = noise * np.random.default_rng(noi).standard_normal((n_samples, m)) if noise > 0 else None
    return X, Z


def decide(raw, A, Y, k, rule, *, threshold=0.5, signal="binary", signal_params=None, noise=0.0,
           n_train=2000, train_seed=0, return_rules=False):
    """Apply ``rule`` to a read-out's raw scores ``raw(A_t, Y_t)``, fitting the threshold where needed.

    ``raw(A2, Y2)`` returns the read-out's scores (rows of ``Y2``) for one (m, n)
    matrix ``A2``. ``A`` is shared (m, n) or per trial (T, m, n). For ``"fitted"``
    each distinct matrix gets its own threshold, fitted by :func:`fit_threshold`
    on ``n_train`` signals from :func:`training_signals` (``train_seed``) measured
    with that matrix (``y = A x + z``) and never on ``Y``. ``rule="best"``: per
    matrix, the rule of :data:`RULES` with the highest exact recovery on those
    training signals (:func:`select_rule`, fixed ``threshold`` / fitted / top-k;
    ties to the earlier). Returns the (T, n) 0/1 estimate, and with
    ``return_rules=True`` also the rule used per row (a list of T strings).
    """
    rule = check_choice("rule", rule, [*RULES, "best"])
    T = Y.shape[0]
    if rule not in ("fitted", "best"):
        S = raw(A, Y) if A.ndim == 2 else np.stack([raw(A[t], Y[t:t + 1])[0] for t in range(T)])
        out = apply_rule(S, rule, k, threshold)
        return (out, [rule] * T) if return_rules else out
    m, n = A.shape[-2:]
    X_tr, Z_tr = training_signals(signal, n, k, n_train, train_seed, signal_params, m=m, noise=noise)
    out = np.empty((T, n))
    used = [rule] * T
    for t in range(1 if A.ndim == 2 else T):
        At = A if A.ndim == 2 else A[t]
        Y_tr = X_tr @ At.T + (0.0 if Z_tr is None else Z_tr)
        S_tr = raw(At, Y_tr)
        if rule == "fitted":
            r, tau = "fitted", fit_threshold(S_tr, X_tr)
        else:
            r, tau, _ = select_rule(S_tr, X_tr, k=k, threshold=threshold)
        rows = slice(None) if A.ndim == 2 else slice(t, t + 1)
        out[rows] = apply_rule(raw(At, Y[rows]), r, k, tau)
        if A.ndim == 2:
            used = [r] * T
        else:
            used[t] = r
    return (out, used) if return_rules else out
