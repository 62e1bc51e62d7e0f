"""Crash-safe results store: one SQLite database (WAL mode) per run directory.

Layout of a run directory::

    RUN/results.sqlite   tables meta, tasks, trials (+ -wal/-shm while open)
    RUN/sweep.json       the resolved configuration (also in table meta)
    RUN/config.toml      the TOML it came from, when there was one

The driver process is the only writer. Each finished task is written in one
transaction with all its trial rows (``BEGIN IMMEDIATE ... COMMIT``), so a
``kill -9`` at any moment loses at most the tasks not yet committed, and a
task is either fully present or absent. ``synchronous=NORMAL`` in WAL mode is
durable against a killed process (only a power loss can drop the last
commits; it never corrupts the database). See ``docs/harness.md``.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time

import pandas as pd

from .metrics import CRITERIA

DB_NAME = "results.sqlite"
LOCK_NAME = "lock"
SCHEMA_VERSION = 3  # 3: a checksum column in every result table (tasks, trials, search_trials, minimal_m)

#: Columns of table ``trials`` (one row per trial) and their SQL types.
TRIAL_COLUMNS = {
    "task": "TEXT NOT NULL", "encoder": "TEXT", "signal": "TEXT", "n": "INTEGER", "k": "INTEGER",
    "noise": "REAL", "m": "INTEGER", "decoder": "TEXT", "trial": "INTEGER NOT NULL", "status": "TEXT",
    "n_iter": "INTEGER", "time": "REAL",
    **{c: ("REAL" if c == "rel_err" else "INTEGER") for c in CRITERIA},
    "decoder_name": "TEXT", "decoder_params": "TEXT", "encoder_params": "TEXT", "signal_params": "TEXT",
}
#: Boolean criteria (stored as 0/1, loaded as bool).
BOOL_COLUMNS = ("exact", "support")
#: Columns of table ``search_trials`` (one row per trial of a minimal-m / maximal-k search).
SEARCH_COLUMNS = {
    "task": "TEXT NOT NULL", "search": "TEXT NOT NULL", "kind": "TEXT", "trial": "INTEGER NOT NULL",
    "critical": "REAL", "censored": "INTEGER", "status": "TEXT", "n_evaluations": "INTEGER",
    "n_not_ok": "INTEGER", "nonmonotone": "INTEGER", "checked": "INTEGER", "statuses": "TEXT",
    "curve": "BLOB", "status_at_max": "TEXT", "rel_err_at_max": "REAL", "wrong_at_max": "REAL",
}
_SEARCH_BOOL = ("censored", "nonmonotone", "checked")
#: Columns of table ``tasks`` (one row per finished task).
TASK_COLUMNS = {
    "task": "TEXT PRIMARY KEY", "idx": "INTEGER", "spec": "TEXT", "trials": "INTEGER",
    "error": "TEXT", "elapsed": "REAL", "finished": "REAL",
}


#: Tables every csbench database holds, by the schema version that introduced them.
TABLES = {"meta": 1, "tasks": 1, "trials": 1, "search_trials": 2, "minimal_m": 2}
#: Columns of table ``minimal_m`` (one summary row per search of an ``m = "auto"`` sweep).
MINIMAL_M_COLUMNS = {"task": "TEXT PRIMARY KEY", "idx": "INTEGER", "row": "TEXT"}
#: The key columns of each result table (what names a damaged row) and its value columns.
_KEYS = {"tasks": ("task",), "trials": ("task", "trial"), "search_trials": ("task", "trial"), "minimal_m": ("task",)}


def _columns(table):
    return list({"tasks": TASK_COLUMNS, "trials": TRIAL_COLUMNS, "search_trials": SEARCH_COLUMNS,
                 "minimal_m": MINIMAL_M_COLUMNS}[table])


def row_checksum(table, values):
    """SHA-256 (hex) of one stored row: the table name and its values as SQLite returns them (canonical JSON;
    floats exactly, blobs as hex)."""
    import hashlib

    def plain(v):
        if isinstance(v, bytes):
            return {"blob": v.hex()}
        if isinstance(v, float):
            return {"real": v.hex()}
        return v

    text = json.dumps([table, *map(plain, values)], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


class DamagedRowError(ValueError):
    """A stored row whose values no longer match its checksum (the database was changed behind csbench)."""


def db_path(run_dir):
    return os.path.join(os.fspath(run_dir), DB_NAME)


class RunDirError(ValueError):
    """A run directory that cannot be used: held by another run, or a damaged database."""


def _check_database(path, readonly):
    """Refuse a truncated or foreign ``results.sqlite`` (naming the file and what to do).

    A 0-byte file is what SQLite leaves when a run is killed between creating the database and
    its first write (or when another process merely opened it): it holds nothing, so a run writes
    into it afresh, and reading it says that it holds no results yet.
    """
    if not os.path.exists(path):
        return
    if os.path.getsize(path) == 0:
        if readonly:
            raise RunDirError(f"{path} is empty (0 bytes): the run holds no results yet (it was stopped "
                              f"before its first write); run it (again) to compute them.")
        return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60) as conn:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        ok, tables = str(exc), set()
    if ok != "ok" or (tables and "meta" not in tables):  # no tables at all: killed before the first write
        reason = ok if ok != "ok" else "it has no csbench tables"
        raise RunDirError(f"{path} is not a readable csbench results database ({reason}); it may be "
                          f"truncated or overwritten. Restore it from a backup, or move it away (or use "
                          f"another --out) and re-run to recompute.")
    schema = _stored_schema(path) if tables else None
    if schema is not None:  # a store that was written: every table of its schema must be there
        missing = [t for t, since in TABLES.items() if since <= min(schema, SCHEMA_VERSION) and t not in tables]
        if missing:
            raise RunDirError(f"{path} is damaged: table(s) {missing} are missing (store schema {schema}); "
                              f"restore it from a backup, or move it away (or use another --out) and re-run "
                              f"to recompute.")


def _stored_schema(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    return None if row is None else json.loads(row[0])


class _Lock:
    """An exclusive ``flock`` on ``RUN/lock`` held while a run writes (released when the process dies)."""

    def __init__(self, run_dir):
        import fcntl
        import socket

        self.path = os.path.join(run_dir, LOCK_NAME)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self.fd, 512, 0).decode(errors="replace").strip() or "another process"
            os.close(self.fd)
            raise RunDirError(f"run directory {run_dir!r} is in use by {holder}; wait for that run to "
                              f"finish (or stop it), or use another --out.") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"pid {os.getpid()} on host {socket.gethostname()}\n".encode(), 0)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


def run_lock(run_dir):
    """Take the exclusive lock of a run directory (created if missing), or raise :class:`RunDirError` naming
    its holder at once: what a run does first, before any validation or dry run. ``None`` for ``None``
    (an in-memory store). Hand it to :class:`Store` (``lock=``), which releases it on close."""
    if run_dir is None:
        return None
    run_dir = os.fspath(run_dir)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise RunDirError(f"run directory {run_dir!r} is a file; allowed: a directory (new or written by csbench).")
    os.makedirs(run_dir, exist_ok=True)
    return _Lock(run_dir)


def count_saved(run_dir):
    """Tasks committed in run directory ``run_dir`` (0 if it holds no database yet): what an interrupt saved."""
    if run_dir is None or not os.path.isfile(db_path(run_dir)) or os.path.getsize(db_path(run_dir)) == 0:
        return 0
    try:
        with sqlite3.connect(f"file:{db_path(run_dir)}?mode=ro", uri=True, timeout=60) as conn:
            return conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    except sqlite3.DatabaseError:
        return 0


class Store:
    """The results database of one run (``run_dir=None``: in memory).

    Parameters
    ----------
    run_dir : path or None
        Run directory (created if missing).
    readonly : bool
        Open an existing store for reading only (``status``, ``export``, ``load_results``).
    """

    def __init__(self, run_dir=None, readonly=False, lock=None):
        self.run_dir = None if run_dir is None else os.fspath(run_dir)
        self._lock = None
        if self.run_dir is None:
            path = ":memory:"
        else:
            path = db_path(self.run_dir)
            if readonly and not os.path.isfile(path):
                raise ValueError(f"{self.run_dir!r} is not a csbench run directory (no {DB_NAME}); "
                                 f"allowed: a folder written by `csbench run`.")
            if not readonly:
                self._lock = lock if lock is not None else run_lock(self.run_dir)
            try:
                _check_database(path, readonly)
            except RunDirError:
                self.close()
                raise
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=60)
        self.path = path
        if readonly:
            schema = self.get_meta("schema")
            if schema is not None and schema > SCHEMA_VERSION:
                self.close()
                raise RunDirError(f"{path} was written by a newer csbench (store schema {schema}, this one "
                                  f"reads up to {SCHEMA_VERSION}); upgrade csbench to read it.")
            return
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        cols = lambda d: ", ".join(f"{c} {t}" for c, t in d.items())  # noqa: E731
        self.conn.executescript(f"""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS tasks ({cols(TASK_COLUMNS)}, checksum TEXT);
            CREATE TABLE IF NOT EXISTS trials ({cols(TRIAL_COLUMNS)}, checksum TEXT, PRIMARY KEY (task, trial));
            CREATE TABLE IF NOT EXISTS search_trials ({cols(SEARCH_COLUMNS)}, checksum TEXT,
                                                      PRIMARY KEY (task, trial));
            CREATE TABLE IF NOT EXISTS minimal_m ({cols(MINIMAL_M_COLUMNS)}, checksum TEXT);
        """)
        schema = self.get_meta("schema")
        if schema is not None and schema not in (1, 2, SCHEMA_VERSION):
            self.close()
            raise RunDirError(f"{path} was written by another csbench version (store schema {schema}, "
                              f"this one reads {SCHEMA_VERSION}); use another --out to run afresh.")
        if schema is not None and schema < SCHEMA_VERSION:
            self._upgrade()  # 1 -> 2 added tables; 2 -> 3 adds checksums of the rows already stored
        self.set_meta(schema=SCHEMA_VERSION)

    def _upgrade(self):
        """Add the checksum column to the tables of an older store and seal the rows it holds."""
        with self._transaction():
            for table in _KEYS:
                have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
                if "checksum" not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN checksum TEXT")
                self._seal(table, "checksum IS NULL", ())

    def _seal(self, table, where, params):
        """Write the checksum of the rows of ``table`` matching ``where``, from their values as stored."""
        cols = _columns(table)
        rows = self.conn.execute(f"SELECT rowid, {', '.join(cols)} FROM {table} WHERE {where}", params).fetchall()
        self.conn.executemany(f"UPDATE {table} SET checksum = ? WHERE rowid = ?",
                              [(row_checksum(table, r[1:]), r[0]) for r in rows])

    def verify(self, table, where="1", params=()):
        """Check the checksum of every row of ``table`` matching ``where``; raise :class:`DamagedRowError`
        naming the first damaged rows (table, task, trial) otherwise. Stores of schema < 3 (no checksums)
        are read unverified."""
        cols = _columns(table)
        have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
        if "checksum" not in have:
            return
        keys = [cols.index(k) for k in _KEYS[table]]
        bad = []
        for r in self.conn.execute(f"SELECT {', '.join(cols)}, checksum FROM {table} WHERE {where}", params):
            if r[-1] != row_checksum(table, r[:-1]):
                bad.append(", ".join(f"{k} {r[i]!r}" for k, i in zip(_KEYS[table], keys)))
        if bad:
            shown = "; ".join(bad[:3]) + (f"; ... ({len(bad)} rows)" if len(bad) > 3 else "")
            raise DamagedRowError(f"{self.path}: {len(bad)} damaged row(s) in table {table} ({shown}): the "
                                  f"stored values do not match their checksum, so they are not read or exported. "
                                  f"Restore the database from a backup, or delete those tasks (or use another "
                                  f"--out) and re-run to recompute them.")

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key, default=None):
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, **items):
        with self._transaction():
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                  [(k, json.dumps(v, sort_keys=True)) for k, v in items.items()])

    # -- writing ------------------------------------------------------------
    def _transaction(self):
        return _Transaction(self.conn)

    def done_tasks(self, retry=None):
        """Keys of the committed tasks.

        ``retry(error_text) -> bool``: stored tasks whose error it accepts (transient failures stored by
        an older csbench) are deleted first, with their rows, so that the run recomputes them.
        """
        if retry is not None:
            stale = [k for k, e in self.conn.execute("SELECT task, error FROM tasks WHERE error IS NOT NULL")
                     if retry(e)]
            with self._transaction():
                for table in ("trials", "search_trials", "tasks"):
                    self.conn.executemany(f"DELETE FROM {table} WHERE task = ?", [(k,) for k in stale])
        return {r[0] for r in self.conn.execute("SELECT task FROM tasks")}

    def count_tasks(self):
        """Number of committed tasks."""
        return self.conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]

    def write_task(self, task_key, idx, spec, rows: pd.DataFrame, error=None, elapsed=0.0, table="trials"):
        """Commit one task and its rows (table ``trials`` or ``search_trials``) atomically.

        A task already stored is left as is.
        """
        cols = list({"trials": TRIAL_COLUMNS, "search_trials": SEARCH_COLUMNS}[table])
        missing = [c for c in cols if c != "task" and c not in rows]
        if missing:
            raise ValueError(f"task rows lack columns {missing}.")
        columns = [[task_key] * len(rows)] + [rows[c].tolist() for c in cols[1:]]  # plain Python values
        records = list(zip(*columns))
        with self._transaction():
            cur = self.conn.execute(
                f"INSERT OR IGNORE INTO tasks ({', '.join(TASK_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (task_key, idx, spec, len(rows), error, float(elapsed), time.time()))
            if cur.rowcount:  # a task is written once, with all its rows
                self.conn.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", records)
                self._seal("tasks", "task = ?", (task_key,))
                self._seal(table, "task = ?", (task_key,))

    def write_minimal_m(self, task_key, idx, row: dict):
        """Commit one minimal-m result (``m = "auto"`` sweeps; derived from ``search_trials``, so replaced)."""
        with self._transaction():
            self.conn.execute("INSERT OR REPLACE INTO minimal_m (task, idx, row) VALUES (?, ?, ?)",
                              (task_key, idx, json.dumps(row, sort_keys=True, default=_py)))
            self._seal("minimal_m", "task = ?", (task_key,))

    # -- reading ------------------------------------------------------------
    def trials(self):
        """All trial rows as a DataFrame, in grid order (task index, then trial)."""
        self.verify("tasks")
        self.verify("trials")
        cols = ", ".join(f"t.{c}" for c in list(TRIAL_COLUMNS)[1:]) + ", t.task"
        df = pd.read_sql_query(
            f"SELECT {cols} FROM trials t JOIN tasks USING (task) ORDER BY tasks.idx, t.trial", self.conn)
        for c in BOOL_COLUMNS:
            df[c] = df[c].astype(bool)
        return df

    def search_trials(self, search):
        """Per-trial rows of one search (table ``search_trials``, plus its task's ``error``, ``elapsed``), by trial."""
        self.verify("search_trials", "search = ?", (search,))
        self.verify("tasks", "task IN (SELECT task FROM search_trials WHERE search = ?)", (search,))
        cols = ", ".join(f"s.{c}" for c in list(SEARCH_COLUMNS)[1:])
        df = pd.read_sql_query(
            f"SELECT {cols}, tasks.error, tasks.elapsed, s.task FROM search_trials s JOIN tasks USING (task) "
            f"WHERE s.search = ? ORDER BY s.trial", self.conn, params=(search,))
        for c in _SEARCH_BOOL:
            df[c] = df[c].astype(bool)
        df["critical"] = df["critical"].astype(float)
        return df

    def minimal_m(self):
        """Minimal-m results (one row per cell and decoder) as a DataFrame."""
        self.verify("minimal_m")
        rows = self.conn.execute("SELECT row FROM minimal_m ORDER BY idx").fetchall()
        return pd.DataFrame([json.loads(r[0]) for r in rows])

    def close(self):
        if getattr(self, "conn", None) is not None:
            self.conn.close()
            self.conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Transaction:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *rest):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _py(v):
    """Plain Python scalar for sqlite3 / json (numpy scalars -> item())."""
    return v.item() if hasattr(v, "item") else v


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_results(run_dir) -> pd.DataFrame:
    """Per-trial results of a run directory as a DataFrame.

    Columns: those of :func:`csbench.harness.run_task` plus ``decoder_name``,
    ``decoder_params``, ``encoder_params``, ``signal_params`` (canonical JSON)
    and ``task`` (task key); rows in grid order.
    """
    with Store(run_dir, readonly=True) as st:
        return st.trials()


