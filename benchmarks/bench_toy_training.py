"""Training time of the seed-001 recipe (100 -> 10 ReLU MLP, L4, batches of 2048) on one core.

Times ``fit`` (no cache) for 1 instance and for 32 instances in one batched
model, at one torch thread, after a short warm-up. ``--steps`` shortens the run
(the recipe has 1000 steps); the time for the full recipe is reported as
measured CPU time x 1000 / steps (training cost is the same at every step).

    python benchmarks/bench_toy_training.py [--steps 1000] [--instances 1 32]
"""
import argparse
import os
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--instances", type=int, nargs="+", default=[1, 32])
    a = ap.parse_args()
    import torch

    from csbench.toy import ToySpec, fit, instance_seeds

    spec = ToySpec(n=100, m=10, family="untied", bias=False, p=0.02, values="signed", target="relu", loss="l4",
                   lr=3e-3, steps=a.steps, batch=2048)
    torch.set_num_threads(1)
    fit([spec.replace(steps=5)], instance_seeds(0, 1), progress=False)  # warm-up (imports, allocator)
    print(f"torch {torch.__version__}, 1 thread, load average {os.getloadavg()[0]:.1f} (2-core machine)")
    print("wall = elapsed time; cpu = this process's CPU time (less sensitive to other load)")
    print(f"{'instances':>10}{'steps':>7}{'wall s':>9}{'cpu s':>8}{'cpu s/step':>11}{'recipe cpu s/instance':>23}")
    for count in a.instances:
        t0, c0 = time.perf_counter(), time.process_time()
        fit([spec] * count, instance_seeds(1, count), progress=False, threads=1)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        print(f"{count:>10}{a.steps:>7}{dt:>9.2f}{dc:>8.2f}{dc / a.steps:>11.4f}{dc * 1000 / a.steps / count:>23.2f}")


if __name__ == "__main__":
    main()
