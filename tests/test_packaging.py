"""The wheel ships the templates and the report.json schema: an installed copy, run from another directory,
finds them (not the repository's top-level templates/)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # builds a wheel with pip and a report in a fresh interpreter


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("hjepa_report-*.whl"))


def test_wheel_contains_templates_and_schema(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("report.html.j2", "report.css", "report.js", "compare.html.j2", "index.html.j2"):
        assert f"hjepa_report/templates/{name}" in names
    assert "hjepa_report/render/report.schema.json" in names


def test_installed_wheel_renders_from_another_directory(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = dict(os.environ, PYTHONPATH=str(site))  # before the editable checkout on sys.path
    out = tmp_path / "elsewhere" / "report.html"
    out.parent.mkdir()
    code = (
        "import hjepa_report.render.html as h, sys; print(h.templates_dir()); "
        "from hjepa_report.cli import main; sys.argv = ['hjepa-report', sys.argv[1], '-o', sys.argv[2], "
        "'--sections', 'training', '--quiet']; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "tests" / "fixtures" / "ijepa_small"), str(out)],
        cwd=out.parent,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(site / "hjepa_report" / "templates")
    assert out.stat().st_size > 10_000
