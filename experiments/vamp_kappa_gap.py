"""Why VAMP (Bernoulli-Gaussian) misses its state evolution at kappa = 1e4, n = 1000: the measurements of docs/decoders.md.

Setting of the tests: ``A = roi_matrix(rng, 500, 1000, kappa)``, x Bernoulli-Gaussian (rho = 0.1), sigma = 0.014
(SNR ~ 30 dB). Sections (each prints its numbers):

* ``slope``: the SE's fixed point per kappa and the spectral radius of one SE iteration's Jacobian there (in
  ``(log gamma2, log tau2)``; for the Bayes denoiser it is the slope ``d log gamma2' / d log gamma2``; near 1:
  slow contraction, perturbations amplified by ``1 / (1 - r)``), Bayes and soft at 30 dB, Bayes at 40 dB;
* ``starts``: the SE at kappa = 1e4 from several starting precisions (one fixed point or several?);
* ``mc``: Monte Carlo of the kernel's denoiser against the SE's quadrature at the SE's fixed point;
* ``damping``: NMSE and statuses of VAMP at kappa = 1e4 (16 trials) undamped and damped, with the range of
  alpha1 / alpha2 over the iterations of a plain-numpy VAMP (are the clips ever hit?);
* ``seeds``: per seed (8 trials, damping 0.5): VAMP's NMSE, the SE conditioned on the drawn signals
  (``vamp_state_evolution(..., signal=x)``) and the SE;
* ``spread``: the signal-conditioned SE over many random signals at n = 1000 and 4000 (no algorithm);
* ``decoupling``: at VAMP's end point, r1's error on and off the support, and Stein's identity;
* ``scaling`` (not in the default run): VAMP's gap to its SE at kappa = 1e4 against n (m = n/2, sigma = 0.014,
  damping 0.5, max_iter 1000), several independent ROI matrices per n with a few trials each; per n the pooled
  NMSE, the SE, the SE conditioned on the same signals, and the gaps with 95 % intervals over matrices (a
  t-interval over per-matrix pooled dB and a cluster bootstrap of the pooled ratio); JSON under results/
  (``--out``), rewritten after every matrix; ``merge`` combines such files (``--merge a.json,b.json --out c.json``),
  prints per-trial statistics (median, mean of dB, sd) and fits of the gaps against n^-1/2, and with
  ``--update-data`` also writes data/vamp_kappa_gap_scaling.json (the table of docs/decoders.md).

    python experiments/vamp_kappa_gap.py                    # all sections (~10 min idle)
    python experiments/vamp_kappa_gap.py --sections slope,starts
    python experiments/vamp_kappa_gap.py --sections scaling --ns 1000,2000,4000 --matrices 8,6,4 --trials 4
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from scipy import stats
from scipy.special import expit
from tqdm import tqdm

from csbench import decode
from csbench.encoders.orthoinv import geometric_spectrum, roi_matrix
from csbench.kernels.vamp import BERN_GAUSS, denoise
from csbench.theory import minimax_threshold, vamp_state_evolution
from csbench.theory.vamp import scalar_channel

M, N, RHO, SIGMA = 500, 1000, 0.1, 0.014
SECTIONS = ("slope", "starts", "mc", "damping", "seeds", "spread", "decoupling")
EXTRA = ("scaling", "merge")
#: The tests' sigma is 0.014; ``slope`` uses the study's sqrt(rho n / m / 10^(SNR/10)) (0.01414 at 30 dB).


def db(v):
    return 10 * np.log10(v)


def spectrum(m, n, kappa):
    s = geometric_spectrum(m, kappa)
    return s * np.sqrt(n / np.sum(s * s))


def problem(seed, T, kappa=1e4, m=M, n=N):
    """The tests' draw order: A, then X, then the noise."""
    rng = np.random.default_rng(seed)
    A = roi_matrix(rng, m, n, kappa=kappa)
    X = np.where(rng.random((T, n)) < RHO, rng.standard_normal((T, n)), 0.0)
    return A, X, X @ A.T + SIGMA * rng.standard_normal((T, m))


