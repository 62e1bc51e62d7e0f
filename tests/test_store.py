"""Results store: atomic tasks, WAL mode, load/status/export, CLI status/export on a tiny run."""
import importlib.util
import sqlite3

import numpy as np
import pandas as pd
import pytest

from csbench import Cell, DecoderSpec, run_task
from csbench.cli import main
from csbench.config import Sweep
from csbench.harness import execute_task, expand, run_sweep
from csbench.store import TRIAL_COLUMNS, Store, export, load_results, read_sweep, run_status

TINY = Sweep(decoders=["matched_filter", {"name": "basis_pursuit", "label": "bp"}], n=24, k=[1, 3],
             m=[6, 12], trials=5, block=3, seed=2, name="tiny")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    df = run_sweep(TINY, out, progress=False)
    return out, df


def test_schema_covers_run_task_rows():
    rows = run_task(Cell(n=10, k=1), 5, DecoderSpec("matched_filter"), 0, 0, 2)
    assert set(rows.columns) <= set(TRIAL_COLUMNS)


def test_wal_and_tables(tiny_run):
    out, _ = tiny_run
    with sqlite3.connect(out / "results.sqlite") as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "tasks", "trials"} <= names
    assert (out / "sweep.json").exists()
    assert read_sweep(out) == TINY


def test_load_matches_returned_frame_and_types(tiny_run):
    out, df = tiny_run
    loaded = load_results(out)
    pd.testing.assert_frame_equal(loaded, df)
    assert len(loaded) == 2 * 2 * 2 * 5
    assert loaded.exact.dtype == bool and loaded.support.dtype == bool
    assert loaded.n.dtype == np.int64 and loaded.rel_err.dtype == np.float64
    # Every row of a (cell, m, decoder) matches a direct run_task of all 5 trials.
    ref = run_task(Cell("gaussian", "binary", 24, 3), 12, DecoderSpec("basis_pursuit", label="bp"), 2, 0, 5)
    got = loaded.query("decoder == 'bp' and k == 3 and m == 12").reset_index(drop=True)
    cols = [c for c in ref.columns if c != "time"]
    pd.testing.assert_frame_equal(got[cols], ref[cols])


def test_status_counts(tiny_run):
    out, df = tiny_run
    st = run_status(out)
    assert st["name"] == "tiny" and st["auto"] is False
    assert st["tasks_done"] == st["tasks_total"] == 2 * 2 * 2 * 2   # cells x m x decoders x blocks(3+2)
    assert st["trials_done"] == st["trials_total"] == 40
    assert st["by_status"] == {"ok": 40}
    assert st["by_decoder"] == {"bp": {"trials": 20, "not_ok": 0},
                                "matched_filter": {"trials": 20, "not_ok": 0}}
    assert st["errors"] == []


def test_cli_status_and_export(tiny_run, tmp_path, capsys):
    out, df = tiny_run
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tasks   16/16" in text and "trials  40/40" in text and "ok: 40" in text
    path = tmp_path / "x.csv"
    assert main(["export", str(out), "--format", "csv", "--output", str(path)]) == 0
    back = pd.read_csv(path)
    assert len(back) == 40
    np.testing.assert_array_equal(back.rel_err, df.rel_err)
    assert list(back.exact) == list(df.exact)
    if importlib.util.find_spec("pyarrow") is None:
        assert main(["export", str(out), "--format", "parquet"]) == 2
        assert "needs pyarrow" in capsys.readouterr().err
    else:  # pragma: no cover - depends on the environment
        pd.testing.assert_frame_equal(pd.read_parquet(export(out, "parquet")), df)
    assert main(["status", str(tmp_path / "missing")]) == 2
    assert "not a csbench run directory" in capsys.readouterr().err


def test_partial_run_status(tmp_path):
    tasks = expand(TINY)
    with Store(tmp_path) as st:
        st.set_meta(sweep=TINY.to_dict(), name="tiny", tasks_total=len(tasks), trials_total=40)
        for t in tasks[:3]:
            rows, err = execute_task(t)
            st.write_task(t.key(), t.index, t.description(), rows, err)
    s = run_status(tmp_path)
    assert (s["tasks_done"], s["tasks_total"], s["trials_done"]) == (3, 16, 3 + 2 + 3)


def test_task_written_atomically_and_once(tmp_path):
    task = expand(TINY)[0]
    rows, _ = execute_task(task)
    with Store(tmp_path) as st:
        # A failing insert (duplicate trial -> primary key violation) leaves neither task nor rows.
        bad = pd.concat([rows, rows.iloc[:1]], ignore_index=True)
        with pytest.raises(sqlite3.IntegrityError):
            st.write_task(task.key(), 0, task.description(), bad)
        assert st.done_tasks() == set() and len(st.trials()) == 0
        with pytest.raises(ValueError, match=r"lack columns \['decoder_name'"):
            st.write_task(task.key(), 0, task.description(), rows.drop(columns="decoder_name"))
        st.write_task(task.key(), 0, task.description(), rows)
        st.write_task(task.key(), 0, task.description(), rows)   # a second write is ignored
        assert st.done_tasks() == {task.key()} and len(st.trials()) == 3


def test_in_memory_store_is_not_persisted(tmp_path):
    with Store() as st:
        assert st.run_dir is None and st.trials().empty
