"""The hierarchical losses' per-level figure as an interactive chart, in a real headless Chromium.

On the H-JEPA fixture run: the chart's panels are the level tags and the total tag report.json names; its
downloaded numbers are the logged points (count, first/last, min/max as report.json's scalars); the static
figure stays, folded under the chart, and decodes; no request, no console error.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from browser_driver import inspect_page
from reportfixtures import browser_marks

pytestmark = browser_marks()

FIGURE = "hierarchy-losses-levels"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from reportfixtures import HJEPA_RUN, build, copy_run

    root = tmp_path_factory.mktemp("hierarchy")
    json_path = build(copy_run(HJEPA_RUN, root / "run"), root / "report", ("overview", "hierarchy-losses"))
    html = json_path.with_name("report.html")
    (block,) = re.findall(r'id="hjepa-chart-data">(.*?)</script>', html.read_text(), re.S)
    return html, json.loads(json_path.read_text()), json.loads(block)


def test_the_chart_draws_the_tags_report_json_names(built):
    _, doc, charts = built
    metrics = next(s for s in doc["sections"] if s["name"] == "hierarchy-losses")["metrics"]
    panels = charts["charts"][FIGURE]["panels"]
    assert panels[0]["tags"] == list(metrics["level_tags"].values()) and len(panels[0]["tags"]) == 3
    assert panels[1]["tags"] == [metrics["total_tag"]]


def _page(page):
    page.allow_downloads()
    page.evaluate(f"document.querySelector('#{FIGURE} .download-csv').click()")
    name, data = page.wait_download()
    fold = page.evaluate(
        f"(() => {{ const d = document.querySelector('#{FIGURE} details.fig-static-fold'); const before ="
        " d.open; d.open = true; const img = d.querySelector('img');"
        " return [before, img.getBoundingClientRect().height > 0, img.naturalWidth > 0,"
        f" document.querySelectorAll('#{FIGURE} .chart-panel canvas').length]; }})()"
    )
    return name, data.decode(), fold


def test_chart_downloads_the_logged_points_and_keeps_the_static_figure_folded(built):
    html, doc, _ = built
    page = inspect_page(html, interact=_page)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    name, data, (shown_before, shown_open, decoded, canvases) = page.interaction
    assert name == f"{FIGURE}.csv" and canvases == 2
    assert shown_before is False and shown_open is True and decoded is True
    rows = list(csv.DictReader(io.StringIO(data)))
    for tag in {r["tag"] for r in rows}:
        values = [float(r["value"]) for r in rows if r["tag"] == tag]
        want = doc["scalars"][tag]
        assert len(values) == want["count"] and (values[0], values[-1]) == (want["first"], want["last"])
        assert (min(values), max(values)) == (want["min"], want["max"])