def se_map(g2, lam, gw):
    """One matched SE iteration gamma2 -> gamma2' (tau = 1/gamma) and the MSE E1 on the way."""
    a2 = np.mean(g2 / (gw * lam + g2))
    g1 = g2 * (1 - a2) / a2
    E1, a1 = scalar_channel(prior="bernoulli_gaussian", density=RHO, gamma=g1, tau=1 / g1)
    return g1 * (1 - a1) / a1, E1, g1


def se_step(v, lam, sigma, tau_soft=None):
    """One SE iteration on ``v = (log gamma2, log tau2)`` (tau tracked: also the mismatched soft denoiser)."""
    g2, t2 = np.exp(v)
    gw, tw = 1 / sigma**2, sigma**2
    den = gw * lam + g2
    a2, E2 = np.mean(g2 / den), np.mean((gw * gw * lam * tw + g2 * g2 * t2) / den**2)
    g1, t1 = g2 * (1 - a2) / a2, (E2 - a2 * a2 * t2) / (1 - a2) ** 2
    kw = {} if tau_soft is None else {"denoiser": "soft", "threshold": tau_soft}
    E1, a1 = scalar_channel(prior="bernoulli_gaussian", density=RHO, gamma=g1, tau=t1, **kw)
    return np.log([g1 * (1 - a1) / a1, (E1 - a1 * a1 * t1) / (1 - a1) ** 2]), E1


def slope():
    """Fixed point and the spectral radius of the SE's Jacobian there (Bayes: = d log gamma2'/d log gamma2)."""
    tau_soft = float(minimax_threshold(M / N))
    for snr in (30.0, 40.0):
        sigma = np.sqrt(RHO * N / M / 10 ** (snr / 10))
        print(f"[slope] SNR {snr:g} dB (sigma {sigma:.4f})")
        for kappa in (1, 10, 100, 300, 1e3, 3e3, 1e4, 1e5, 1e6):
            lam = np.concatenate([spectrum(M, N, kappa) ** 2, np.zeros(N - M)])
            out = []
            for ts in (None, tau_soft) if snr == 30.0 else (None,):
                v, it = np.log([1 / RHO, RHO]), 0
                for it in range(5000):
                    vn, E1 = se_step(v, lam, sigma, ts)
                    if np.max(np.abs(vn - v)) < 1e-12:
                        break
                    v = vn
                J = np.empty((2, 2))
                for k in range(2):
                    e = np.zeros(2)
                    e[k] = 1e-5
                    J[:, k] = (se_step(v + e, lam, sigma, ts)[0] - se_step(v - e, lam, sigma, ts)[0]) / 2e-5
                rad = max(abs(np.linalg.eigvals(J)))
                out.append(f"{'Bayes' if ts is None else 'soft'} SE {db(E1 / RHO):7.2f} dB ({it:4d} it.), "
                           f"radius {rad:.3f} (1/(1-r) {1 / (1 - rad):5.1f})")
            print(f"  kappa {kappa:8g}: " + "; ".join(out))


def starts():
    s = np.linalg.svd(problem(1, 1)[0], compute_uv=False)
    lam = np.concatenate([s * s, np.zeros(N - M)])
    for g2_0 in (1 / RHO, 30.0, 1e2, 3e2, 1e3, 1e4, 1e5):
        g2 = g2_0
        for _ in range(800):
            g2, E1, _ = se_map(g2, lam, 1 / SIGMA**2)
        print(f"[starts] kappa 1e4, gamma2_0 = {g2_0:8g}: SE after 800 iterations {db(E1 / RHO):.3f} dB")


def mc():
    rng = np.random.default_rng(3)
    n = 4_000_000
    for g1, tg in ((32.75, 1.0), (32.75, 1.2), (3.6, 1.0), (449.0, 1.0)):
        t1 = tg / g1
        E, a = scalar_channel(prior="bernoulli_gaussian", density=RHO, gamma=g1, tau=t1)
        x = np.where(rng.random(n) < RHO, rng.standard_normal(n), 0.0)
        r = x + np.sqrt(t1) * rng.standard_normal(n)
        xh = np.empty(n)
        am = denoise(r, g1, BERN_GAUSS, 0.0, RHO, 1.0, xh, np.zeros(2))
        e = (xh - x) ** 2
        print(f"[mc] gamma1 {g1:7g}, tau1 gamma1 {tg}: E1 quadrature {E:.4e}, Monte Carlo {e.mean():.4e} "
              f"+- {e.std() / np.sqrt(n):.1e}; alpha1 {a:.5f} / {am:.5f}")


