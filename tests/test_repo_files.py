"""LICENSE, CITATION.cff and pyproject.toml agree (license, version); the README cites both."""
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_license_and_citation_match_pyproject():
    if not (ROOT / "pyproject.toml").exists():
        pytest.skip("not a source checkout")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    cff = (ROOT / "CITATION.cff").read_text()
    fields = dict(re.findall(r"^([a-z-]+): *\"?([^\"\n]*)\"?$", cff, flags=re.MULTILINE))
    assert fields["cff-version"] == "1.2.0" and fields["license"] == "MIT"
    assert fields["version"] == project["version"]
    readme = (ROOT / "README.md").read_text()
    assert "## Cite" in readme and "CITATION.cff" in readme and f"version = {{{project['version']}}}" in readme
