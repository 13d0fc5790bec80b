"""`hjepa-report index DIR`: one self-contained index.html, the sweep page of every report found below a folder.

One row per report.json (date, run, layout, verdict, key metrics, the config values that differ between the
runs, relative links to its report.html and report.json), sortable and filterable offline with inline
JavaScript; a parallel-coordinates view and hyperparameter-vs-metric scatter plots drawn in the page (SVG)
from the data embedded in it; a "compare selected" box that writes the `hjepa-report compare` command of
the runs ticked. JSON files that look like reports (named report.json, or NAME.json next to NAME.html) but
cannot be read or were not written by hjepa-report get a note row saying why; comparisons written by
`hjepa-report compare` are linked in their own list; runs whose latest `hjepa-report many` attempt failed
(a `report.failed.json`, sweep/runner.py) are listed with the reason. Re-running rewrites the index
atomically, so it always reflects the folder as it is now.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ReportError
from ..status import VERDICTS, count_statuses, status_rank
from ..sweep.data import Hyperparameter, config_text, flatten_config, sort_value, split_config
from .jsonreport import check_report_doc
from .summary import format_value, key_metrics
from .write import relative_link, write_atomic


@dataclass
class IndexRow:
    """One report in the index (or, with `note`, one file that could not be listed as a report)."""

    path: str  # the report.json, relative to the index's folder
    date: str = ""
    date_sort: str = ""
    name: str = ""
    layout: str = ""
    verdict: str = ""
    verdict_sort: int = 0  # worst first (hjepa_report.status.status_rank)
    counts: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # key -> (text, sort value)
    html_link: str | None = None
    json_link: str = ""
    note: str = ""
    config: dict = field(default_factory=dict)  # the run's config, flattened (sweep/data.py)
    values: dict = field(default_factory=dict)  # metric key -> number, for the plots (None: not a number)
    better: dict = field(default_factory=dict)  # metric key -> "higher" | "lower" | None (summary.KeyMetric)


@dataclass
class FailedRun:
    """A run whose latest `hjepa-report many` attempt wrote no report (report.failed.json), and why."""

    name: str
    run: str
    reason: str
    at: str
    path: str  # the report.failed.json, relative to the index's folder


@dataclass
class IndexView:
    """What the index template shows."""

    root: str
    created_at: str
    rows: list[IndexRow]
    notes: list[IndexRow]
    columns: list[tuple[str, str]]  # (metric key, header)
    comparisons: list[tuple[str, str]]  # (link, title)
    differ: list[Hyperparameter] = field(default_factory=list)  # config keys whose values differ, in key order
    same: list[tuple[str, str]] = field(default_factory=list)  # (key, value text) every run shares
    failed: list[FailedRun] = field(default_factory=list)
    out_dir: str = ""  # the index's folder: where the compare command is run from

    def cells(self, row: IndexRow) -> list[tuple[str, object, bool]]:
        """Return the (text, sort value, numeric) of `row`'s differing config values, in `differ` order."""
        out = []
        for h in self.differ:
            value = row.config.get(h.key, _ABSENT)
            if value is _ABSENT:
                out.append(("-", "", h.numeric))
            else:
                out.append((config_text(value), sort_value(value), h.numeric))
        return out

    def data(self) -> dict:
        """Return what the page's script draws from: per run its links, metrics and differing config values."""
        return {
            "metrics": [[key, header, self._better(key)] for key, header in self.columns if key != "best_checkpoint"],
            "params": [[h.key, h.numeric, h.log, h.plotted] for h in self.differ],
            "same": [[key, text] for key, text in self.same],
            "runs": [
                {
                    "name": r.name,
                    "json": r.json_link,
                    "verdict": r.verdict,
                    "m": [r.values.get(key) for key, _ in self.columns if key != "best_checkpoint"],
                    "c": [_page_value(r.config.get(h.key, _ABSENT)) for h in self.differ],
                }
                for r in self.rows
            ],
        }

    def _better(self, key: str) -> str | None:
        return next((r.better[key] for r in self.rows if r.better.get(key)), None)


_ABSENT = object()


def _page_value(value):
    """Return a config value for the page: a finite number as is, anything else as its text, absent as null."""
    if value is _ABSENT:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return config_text(value)


def find_report_files(root: Path) -> list[Path]:
    """Return report-like JSON files below root: every report.json and every NAME.json beside a NAME.html.

    Hidden folders (.git, .venv, ...) are not entered and symbolic links to folders are not followed.
    """
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        names = set(files)
        for name in sorted(files):
            if name == "report.json" or (name.endswith(".json") and name[:-5] + ".html" in names):
                found.append(Path(folder) / name)
    return found


def build_index(root: Path, out_dir: Path) -> IndexView:
    """Read every report below root into index rows (links relative to out_dir)."""
    rows, notes, comparisons = [], [], []
    for path in find_report_files(root):
        rel = relative_link(path, out_dir)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and doc.get("kind") == "comparison":
                comparisons.append((relative_link(path.with_suffix(".html"), out_dir), _comparison_title(doc, path)))
            else:
                rows.append(_row(path, check_report_doc(doc, path), out_dir))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            notes.append(IndexRow(rel, note=f"cannot read this file: {type(exc).__name__}: {exc}"))
        except ReportError as exc:
            notes.append(IndexRow(rel, note=str(exc).replace(str(path), "this file")))
    rows.sort(key=lambda r: r.date_sort, reverse=True)
    differ, same = split_config([r.config for r in rows]) if len(rows) > 1 else ([], {})
    return IndexView(
        str(root),
        datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        rows,
        notes,
        _metric_columns(rows),
        comparisons,
        differ,
        [(key, config_text(value)) for key, value in same.items()],
        find_failed_runs(root, out_dir),
        str(out_dir),
    )