def alpha_range(A, y, iters=1000):
    """Plain-numpy VAMP (undamped): the ranges of alpha1 and alpha2 over the iterations."""
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    yt, gw, n = U.T @ y, 1 / SIGMA**2, A.shape[1]
    r2, g2, a1s, a2s = np.zeros(n), 1 / RHO, [], []
    for _ in range(iters):
        den = gw * s * s + g2
        x2 = r2 + Vt.T @ (gw * s * (yt - s * (Vt @ r2)) / den)
        a2 = (np.sum(g2 / den) + n - s.size) / n
        g1, r1 = g2 * (1 - a2) / a2, (x2 - a2 * r2) / (1 - a2)
        v = 1 / g1
        pi = expit(np.log(RHO / (1 - RHO)) + 0.5 * np.log(v / (1 + v)) + 0.5 * (g1 - 1 / (1 + v)) * r1**2)
        mon = r1 / (1 + v)
        x1 = pi * mon
        a1 = np.mean(pi * (1 - pi) * mon**2 + pi * v / (1 + v)) * g1
        g2, r2 = g1 * (1 - a1) / a1, (x1 - a1 * r1) / (1 - a1)
        a1s.append(a1)
        a2s.append(a2)
    return min(a1s), max(a1s), min(a2s), max(a2s)


def damping():
    A, X, Y = problem(1, 16)
    for d in (0.0, 0.5, 0.8):
        res = decode("vamp", A, Y, density=RHO, noise=SIGMA, max_iter=1000, damping=d)
        print(f"[damping] kappa 1e4, 16 trials, damping {d}: NMSE {db(np.sum((res.X_hat - X) ** 2) / np.sum(X**2)):.2f}"
              f" dB, statuses (ok, max_iter, diverged, nonfinite) {np.bincount(res.status, minlength=4)}")
    r = np.array([alpha_range(A, Y[t]) for t in range(16)])
    print(f"[damping] alpha1 in [{r[:, 0].min():.3f}, {r[:, 1].max():.3f}], alpha2 in [{r[:, 2].min():.3f}, "
          f"{r[:, 3].max():.3f}] over 16 trials x 1000 iterations (clips at 1e-11 and 1 - 1e-11)")


def seeds():
    for seed in tqdm(range(1, 7), desc="seeds"):
        A, X, Y = problem(seed, 8)
        res = decode("vamp", A, Y, density=RHO, noise=SIGMA, max_iter=1000, damping=0.5)
        s = np.linalg.svd(A, compute_uv=False)
        kw = {"prior": "bernoulli_gaussian", "density": RHO, "noise": SIGMA, "n_iter": 1000, "rtol": 1e-7}
        se = vamp_state_evolution(s, N, **kw)[-1]
        ce = np.mean([vamp_state_evolution(s, N, signal=x, **kw)[-1] for x in X])
        meas = np.mean(np.sum((res.X_hat - X) ** 2, axis=1)) / N
        print(f"[seeds] seed {seed}: VAMP (damping 0.5) {db(meas / RHO):.2f} dB, SE | drawn x {db(ce / RHO):.2f} dB, "
              f"SE {db(se / RHO):.2f} dB, ok {np.sum(res.status == 0)}/8")


