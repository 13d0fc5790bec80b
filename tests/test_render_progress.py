"""The render stage reports progress through the same callback as the sections (it takes seconds)."""

from __future__ import annotations

import re

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
    # figures the workers finished while the sections ran are counted; a line a second while it encodes
    assert re.fullmatch(rf"rendering r\.html: encoding {figures} figures(, \d+ done ahead)? \.\.\.", render[0])
    assert all(re.fullmatch(rf"  encoded \d+/{figures} figures \(\d+ s\)", line) for line in render[1:-1])
    assert render[-1].startswith("wrote r.html (") and " MB) and r.json in " in render[-1]
    assert html_path.exists()


def test_a_slow_encoding_says_how_far_it_got_every_second(monkeypatch):
    from hjepa_report.render import encoding

    def slow(content, scale=1.0):
        clock[0] += 0.6  # each figure takes 0.6 s of this fake clock: a line every second or so
        return encoding.EncodedFigure(b"x", "image/png", "figure")

    clock = [0.0]
    monkeypatch.setattr(encoding, "encode_content", slow)
    monkeypatch.setattr(encoding.time, "perf_counter", lambda: clock[0])
    heard: list[str] = []
    encoding.FigureEncoder(workers=0).results([object() for _ in range(5)], progress=heard.append)
    assert heard == ["encoded 2/5 figures (1 s)", "encoded 4/5 figures (2 s)"]


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
