"""NMSE of AMP, damped AMP and VAMP against the condition number kappa of a right-orthogonally-invariant A.

Issue 15 study: ``A = U diag(s) V^T`` (:func:`csbench.encoders.orthoinv.roi_matrix`, Haar U, V, geometric
spectrum with ``s_max / s_min = kappa``, ``||A||_F^2 = n``), n = 1000, m = 500, x
Bernoulli-Gaussian (rho = 0.1, N(0, 1) nonzeros), noise for SNR = 30 dB
(``E||A x||^2 / E||w||^2``) and noiseless. Decoders, each on the same problems:

* ``amp``: soft-threshold AMP, minimax tau (csbench's AMP; it has no Bernoulli-Gaussian denoiser),
* ``amp_damped``: the same with ``damping = 0.5``,
* ``vamp_soft``: VAMP with the same soft-threshold denoiser (tau minimax),
* ``vamp``: VAMP with the Bayes-optimal Bernoulli-Gaussian denoiser (noise known),
* ``vamp_damped``: the same with ``damping = 0.5`` (the message (r2, gamma2) damped),

with VAMP's state evolution (:func:`csbench.theory.vamp_state_evolution`, this spectrum) drawn
for both VAMP denoisers (null in the JSON, "exact" in the table: the SE reaches exact recovery; the figure clips at -160 dB),
and, for the Bayes denoiser in the noisy case, the same SE *conditioned on the drawn signals*
(``signal=x``: the empirical law of each trial's x in place of the prior, pooled over the trials like
the NMSE: ``sum_t n E1_t / sum_t ||x_t||^2``; ``se_vamp_signal``; null in the noiseless case). A trial whose status is ``diverged`` or ``nonfinite`` is counted as
such and never enters an NMSE; the NMSE is ``10 log10(sum ||x_hat - x||^2 / sum ||x||^2)``
over the remaining trials, reported with the status counts (``max_iter`` trials included
and counted).

    python experiments/vamp_condition_number.py                     # results/vamp_condition_number.{json,png}
    python experiments/vamp_condition_number.py --trials 4 --kappas 1,100,1e4
    python experiments/vamp_condition_number.py --update-data       # data/vamp_condition_number.{json,png}
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from tqdm import tqdm

from csbench import decode
from csbench.decoders.base import STATUSES
from csbench.encoders.orthoinv import roi_matrix
from csbench.theory import minimax_threshold, vamp_state_evolution

ROOT = Path(__file__).resolve().parents[1]
DECODERS = ("amp", "amp_damped", "vamp_soft", "vamp", "vamp_damped")
KAPPAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 1e5, 1e6)


def run_decoder(name, A, Y, rho, sigma, max_iter):
    k = round(rho * A.shape[1])
    if name == "amp":
        return decode("amp", A, Y, k=k, max_iter=max_iter)
    if name == "amp_damped":
        return decode("amp", A, Y, k=k, damping=0.5, max_iter=max_iter)
    if name == "vamp_soft":
        return decode("vamp", A, Y, k=k, denoiser="soft", noise=sigma, max_iter=max_iter)
    return decode("vamp", A, Y, density=rho, noise=sigma, max_iter=max_iter,
                  damping=0.5 if name == "vamp_damped" else 0.0)


def summarise(X, res):
    st = res.status
    good = (st != STATUSES.index("diverged")) & (st != STATUSES.index("nonfinite"))
    counts = {s: int(np.sum(st == i)) for i, s in enumerate(STATUSES) if np.any(st == i)}
    nmse = None
    if good.any():
        nmse = float(10 * np.log10(np.sum((res.X_hat[good] - X[good]) ** 2) / np.sum(X[good] ** 2)))
    return {"nmse_db": nmse, "status": counts, "median_iter": float(np.median(res.n_iter))}


def se_db(s, n, rho, sigma, denoiser, tau):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"denoiser": "soft", "threshold": tau} if denoiser == "soft" else {}
        e = vamp_state_evolution(s, n, prior="bernoulli_gaussian", density=rho, noise=sigma, n_iter=3000,
                                 rtol=1e-9, **kw)[-1]
    # below -150 dB the SE has reached exact recovery (it then decays to the float floor): None ("exact")
    return float(10 * np.log10(e / rho)) if e > 1e-15 * rho else None


def se_signal_db(s, n, rho, sigma, X):
    """The Bayes SE conditioned on each trial's signal, pooled as the NMSE: ``sum_t n E1_t / sum_t ||x_t||^2``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = [vamp_state_evolution(s, n, prior="bernoulli_gaussian", density=rho, noise=sigma, signal=x, n_iter=3000,
                                  rtol=1e-9)[-1] for x in X]
    return float(10 * np.log10(n * np.sum(e) / np.sum(X**2)))