def load_minimal_m(run_dir) -> pd.DataFrame:
    """Minimal-m results of an ``m = "auto"`` run directory as a DataFrame."""
    with Store(run_dir, readonly=True) as st:
        return st.minimal_m()


def read_sweep(run_dir):
    """The :class:`~csbench.config.Sweep` stored in a run directory."""
    from .config import Sweep

    with Store(run_dir, readonly=True) as st:
        return Sweep.from_dict(st.get_meta("sweep"), source=db_path(run_dir))


def run_kind(st):
    """``"search"`` (minimal-m / maximal-k ``--out`` runs), ``"sweep"`` or None (nothing recorded yet) of open store ``st``."""
    kind = st.get_meta("run_kind")
    if kind is None and st.get_meta("sweep") is not None:
        kind = "sweep"
    return kind


def load_search_trials(run_dir) -> pd.DataFrame:
    """Per-trial rows of every search of a search run (one row per trial and search), with what each search
    measured: ``kind``, ``decoder``, ``encoder``, ``signal``, ``n``, ``k`` (minimal m) or ``m`` (maximal k).

    ``critical`` is the trial's critical m (or k); ``inf``: censored; NaN: its task raised (``error``).
    The bit-packed success curves of the exact matched-filter path are left out (column ``curve``).
    """
    with Store(run_dir, readonly=True) as st:
        plans = dict(_plans_by_key(st))
        st.verify("tasks")
        st.verify("search_trials")
        cols = ", ".join(f"s.{c}" for c in list(SEARCH_COLUMNS)[1:] if c != "curve")
        df = pd.read_sql_query(f"SELECT {cols}, tasks.error FROM search_trials s JOIN tasks USING (task) "
                               "ORDER BY tasks.idx, s.trial", st.conn)
    for c in _SEARCH_BOOL:
        df[c] = df[c].astype(bool)
    facts = {key: {"decoder": p["decoder"], "encoder": p["cell"]["encoder"], "signal": p["cell"]["signal"],
                   "n": p["cell"]["n"], "k": p["cell"]["k"] if p["kind"] == "minimal_m" else None,
                   "m": p.get("m")} for key, p in plans.items()}
    for c in ("decoder", "encoder", "signal", "n", "k", "m"):
        df.insert(2, c, [facts.get(s, {}).get(c) for s in df["search"]])
    return df


