"""report.json: every number the report shows, for CI gates and for comparing runs.

The layout is described by report.schema.json next to this module; SCHEMA_VERSION changes whenever a field
changes meaning or is removed (adding fields keeps it).
"""

from __future__ import annotations

import dataclasses
import json
import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.report import Report
from ..errors import ReportError

if TYPE_CHECKING:  # pragma: no cover
    from .views import ReportView  # views embeds section_numbers from here

SCHEMA_VERSION = "1.0"
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


def jsonable(value: Any, where: str = "report") -> Any:
    """Return `value` as plain JSON data: the one sanitiser every report file goes through.

    numpy scalars and arrays become numbers and lists, paths strings, enums their value, dataclasses dicts;
    NaN becomes null and +-inf the strings "inf" / "-inf" (the README's promise), so the file is strict
    JSON and an infinite gradient norm stays distinguishable from a missing one. Any other type raises
    TypeError naming where it was found: a value report.json cannot hold is a bug to fix where it is made,
    not something to write as its str().
    """
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return _scalar(value)
    if isinstance(value, dict):
        return {_key(k, where): jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):  # sorted by its JSON text, so the file does not depend on hashing
        return sorted((jsonable(v, f"{where}{{}}") for v in value), key=json.dumps)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), where)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), where)
    raise TypeError(
        f"{where}: report.json cannot hold a {type(value).__module__}.{type(value).__qualname__} ({value!r:.80})"
    )


def _scalar(value: str | int | float | None) -> str | int | float | None:
    """Return a scalar as JSON holds it: NaN -> None, +-inf -> "inf" / "-inf", float subclasses as float."""
    if not isinstance(value, float):
        return value
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def _key(key: Any, where: str) -> str:
    """Return a dict key as text (a str, number or enum value); raise TypeError for anything else."""
    if isinstance(key, Enum):
        key = key.value
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, (str, int, float)):
        return str(key)
    raise TypeError(f"{where}: report.json cannot use a {type(key).__qualname__} as a key ({key!r:.80})")


def build_json(report: Report, view: ReportView | None = None, figures_file: str | None = None) -> dict[str, Any]:
    """Assemble the report.json document.

    `view` is the rendered report whose figure sizes are recorded (None under --json-only: nothing was
    drawn); `figures_file` names the compare figures file written beside report.json (render/figures.py),
    or None when there is none.
    """
    run, settings = report.run, report.settings
    sizes = {f.id: f.size_bytes for s in (view.sections if view else []) for f in s.figures}
    doc = {
        "schema": SCHEMA_VERSION,
        "tool": {"name": "hjepa-report", "version": report.version},
        "created_at": report.created_at,
        "command_line": settings.command_line,
        "settings": {
            "seed": settings.seed,
            "smoothing": settings.smoothing,
            "device": settings.device,
            "device_used": report.device,
            "minimal": settings.minimal,
            "max_images": settings.max_images,
            "probe_images": settings.probe_images,
            "sections": settings.sections,
            "skip": settings.skip,
            "json_only": settings.json_only,
        },
        "run": {
            "name": run.name,
            "path": str(run.root),
            "layout": run.layout,
            "layout_reason": run.layout_reason,
            "config_path": str(run.config_path) if run.config_path else None,
            "config": run.config,
            "warnings": run.warnings,
        },
        "files": [dataclasses.asdict(f) for f in run.files],
        "checkpoints": [_checkpoint(c) for c in run.checkpoints],
        "images": [{"path": str(i.path), "label": i.label} for i in run.images],
        "scalars": {tag: run.scalars.summary(tag) for tag in run.scalars.tags()},
        "model": report.model_info,
        "sections": [_section(s, sizes) for s in report.sections],
        "health": {
            "verdict": report.verdict(),
            "checks": [{"section": s.name, **dataclasses.asdict(c)} for s, c in report.checks()],
        },
        "render": {
            "figure_bytes": view.figure_bytes() if view else None,
            "trimmed": view.trimmed if view else "",
            "figures_file": figures_file,
        },
        "timing": {
            "total_seconds": round(report.seconds, 3),
            "sections": {s.name: s.seconds for s in report.sections},
            "network_passes": report.network_passes,
        },
    }
    return jsonable(doc)


def dumps(doc: dict[str, Any]) -> str:
    """Serialise strictly (no NaN literals) and readably."""
    return json.dumps(doc, indent=1, allow_nan=False, ensure_ascii=False)


def check_report_doc(doc: Any, path: Path) -> dict[str, Any]:
    """Return `doc` when it is a report.json document of hjepa-report; raise ReportError naming `path` if not."""
    if not (
        isinstance(doc, dict)
        and isinstance(doc.get("tool"), dict)
        and doc["tool"].get("name") == "hjepa-report"
        and isinstance(doc.get("run"), dict)
        and "sections" in doc
    ):
        raise ReportError(f"{path} is not a report.json written by hjepa-report")
    return doc


def load_schema() -> dict[str, Any]:
    """Return the JSON Schema of report.json."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _checkpoint(c) -> dict[str, Any]:
    d = dataclasses.asdict(c)
    d["path"] = str(c.path)
    return d


def section_numbers(section) -> dict[str, Any]:
    """A section's numbers as report.json holds them (metrics, checks, notes): also embedded in report.html, so
    the page's downloads give exactly report.json's values (views.py, explore.js)."""
    return jsonable(
        {
            "metrics": section.metrics,
            "checks": [dataclasses.asdict(c) for c in section.checks],
            "notes": section.notes,
        },
        f"sections.{section.name}",
    )


def _section(section, sizes: dict[str, int]) -> dict[str, Any]:
    return {
        "name": section.name,
        "title": section.title,
        "status": section.status,
        "message": section.message,
        "figures": [
            {"id": f.id, "title": f.title, "kind": _kind(f.content), "bytes": sizes.get(f.id)} for f in section.figures
        ],
        "tables": [t.id for t in section.tables],
        **section_numbers(section),
        "seconds": section.seconds,
        "error": {k: v for k, v in section.error.items() if k != "traceback"} if section.error else None,
    }


def _kind(content) -> str:
    from ..analysis.base import Animation, Picture

    return "animation" if isinstance(content, Animation) else "picture" if isinstance(content, Picture) else "figure"
