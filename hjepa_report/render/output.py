"""The files of one report, written together: NAME.html, NAME.json and NAME.figures.json side by side.

report.html is for people, report.json for programs (CI gates, summaries, compare, index), and the figures
file holds the few figures compare shows side by side (see figures_file.py for why it is a file of its own).
Under --json-only nothing is drawn, so only report.json is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..analysis.report import Report
from .encoding import FigureEncoder
from .figures_file import dumps_figures, figures_doc, figures_file_name
from .html import render_html
from .jsonreport import build_json, dumps
from .write import write_atomic


def json_path_for(html_path: Path) -> Path:
    """Return the report.json beside a report's HTML file: report.html -> report.json, exp1.html -> exp1.json."""
    return Path(html_path).with_suffix(".json")


def write_report_files(
    report: Report, html_path: Path, progress: Callable[[str], None] | None = None
) -> tuple[Path | None, Path]:
    """Render and write the report's files atomically; return the HTML path (None under --json-only) and the JSON's.

    With --max-report-mb the figures are re-encoded smaller until the HTML fits (html.render_html); the
    figures file holds the same bytes the HTML shows. `progress` gets a line before and after the render
    (encoding every figure takes seconds after the last section's line) and every second or so while it encodes.
    Figures the pipeline already handed to `report.figure_encoder` while later sections computed are not encoded
    again; the others are spread over the cores (render/encoding.py).
    """
    say = progress or (lambda msg: None)
    html_path = Path(html_path)
    json_path = json_path_for(html_path)
    start = time.perf_counter()
    if report.settings.json_only:
        write_atomic({json_path: dumps(build_json(report))})
        say(f"wrote {json_path.name} ({time.perf_counter() - start:.1f} s)")
        return None, json_path
    budget = int(report.settings.max_report_mb * 1e6) if report.settings.max_report_mb else None
    figures = sum(len(s.figures) for s in report.sections)
    encoder = report.figure_encoder or FigureEncoder()
    ahead = encoder.finished()
    say(f"rendering {html_path.name}: encoding {figures} figures" + (f", {ahead} done ahead" if ahead else "") + " ...")
    try:
        html, view = render_html(report, budget, encoder, lambda msg: say("  " + msg))
    finally:
        encoder.close()  # the workers' memory goes back before the files are written
    files = {html_path: html}
    figures = figures_doc(view, report.version)
    if figures:
        files[json_path.with_name(figures_file_name(json_path))] = dumps_figures(figures)
    files[json_path] = dumps(build_json(report, view, figures_file_name(json_path) if figures else None))
    write_atomic(files)
    size = len(html.encode("utf-8", "backslashreplace")) / 1e6  # as write_atomic writes it
    say(f"wrote {html_path.name} ({size:.1f} MB) and {json_path.name} in {time.perf_counter() - start:.1f} s")
    return html_path, json_path