def plot(data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
    colors = {"amp": "C0", "amp_damped": "C1", "vamp_soft": "C2", "vamp": "C3", "vamp_damped": "C4"}
    for ax, case in zip(axes, ("snr30", "noiseless")):
        rows = [r for r in data["rows"] if r["case"] == case]
        kap = np.array([r["kappa"] for r in rows])
        finite = [v for r in rows for d in DECODERS for v in [r[d]["nmse_db"]] if v is not None]
        top = max(finite + [0.0]) + 5
        for d in DECODERS:
            y = np.array([np.nan if r[d]["nmse_db"] is None else r[d]["nmse_db"] for r in rows])
            ax.plot(kap, y, "o-", color=colors[d], label=d)
            div = np.array([r[d]["status"].get("diverged", 0) + r[d]["status"].get("nonfinite", 0) for r in rows])
            allbad = div == data["trials"]
            if allbad.any():
                ax.plot(kap[allbad], np.full(allbad.sum(), top), "x", color=colors[d], ms=9)
        for d, ls, lab in (("se_vamp", "--", "SE vamp"), ("se_vamp_soft", ":", "SE vamp_soft"),
                           ("se_vamp_signal", "-.", "SE vamp | drawn x")):
            y = np.array([np.nan if r.get(d) is None else r[d] for r in rows])
            if np.isfinite(y).any():
                ax.plot(kap, y, ls, color="k" if d != "se_vamp_signal" else "0.5", label=lab)
        ax.set_ylim(bottom=max(ax.get_ylim()[0], -160))
        ax.set_xscale("log")
        ax.set_xlabel("condition number kappa")
        ax.set_ylabel("NMSE (dB)")
        ax.set_title(f"{case}: n={data['n']}, m={data['m']}, rho={data['rho']} (x: all trials diverged)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--m", type=int, default=500)
    ap.add_argument("--rho", type=float, default=0.1)
    ap.add_argument("--snr-db", type=float, default=30.0)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--kappas", default=",".join(f"{k:g}" for k in KAPPAS))
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", help="JSON output path (default: <out>/vamp_condition_number.json)")
    ap.add_argument("--out", default=str(ROOT / "results"), help="output directory (default results/)")
    ap.add_argument("--update-data", action="store_true", help="write the committed reference data under data/")
    a = ap.parse_args()
    out = ROOT / "data" if a.update_data else Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    n, m, rho, T = a.n, a.m, a.rho, a.trials
    kappas = [float(k) for k in a.kappas.split(",")]
    sigma = float(np.sqrt(rho * n / m / 10 ** (a.snr_db / 10)))  # E||A x||^2 / m = rho n / m
    tau = float(minimax_threshold(min(m / n, 1.0)))
    rows = []
    t0 = time.perf_counter()
    children = np.random.SeedSequence(a.seed).spawn(len(kappas))
    with tqdm(total=2 * len(kappas) * len(DECODERS), desc="kappa x noise x decoder") as bar:
        for kappa, ss in zip(kappas, children):
            rng = np.random.default_rng(ss)
            A = roi_matrix(rng, m, n, kappa=kappa)
            X = np.where(rng.random((T, n)) < rho, rng.standard_normal((T, n)), 0.0)
            W = rng.standard_normal((T, m))
            s = np.linalg.svd(A, compute_uv=False)
            for case, sg in (("snr30", sigma), ("noiseless", 0.0)):
                Y = X @ A.T + sg * W
                row = {"kappa": kappa, "case": case, "sigma": sg}
                for d in DECODERS:
                    row[d] = summarise(X, run_decoder(d, A, Y, rho, sg, a.max_iter))
                    bar.update()
                row["se_vamp"] = se_db(s, n, rho, sg, "bayes", tau)
                row["se_vamp_soft"] = se_db(s, n, rho, sg, "soft", tau)
                row["se_vamp_signal"] = se_signal_db(s, n, rho, sg, X) if sg > 0 else None
                rows.append(row)
    data = {"n": n, "m": m, "rho": rho, "snr_db": a.snr_db, "sigma": sigma, "trials": T, "seed": a.seed,
            "max_iter": a.max_iter, "tau_minimax": tau, "seconds": time.perf_counter() - t0,
            "machine": f"{platform.machine()} {platform.processor()} ({os.cpu_count()} cores, shared)", "rows": rows}
    path = Path(a.json) if a.json else out / "vamp_condition_number.json"
    path.write_text(json.dumps(data, indent=1))
    plot(data, out / "vamp_condition_number.png")
    print(f"{'case':10s} {'kappa':>8s} " + " ".join(f"{d:>16s}" for d in DECODERS)
          + f" {'SE vamp':>8s} {'SE soft':>8s} {'SE | x':>8s}")
    for r in rows:
        cells = []
        for d in DECODERS:
            v = r[d]["nmse_db"]
            bad = r[d]["status"].get("diverged", 0) + r[d]["status"].get("nonfinite", 0)
            mi = r[d]["status"].get("max_iter", 0)
            txt = "diverged" if v is None else f"{v:6.1f}"
            cells.append(f"{txt:>8s} d{bad}/m{mi}".rjust(16))
        se = lambda v: "exact" if v is None else f"{v:.1f}"
        sx = "-" if r["se_vamp_signal"] is None else f"{r['se_vamp_signal']:.1f}"
        print(f"{r['case']:10s} {r['kappa']:8.0e} " + " ".join(cells)
              + f" {se(r['se_vamp']):>8s} {se(r['se_vamp_soft']):>8s} {sx:>8s}")
    print(f"wrote {path} and {out / 'vamp_condition_number.png'} ({data['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
