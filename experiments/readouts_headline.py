"""lmmse and trained_readout against the matched filter at n = 256, m = 64, k = 4 (binary, Gaussian A).

Five seeded matrices (seeds 100..104, trial 0 of each cell), 200 signals each;
prints exact-recovery counts with Wilson 95 % intervals, squared errors and
fit times (the numbers in docs/decoders.md).

    python experiments/readouts_headline.py
"""
import time

import numpy as np

from csbench import Cell, decode, make_problem, theory, wilson_interval


def main():
    n, m, k = 256, 64, 4
    res = {"trained_readout": 0, "matched_filter": 0, "lmmse": 0}
    sq = {key: [] for key in res}
    tot, t_fit = 0, []
    for seed in range(100, 105):
        meas, truth = make_problem(Cell("gaussian", "binary", n, k), m, 200, seed=seed)
        A = meas.A[0]  # one matrix per seed, shared by its 200 signals
        Y = truth.X @ A.T
        t = time.perf_counter()
        tr = decode("trained_readout", A, Y, k=k)
        t_fit.append(time.perf_counter() - t)
        out = {"trained_readout": tr.X_hat, "matched_filter": decode("matched_filter", A, Y, rule="raw").X_hat,
               "lmmse": decode("lmmse", A, Y, k=k, rule="raw").X_hat}
        for key, X in out.items():
            res[key] += int(((X >= 0.5) == (truth.X > 0)).all(1).sum())
            sq[key].append(((X - truth.X) ** 2).sum(1))
        tot += 200
        print(f"seed {seed}: L-BFGS iterations {tr.n_iter[0]} ({tr.status_names[0]}), fit {t_fit[-1]:.1f} s", flush=True)
    for key in res:
        lo, hi = wilson_interval(res[key], tot)
        e = np.concatenate(sq[key])
        print(f"{key}: exact {res[key]}/{tot} = {res[key] / tot:.3f} [{float(lo):.3f}, {float(hi):.3f}], "
              f"squared error {e.mean():.3f} ± {e.std() / np.sqrt(e.size):.3f}")
    print(f"matched filter theory: P = {float(theory.mf_success_probability(n, k, m)):.4f}")


if __name__ == "__main__":
    main()
