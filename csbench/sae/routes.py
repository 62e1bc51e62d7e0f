"""Inference routes on a dictionary, each judged at its best decision rule, with intervals over dictionaries.

A *route* turns measurements H (T, m) into codes (T, d) on a dictionary D
(m, d): csbench's per-sample decoders through :func:`csbench.decoders.decode`
(nonnegative lasso, nonnegative OMP with k atoms, nonnegative soft-threshold
AMP, nonnegative basis pursuit), the two linear read-outs (the matched filter
``D^T h`` and its top-k), an SAE's own encoder, or an amortised encoder fitted
with the dictionary known (:func:`csbench.decoders.readouts.fit_readout`).

**Scoring** (:func:`score_route`). Codes are mapped to the true features by a
matching of D to W (:mod:`.metrics`; the identity on W itself), then

* latent MCC (:func:`.metrics.latent_mcc`) of the raw codes (rule-free);
* exact support recovery *at the route's best decision rule*: the matched codes
  are scores, and the rule — ``threshold`` (1[s >= tol], the route's own
  support), ``fitted`` (the threshold maximising exact recovery) or ``topk``
  (k known) — is chosen by :func:`csbench.decision.select_rule` on *training*
  samples (their own index range of the same data stream, never the test
  samples), then applied to the test samples. Every route goes through the same
  rule selection, so the comparison holds the decision step fixed (the
  project's standard for linear read-outs, ``docs/decoders.md``, applied to
  every route). The own-support rate (rule ``threshold`` at ``tol``) is kept too.

**Intervals over dictionaries** (:func:`summarise`). Samples decoded with one
dictionary are not independent draws (they share the dictionary, and for a
learned one its training run); the clusters are the dictionaries (one true W
and one SAE training per seed). Exact recovery: per-dictionary counts through
:func:`csbench.intervals.cluster_interval` (Wilson at the Korn-Graubard
effective size, the rate for a new dictionary). MCC and the other per-dictionary
numbers: mean over dictionaries with a t interval (:func:`.metrics.cluster_ci`).
"""
from __future__ import annotations

import numpy as np

from .. import intervals
from ..decision import apply_rule, exact_recovery, select_rule
from ..decoders import decode
from . import metrics as M

#: Per-sample routes (csbench decoders) and linear read-outs, by name; ``topk`` = the matched filter's top k.
ROUTES = ("lasso+", "omp+", "amp+", "basis_pursuit+", "matched_filter", "topk")
#: A code entry above this counts as active for the routes' own support (rule ``threshold``).
SUPPORT_TOL = 0.01


def route_codes(D, H, k, routes=ROUTES):
    """Codes of ``H`` (T, m) on dictionary ``D`` (m, d) by each route: name -> (codes (T, d), ok fraction).

    ``lasso+``: ``decode("lasso", positive=True)`` at csbench's default lam_ratio 1e-3;
    ``omp+``: ``decode("omp", k, positive=True)``; ``amp+``: ``decode("amp", nonneg=True)``
    (soft threshold, minimax tau); ``basis_pursuit+``: ``decode("basis_pursuit", nonneg=True)``;
    ``matched_filter``: ``decode("matched_filter", rule="raw")`` = ``D^T h`` (scores);
    ``topk``: those scores with all but the k largest set to 0. The ok fraction is the
    share of trials with status ``ok`` (1 for the read-outs).
    """
    out = {}
    calls = {"lasso+": ("lasso", {"positive": True}), "omp+": ("omp", {"positive": True}),
             "amp+": ("amp", {"nonneg": True}), "basis_pursuit+": ("basis_pursuit", {"nonneg": True})}
    mf = None
    for name in routes:
        if name in calls:
            dec, kw = calls[name]
            r = decode(dec, D, H, k=k, **kw)
            out[name] = (np.asarray(r.X_hat, float), float(np.mean(np.asarray(r.status) == 0)))
        elif name in ("matched_filter", "topk"):
            if mf is None:
                mf = np.asarray(decode("matched_filter", D, H, k=k, rule="raw").X_hat, float)
            out[name] = (mf if name == "matched_filter" else mf * apply_rule(mf, "topk", k), 1.0)
        else:
            raise ValueError(f"route={name!r} is unknown; allowed: {', '.join(ROUTES)}.")
    return out


def score_route(X, Z, X_train, Z_train, matching, k, tol=SUPPORT_TOL):
    """Metrics of one route: latent MCC, exact recovery at the best rule (chosen on training samples), own support.

    Parameters
    ----------
    X, Z : (T, n) true codes and (T, d) the route's codes on the test samples.
    X_train, Z_train : the same on training samples (for the rule selection only).
    matching : :class:`.metrics.Matching` of the route's dictionary to W (``identity_matching(n)`` on W).
    k : int, known number of active features (rule ``topk``).

    Returns
    -------
    dict with ``mcc``, ``exact`` (successes), ``own`` (successes at 1[s >= tol]), ``trials``,
    ``rule`` and ``threshold`` (the rule picked on the training samples).
    """
    n = X.shape[1]
    S, S_tr = M.matched_codes(Z, matching, n), M.matched_codes(Z_train, matching, n)
    rule, thr, _ = select_rule(S_tr, X_train, k=k, threshold=tol)
    exact = int(exact_recovery(apply_rule(S, rule, k, thr), X).sum())
    own = int(exact_recovery(apply_rule(S, "threshold", k, tol), X).sum())
    return {"mcc": M.latent_mcc(X, Z, matching), "exact": exact, "own": own, "trials": int(X.shape[0]),
            "rule": rule, "threshold": float(thr)}


