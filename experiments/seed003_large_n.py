"""Seed 003 at scale: minimal m of the matched filter and the lasso at N = 2^16 and N = 2^20 (issue 9 item 4).

m*_0.5 and m*_0.9 (the 0.9-quantile of the same trials' critical m) with 95 %
intervals (``csbench.minimal_m``, ``fits.quantile_ci``) for binary k-sparse
signals, exact recovery, for the matched filter, the signed lasso (``lasso``)
and the nonnegative lasso (``lasso_pos``, ``positive=True``), against theory:
the Chernoff / JL line 8 k ln N of the matched filter (seed 003), k log2(eN/k)
(seed 003's "one bit per dimension"), the Donoho-Tanner weak l1 curves m_W
(signed) and m_W+ (nonnegative), and the follow-up paper's 0.8 k log2(eN/k) at
N = 2^16, a line where its decoder succeeds reliably (compare m*_0.9, not m*_0.5).

The dense A of one trial is 8 m N bytes (N = 2^20, m = 1000: 8.4 GB), so the
runs rely on csbench's memory budget: matrices that would not fit are drawn
matrix-free (counter-based generator, the same entries as the dense path).
Encoders: ``rademacher`` (seed 003's +-1 feature vectors; the matched filter's
exact one-pass curve) by default; ``--lasso-encoder srht`` runs the lasso on the
subsampled randomised Hadamard/DCT ensemble (O(N log N) products, a different
ensemble; say so when quoting it).

    python experiments/seed003_large_n.py --n 65536 --k 1 2 4 8 16 32 64 --trials 20
    python experiments/seed003_large_n.py --n 1048576 --k 1 2 4 8 16 32 --trials 20 --jobs 2
    python experiments/seed003_large_n.py --n 4096 --k 2 4 --trials 8        # a quick check
    python experiments/seed003_large_n.py --n 4096 --decoders lasso lasso_pos --trials 40   # signed vs x >= 0

Writes ``<out>/seed003_large_n_<N>.csv`` (one row per decoder and k), a JSON of
the same rows plus the run's wall time and peak memory (``--json``), and a figure
``<out>/seed003_large_n_<N>.png``. Peak memory is the largest maximum resident set
of this process or of one of its worker processes (``resource.getrusage``; with
``--jobs J`` the machine holds up to J + 1 such processes). ``--memory-budget``
(default 1 GiB) caps the dense matrices of one decode batch (``CSBENCH_MEMORY_BUDGET``);
above it the batch runs on operators of the same matrices.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time

import csbench
from csbench import theory
from csbench.fits import quantile_ci

#: study name -> (registered decoder, parameters). ``lasso_pos`` is the nonnegative lasso (x >= 0).
DECODERS = {"matched_filter": ("matched_filter", {}), "lasso": ("lasso", {"lam_ratio": 1e-3}),
            "lasso_pos": ("lasso", {"lam_ratio": 1e-3, "positive": True})}
#: The follow-up's line 0.8 k log2(eN/k) at N = 2^16 (issue 17: where its decoder succeeds *reliably*, its
#: 90 % points being 0.74-0.82 H and its 50 % points 0.48-0.71 H, on the nonnegative l1 curve). Not a median.
BPDN_FOLLOW_UP = 0.8


def peak_rss_bytes():
    """Largest peak resident set of this process or any finished child (``ru_maxrss`` is a max, not a sum), bytes."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return 1024 * max(own, kids)


def theory_row(n, k):
    """Theory lines at (n, k): 8 k ln n, k log2(e n / k), the weak l1 curve, log2 C(n, k)."""
    kl = k * math.log2(math.e * n / k)
    return {"8k_ln_n": float(theory.chernoff_m(n, k)), "k_log2_en_k": kl, "bpdn_0.8": BPDN_FOLLOW_UP * kl,
            "m_weak": float(theory.m_weak(n, k)), "m_weak_pos": float(theory.m_weak(n, k, nonneg=True)),
            "log2C": float(theory.log2_binom(n, k))}


