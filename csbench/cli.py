"""The ``csbench`` command."""
from __future__ import annotations

import argparse
import os
import sys
import time


#: Exceptions that mean bad input or a bad environment rather than a csbench bug: the
#: command prints one line and exits 2 (``--debug`` or ``CSBENCH_DEBUG=1`` shows the traceback).
USER_ERRORS = (ValueError, TypeError, OSError, ImportError, NotImplementedError)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``csbench demo: error: ... (csbench demo --help)``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Help with the description and examples as written, and every option's default."""


def _sub(sub, name, help, description, examples):
    """A subcommand with a one-line ``help``, a ``description`` and worked ``examples`` in its ``--help``."""
    return sub.add_parser(name, help=help, description=description, formatter_class=_Help,
                          epilog="examples:\n" + "\n".join(f"  {e}" for e in examples))


def _int_at_least(low):
    """argparse type: an integer >= ``low``, rejected while parsing (before any work or output)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


POSITIVE = _int_at_least(1)


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


def _cmd_run(args):
    from .analysis import success_table
    from .harness import run_sweep
    from .store import read_sweep

    out = args.out or os.path.join("results", os.path.splitext(os.path.basename(args.config))[0])
    t0 = time.perf_counter()
    try:
        df = run_sweep(args.config, out, jobs=args.jobs, address=args.scheduler, progress=not args.quiet,
                       start_method=args.start_method)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, out)
    except NotImplementedError as exc:
        print(f"csbench: error: {exc}", file=sys.stderr)
        return 2
    print(f"results in {out} ({time.perf_counter() - t0:.1f} s)")
    _explain_statuses(out)
    sweep = read_sweep(out)
    if sweep.m == "auto":
        cols = ["decoder", "encoder", "signal", "n", "k", "noise", "m_star", "ci_low", "ci_high"]
        print(df[[c for c in cols if c in df]].to_string(index=False))
    elif len(df):
        table = success_table(df, criterion=sweep.criterion)
        print(table[["decoder", "encoder", "signal", "n", "k", "m", "trials", "rate", "n_not_ok"]]
              .to_string(index=False))
    return 0


def _explain_statuses(run):
    """After a run: what the trials whose status is not ``ok`` (the progress bar's ``not_ok``) mean."""
    from .statuses import explain
    from .store import run_status

    for line in explain(run_status(run)["by_status"]):
        print(f"note: {line}", file=sys.stderr)


def _cmd_status(args):
    from .store import run_status

    st = run_status(args.run)
    print(f"run {args.run} ({st['name']})")
    if st["kind"] == "search":
        print("per-trial searches (minimal-m / maximal-k --out); rows: csbench.store.load_search_trials(RUN)")
    if st["auto"]:
        print(f"minimal-m searches summarised: {st['searches_done']} (m = 'auto'; rows: csbench.store.load_minimal_m(RUN))")
    print(f"tasks   {st['tasks_done']}/{st['tasks_total']}")
    print(f"trials  {st['trials_done']}/{st['trials_total']}")
    print("status  " + (", ".join(f"{k}: {v}" for k, v in st["by_status"].items()) or "no trials yet"))
    for dec, d in st["by_decoder"].items():
        print(f"  {dec:<20} {d['trials']} trials, {d['not_ok']} not ok")
    for err in st["errors"]:
        print(f"error   {err}")
    from .statuses import explain

    for line in explain(st["by_status"]):
        print(f"note    {line}")
    if args.verify:
        from .store import verify_run

        counts = verify_run(args.run)  # a damaged row: DamagedRowError, one line, exit status 2
        if any(v is None for v in counts.values()):
            print("verify  this store predates row checksums (schema < 3): nothing to check")
        else:
            print(f"verify  {sum(counts.values())} rows intact ("
                  + ", ".join(f"{t} {c}" for t, c in counts.items()) + ")")
    return 0


def _cmd_export(args):
    from .store import export

    print(export(args.run, args.format, args.output))
    return 0


def _kv(items):
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as Python literals when possible)."""
    import ast

    out = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {item!r} must look like name=value.")
        try:
            out[key] = ast.literal_eval(val)
        except (ValueError, SyntaxError):
            out[key] = val
    return out


def _executor_args(args):
    """Keyword arguments of minimal_m / maximal_k for --jobs, --scheduler, --start-method, --out, --quiet."""
    return dict(n_jobs=args.jobs, executor="processes", scheduler=args.scheduler,
                start_method=args.start_method, out=args.out, progress=not args.quiet)


def _interrupted(exc, out=None):
    """Ctrl-C: one line saying what is saved (the tasks in the run directory ``out``), exit status 130."""
    from .store import count_saved

    if out is None:
        print("interrupted: nothing saved (no --out directory)", file=sys.stderr)
    else:
        print(f"interrupted: {count_saved(out)} tasks saved; run the same command to resume", file=sys.stderr)
    return 130


def _cmd_minimal_m(args):
    import warnings

    from .studies.minimal_m import minimal_m

    def one(k):
        with warnings.catch_warnings():  # the reason is printed below, once, without a traceback-like location
            warnings.simplefilter("ignore", RuntimeWarning)
            r = minimal_m(args.decoder, args.encoder, args.signal, n=args.n, k=k, trials=args.trials,
                          seed=args.seed, q=args.q, criterion=args.criterion,
                          encoder_params=_kv(args.encoder_param), signal_params=_kv(args.signal_param),
                          m_max=args.m_max, noise=args.noise, resolution=args.resolution,
                          **_executor_args(args), **_kv(args.param))
        if r.censored_reason:
            print(f"warning: {args.decoder} n={args.n} k={k}: {r.censored_reason}", file=sys.stderr)
        return r

    def line(k, r):
        return (f"{args.decoder} n={args.n} k={k}: m*_{args.q:g} = {r.m_star:g} "
                f"[{r.ci_low:g}, {r.ci_high:g}] ({100 * r.coverage:.1f} % CI), "
                + (f"m_star_monotone = {r.m_star_monotone:g}, " if r.m_star_monotone == r.m_star_monotone else "")
                + f"{r.n_censored} censored, {r.n_nonmonotone}/{r.n_checked} non-monotone, "
                f"{r.method}, {r.time:.2f} s")

    return _search_command(args, args.k, one, line)


def _cmd_maximal_k(args):
    from .studies.maximal_k import maximal_k

    def one(m):
        return maximal_k(args.decoder, args.encoder, args.signal, n=args.n, m=m, trials=args.trials,
                         seed=args.seed, q=args.q, criterion=args.criterion, encoder_params=_kv(args.encoder_param),
                         signal_params=_kv(args.signal_param), k_max=args.k_max, noise=args.noise,
                         resolution=args.resolution, **_executor_args(args), **_kv(args.param))

    def line(m, r):
        return (f"{args.decoder} n={args.n} m={m}: k*_{args.q:g} = {r.k_star:g} "
                f"[{r.ci_low:g}, {r.ci_high:g}] ({100 * r.coverage:.1f} % CI), "
                f"{r.n_censored} censored, {r.n_nonmonotone}/{r.n_checked} non-monotone, {r.time:.2f} s")

    return _search_command(args, args.m, one, line)


def _search_command(args, values, one, line):
    """Body of ``minimal-m`` / ``maximal-k``: one search per value, a line (or JSON) each; Ctrl-C -> exit 130."""
    import json

    rows = []
    try:
        for v in values:
            r = one(v)
            rows.append(r.to_dict())
            if not args.json:
                print(line(v, r))
            for err in r.errors:
                print(f"csbench: warning: decoder errors (trials counted as failures): {err}", file=sys.stderr)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, args.out)
    if args.json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=1))
    return 0


def _search_parser(sub, name, help, description, examples, axis, axis_default, limit):
    """Shared options of ``minimal-m`` and ``maximal-k``."""
    mm = _sub(sub, name, help, description, examples)
    mm.add_argument("--decoder", required=True, help="decoder to study (`csbench list` shows them)")
    mm.add_argument("--encoder", default="gaussian", help="measurement ensemble (`csbench list`)")
    mm.add_argument("--signal", default="binary", help="signal model (`csbench list`)")
    mm.add_argument("--n", type=POSITIVE, default=1024, help="number of features")
    what = "sparsities k (one search each)" if axis == "k" else "numbers of measurements m (one search each)"
    mm.add_argument(f"--{axis}", type=POSITIVE, nargs="+", default=axis_default, required=axis_default is None,
                    help=what)
    mm.add_argument("--trials", type=POSITIVE, default=100, help="trials (independent problems)")
    mm.add_argument("--seed", type=int, default=0, help="root seed (results are a function of it)")
    mm.add_argument("--q", type=float, default=0.5, help="quantile: the fraction of trials that must succeed")
    mm.add_argument("--criterion", default="exact", choices=["exact", "support"], help="success criterion")
    mm.add_argument(f"--{limit}", type=POSITIVE, default=None,
                    help="largest value searched (default: n for minimal m, 1.5 x 8k ln n for linear read-outs; "
                         "min(n, m) for maximal k)")
    mm.add_argument("--noise", type=float, default=0.0, help="standard deviation of the noise on each y_i")
    mm.add_argument("--resolution", type=POSITIVE, default=1, help="stop bisecting at this bracket width")
    mm.add_argument("--param", action="append", metavar="NAME=VALUE", help="decoder parameter (repeatable)")
    mm.add_argument("--encoder-param", action="append", metavar="NAME=VALUE", help="encoder parameter (repeatable)")
    mm.add_argument("--signal-param", action="append", metavar="NAME=VALUE", help="signal parameter (repeatable)")
    mm.add_argument("--json", action="store_true", help="print the result(s) as JSON")
    mm.add_argument("--jobs", type=POSITIVE, default=1, help="worker processes (1: serial)")
    mm.add_argument("--scheduler", help="dask.distributed scheduler address (needs the dask extra)")
    mm.add_argument("--start-method", default="spawn", choices=["spawn", "forkserver"],
                    help="how worker processes start")
    mm.add_argument("--out", help="run directory: store finished trials there; re-run to resume")
    mm.add_argument("--quiet", action="store_true", help="no progress bar")
    return mm


def _cmd_report(args):
    from .report import incomplete_note, write_report

    print(write_report(args.run, q=args.q, criterion=args.criterion))
    note = incomplete_note(args.run)
    if note:
        print(f"csbench: warning: {note}", file=sys.stderr)
    return 0


def _cmd_train(args):
    from .toy.spec import instance_seeds, load_spec_file
    from .toy.training import cache_dir, check_instances, instance_key, require_torch, train

    spec, opts = load_spec_file(args.spec)
    check_instances(spec, opts["instances"])  # before any seed or tensor: the memory budget
    try:
        require_torch()
    except ImportError as exc:
        print(f"csbench: error: {exc}", file=sys.stderr)
        return 2
    folder = cache_dir(args.cache_dir or opts["cache_dir"])
    seeds = instance_seeds(opts["seed"], opts["instances"])
    t0 = time.perf_counter()
    models = train(spec, seeds, cache=folder, progress=not args.quiet)
    for i, (sd, mdl) in enumerate(zip(seeds, models)):
        path = os.path.join(folder, instance_key(spec, sd) + ".safetensors")
        print(f"instance {i}: loss {mdl.loss:.6g} {'(cached)' if mdl.from_cache else '(trained)'} {path}")
    print(f"{len(models)} instance(s) of n={spec.n}, m={spec.m} in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_compile(args):
    from .precompile import precompile

    t0 = time.perf_counter()
    table = precompile(jobs=args.jobs, progress=not args.quiet)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    where = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ beside csbench's kernels"
    print(f"{int(table['compiled'].sum())} numba compilations in {time.perf_counter() - t0:.1f} s; cache: {where}")
    return 0


def build_parser():
    from . import __version__

    p = _Parser(prog="csbench", formatter_class=_Help,
                description="Benchmark compressed-sensing decoders: which decoders recover a k-sparse x from "
                            "y = A x, and how small can m be?",
                epilog="examples:\n  csbench demo\n  csbench list -v\n"
                       "  csbench minimal-m --decoder lasso --n 1024 --k 4 8 --trials 50\n"
                       "  csbench run study.toml --jobs 2 && csbench report results/study")
    p.add_argument("--version", action="version", version=f"csbench {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors (also CSBENCH_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = _sub(sub, "demo", "small study: matched filter vs basis pursuit (< 1 min)",
             "n = 512, Gaussian A, binary k-sparse x, 50 trials per m: success rate vs m of the matched filter and\n"
             "basis pursuit, with log2 C(n,k) and 8k ln n marked; writes a CSV and a figure.",
             ["csbench demo", "csbench demo --k 2 4 --trials 20 --out results/quick"])
    d.add_argument("--out", default=os.path.join("results", "demo"), help="output folder")
    d.add_argument("--n", type=POSITIVE, default=512, help="number of features")
    d.add_argument("--k", type=POSITIVE, nargs="+", default=[2, 4, 8], help="sparsities")
    d.add_argument("--trials", type=POSITIVE, default=50, help="trials per m")
    d.add_argument("--seed", type=int, default=0, help="root seed")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=_cmd_demo)

    c = _sub(sub, "compile", "compile every numba kernel into numba's cache now (once per install)",
             "Compiles csbench's numba kernels into numba's on-disk cache on all cores, so that the first call of\n"
             "a decoder in a new process takes seconds instead of minutes of compilation. Run it again after\n"
             "upgrading csbench or numba.", ["csbench compile", "csbench compile --jobs 1 --quiet"])
    c.add_argument("--jobs", type=POSITIVE, default=None, help="worker processes (default: the CPU count)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_cmd_compile)

    ls = _sub(sub, "list", "list encoders, signals and decoders",
              "The registered components (built-in and from installed plugins), one line each.",
              ["csbench list", "csbench list -v     # with parameters and defaults"])
    ls.add_argument("-v", "--verbose", action="store_true", help="show parameters and defaults")
    ls.set_defaults(func=_cmd_list)
    r = _sub(sub, "run", "run (or resume) a sweep from a TOML config into a run directory",
             "Runs every (cell, m, decoder) of a sweep and stores one row per trial; killed at any moment, the\n"
             "same command resumes. A minimal config:\n\n"
             '    name = "study"\n    n = 512\n    k = [2, 4]\n    m = {start = 16, stop = 256, num = 12}\n'
             '    trials = 50\n    [[decoders]]\n    name = "lasso"\n    [[decoders]]\n    name = "matched_filter"\n\n'
             'm = "auto" searches the minimal m of each (cell, decoder) instead. Keys: name, encoder, signal, n,\n'
             "k, m, noise, decoders, trials, seed, criterion, tol, block, [auto] (see the README).",
             ["csbench run study.toml", "csbench run study.toml --jobs 2 --out results/study",
              "csbench status results/study"])
    r.add_argument("config", help="sweep configuration (TOML)")
    r.add_argument("--out", help="run directory (default results/<config name>); re-run to resume")
    r.add_argument("--jobs", type=POSITIVE, default=1, help="worker processes (1: serial)")
    r.add_argument("--scheduler", help="dask.distributed scheduler address (needs the dask extra)")
    r.add_argument("--start-method", default="spawn", choices=["spawn", "forkserver"],
                   help="how worker processes start")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)

    stt = _sub(sub, "status", "progress of a run: tasks, trials, failures by status",
               "Works on every run directory: sweeps (`csbench run`) and minimal-m / maximal-k --out runs.",
               ["csbench status results/study", "csbench status results/study --verify"])
    stt.add_argument("run", help="run directory")
    stt.add_argument("--verify", action="store_true",
                     help="also check every stored row against its checksum (reads the whole database)")
    stt.set_defaults(func=_cmd_status)

    ex = _sub(sub, "export", "write a run's per-trial table as CSV or parquet",
              "Sweeps: one row per trial. m = 'auto' sweeps: one row per search. minimal-m / maximal-k --out\n"
              "runs: one row per trial and search (its critical m or k).",
              ["csbench export results/study", "csbench export results/study --format parquet --output t.parquet"])
    ex.add_argument("run", help="run directory")
    ex.add_argument("--format", default="csv", choices=["csv", "parquet"], help="file format")
    ex.add_argument("--output", help="file to write (default RUN/results.<format>)")
    ex.set_defaults(func=_cmd_export)

    mm = _search_parser(sub, "minimal-m", "minimal m*_q with a confidence interval (nested per-trial search)",
                        "For each k, the smallest m at which a fraction q of the trials decode x, with its\n"
                        "confidence interval: each trial's critical m on a nested design (exact one-pass curve\n"
                        "for the matched filter, galloping + bisection for the others).",
                        ["csbench minimal-m --decoder lasso --n 1024 --k 4 8 --trials 50",
                         "csbench minimal-m --decoder omp --k 16 --param positive=True --out results/omp"],
                        "k", [8], "m-max")
    mm.set_defaults(func=_cmd_minimal_m)
    mk = _search_parser(sub, "maximal-k", "maximal k*_q at a fixed m, with a confidence interval (nested supports)",
                        "For each m, the largest k at which a fraction q of the trials decode x (nested supports,\n"
                        "any encoder, including fixed dictionaries).",
                        ["csbench maximal-k --decoder lasso --n 1024 --m 200",
                         "csbench maximal-k --decoder omp --encoder model --n 1536 --m 384 "
                         "--encoder-param dictionary=minilm.layer0.w_in"],
                        "m", None, "k-max")
    mk.set_defaults(func=_cmd_maximal_k)

    rp = _sub(sub, "report", "write report.md with tables and figures into a run directory",
              "Tables (success rates, m* or k* with intervals beside theory, scaling constants) and figures, from\n"
              "the stored rows only (nothing is re-run).", ["csbench report results/study"])
    rp.add_argument("run", help="run directory")
    rp.add_argument("--q", type=float, default=0.5, help="quantile of m*_q")
    rp.add_argument("--criterion", default=None, help="success criterion (default: the run's)")
    rp.set_defaults(func=_cmd_report)

    tr = _sub(sub, "train", "train (or find in the cache) the toy models a TOML spec describes",
              "Trains toy models of superposition (needs the learn extra: PyTorch) and caches their weights by\n"
              "the hash of their spec; studies with the toy encoder then read them from the cache.",
              ["csbench train experiments/toy_seed001.toml"])
    tr.add_argument("spec", help="TOML with [model] (toy-model spec) and [train] (seed, instances, cache_dir)")
    tr.add_argument("--cache-dir", help="cache folder (default: [train] cache_dir, $CSBENCH_TOY_CACHE, "
                                        "results/toy_cache)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=_cmd_train)
    for sp in sub.choices.values():  # --debug also after the command (SUPPRESS keeps a --debug given before it)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe (``csbench status RUN | head``) surfaces here
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # 128 + SIGPIPE, as for other Unix tools
    except USER_ERRORS as exc:
        if args.debug or os.environ.get("CSBENCH_DEBUG", "") not in ("", "0"):
            raise
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"csbench: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