def spread():
    for n, T in ((1000, 64), (4000, 32)):
        rng = np.random.default_rng(11)
        s = spectrum(n // 2, n, 1e4)
        kw = {"prior": "bernoulli_gaussian", "density": RHO, "noise": SIGMA, "n_iter": 3000, "rtol": 1e-10}
        se = vamp_state_evolution(s, n, **kw)[-1]
        e, en, per = 0.0, 0.0, []
        for _ in tqdm(range(T), desc=f"signals n={n}"):
            x = np.where(rng.random(n) < RHO, rng.standard_normal(n), 0.0)
            v = vamp_state_evolution(s, n, signal=x, **kw)[-1]
            e, en = e + v * n, en + x @ x
            per.append(db(v * n / (x @ x)))
        print(f"[spread] n {n}, {T} signals: SE {db(se / RHO):.2f} dB; SE | x pooled {db(e / en):.2f} dB, per signal "
              f"sd {np.std(per):.2f} dB, range {min(per):.1f} .. {max(per):.1f}")


def decoupling(kappa=1e4):
    """At each trial's end point (plain-numpy VAMP, message damping 0.5, 400 iterations): is r1's error decoupled from x?

    The SE assumes ``r1 = x + N(0, tau1)`` with the noise independent of x: then Stein's lemma gives
    ``<(x1 - x)(r1 - x)> = alpha1 tau1``, and the error variance is the same on and off the support.
    """
    A, X, Y = problem(1, 4, kappa=kappa)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    gw, n = 1 / SIGMA**2, A.shape[1]
    for t in range(X.shape[0]):
        x, yt, r2, g2 = X[t], U.T @ Y[t], np.zeros(n), 1 / RHO
        for it in range(400):
            den = gw * s * s + g2
            x2 = r2 + Vt.T @ (gw * s * (yt - s * (Vt @ r2)) / den)
            a2 = (np.sum(g2 / den) + n - s.size) / n
            g1, r1 = g2 * (1 - a2) / a2, (x2 - a2 * r2) / (1 - a2)
            x1 = np.empty(n)
            a1 = denoise(r1, g1, BERN_GAUSS, 0.0, RHO, 1.0, x1, np.zeros(2))
            g2n, r2n = g1 * (1 - a1) / a1, (x1 - a1 * r1) / (1 - a1)
            if it:
                r2, g2 = 0.5 * r2n + 0.5 * r2, 1 / (0.5 / np.sqrt(g2n) + 0.5 / np.sqrt(g2)) ** 2
            else:
                r2, g2 = r2n, g2n
        e1, on = r1 - x, x != 0
        print(f"[decoupling] kappa {kappa:g}, trial {t}: NMSE {db(np.sum((x1 - x) ** 2) / np.sum(x**2)):.2f} dB; gamma1 tau1 on / off the "
              f"support {g1 * np.mean(e1[on] ** 2):.2f} / {g1 * np.mean(e1[~on] ** 2):.2f}; <(x1-x)(r1-x)> "
              f"{(x1 - x) @ e1 / n:.3e} against alpha1 tau1 {a1 * (e1 @ e1) / n:.3e}; gamma2 tau2 "
              f"{g2n * np.mean((r2n - x) ** 2):.2f}")


def _gap_summary(num, den, ref_num, ref_den, conf=0.95, n_boot=4000, seed=0):
    """Gap (dB) of pooled ratios num/den against ref_num/ref_den, clustered by matrix (axis 0 = matrices).

    ``num, den, ref_num, ref_den`` are per-matrix sums (G,). Returns the pooled gap, a t-interval over the
    per-matrix gaps (G - 1 degrees of freedom: the mean of per-matrix gaps, its interval) and a percentile
    cluster bootstrap of the pooled gap (matrices resampled with replacement).
    """
    g = db(num / den) - db(ref_num / ref_den)
    G = g.size
    pooled = float(db(num.sum() / den.sum()) - db(ref_num.sum() / ref_den.sum()))
    mean = float(g.mean())
    if G > 1:
        half = float(stats.t.ppf(0.5 + conf / 2, G - 1) * g.std(ddof=1) / np.sqrt(G))
        idx = np.random.default_rng(seed).integers(0, G, (n_boot, G))
        b = db(num[idx].sum(1) / den[idx].sum(1)) - db(ref_num[idx].sum(1) / ref_den[idx].sum(1))
        lo, hi = np.quantile(b, [(1 - conf) / 2, (1 + conf) / 2])
    else:
        half, lo, hi = np.nan, np.nan, np.nan
    return {"pooled": pooled, "per_matrix": g.tolist(), "mean_of_matrices": mean,
            "t_interval": [mean - half, mean + half], "bootstrap_pooled": [float(lo), float(hi)]}


def _cluster_boot(rows_vals, stat, conf=0.95, n_boot=4000, seed=0):
    """Percentile cluster bootstrap of ``stat`` over the trials of resampled matrices (``rows_vals``: one array each)."""
    G = len(rows_vals)
    if G < 2:
        return [np.nan, np.nan]
    idx = np.random.default_rng(seed).integers(0, G, (n_boot, G))
    b = np.array([stat(np.concatenate([rows_vals[i] for i in r])) for r in idx])
    return np.quantile(b, [(1 - conf) / 2, (1 + conf) / 2]).tolist()


def _t_interval(per_matrix, conf=0.95):
    g = np.asarray(per_matrix, float)
    if g.size < 2:
        return [np.nan, np.nan]
    half = float(stats.t.ppf(0.5 + conf / 2, g.size - 1) * g.std(ddof=1) / np.sqrt(g.size))
    return [float(g.mean() - half), float(g.mean() + half)]


def trial_stats(rows, se_db):
    """Per-trial statistics in dB (the figures of papers often show a median or a mean of per-trial dB).

    For VAMP's per-trial NMSE, the SE conditioned on each trial's signal, and their per-trial difference: the
    median over all trials (cluster-bootstrap interval: matrices resampled), the mean of per-trial dB (a
    t-interval over the per-matrix means, G - 1 degrees of freedom, and the cluster bootstrap) and the per-trial
    standard deviation (cluster bootstrap). ``se_db`` is
    subtracted where a gap to the SE is given.
    """
    v = [db(np.asarray(r["err"]) / np.asarray(r["energy"])) for r in rows]
    c = [db(np.asarray(r["se_signal"]) / np.asarray(r["energy"])) for r in rows]
    d = [a - b for a, b in zip(v, c)]
    va, ca = np.concatenate(v), np.concatenate(c)
    out = {"corr_vamp_se_signal": float(np.corrcoef(va, ca)[0, 1]) if va.size > 1 else np.nan,
           "vamp_range_db": [float(va.min()), float(va.max())]}
    for name, vals, ref in (("vamp", v, se_db), ("se_signal", c, se_db), ("vamp_minus_se_signal", d, 0.0)):
        allv = np.concatenate(vals)
        out[name] = {
            "median_db": float(np.median(allv)), "median_minus_ref": float(np.median(allv) - ref),
            "median_boot": [x - ref for x in _cluster_boot(vals, np.median)],
            "mean_db": float(allv.mean()), "mean_minus_ref": float(allv.mean() - ref),
            "mean_t": [x - ref for x in _t_interval([x.mean() for x in vals])],
            "mean_boot": [x - ref for x in _cluster_boot(vals, np.mean)],
            "sd_db": float(allv.std(ddof=1)), "sd_boot": _cluster_boot(vals, lambda a: a.std(ddof=1)),
            "q10_q90_db": np.quantile(allv, [0.1, 0.9]).tolist(), "ref_db": float(ref)}
    return out


def scaling_summary(rows, se):
    """Pooled dB and clustered gaps over the matrices in ``rows`` (``se``: the prior SE's MSE per coordinate)."""
    err = np.array([np.sum(r["err"]) for r in rows])
    en = np.array([np.sum(r["energy"]) for r in rows])
    ce = np.array([np.sum(r["se_signal"]) for r in rows])
    se_num = se * en / RHO  # the SE's NMSE (E1 / rho) as a ratio with the same weights
    return {"matrices": len(rows), "trials": int(sum(len(r["err"]) for r in rows)), "se_mse": float(se),
            "se_db": float(db(se / RHO)), "vamp_db": float(db(err.sum() / en.sum())),
            "se_signal_db": float(db(ce.sum() / en.sum())),
            "vamp_minus_se": _gap_summary(err, en, se_num, en),
            "vamp_minus_se_signal": _gap_summary(err, en, ce, en),
            "se_signal_minus_se": _gap_summary(ce, en, se_num, en),
            "per_trial": trial_stats(rows, float(db(se / RHO))),
            "statuses": np.bincount(np.concatenate([r["status"] for r in rows]), minlength=4).tolist(),
            "wall_s": float(sum(sum(r["wall"].values()) for r in rows)),
            "cpu_s": float(sum(sum(r["cpu"].values()) for r in rows))}


def print_scaling(n, summ):
    a, b = summ["vamp_minus_se"], summ["vamp_minus_se_signal"]
    print(f"[scaling] n {n} ({summ['matrices']} matrices, {summ['trials']} trials): VAMP {summ['vamp_db']:.2f} dB, "
          f"SE {summ['se_db']:.2f}, SE | x {summ['se_signal_db']:.2f}; VAMP - SE {a['pooled']:+.2f} (t "
          f"{a['t_interval'][0]:+.2f}..{a['t_interval'][1]:+.2f}, boot {a['bootstrap_pooled'][0]:+.2f}.."
          f"{a['bootstrap_pooled'][1]:+.2f}); VAMP - SE|x {b['pooled']:+.2f} (t {b['t_interval'][0]:+.2f}.."
          f"{b['t_interval'][1]:+.2f}, boot {b['bootstrap_pooled'][0]:+.2f}..{b['bootstrap_pooled'][1]:+.2f}); "
          f"statuses {summ['statuses']}; wall {summ['wall_s']:.0f} s, CPU {summ['cpu_s']:.0f} s", flush=True)
    pt = summ.get("per_trial")
    if pt:
        print(f"[scaling]   per trial: VAMP from {pt['vamp_range_db'][0]:.1f} to {pt['vamp_range_db'][1]:.1f} dB; "
              f"correlation of VAMP's dB with SE|x's {pt['corr_vamp_se_signal']:.2f}", flush=True)
        for k, lab in (("vamp", "VAMP - SE"), ("se_signal", "SE|x - SE"), ("vamp_minus_se_signal", "VAMP - SE|x")):
            q = pt[k]
            print(f"[scaling]   per trial, {lab}: median {q['median_minus_ref']:+.2f} (boot {q['median_boot'][0]:+.2f}.."
                  f"{q['median_boot'][1]:+.2f}); mean of dB {q['mean_minus_ref']:+.2f} (t {q['mean_t'][0]:+.2f}.."
                  f"{q['mean_t'][1]:+.2f}, boot {q['mean_boot'][0]:+.2f}..{q['mean_boot'][1]:+.2f}); 10-90 % of "
                  f"{k} {q['q10_q90_db'][0]:.1f}..{q['q10_q90_db'][1]:.1f} dB, sd {q['sd_db']:.2f} (boot "
                  f"{q['sd_boot'][0]:.2f}..{q['sd_boot'][1]:.2f})", flush=True)


def fit_against_n(report):
    """Weighted least squares of each gap against n: ``gap = a + b n^(-1/2)``, ``gap = b n^(-1/2)`` and ``gap = a``.

    Weights 1/se^2 with se = (width of the 95 % cluster-bootstrap interval) / 3.92. Prints a, b, their standard
    errors and chi^2 / dof (a = 0 and a gap falling like n^(-1/2) is the finite-size reading).
    """
    ns = sorted(report["n"], key=int)
    x = np.array([int(n) for n in ns], float) ** -0.5 * np.sqrt(1000)  # n^(-1/2) scaled: 1 at n = 1000
    series = {
        "pooled VAMP - SE": lambda q: (q["vamp_minus_se"]["pooled"], q["vamp_minus_se"]["bootstrap_pooled"]),
        "pooled VAMP - SE|x": lambda q: (q["vamp_minus_se_signal"]["pooled"], q["vamp_minus_se_signal"]["bootstrap_pooled"]),
        "pooled SE|x - SE": lambda q: (q["se_signal_minus_se"]["pooled"], q["se_signal_minus_se"]["bootstrap_pooled"]),
        "median VAMP - SE": lambda q: (q["per_trial"]["vamp"]["median_minus_ref"], q["per_trial"]["vamp"]["median_boot"]),
        "mean dB VAMP - SE": lambda q: (q["per_trial"]["vamp"]["mean_minus_ref"], q["per_trial"]["vamp"]["mean_boot"]),
        "mean dB VAMP - SE|x": lambda q: (q["per_trial"]["vamp_minus_se_signal"]["mean_minus_ref"],
                                          q["per_trial"]["vamp_minus_se_signal"]["mean_boot"]),
    }
    fits = {}
    for name, get in series.items():
        vals = [get(report["n"][n]["summary"]) for n in ns]
        y = np.array([v[0] for v in vals])
        se = np.array([(v[1][1] - v[1][0]) / 3.92 for v in vals])
        if not np.all(np.isfinite(se)) or np.any(se <= 0) or len(ns) < 3:
            continue
        w = 1 / se
        out = {}
        for lab, X in (("a + b/sqrt(n/1000)", np.column_stack([np.ones_like(x), x])), ("b/sqrt(n/1000)", x[:, None]),
                       ("a (constant)", np.ones_like(x)[:, None])):
            coef, *_ = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)
            cov = np.linalg.inv((X * w[:, None]).T @ (X * w[:, None]))
            chi2 = float(np.sum(((X @ coef - y) * w) ** 2))
            out[lab] = {"coef": coef.tolist(), "se": np.sqrt(np.diag(cov)).tolist(), "chi2": chi2,
                        "dof": len(ns) - X.shape[1]}
            print(f"[fit] {name}: {lab}: " + ", ".join(f"{c:+.2f} +- {e:.2f}" for c, e in zip(coef, out[lab]["se"]))
                  + f"; chi2 {chi2:.2f} / {len(ns) - X.shape[1]} dof", flush=True)
        fits[name] = out
    return fits


