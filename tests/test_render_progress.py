"""The render stage reports progress through the same callback as the sections (it takes seconds)."""

from __future__ import annotations

from click.testing import CliRunner

from conftest import HJEPA_RUN
from hjepa_report.cli import main
from hjepa_report.pipeline import generate
from hjepa_report.settings import ReportSettings

SECTIONS = ["overview", "training"]


def test_progress_hears_the_render_lines_after_the_sections(tmp_path):
    heard: list[str] = []
    settings = ReportSettings(sections=SECTIONS, output=tmp_path / "r.html")
    report, html_path, _ = generate(HJEPA_RUN, settings, heard.append)
    figures = sum(len(s.figures) for s in report.sections)
    assert figures > 0
    last_section = max(i for i, line in enumerate(heard) if line.startswith("Training curves:"))
    render = heard[last_section + 1 :]
    assert render[0] == f"rendering r.html: encoding {figures} figures ..."
    assert render[1].startswith("wrote r.html (") and " MB) and r.json in " in render[1]
    assert html_path.exists()


def test_json_only_says_what_it_wrote(tmp_path):
    heard: list[str] = []
    settings = ReportSettings(sections=SECTIONS, output=tmp_path / "r.html", json_only=True)
    generate(HJEPA_RUN, settings, heard.append)
    assert heard[-1].startswith("wrote r.json (")
    assert not any(line.startswith("rendering") for line in heard)


def test_quiet_prints_no_render_line(tmp_path):
    args = [str(HJEPA_RUN), "-o", str(tmp_path / "r.html"), "--sections", ",".join(SECTIONS), "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "rendering" not in result.output and "wrote" not in result.output
