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
* ``decoupling``: at VAMP's end point, r1's error on and off the support, and Stein's identity.

    python experiments/vamp_kappa_gap.py                    # all sections (~10 min idle)
    python experiments/vamp_kappa_gap.py --sections slope,starts
"""
from __future__ import annotations

import argparse
import os
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from scipy.special import expit
from tqdm import tqdm

from csbench import decode
from csbench.encoders.orthoinv import geometric_spectrum, roi_matrix
from csbench.kernels.vamp import BERN_GAUSS, denoise
from csbench.theory import minimax_threshold, vamp_state_evolution
from csbench.theory.vamp import scalar_channel

M, N, RHO, SIGMA = 500, 1000, 0.1, 0.014
SECTIONS = ("slope", "starts", "mc", "damping", "seeds", "spread", "decoupling")
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    a = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sec in a.sections.split(","):
            {"slope": slope, "starts": starts, "mc": mc, "damping": damping, "seeds": seeds, "spread": spread,
             "decoupling": lambda: [decoupling(k) for k in (1e2, 1e4)]}[sec]()


if __name__ == "__main__":
    main()