DATA = "data/vamp_kappa_gap_scaling.json"


def merge(files, out, update_data=False):
    """Merge scaling JSON files (rows per n, matrices identified by index; duplicates refused) and re-summarise.

    With ``update_data`` the merged file is also written to ``data/vamp_kappa_gap_scaling.json`` (the data of the
    table in docs/decoders.md; ``--merge data/vamp_kappa_gap_scaling.json`` re-prints it).
    """
    report = None
    for fn in files:
        with open(fn) as f:
            r = json.load(f)
        if report is None:
            report = {"setting": r["setting"], "n": {}, "merged_from": [os.path.basename(f) for f in files]}
        for n, v in r["n"].items():
            rows = report["n"].setdefault(n, {"rows": [], "se": v["summary"].get(
                "se_mse", RHO * 10 ** (v["summary"]["se_db"] / 10))})["rows"]
            seen = {row["matrix"] for row in rows}
            if seen & {row["matrix"] for row in v["rows"]}:
                raise ValueError(f"{fn}: matrices {sorted(seen)} of n = {n} appear twice")
            rows.extend(v["rows"])
    for n in sorted(report["n"], key=int):
        v = report["n"][n]
        v["rows"].sort(key=lambda row: row["matrix"])
        v["summary"] = scaling_summary(v["rows"], v.pop("se"))
        print_scaling(n, v["summary"])
    report["fits"] = fit_against_n(report)
    for fn in [out] + ([DATA] if update_data else []):
        os.makedirs(os.path.dirname(fn) or ".", exist_ok=True)
        with open(fn, "w") as f:
            json.dump(report, f, indent=1)


