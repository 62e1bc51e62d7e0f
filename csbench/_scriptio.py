"""Output conventions shared by the scripts in ``experiments/``.

Every script writes under ``results/<script name>/`` by default (ignored by git). The
committed reference data under ``data/`` changes only with ``--update-data``, and every
file is written atomically (a temporary name in the same directory, then
:func:`os.replace`), so an interrupted run never leaves a partial file behind.

Used by ``experiments/*.py``: ``add_output_args(parser)`` then ``out = output_dir(args,
__file__, "toy")``; write with :func:`write_json`, :func:`write_text`, :func:`write_csv`,
:func:`save_figure`.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def repo_root(script_file):
    """The repository a script belongs to: the parent of its ``experiments/`` folder."""
    return Path(script_file).resolve().parent.parent


def add_output_args(parser, data_subdir=None):
    """Add ``--out`` and ``--update-data`` to an :class:`argparse.ArgumentParser`.

    ``data_subdir`` names the folder under ``data/`` that ``--update-data`` rewrites
    (None: the script has no committed reference data and gets ``--out`` only).
    """
    g = parser.add_argument_group("output")
    g.add_argument("--out", default=None,
                   help="output directory (default: results/<script name>/ in the repository; "
                        "never under data/" + (", see --update-data)" if data_subdir else ")"))
    if data_subdir is not None:
        g.add_argument("--update-data", action="store_true",
                       help=f"rewrite the committed reference data in data/{data_subdir}/ instead "
                            "(atomic writes: an interrupted run leaves the old files)")
    parser.set_defaults(_data_subdir=data_subdir)
    return parser


def output_dir(args, script_file, data_subdir=None):
    """The directory a script writes to, created if needed.

    ``--update-data``: ``data/<data_subdir>``; otherwise ``--out`` or
    ``results/<script name>``. An ``--out`` inside ``data/`` without
    ``--update-data`` is refused in one line (``SystemExit``), so reference data never
    changes by accident.
    """
    sub = data_subdir or getattr(args, "_data_subdir", None)
    root = repo_root(script_file)
    data = root / "data"
    if getattr(args, "update_data", False):
        if args.out is not None:
            raise SystemExit(f"error: --out={args.out!r} and --update-data exclude each other; "
                             f"--update-data writes to data/{sub}/")
        out = data / sub
    elif args.out is not None:
        out = Path(args.out).resolve()
        if out == data or data in out.parents:
            raise SystemExit(f"error: --out={args.out!r} is inside the committed reference data {data}; "
                             "pass --update-data (without --out) to rewrite it, or choose another directory")
    else:
        out = root / "results" / Path(script_file).stem
    out.mkdir(parents=True, exist_ok=True)
    return out


def extra_paths(args, script_file, *paths):
    """The given optional extra output paths (``--json PATH``), without Nones; refused inside ``data/``.

    Only ``--update-data`` writes there (and then to ``data/<subdir>/`` through :func:`output_dir`).
    """
    data = repo_root(script_file) / "data"
    out = []
    for p in filter(None, paths):
        q = Path(p).resolve()
        if (q == data or data in q.parents) and not getattr(args, "update_data", False):
            raise SystemExit(f"error: {p!r} is inside the committed reference data {data}; "
                             "pass --update-data to rewrite it")
        out.append(Path(p))
    return out


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix (``.name.XXXX.png``) so that writers that infer
    the format from it (matplotlib, pandas) still do.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path, obj, indent=1):
    """Write ``obj`` as JSON to ``path`` atomically."""
    return write_text(path, json.dumps(obj, indent=indent) + "\n")


def write_csv(df, path):
    """Write a pandas DataFrame to ``path`` as CSV (no index) atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def save_figure(fig, path, dpi=110):
    """Save a matplotlib figure to ``path`` atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    return Path(path)


def replot(json_path, draw):
    """``--replot JSON``: read a script's written JSON and redraw its figure beside it (``.png``).

    ``draw(doc, png_path)`` is the script's figure function; returns the document.
    """
    doc = json.loads(Path(json_path).read_text())
    draw(doc, Path(json_path).with_suffix(".png"))
    return doc


def wrote(paths):
    """One line naming the files a script wrote (relative to the working directory when inside it)."""
    cwd = Path.cwd().resolve()

    def rel(p):
        p = Path(p).resolve()
        return str(p.relative_to(cwd)) if cwd in p.parents else str(p)
    return "wrote " + ", ".join(rel(p) for p in paths)
