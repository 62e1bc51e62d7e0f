"""Every CLI error path: exit code 2 (141 for a closed pipe), one line on stderr, no traceback,
and nothing created or printed before a bad argument is rejected (issue 10, item 10)."""
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from csbench import executors
from csbench.cli import main
from csbench.config import Sweep
from csbench.harness import run_sweep
from csbench.store import export

TINY = Sweep(decoders=["matched_filter"], n=24, k=[1, 3], m=[6, 12], trials=5, block=3, seed=2, name="tiny")
TOML = 'name = "tiny"\ndecoders = ["matched_filter"]\nn = 24\nk = [1, 3]\nm = [6, 12]\ntrials = 5\nblock = 3\n'


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run_sweep(TINY, out, progress=False)
    return out


def one_line_error(capsys, must_contain):
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in cap.err, cap.err
    assert "error:" in lines[0] and must_contain in lines[0], lines[0]
    return cap


def test_out_under_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    (tmp_path / "c.toml").write_text(TOML)
    assert main(["run", str(tmp_path / "c.toml"), "--out", str(tmp_path / "f" / "run"), "--quiet"]) == 2
    one_line_error(capsys, "Not a directory")
    assert main(["demo", "--out", str(tmp_path / "f" / "demo"), "--quiet"]) == 2
    one_line_error(capsys, "Not a directory")


def test_export_into_missing_folder(tiny_run, tmp_path, capsys):
    target = tmp_path / "nodir" / "x.csv"
    assert main(["export", str(tiny_run), "--output", str(target)]) == 2
    one_line_error(capsys, "does not exist")
    assert not target.parent.exists()


def test_report_unknown_criterion(tiny_run, capsys):
    assert main(["report", str(tiny_run), "--criterion", "foo"]) == 2
    one_line_error(capsys, "criterion='foo' is not one of ['exact', 'support']")
    assert not (tiny_run / "report.md").exists()


@pytest.mark.parametrize("argv, arg", [(["run", "CONFIG", "--jobs", "0"], "--jobs"),
                                       (["demo", "--trials", "0"], "--trials"),
                                       (["demo", "--n", "x"], "--n"),
                                       (["minimal-m", "--decoder", "lasso", "--k", "0"], "--k")])
def test_bad_counts_rejected_before_any_work(tmp_path, capsys, argv, arg):
    (tmp_path / "c.toml").write_text(TOML)
    argv = [str(tmp_path / "c.toml") if a == "CONFIG" else a for a in argv] + ["--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as e:
        main(argv[:-2] if argv[0] == "minimal-m" else argv)
    assert e.value.code == 2
    cap = one_line_error(capsys, f"argument {arg}: must be an integer >= 1")
    assert cap.out == "" and not (tmp_path / "o").exists()  # no run directory, no progress bar


def test_unreachable_scheduler_fails_fast(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1)
    (tmp_path / "c.toml").write_text(TOML)
    t0 = time.perf_counter()
    code = main(["run", str(tmp_path / "c.toml"), "--out", str(tmp_path / "o"), "--quiet",
                 "--scheduler", "tcp://127.0.0.1:9"])  # port 9 (discard): nothing listens
    assert code == 2 and time.perf_counter() - t0 < 20
    one_line_error(capsys, "scheduler='tcp://127.0.0.1:9': no dask scheduler answered within 1 s")


def test_closed_pipe_is_silent(tiny_run):
    # ``csbench status RUN | head``: the reader is gone before csbench writes.
    p = subprocess.Popen([sys.executable, "-m", "csbench", "status", str(tiny_run)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141 and err == "", err


def test_debug_shows_traceback(tiny_run, capsys, monkeypatch):
    with pytest.raises(ValueError, match="criterion='foo'"):
        main(["--debug", "report", str(tiny_run), "--criterion", "foo"])
    with pytest.raises(ValueError, match="criterion='foo'"):
        main(["report", str(tiny_run), "--criterion", "foo", "--debug"])
    assert main(["report", str(tiny_run), "--criterion", "foo"]) == 2  # no flag, no variable: one line
    monkeypatch.setenv("CSBENCH_DEBUG", "1")
    with pytest.raises(ValueError, match="criterion='foo'"):
        main(["report", str(tiny_run), "--criterion", "foo"])


def test_export_auto_run_writes_its_searches(tmp_path, capsys):
    auto = Sweep(decoders=["matched_filter"], n=64, k=[2, 3], m="auto", trials=5, seed=1, name="auto")
    run_sweep(auto, tmp_path, progress=False)
    assert main(["export", str(tmp_path)]) == 0
    df = pd.read_csv(tmp_path / "results.csv")
    assert len(df) == 2 and list(df.k) == [2, 3]  # one row per search, not a header-only file
    assert (df.m_star > 0).all() and (df.trials == 5).all()


def test_export_of_empty_run_refuses(tmp_path, capsys):
    from csbench.store import Store

    with Store(tmp_path) as st:
        st.set_meta(name="empty", tasks_total=4)
    with pytest.raises(ValueError, match="no finished tasks yet"):
        export(tmp_path)
    assert not (tmp_path / "results.csv").exists()


def test_report_on_incomplete_run_says_so(tmp_path, capsys):
    run_sweep(TINY, tmp_path, progress=False)
    with sqlite3.connect(tmp_path / "results.sqlite") as c:  # as if killed before the last task
        last = c.execute("SELECT task FROM tasks ORDER BY idx DESC LIMIT 1").fetchone()[0]
        c.execute("DELETE FROM trials WHERE task = ?", (last,))
        c.execute("DELETE FROM tasks WHERE task = ?", (last,))
    total = len(pd.read_sql_query("SELECT 1 FROM tasks", sqlite3.connect(tmp_path / "results.sqlite"))) + 1
    assert main(["report", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert f"incomplete run: {total - 1} of {total} tasks finished" in err
    assert f"{total - 1} of {total} tasks finished" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("params, msg", [
    (["denoiser=bayes_binary"], "density = k/n = 16/16 must lie in (0, 1); pass density=... explicitly."),
    (["threshold=-1"], "threshold=-1.0 is out of range; allowed: finite values in [0.0, inf)."),
])
def test_minimal_m_bad_decoder_value_is_one_line_before_any_work(tmp_path, capsys, no_decoding, params, msg):
    argv = ["minimal-m", "--decoder", "amp", "--n", "16", "--k", "16", "--trials", "3", "--quiet",
            "--out", str(tmp_path / "o")]
    assert main(argv + [a for p in params for a in ("--param", p)]) == 2
    cap = one_line_error(capsys, msg)
    assert cap.out == "" and not (tmp_path / "o").exists()