def run_status(run_dir) -> dict:
    """Progress of a run: tasks and trials done/total, trial counts by status, task errors.

    Works on every run directory: grid sweeps (table ``trials``), ``m = "auto"`` sweeps and
    minimal-m / maximal-k ``--out`` runs (per-trial search rows, table ``search_trials``).
    """
    with Store(run_dir, readonly=True) as st:
        c = st.conn
        kind = run_kind(st)
        auto = (st.get_meta("sweep") or {}).get("m") == "auto"
        searches = auto or kind == "search"
        table = "search_trials" if searches else "trials"
        by_status = dict(c.execute(f"SELECT status, COUNT(*) FROM {table} GROUP BY status ORDER BY status"))
        if searches:
            decoders = {search: p["decoder"] for search, p in _plans_by_key(st)}
            by_decoder = {}
            for search, n, bad in c.execute("SELECT search, COUNT(*), SUM(status != 'ok') FROM search_trials "
                                            "GROUP BY search"):
                d = by_decoder.setdefault(decoders.get(search, search), {"trials": 0, "not_ok": 0})
                d["trials"] += n
                d["not_ok"] += bad or 0
        else:
            by_decoder = {d: {"trials": n, "not_ok": bad} for d, n, bad in c.execute(
                "SELECT decoder, COUNT(*), SUM(status != 'ok') FROM trials GROUP BY decoder ORDER BY decoder")}
        errors = [r[0] for r in c.execute("SELECT DISTINCT error FROM tasks WHERE error IS NOT NULL")]
        return {
            "name": st.get_meta("name"),
            "kind": kind,
            "auto": auto,
            "tasks_done": st.count_tasks(),
            "tasks_total": st.get_meta("tasks_total"),
            "searches_done": c.execute("SELECT COUNT(*) FROM minimal_m").fetchone()[0],
            "trials_done": c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0],
            "trials_total": st.get_meta("trials_total"),
            "by_status": by_status,
            "by_decoder": by_decoder,
            "errors": errors,
        }


