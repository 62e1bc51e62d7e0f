"""CPU seconds of one search evaluation (one trial decoded at one m) of each decoder of the superposition-code
study (experiments/superposition_codes.py), dense and on the matrix-free operator, at the search's first m
(the weak l1 curve m_W(N, k)): where the study's time goes (docs/minimal_m.md, "Where the time goes").

    python benchmarks/bench_superposition_evaluation.py --n 65536 --k 32 64
    python benchmarks/bench_superposition_evaluation.py --n 1048576 --k 16 --decoders bamp omp --paths op

Each line: the wall seconds of drawing the trial's matrix (dense: the master rows and A = Z / sqrt(m); operator:
O(1)), the decode's wall and CPU seconds (``time.process_time``), whether the trial succeeds, its status,
iterations, and the process's peak RSS. The first decode of each decoder in the process includes loading its
numba kernels; run a small k first (or read the second k).
"""
import argparse
import math
import resource
import time

DECODERS = {"bmp": ("matching_pursuit", {"binary": True}), "mk1": ("matching_k", {"steps": 1}),
            "mk2": ("matching_k", {"steps": 2}), "mk4": ("matching_k", {"steps": 4}), "omp": ("omp", {}),
            "lasso": ("lasso", {}), "plasso": ("lasso", {"positive": True}),
            "bamp": ("amp", {"denoiser": "bayes_binary"}), "vamp": ("vamp", {"denoiser": "bayes_binary"}),
            "vampd": ("vamp", {"denoiser": "bayes_binary", "damping": 0.5})}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2**16)
    p.add_argument("--k", type=int, nargs="+", default=[32, 64])
    p.add_argument("--decoders", nargs="+", default=list(DECODERS), choices=list(DECODERS))
    p.add_argument("--paths", nargs="+", default=["dense", "op"], choices=["dense", "op"])
    a = p.parse_args()
    from csbench import theory
    from csbench.decoders import decode
    from csbench.metrics import score
    from csbench.problems import Cell, NestedTrial
    from csbench.studies.search import check_decoder, study_params

    for k in a.k:
        cell = Cell("rademacher", "binary", a.n, k, 0.0, {}, {})
        ep, sp = cell.validate(10)
        m = math.ceil(float(theory.m_weak(a.n, k)))
        for lab in a.decoders:
            name, given = DECODERS[lab]
            params = study_params(name, check_decoder(name, dict(given)), set(given), "binary", {}, "exact",
                                  encoder="rademacher")
            if name == "matching_k":
                params["steps"] = min(params["steps"], k)
            tr = NestedTrial(cell, ep, sp, 0, 0, "sqrt", a.n)
            for path in a.paths:
                t0 = time.perf_counter()
                if path == "dense":
                    A, y = tr.problem(m)
                    A = A[None]
                else:
                    op, y = tr.operator(m)
                    A = [op]
                t1, c1 = time.perf_counter(), time.process_time()
                res = decode(name, A, y[None], k=k, **params)
                t2, c2 = time.perf_counter(), time.process_time()
                ok = bool(score(tr.x[None], res.X_hat, binary=True, tol=1e-3)["exact"][0])
                print(f"N={a.n} k={k:<3} {lab:<7} m={m:<5} {path:<5} draw {t1 - t0:7.3f} s wall, decode "
                      f"{t2 - t1:8.3f} s wall {c2 - c1:8.3f} s CPU, ok={ok} status={res.status_names.tolist()[0]} "
                      f"iters={int(res.n_iter[0])} peak RSS "
                      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)
                if path == "dense":
                    tr.release_master()
            tr.release()


if __name__ == "__main__":
    main()
