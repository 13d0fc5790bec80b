"""NAME.figures.json: the encoded figures `hjepa-report compare` shows side by side, written beside report.json.

Why a file of its own: compare puts the masking and attention figures of several reports next to each other,
and it reads them from files written for it, not by parsing report.html (the HTML is for people and must stay
one self-contained file). The figures are large: on the sample run the 17 masking and attention figures are
1.36 MB encoded, 1.82 MB as base64, against 0.18 MB for all of report.json; carried in report.json they would
make the file every CI gate, summary and index reads ten times larger. So the very bytes report.html embeds
are written once more, base64 in JSON, with each figure's section, title, caption and kind. report.json names
the file in `render.figures_file` (null under --json-only, when nothing is drawn, and in reports written
before this file existed; compare then says it has no figures of that report).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ReportError
from .views import ReportView

FIGURES_SCHEMA = "figures-1.0"
FIGURES_KIND = "report-figures"
COMPARED_SECTIONS = ("masking", "attention")  # their figures depend on the run, not on its log length


@dataclass(frozen=True)
class SavedFigure:
    """One figure as report.html embeds it: encoded bytes, their MIME type and the texts around it."""

    id: str
    section: str
    title: str
    caption: str
    kind: str  # figure | picture | animation
    mime: str
    payload: bytes


def figures_file_name(json_path: Path) -> str:
    """Return the name of the figures file beside `json_path`: report.json -> report.figures.json."""
    return Path(json_path).stem + ".figures.json"


def figures_doc(view: ReportView, version: str) -> dict[str, Any] | None:
    """Return the figures file of a rendered report: every figure of COMPARED_SECTIONS (None when there is none)."""
    figures = [
        {
            "id": f.id,
            "section": s.name,
            "title": f.title,
            "caption": f.caption,
            "kind": f.kind,
            "mime": f.mime,
            "base64": base64.b64encode(f.payload).decode("ascii"),
        }
        for s in view.sections
        if s.name in COMPARED_SECTIONS
        for f in s.figures
    ]
    if not figures:
        return None
    return {
        "schema": FIGURES_SCHEMA,
        "kind": FIGURES_KIND,
        "tool": {"name": "hjepa-report", "version": version},
        "figures": figures,
    }


def dumps_figures(doc: dict[str, Any]) -> str:
    """Serialise a figures file compactly (it is read by programs; indenting base64 buys nothing)."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, ensure_ascii=True)


def read_figures_file(path: Path) -> dict[str, SavedFigure]:
    """Read a figures file into {figure id: SavedFigure}; raise ReportError when it is unreadable or foreign."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(doc, dict) and doc.get("kind") == FIGURES_KIND and isinstance(doc.get("figures"), list)):
        raise ReportError(f"{path} is not a figures file written by hjepa-report")
    try:
        saved = [
            SavedFigure(
                id=str(f["id"]),
                section=str(f["section"]),
                title=str(f["title"]),
                caption=str(f["caption"]),
                kind=str(f["kind"]),
                mime=str(f["mime"]),
                payload=base64.b64decode(f["base64"], validate=True),
            )
            for f in doc["figures"]
        ]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise ReportError(f"{path} has a damaged figure entry ({type(exc).__name__}: {exc})") from exc
    return {f.id: f for f in saved if f.mime.startswith("image/")}  # only images go into an <img src>
