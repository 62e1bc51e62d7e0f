"""The ``csbench`` command."""
from __future__ import annotations

import argparse
import os
import sys
import time


def _cmd_list(args):
    from .decoders import DECODERS
    from .encoders import ENCODERS
    from .signals import SIGNALS

    for title, reg in (("encoders", ENCODERS), ("signals", SIGNALS), ("decoders", DECODERS)):
        print(f"{title}:")
        for e in reg:
            print(f"  {e.name:<16} {e.summary}")
            if args.verbose and e.defaults:
                print(" " * 19 + ", ".join(f"{k}={v!r}" for k, v in e.defaults.items()))
    return 0


def _cmd_demo(args):
    from .demo import run_demo

    t0 = time.perf_counter()
    out = run_demo(args.out, n=args.n, ks=args.k, trials=args.trials, seed=args.seed, progress=not args.quiet)
    print(f"wrote {out['csv']} and {out['png']} in {time.perf_counter() - t0:.1f} s")
    print(out["summary"])
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="csbench", description="Benchmark compressed-sensing decoders.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="small study: matched filter vs basis pursuit (< 1 min)")
    d.add_argument("--out", default=os.path.join("results", "demo"), help="output folder (default results/demo)")
    d.add_argument("--n", type=int, default=512)
    d.add_argument("--k", type=int, nargs="+", default=[2, 4, 8])
    d.add_argument("--trials", type=int, default=50)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=_cmd_demo)

    ls = sub.add_parser("list", help="list encoders, signals and decoders")
    ls.add_argument("-v", "--verbose", action="store_true", help="show parameters and defaults")
    ls.set_defaults(func=_cmd_list)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as exc:
        print(f"csbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