def find_failed_runs(root: Path, out_dir: Path) -> list[FailedRun]:
    """Return the runs below root whose latest `hjepa-report many` attempt failed (their report.failed.json)."""
    from ..sweep.fingerprint import FAILED

    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if FAILED in files:
            path = Path(folder) / FAILED
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                doc = {"reason": "(its report.failed.json cannot be read)"}
            doc = doc if isinstance(doc, dict) else {}
            out.append(
                FailedRun(
                    str(doc.get("name") or Path(folder).name),
                    str(doc.get("run") or ""),
                    str(doc.get("reason") or ""),
                    _display_date(str(doc.get("at") or "")),
                    relative_link(path, out_dir),
                )
            )
    return out


def write_index(root: Path, out: Path | None = None) -> Path:
    """Write the index of every report below `root` to `out` (default root/index.html), atomically."""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{root} is not a folder")
    out = Path(out) if out else root / "index.html"
    if out.suffix.lower() not in (".html", ".htm"):
        out = out / "index.html"
    write_atomic({out: render_index(build_index(root, out.parent))})
    return out


def render_index(view: IndexView) -> str:
    """Render the index page (Jinja2, autoescaped) with the report CSS and the sorting script inlined."""
    from .html import environment, templates_dir

    folder = templates_dir()
    css = "\n".join((folder / name).read_text(encoding="utf-8") for name in ("report.css", "pages.css"))
    js = (folder / "index.js").read_text(encoding="utf-8")
    return environment().get_template("index.html.j2").render(index=view, css=css, js=js, data=view.data())


def _row(path: Path, doc: dict, out_dir: Path) -> IndexRow:
    run, health = doc["run"], doc.get("health") or {}
    checks = [c for c in health.get("checks") or [] if isinstance(c, dict)]
    html = path.with_name("report.html" if path.name == "report.json" else path.stem + ".html")
    created = str(doc.get("created_at") or "")
    metrics = [m for m in key_metrics(doc) if m.key in INDEX_METRICS]
    config = run.get("config")
    return IndexRow(
        path=relative_link(path, out_dir),
        date=_display_date(created),
        date_sort=created,
        name=str(run.get("name") or path.parent.name),
        layout=str(run.get("layout") or ""),
        verdict=str(health.get("verdict") or ""),
        verdict_sort=status_rank(health.get("verdict")),
        counts=count_statuses((c.get("status") for c in checks), VERDICTS),
        metrics={m.key: _metric_cell(m) for m in metrics},
        # a --json-only report wrote no HTML: a report.html beside it is an older run's, not this one's
        html_link=relative_link(html, out_dir) if html.is_file() and not _json_only(doc) else None,
        json_link=relative_link(path, out_dir),
        config=flatten_config(config) if isinstance(config, dict) else {},
        values={m.key: _finite(m.value) for m in metrics},
        better={m.key: m.better for m in metrics},
    )


def _finite(value) -> float | None:
    return value if isinstance(value, float) and math.isfinite(value) else None


def _json_only(doc: dict) -> bool:
    """Tell whether the report was made with --json-only (no HTML of its own)."""
    settings = doc.get("settings")
    return isinstance(settings, dict) and bool(settings.get("json_only"))


# The key metrics an index shows (summary.key_metrics has more), in column order: short headers.
INDEX_METRICS = {
    "loss_end": "loss end",
    "rankme_tokens": "RankMe tokens",
    "mean_pairwise_cosine": "pairwise cos",
    "knn_accuracy": "kNN acc",
    "lidar": "LiDAR",
    "prediction_cosine_l0": "pred cos L0",
    "best_checkpoint": "best checkpoint",
}


def _metric_columns(rows: list[IndexRow]) -> list[tuple[str, str]]:
    """The INDEX_METRICS any listed report has, in INDEX_METRICS order."""
    present = {key for row in rows for key in row.metrics}
    return [(key, header) for key, header in INDEX_METRICS.items() if key in present]


def _metric_cell(metric) -> tuple[str, float | str]:
    """Return (text, sort value) of a metric cell; a checkpoint is shown by its file name."""
    if isinstance(metric.value, float):
        return format_value(metric.value), metric.value
    text = Path(str(metric.value)).name if metric.key == "best_checkpoint" else str(metric.value)
    return text, text


def _display_date(created: str) -> str:
    """Return an ISO 8601 time as 'YYYY-MM-DD HH:MM' in UTC (times without a zone are taken as UTC)."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return created
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M")


def _comparison_title(doc: dict, path: Path) -> str:
    labels = [str(r.get("label")) for r in doc.get("runs") or [] if isinstance(r, dict)]
    return " vs ".join(labels) if labels else path.stem