def scaling(ns, matrices, trials, seed=2026, out="results/vamp_kappa_gap_scaling.json", kappa=1e4, first=0):
    """VAMP's gap to its SE at kappa against n: independent matrices per n, clustered intervals.

    Matrix j at size n draws from ``SeedSequence([seed, n, j])`` in the tests' order (A, then X, then the
    noise). Per trial: VAMP's squared error, ||x||^2, and n times the SE conditioned on that x. ``first``
    offsets j (to spread one n's matrices over several processes; merge their JSON rows afterwards).
    """
    kw = {"prior": "bernoulli_gaussian", "density": RHO, "noise": SIGMA, "n_iter": 1000, "rtol": 1e-7}
    report = {"setting": {"kappa": kappa, "rho": RHO, "sigma": SIGMA, "m": "n/2", "damping": 0.5, "max_iter": 1000,
                          "seed": seed, "se_kw": {k: v for k, v in kw.items() if k != "prior"}}, "n": {}}
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    for n, G in zip(ns, matrices):
        m = n // 2
        se = float(vamp_state_evolution(spectrum(m, n, kappa), n, **kw)[-1])
        rows = []
        for j in tqdm(range(first, first + G), desc=f"n={n}"):
            rng = np.random.default_rng(np.random.SeedSequence([seed, n, j]))
            w0, c0 = time.perf_counter(), time.process_time()
            A = roi_matrix(rng, m, n, kappa=kappa)
            X = np.where(rng.random((trials, n)) < RHO, rng.standard_normal((trials, n)), 0.0)
            Y = X @ A.T + SIGMA * rng.standard_normal((trials, m))
            w1, c1 = time.perf_counter(), time.process_time()
            res = decode("vamp", A, Y, density=RHO, noise=SIGMA, max_iter=1000, damping=0.5)
            w2, c2 = time.perf_counter(), time.process_time()
            s = np.linalg.svd(A, compute_uv=False)
            cse = [float(vamp_state_evolution(s, n, signal=x, **kw)[-1]) * n for x in X]
            w3, c3 = time.perf_counter(), time.process_time()
            rows.append({"matrix": j, "err": np.sum((res.X_hat - X) ** 2, axis=1).tolist(),
                         "energy": np.sum(X**2, axis=1).tolist(), "se_signal": cse,
                         "status": np.asarray(res.status).tolist(), "n_iter": np.asarray(res.n_iter).tolist(),
                         "wall": {"draw": w1 - w0, "vamp": w2 - w1, "se_signal": w3 - w2},
                         "cpu": {"draw": c1 - c0, "vamp": c2 - c1, "se_signal": c3 - c2}})
            report["n"][str(n)] = {"summary": scaling_summary(rows, se), "rows": rows}
            with open(out, "w") as f:
                json.dump(report, f, indent=1)
        print_scaling(n, report["n"][str(n)]["summary"])
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS + EXTRA}")
    ap.add_argument("--ns", default="1000,2000,4000", help="scaling: comma-separated n (m = n/2)")
    ap.add_argument("--matrices", default="8,6,4", help="scaling: matrices per n (one value or one per n)")
    ap.add_argument("--trials", type=int, default=4, help="scaling: trials per matrix")
    ap.add_argument("--seed", type=int, default=2026, help="scaling: root seed")
    ap.add_argument("--merge", default="", help="merge: comma-separated scaling JSON files to combine into --out")
    ap.add_argument("--first-matrix", type=int, default=0, help="scaling: index of the first matrix")
    ap.add_argument("--out", default="results/vamp_kappa_gap_scaling.json", help="scaling: JSON output")
    ap.add_argument("--update-data", action="store_true", help=f"merge: also write the merged JSON to {DATA}")
    a = ap.parse_args()
    ns = [int(v) for v in a.ns.split(",")]
    mats = [int(v) for v in a.matrices.split(",")]
    mats = mats * len(ns) if len(mats) == 1 else mats
    if len(mats) != len(ns) or min(ns) < 2 or min(mats) < 1 or a.trials < 1 or a.first_matrix < 0:
        ap.error(f"--ns {a.ns} / --matrices {a.matrices} / --trials {a.trials} / --first-matrix {a.first_matrix}: "
                 "need n >= 2, one matrix count (>= 1) or one per n, trials >= 1, first matrix >= 0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sec in a.sections.split(","):
            {"slope": slope, "starts": starts, "mc": mc, "damping": damping, "seeds": seeds, "spread": spread,
             "decoupling": lambda: [decoupling(k) for k in (1e2, 1e4)],
             "merge": lambda: merge(a.merge.split(","), a.out, a.update_data),
             "scaling": lambda: scaling(ns, mats, a.trials, a.seed, a.out, first=a.first_matrix)}[sec]()


if __name__ == "__main__":
    main()