def run(a, base):
    """Every (decoder, k) point in turn; the CSV is rewritten after each, so a killed run keeps its points."""
    import pandas as pd

    rows = []
    t_start = time.perf_counter()
    for dec in a.decoders:
        enc = a.mf_encoder if dec == "matched_filter" else a.lasso_encoder
        for k in a.k:
            t0 = time.perf_counter()
            name, params = DECODERS[dec]
            r = csbench.minimal_m(name, encoder=enc, signal="binary", n=a.n, k=k, trials=a.trials, seed=a.seed,
                                  n_jobs=a.jobs, executor=a.executor, scheduler=a.scheduler,
                                  progress=not a.quiet, **params)
            # the 90 % point from the same trials: the 0.9-quantile of the critical m (order-statistic interval)
            m90, lo90, hi90, _ = quantile_ci(r.critical, q=0.9)
            row = {"decoder": dec, "encoder": enc, "n": a.n, "k": k, "trials": a.trials,
                   "m_star": float(r.m_star), "ci_low": float(r.ci_low), "ci_high": float(r.ci_high),
                   "m_star_90": m90, "ci90_low": lo90, "ci90_high": hi90,
                   "m_star_monotone": float(r.m_star_monotone), "n_censored": int(r.n_censored),
                   "time_s": round(time.perf_counter() - t0, 2), "peak_rss_gib": peak_rss_bytes() / 2**30,
                   **theory_row(a.n, k)}
            row["m_star_over_k_log2_en_k"] = row["m_star"] / row["k_log2_en_k"]
            row["m_star_over_8k_ln_n"] = row["m_star"] / row["8k_ln_n"]
            row["m_star_90_over_k_log2_en_k"] = row["m_star_90"] / row["k_log2_en_k"]
            rows.append(row)
            print(f"{dec:<15} {enc:<11} N={a.n} k={k:<3} m*={row['m_star']:.0f} "
                  f"[{row['ci_low']:.0f}, {row['ci_high']:.0f}]  8k ln N={row['8k_ln_n']:.0f}  "
                  f"m*_0.9={row['m_star_90']:.0f}  k log2(eN/k)={row['k_log2_en_k']:.0f}  "
                  f"m_W={row['m_weak']:.0f}  m_W+={row['m_weak_pos']:.0f}  "
                  f"{row['time_s']:.1f} s  peak {row['peak_rss_gib']:.2f} GiB", flush=True)
            pd.DataFrame(rows).to_csv(base + ".csv", index=False)
    return rows, time.perf_counter() - t_start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2**16)
    p.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--decoders", nargs="+", default=list(DECODERS), choices=list(DECODERS))
    p.add_argument("--mf-encoder", default="rademacher")
    p.add_argument("--lasso-encoder", default="rademacher")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--executor", default="processes", choices=["processes", "threads"])
    p.add_argument("--scheduler", default=None, help="dask scheduler address (tcp://host:port)")
    p.add_argument("--out", default="results")
    p.add_argument("--json", default=None, help="also write the rows and run totals as JSON here")
    p.add_argument("--memory-budget", default="1GiB",
                   help="dense matrices of one decode batch above this go matrix-free (CSBENCH_MEMORY_BUDGET)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    os.environ["CSBENCH_MEMORY_BUDGET"] = a.memory_budget  # read by csbench.problems.memory_budget, in workers too
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, f"seed003_large_n_{a.n}")
    rows, wall = run(a, base)

    import pandas as pd

    table = pd.DataFrame(rows)
    cols = ["decoder", "encoder", "k", "m_star", "ci_low", "ci_high", "m_star_90", "ci90_low", "ci90_high",
            "n_censored", "8k_ln_n", "k_log2_en_k", "bpdn_0.8", "m_weak", "m_weak_pos", "m_star_over_k_log2_en_k",
            "m_star_90_over_k_log2_en_k", "m_star_over_8k_ln_n", "time_s", "peak_rss_gib"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    peak = peak_rss_bytes() / 2**30
    print(f"\nN={a.n}: wall {wall:.1f} s, peak memory {peak:.2f} GiB (largest single process: driver or one worker)")
    table.to_csv(base + ".csv", index=False)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"n": a.n, "trials": a.trials, "seed": a.seed, "wall_s": wall, "peak_rss_gib": peak,
                       "memory_budget": a.memory_budget,
                       "argv": sys.argv[1:], "rows": rows}, f, indent=1)
    from csbench.plots import plot_m_star_vs_k

    plot_m_star_vs_k(table, base + ".png", title=f"binary x, N={a.n}, {a.trials} trials per point")
    return table


if __name__ == "__main__":
    main()