def verify_run(run_dir) -> dict:
    """Check the checksum of every stored row of a run; return the rows checked per table.

    Tables ``tasks``, ``trials``, ``search_trials`` and ``minimal_m`` (:meth:`Store.verify`).
    Raises :class:`DamagedRowError` naming the damaged rows of the first table that has any.
    A store of schema < 3 has no checksums: its tables are reported with ``None``.
    """
    with Store(run_dir, readonly=True) as st:
        counts = {}
        for table in _KEYS:
            has_sums = "checksum" in {r[1] for r in st.conn.execute(f"PRAGMA table_info({table})")}
            st.verify(table)
            counts[table] = st.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] if has_sums else None
    return counts


def _plans_by_key(st):
    """``(search key, plan)`` of the searches recorded in a search run (keys as in table ``search_trials``)."""
    return list(zip(st.get_meta("searches") or [], st.get_meta("plans") or []))


def export(run_dir, fmt="csv", path=None):
    """Write the results of a run to CSV or parquet; return the path.

    Grid runs: the per-trial table (:func:`load_results`). ``m = "auto"`` runs,
    which store one row per minimal-m search and no trials: those rows
    (:func:`load_minimal_m`). Minimal-m / maximal-k ``--out`` runs: one row per
    trial and search (:func:`load_search_trials`). A run with no results yet raises ``ValueError``
    rather than writing a header-only file. ``fmt="parquet"`` needs pyarrow
    (not a csbench dependency). Default path: ``RUN/results.<fmt>``.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format={fmt!r} is not one of ['csv', 'parquet'].")
    path = os.fspath(path) if path is not None else os.path.join(os.fspath(run_dir), f"results.{fmt}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output={path!r}: folder {folder!r} does not exist; create it or choose another path.")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("format='parquet' needs pyarrow, which is not installed; "
                             "`pip install pyarrow`, or use format='csv'.") from None
    with Store(run_dir, readonly=True) as st:
        kind = run_kind(st)
    if kind == "search":  # minimal-m / maximal-k --out: one row per trial and search
        df = load_search_trials(run_dir)
    else:
        df = load_results(run_dir)
        if not len(df):
            df = load_minimal_m(run_dir)  # m = "auto": one row per search, no per-trial rows
    for c in df.columns:  # parquet needs one type per column: dict-valued columns as canonical JSON text
        if df[c].dtype == object and df[c].map(lambda v: isinstance(v, (dict, list))).any():
            df[c] = df[c].map(lambda v: json.dumps(v, sort_keys=True, default=_py) if isinstance(v, (dict, list)) else v)
    if not len(df):
        raise ValueError(f"run {os.fspath(run_dir)!r} has no finished tasks yet; nothing to export "
                         f"(`csbench status {os.fspath(run_dir)}` shows its progress).")
    if fmt == "csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path
