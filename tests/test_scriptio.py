"""Experiment scripts write under results/ by default; data/ changes only with --update-data, atomically."""
import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from csbench._scriptio import (
    add_output_args,
    atomic_path,
    output_dir,
    write_json,
    write_text,
)

ROOT = Path(__file__).resolve().parents[1]


def _args(argv, data_subdir="toy"):
    return add_output_args(argparse.ArgumentParser(), data_subdir).parse_args(argv)


def test_output_dir_defaults_to_results_and_guards_data(tmp_path):
    script = tmp_path / "experiments" / "my_study.py"
    assert output_dir(_args([]), script) == tmp_path / "results" / "my_study"
    assert output_dir(_args(["--update-data"]), script) == tmp_path / "data" / "toy"
    assert output_dir(_args(["--out", str(tmp_path / "elsewhere")]), script) == tmp_path / "elsewhere"
    assert (tmp_path / "results" / "my_study").is_dir() and (tmp_path / "elsewhere").is_dir()
    with pytest.raises(SystemExit, match=r"--out=.*inside the committed reference data.*--update-data"):
        output_dir(_args(["--out", str(tmp_path / "data" / "toy")]), script)
    with pytest.raises(SystemExit, match="--out=.* and --update-data exclude each other"):
        output_dir(_args(["--out", "x", "--update-data"]), script)
    with pytest.raises(SystemExit):  # a script without reference data has no --update-data
        _args(["--update-data"], data_subdir=None)


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path):
    path = write_json(tmp_path / "ref.json", {"a": 1})
    with pytest.raises(KeyboardInterrupt), atomic_path(path) as tmp:
        tmp.write_text('{"a": 2, "trunc')  # a partial write, then Ctrl-C
        raise KeyboardInterrupt
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref.json"]  # no temporary file left
    write_text(path, "new\n")
    assert path.read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["ref.json"]


def _git(repo, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".gitignore").exists(), reason="needs git and a checkout")
@pytest.mark.parametrize("script, args", [("seed003_minimal_m", ["--n", "256", "--k", "1", "2", "--trials", "10"])])
def test_script_without_flags_leaves_git_status_clean(tmp_path, script, args):
    """A copy of the repository's layout (its .gitignore, committed data/): a run without flags changes nothing.

    (seed002_bottleneck, which wrote data/toy/seed002.json by default before, passes too: 10 s
    on an idle machine, 110 s under load, so it is not part of the suite.)
    """
    repo = tmp_path / "repo"
    (repo / "experiments").mkdir(parents=True)
    shutil.copy(ROOT / ".gitignore", repo)
    shutil.copy(ROOT / "experiments" / f"{script}.py", repo / "experiments")
    shutil.copytree(ROOT / "data" / "toy", repo / "data" / "toy", ignore=shutil.ignore_patterns("*.png", "learned*"))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "reference")
    r = subprocess.run([sys.executable, f"experiments/{script}.py", *args], cwd=repo,
                       env={**_env(), "CSBENCH_TOY_CACHE": str(tmp_path / "toy_cache")}, check=False,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"wrote results/{script}/" in r.stdout
    assert any((repo / "results" / script).iterdir())
    assert _git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_report_writes_outside_data(tmp_path):
    """real_dictionaries --report (which rewrote data/real/ by default before) reports the committed CSVs elsewhere."""
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "data" / "real").glob("real_dictionaries*")}
    out = tmp_path / "report"
    r = subprocess.run([sys.executable, "experiments/real_dictionaries.py", "--report", "--out", str(out)], cwd=ROOT,
                       env=_env(), check=False, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (out / "real_dictionaries.md").read_text() == (ROOT / "data" / "real" / "real_dictionaries.md").read_text()
    assert (out / "real_dictionaries.png").stat().st_size > 10_000
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "data" / "real").glob("real_dictionaries*")} == before


def test_update_data_is_the_only_way_into_data(tmp_path):
    """seed001's --replot (no training, no torch): results/ by default, data/toy/ only with --update-data."""
    (tmp_path / "experiments").mkdir()
    shutil.copy(ROOT / "experiments" / "seed001_superposition_mlp.py", tmp_path / "experiments")
    (tmp_path / "data" / "toy").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "toy" / "seed001.json", tmp_path / "data" / "toy")
    def run(*flags):
        return subprocess.run([sys.executable, "experiments/seed001_superposition_mlp.py", "--replot", *flags],
                              cwd=tmp_path, env=_env(), check=False, capture_output=True, text=True, timeout=300)

    r = run()  # results/seed001_superposition_mlp/ has no seed001.json yet
    assert r.returncode != 0 and "seed001.json does not exist" in r.stderr
    assert sorted(p.name for p in (tmp_path / "data" / "toy").iterdir()) == ["seed001.json"]
    r = run("--out", "data/toy")
    assert r.returncode != 0 and "inside the committed reference data" in r.stderr
    r = run("--update-data")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "data" / "toy").iterdir()) == ["seed001.json",
                                                                            "seed001_per_feature_mse.png"]
