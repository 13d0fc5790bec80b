"""report.json: every number the report shows, for CI gates and for comparing runs.

The layout is described by report.schema.json next to this module; SCHEMA_VERSION changes whenever a field
changes meaning or is removed (adding fields keeps it).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from ..analysis.report import Report
from .views import ReportView

SCHEMA_VERSION = "1.0"
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and dataclasses to JSON; NaN -> None, +-inf -> "inf"/"-inf"."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if hasattr(value, "tolist"):  # numpy scalar or array
        return jsonable(value.tolist())
    return str(value)


def build_json(report: Report, view: ReportView | None = None) -> dict[str, Any]:
    """Assemble the report.json document."""
    run, settings = report.run, report.settings
    sizes = {f.id: f.size_bytes for s in (view.sections if view else []) for f in s.figures}
    doc = {
        "schema": SCHEMA_VERSION,
        "tool": {"name": "hjepa-report", "version": report.version},
        "created_at": report.created_at,
        "command_line": settings.command_line,
        "settings": {"seed": settings.seed, "smoothing": settings.smoothing, "device": settings.device,
                     "minimal": settings.minimal, "max_images": settings.max_images,
                     "probe_images": settings.probe_images,
                     "sections": settings.sections, "skip": settings.skip},
        "run": {"name": run.name, "path": str(run.root), "layout": run.layout, "layout_reason": run.layout_reason,
                "config_path": str(run.config_path) if run.config_path else None, "config": run.config,
                "warnings": run.warnings},
        "files": [dataclasses.asdict(f) for f in run.files],
        "checkpoints": [_checkpoint(c) for c in run.checkpoints],
        "images": [{"path": str(i.path), "label": i.label} for i in run.images],
        "scalars": {tag: run.scalars.summary(tag) for tag in run.scalars.tags()},
        "model": report.model_info,
        "sections": [_section(s, sizes) for s in report.sections],
        "health": {"verdict": report.verdict(),
                   "checks": [{"section": s.name, **dataclasses.asdict(c)} for s, c in report.checks()]},
        "render": {"figure_bytes": view.figure_bytes() if view else None, "trimmed": view.trimmed if view else ""},
        "timing": {"total_seconds": round(report.seconds, 3),
                   "sections": {s.name: s.seconds for s in report.sections}},
    }
    return jsonable(doc)


def dumps(doc: dict[str, Any]) -> str:
    """Serialise strictly (no NaN literals) and readably."""
    return json.dumps(doc, indent=1, allow_nan=False, ensure_ascii=False)


def load_schema() -> dict[str, Any]:
    """Return the JSON Schema of report.json."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _checkpoint(c) -> dict[str, Any]:
    d = dataclasses.asdict(c)
    d["path"] = str(c.path)
    return d


def _section(section, sizes: dict[str, int]) -> dict[str, Any]:
    return {
        "name": section.name, "title": section.title, "status": section.status, "message": section.message,
        "figures": [{"id": f.id, "title": f.title, "kind": _kind(f.content), "bytes": sizes.get(f.id)}
                    for f in section.figures],
        "tables": [t.id for t in section.tables],
        "metrics": section.metrics, "checks": [dataclasses.asdict(c) for c in section.checks],
        "notes": section.notes, "seconds": section.seconds,
        "error": {k: v for k, v in section.error.items() if k != "traceback"} if section.error else None,
    }


def _kind(content) -> str:
    from ..analysis.base import Animation, Picture

    return "animation" if isinstance(content, Animation) else "picture" if isinstance(content, Picture) else "figure"
