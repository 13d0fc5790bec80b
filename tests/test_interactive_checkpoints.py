"""The measures across checkpoints as an interactive chart, in a real headless Chromium.

On the H-JEPA fixture run (two checkpoints): every panel's points are report.json's
representations metrics.checkpoints values at the checkpoints' steps; the downloaded CSV holds the same
numbers; the static figure stays folded under the chart; no request, no console error.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re

import pytest

from browser_driver import inspect_page
from reportfixtures import browser_marks

pytestmark = browser_marks()

FIGURE = "representations-checkpoints"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from reportfixtures import HJEPA_RUN, build, copy_run

    root = tmp_path_factory.mktemp("checkpoints")
    json_path = build(copy_run(HJEPA_RUN, root / "run"), root / "report", ("overview", "representations"))
    html = json_path.with_name("report.html")
    (block,) = re.findall(r'id="hjepa-chart-data">(.*?)</script>', html.read_text(), re.S)
    doc = json.loads(json_path.read_text())
    rows = next(s for s in doc["sections"] if s["name"] == "representations")["metrics"]["checkpoints"]
    return html, sorted(rows, key=lambda r: r["step"]), json.loads(block)


def test_every_panel_is_report_json_numbers(built):
    _, rows, charts = built
    panels = charts["charts"][FIGURE]["panels"]
    assert [p["title"] for p in panels][:2] == ["knn_accuracy", "rankme"]
    for panel in panels:
        for name in panel["tags"]:
            measure = name.removeprefix("checkpoints: ")
            series = charts["series"][name]
            assert series["steps"] == [r["step"] for r in rows]
            assert series["values"] == [r.get(measure) for r in rows]


def _page(page):
    page.allow_downloads()
    page.evaluate(f"document.querySelector('#{FIGURE} .download-csv').click()")
    name, data = page.wait_download()
    drawn = page.evaluate(f"document.querySelectorAll('#{FIGURE} .chart-panel canvas').length")
    folded = page.evaluate(f"document.querySelector('#{FIGURE} details.fig-static-fold img').naturalWidth > 0")
    return name, data.decode(), drawn, folded


def test_chart_draws_and_downloads_the_measures(built):
    html, rows, charts = built
    page = inspect_page(html, interact=_page)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    name, data, drawn, folded = page.interaction
    assert name == f"{FIGURE}.csv" and drawn == len(charts["charts"][FIGURE]["panels"]) and folded
    got = list(csv.DictReader(io.StringIO(data)))
    knn = [r for r in got if r["tag"] == "checkpoints: knn_accuracy"]
    assert [float(r["step"]) for r in knn] == [r["step"] for r in rows]
    for mine, want in zip(knn, rows, strict=True):
        assert math.isclose(float(mine["value"]), want["knn_accuracy"], rel_tol=0, abs_tol=0)
