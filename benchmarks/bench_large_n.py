"""Memory and time of a minimal-m run at n = 2^20 (issue 9 acceptance), in a fresh subprocess.

Runs ``csbench minimal-m --n N --k K --trials T --json`` (this checkout's csbench)
and prints wall time, CPU time and the peak resident set of the run (Linux
``ru_maxrss`` of the finished child), next to the 8 m_max n bytes that one trial's
dense master matrix would need and the memory budget
(``csbench.problems.memory_budget``):

    python benchmarks/bench_large_n.py                        # n = 2^20, k = 8, 4 trials (~3-4 min on 2 cores)
    python benchmarks/bench_large_n.py --n 65536 --k 4 --trials 2 --extra --decoder lasso
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2**20)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more csbench minimal-m arguments")
    a = p.parse_args(argv)
    cmd = [sys.executable, "-m", "csbench.cli", "minimal-m", "--n", str(a.n), "--k", str(a.k),
           "--trials", str(a.trials), "--json", "--quiet", *a.extra]
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OPENBLAS_NUM_THREADS": "1"}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        sys.exit(f"{' '.join(cmd[2:])} failed:\n{out.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = json.loads(out.stdout)
    sys.path.insert(0, ROOT)
    from csbench.problems import memory_budget

    dense = 8 * res["m_max"] * a.n
    print(f"csbench minimal-m --n {a.n} --k {a.k} --trials {a.trials} {' '.join(a.extra)}")
    print(f"  m* = {res['m_star']} [{res['ci_low']}, {res['ci_high']}] (None: infinite), method {res['method']}, "
          f"m_max = {res['m_max']}")
    print(f"  wall {wall:.1f} s, CPU {usage.ru_utime + usage.ru_stime:.1f} s, load before {load:.1f}")
    print(f"  peak RSS {usage.ru_maxrss / 2**20:.2f} GiB; one trial's dense master {dense / 2**30:.2f} GiB; "
          f"memory budget {memory_budget() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
