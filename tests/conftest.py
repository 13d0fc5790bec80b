"""Shared fixtures: paths of the real runs and one full report per fixture run, built once per session."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
HJEPA_RUN = FIXTURES / "hjepa_small"
IJEPA_RUN = FIXTURES / "ijepa_small"


def default_sigint() -> None:
    """preexec_fn of a child that a test interrupts with SIGINT: SIGINT's default disposition, as a terminal's
    foreground job has it. A shell without job control starts background commands with SIGINT ignored (POSIX),
    and Python then installs no KeyboardInterrupt handler, so a test suite run in the background (a CI script
    under nohup ... &) would see the child ignore the signal."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Map every file below root to (size, mtime_ns, sha256): to prove a run dir was not touched."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            out[str(path.relative_to(root))] = (
                stat.st_size,
                stat.st_mtime_ns,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return out


# Settings of the fixture reports that the tests (and the gold files under tests/gold/) are built with. The
# H-JEPA fixture's config names a custom model without its head count: tell it, as the report asks. A 5 x 5
# loss-landscape grid instead of 21 x 21 keeps the landscape's share of the build small and its gold metrics short.
FIXTURE_SETTINGS = {HJEPA_RUN: {"encoder_heads": 2, "landscape_grid": 5}, IJEPA_RUN: {"landscape_grid": 5}}


def fixture_options(run: Path) -> list[str]:
    """The command-line options that give FIXTURE_SETTINGS[run]: {"landscape_grid": 5} -> --landscape-grid 5."""
    return [arg for key, value in FIXTURE_SETTINGS[run].items() for arg in ("--" + key.replace("_", "-"), str(value))]


@pytest.fixture(scope="session")
def reports(tmp_path_factory):
    """Build the full report of each fixture run once with the CLI (copies of the runs, so the originals stay
    pristine).

    Each entry: the CLI `result`, the paths of report.html / report.json, the `run` copy and its snapshot
    `before` the report, `base` (the session folder holding both, for the gold tests' path scrubs) and the
    in-memory `report` the CLI built (hjepa_report.analysis.report.Report: figures with captions, tables), caught
    on its way from pipeline.generate to the CLI.
    """
    from unittest import mock

    from click.testing import CliRunner

    from hjepa_report import pipeline
    from hjepa_report.cli import main

    base = tmp_path_factory.mktemp("reports")
    built = {}
    for run in (HJEPA_RUN, IJEPA_RUN):
        copy = base / "runs" / run.name
        shutil.copytree(run, copy, ignore=shutil.ignore_patterns("reference"))
        before = snapshot(copy)
        out = base / "out" / run.name / "report.html"
        made = []

        def generate_and_keep(*args, _generate=pipeline.generate, _made=made, **kwargs):
            _made.append(_generate(*args, **kwargs))
            return _made[-1]

        with mock.patch.object(pipeline, "generate", generate_and_keep):
            result = CliRunner().invoke(main, [str(copy), "-o", str(out), "--quiet", *fixture_options(run)])
        built[run.name] = {
            "result": result,
            "html": out,
            "json": out.with_name("report.json"),
            "run": copy,
            "before": before,
            "base": base,
            "report": made[0][0] if made else None,
        }
    return built
