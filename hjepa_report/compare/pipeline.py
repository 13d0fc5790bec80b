"""`hjepa-report compare`: read the runs' reports, compare them, render one page and write it with compare.json.

read (reader.py) -> compare (analysis.py, curves.py) -> view (page.py) -> HTML (render/compare.py) -> write.
"""

from __future__ import annotations

from pathlib import Path

from ..render.compare import render_comparison
from ..render.jsonreport import dumps, jsonable
from ..render.write import relative_link, write_atomic
from .analysis import compare_runs
from .page import build_page
from .reader import read_runs


def build_comparison(sources: list[Path], out_html: Path, *, labels: list[str] | None = None) -> Path:
    """Compare the reports of `sources` (the first is the baseline); write out_html and compare.json beside it.

    `out_html` may be a folder (compare.html goes inside). Return the page's path.
    """
    runs = read_runs([Path(s) for s in sources], labels)
    out_html = Path(out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        out_html = out_html / "compare.html"
    comparison = compare_runs(runs)
    for entry, run in zip(comparison.data["runs"], runs, strict=True):
        entry["link"] = relative_link(run.html_path, out_html.parent) if run.html_path.is_file() else None
        entry["json_link"] = relative_link(run.json_path, out_html.parent)
    write_atomic(
        {
            out_html: render_comparison(build_page(comparison)),
            out_html.with_suffix(".json"): dumps(jsonable(comparison.data, "compare")),
        }
    )
    return out_html
