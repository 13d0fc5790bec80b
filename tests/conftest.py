"""Shared fixtures: paths of the real runs and one full report per fixture run, built once per session."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
HJEPA_RUN = FIXTURES / "hjepa_small"
IJEPA_RUN = FIXTURES / "ijepa_small"


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Map every file below root to (size, mtime_ns, sha256): to prove a run dir was not touched."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            out[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns,
                                                hashlib.sha256(path.read_bytes()).hexdigest())
    return out


@pytest.fixture(scope="session")
def reports(tmp_path_factory):
    """Build the full report of each fixture run once (copies of the runs, so the originals stay pristine)."""
    from click.testing import CliRunner

    from hjepa_report.cli import main

    base = tmp_path_factory.mktemp("reports")
    built = {}
    # the H-JEPA fixture's config names a custom model without its head count: tell it, as the report asks
    extra = {HJEPA_RUN: ["--encoder-heads", "2"], IJEPA_RUN: []}
    for run in (HJEPA_RUN, IJEPA_RUN):
        copy = base / "runs" / run.name
        shutil.copytree(run, copy, ignore=shutil.ignore_patterns("reference"))
        before = snapshot(copy)
        out = base / "out" / run.name / "report.html"
        result = CliRunner().invoke(main, [str(copy), "-o", str(out), "--quiet", *extra[run]])
        built[run.name] = {"result": result, "html": out, "json": out.with_name("report.json"),
                           "run": copy, "before": before}
    return built
