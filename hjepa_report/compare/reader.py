"""Read back what `hjepa-report` wrote: each run's report.json and, beside it, its compare figures file.

Compare works from these files alone (plus the run directories for the curves, see curves.py), so any report
ever written can be compared. It never parses report.html: the masking and attention figures it shows side by
side come from NAME.figures.json, which report.json names in `render.figures_file` (render/figures_file.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReportError
from ..render.figures_file import SavedFigure, read_figures_file
from ..render.jsonreport import check_report_doc


@dataclass
class ReportedRun:
    """One run's report as read back from disk: its report.json document and its saved figures."""

    label: str
    json_path: Path
    doc: dict
    figures: dict[str, SavedFigure] = field(default_factory=dict)
    figures_problem: str = ""  # why `figures` is empty although the report has compared figures ('' if not)

    @property
    def html_path(self) -> Path:
        """Return the report's HTML beside its report.json (report.json -> report.html, NAME.json -> NAME.html)."""
        return self.json_path.with_suffix(".html")


def find_report_json(source: Path) -> Path:
    """Return the report.json for `source`: a report.json file, a report folder or a reported run directory.

    A run directory's report is looked for at the default output location ./reports/<run name>/report.json.
    """
    from ..pipeline import default_output

    source = Path(source)
    if source.is_file():
        return source
    candidates = [source / "report.json", default_output(source).with_name("report.json")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ReportError(
        f"no report found for {source}: looked for {' and '.join(map(str, candidates))}; "
        f"build it first with `hjepa-report {source}` or pass the report.json"
    )


def load_report_json(path: Path) -> dict:
    """Read a report.json written by hjepa-report; raise ReportError for unreadable or foreign files."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    return check_report_doc(doc, path)


def read_runs(sources: list[Path], labels: list[str] | None = None) -> list[ReportedRun]:
    """Read the reports of `sources` (runs, report folders or report.json files), labelled uniquely."""
    if len(sources) < 2:
        raise ReportError("compare needs at least two runs or reports")
    if labels is not None and len(labels) != len(sources):
        raise ReportError(f"{len(labels)} labels given for {len(sources)} runs")
    paths = [find_report_json(Path(s)) for s in sources]
    docs = [load_report_json(p) for p in paths]
    names = labels or [str(d["run"].get("name") or p.parent.name) for d, p in zip(docs, paths, strict=True)]
    runs = [ReportedRun(label, path, doc) for label, path, doc in zip(unique_labels(names), paths, docs, strict=True)]
    for run in runs:
        run.figures, run.figures_problem = read_saved_figures(run)
    return runs


def read_saved_figures(run: ReportedRun) -> tuple[dict[str, SavedFigure], str]:
    """Return the figures saved beside the run's report.json, and why there are none when there are none."""
    render = run.doc.get("render") if isinstance(run.doc.get("render"), dict) else {}
    name = render.get("figures_file")
    if not isinstance(name, str) or not name:
        why = (
            "it was built with --json-only (no figures drawn)"
            if (run.doc.get("settings") or {}).get("json_only")
            else "its report.json names no figures file (written by an older hjepa-report, or nothing to save)"
        )
        return {}, f"{run.label}: {why}, so its figures are not shown."
    path = run.json_path.parent / Path(name).name  # only ever beside report.json
    try:
        return read_figures_file(path), ""
    except ReportError as exc:
        damage = f" ({exc})" if path.is_file() else ""
        return {}, f"{run.label}: {path} cannot be read, so its figures are not shown{damage}."


def unique_labels(names: list[str]) -> list[str]:
    """Return the names with ' (2)', ' (3)' ... after repeats, so every run has its own column."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