def fitted_encoder_codes(W, X_fit, H):
    """Amortised encoder with the dictionary known: ``ReLU(H E^T + c)``, E and c fitted on ``(X_fit, W X_fit)``.

    :func:`csbench.decoders.readouts.fit_readout` (the convex surrogate of the MSE of a ReLU
    encoder, L-BFGS from E = W^T): an SAE encoder whose decoder is fixed to the true W, trained on
    samples of the same stream (``X_fit``, never the test samples). Returns ``(codes, converged)``.
    """
    from scipy import sparse

    from ..decoders.readouts import fit_readout

    E, c, _, converged = fit_readout(np.asarray(W, float), sparse.csr_matrix(np.asarray(X_fit, float)))
    return np.maximum(np.asarray(H, float) @ E.T + c, 0.0), bool(converged)


def dictionary_rows(D, H, X, H_train, X_train, k, matching, *, routes=ROUTES, offset=None, encoder=None, common=None):
    """One row per route on dictionary D: :func:`score_route` of :func:`route_codes` (plus ``encoder``).

    ``offset`` (m,) is subtracted from H first (an SAE's ``b_dec``: its dictionary models
    ``h - b_dec``); ``encoder`` is an optional ``(name, codes_test, codes_train)`` (e.g. the SAE's own
    encoder, fed the raw H); ``common`` is merged into every row.
    """
    common = dict(common or {})
    Hs, Ht = (H, H_train) if offset is None else (H - offset, H_train - offset)
    rows = []
    if encoder is not None:
        name, Z, Z_tr = encoder
        rows.append({**common, "route": name, "ok": 1.0, **score_route(X, Z, X_train, Z_tr, matching, k)})
    test, train = route_codes(D, Hs, k, routes), route_codes(D, Ht, k, routes)
    for name in routes:
        rows.append({**common, "route": name, "ok": test[name][1],
                     **score_route(X, test[name][0], X_train, train[name][0], matching, k)})
    return rows


def summarise(rows, by, extra=("mmcs", "ok", "dead")):
    """Per group of ``rows`` (keys ``by``): clustered intervals over the rows (one row per dictionary).

    ``exact`` and ``own``: :func:`csbench.intervals.cluster_interval` of the per-dictionary counts;
    ``mcc`` and the keys of ``extra`` present: :func:`.metrics.cluster_ci` (t interval over dictionaries,
    clipped to [0, 1]). Also ``rules``: how often each decision rule was picked.
    """
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r[b] for b in by), []).append(r)
    out = []
    for key, rs in groups.items():
        entry = dict(zip(by, key))
        entry["dictionaries"] = len(rs)
        for name in ("exact", "own"):
            est, lo, hi = intervals.cluster_interval([r[name] for r in rs], [r["trials"] for r in rs])
            entry[name] = {"mean": float(est), "low": float(lo), "high": float(hi)}
        for name in ("mcc", *extra):
            vals = [r[name] for r in rs if r.get(name) is not None]
            if len(vals) == len(rs):
                mean, lo, hi = M.cluster_ci(vals)
                entry[name] = {"mean": mean, "low": max(lo, 0.0), "high": min(hi, 1.0)}
        rules = {}
        for r in rs:
            rules[r["rule"]] = rules.get(r["rule"], 0) + 1
        entry["rules"] = rules
        out.append(entry)
    return out


def crossing(m, low, mid, high, q=0.5):
    """The m where a success curve first reaches ``q``, with an interval from its pointwise band.

    ``m`` increasing; ``mid`` the success rates, ``low``/``high`` their pointwise interval. The
    estimate is the first upward crossing of ``q`` by ``mid``, linearly interpolated in ln m; the
    interval is the crossing of ``high`` (low end) and of ``low`` (high end). Censored ends: a curve that
    never reaches q gives ``inf`` (above the grid), one already at q on the first grid point ``-inf``
    (at or below the grid). Returns ``(m_star, m_low, m_high)``.
    """
    m = np.asarray(m, float)

    def first(y):
        y = np.asarray(y, float)
        above = np.flatnonzero(y >= q)
        if above.size == 0:
            return np.inf
        j = int(above[0])
        if j == 0:
            return -np.inf
        a, b = y[j - 1], y[j]
        t = (q - a) / (b - a)
        return float(np.exp(np.log(m[j - 1]) + t * (np.log(m[j]) - np.log(m[j - 1]))))

    return first(mid), first(high), first(low)
