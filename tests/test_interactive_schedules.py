"""The schedules chart, epochs on the x axis, panning, every figure's numbers and search inside table rows, in a
real headless Chromium, on the H-JEPA fixture run's report (overview, training and schedules sections).

Known answers: the run logged train/lr and train/ema_momentum at 18 steps, and the config-implied curves the
page draws agree with those logged values at those steps (the run's own log, within the section's tolerance);
the run has 30 steps per epoch (its schedules section says so), so x as epoch is step / 30; a figure's
downloaded numbers are its section's entry of report.json; a tag name typed in the search box leaves exactly
the tag table's rows that contain it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from browser_driver import inspect_page
from reportfixtures import browser_marks, cached_report

pytestmark = browser_marks()

SECTIONS = ("overview", "training", "schedules")
FIGURE = "schedules-schedules"
CHART = f"hjepaCharts.charts[{FIGURE!r}]"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    json_path = cached_report(tmp_path_factory, "base", SECTIONS)
    return json_path.with_name("report.html"), json.loads(json_path.read_text())


PANELS = f"""
(() => {CHART}.plots.map(u => ({{
  title: u.hjepaPanel.title,
  labels: u.series.map(s => s.label),
  data: u.data.map(col => Array.from(col)),
}})))()
"""


def _schedules(page):
    drawn = page.evaluate(PANELS)
    options = page.evaluate(f"Array.from(document.querySelectorAll('#{FIGURE} .chart-x option')).map(o => o.text)")
    page.evaluate(
        f"(() => {{ const s = document.querySelector('#{FIGURE} .chart-x'); s.value = 'epoch';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    by_epoch = page.evaluate(PANELS)
    return drawn, options, by_epoch


def test_schedule_chart_draws_the_logged_and_implied_curves_and_epochs(report):
    html, doc = report
    page = inspect_page(html, interact=_schedules)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    drawn, options, by_epoch = page.interaction
    section = next(s for s in doc["sections"] if s["name"] == "schedules")
    assert section["metrics"]["steps_per_epoch"] == 30
    panels = {p["title"]: p for p in drawn}
    assert {"learning rate", "EMA momentum", "weight decay"} <= set(panels)
    assert panels["weight decay"]["labels"][1:] == ["weight decay: implied by config"]  # not logged: config only
    for title, tag in (("learning rate", "train/lr"), ("EMA momentum", "train/ema_momentum")):
        p = panels[title]
        assert p["labels"][1:] == [f"{title}: logged", f"{title}: implied by config"]
        x, logged, implied = (np.array([np.nan if v is None else v for v in col], float) for col in p["data"])
        at = np.isfinite(logged) & np.isfinite(implied)  # the logged steps (the implied curve covers them all)
        assert at.sum() == doc["scalars"][tag]["count"] == 18
        assert np.allclose(implied[at], logged[at], rtol=1e-3, atol=1e-9)  # the section's schedule check
        assert logged[at][-1] == pytest.approx(doc["scalars"][tag]["last"])
    assert options == ["step", "epoch (step / 30)"]  # the fixture's log has no wall time per tag
    first = next(p for p in by_epoch if p["title"] == "learning rate")
    assert np.allclose(first["data"][0], np.array(panels["learning rate"]["data"][0]) / 30)
    assert first["labels"][0] == "epoch"


def _pan(page):
    page.evaluate(f"{CHART}.plots.forEach(u => u.setScale('x', {{min: 20, max: 40}}))")
    page.click(*page.center(f"#{FIGURE} .chart-pan-right"))
    right = page.evaluate(f"{CHART}.plots.map(u => [u.scales.x.min, u.scales.x.max])")
    for _ in range(6):  # far past the last step: stops at the data's end
        page.click(*page.center(f"#{FIGURE} .chart-pan-right"))
    end = page.evaluate(f"{CHART}.plots.map(u => [u.scales.x.min, u.scales.x.max, u.data[0][u.data[0].length - 1]])")
    page.click(*page.center(f"#{FIGURE} .chart-pan-left"))
    left = page.evaluate(f"{CHART}.plots.map(u => [u.scales.x.min, u.scales.x.max])")
    return right, end, left


def test_pan_moves_every_panel_by_half_the_view_and_stops_at_the_data(report):
    html, _ = report
    page = inspect_page(html, interact=_pan)
    assert page.console_errors == [], page.console_errors
    right, end, left = page.interaction
    assert all(r == pytest.approx([30, 50]) for r in right)  # half of the 20-step view, every panel
    assert all(e[1] == pytest.approx(e[2]) and e[1] - e[0] == pytest.approx(20) for e in end)
    assert all(lo == pytest.approx(e[0] - 10) for (lo, _), e in zip(left, end, strict=True))


def _numbers(page):
    page.allow_downloads()
    page.click(*page.center("#schedules-ema-drift .figure-numbers"))
    drift = page.wait_download()
    buttons = page.evaluate("document.querySelectorAll('main figure.fig .figure-numbers').length")
    figures = page.evaluate("document.querySelectorAll('main figure.fig').length")
    return drift[0], json.loads(drift[1]), buttons, figures


def test_every_figure_downloads_its_sections_numbers_as_report_json_has_them(report):
    html, doc = report
    page = inspect_page(html, interact=_numbers)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    name, numbers, buttons, figures = page.interaction
    section = next(s for s in doc["sections"] if s["name"] == "schedules")
    assert name == "schedules-ema-drift-numbers.json"
    assert numbers["section"] == "schedules" and numbers["figure"] == "schedules-ema-drift"
    assert {k: numbers[k] for k in ("metrics", "checks", "notes")} == {
        k: section[k] for k in ("metrics", "checks", "notes")
    }
    assert buttons == figures > 0  # every figure of these sections has numbers behind it


ROWS = """
(() => Array.from(document.querySelectorAll('#training-tags tbody tr')).filter(r => !r.hidden)
  .map(r => r.cells[0].textContent.trim()))()
"""


def _rows(page):
    page.click(*page.center("#report-search"))
    page.type_text("context_norm")
    found = page.evaluate(ROWS)
    shown = page.evaluate("!document.getElementById('training-tags').hidden")
    page.evaluate(
        "(() => { const s = document.getElementById('report-search'); s.value = '';"
        " s.dispatchEvent(new Event('input')); })()"
    )
    return found, shown, page.evaluate(ROWS)


def test_search_keeps_only_the_matching_rows_of_a_table(report):
    html, doc = report
    page = inspect_page(html, interact=_rows)
    found, shown, cleared = page.interaction
    assert shown and sorted(found) == sorted(t for t in doc["scalars"] if "context_norm" in t)
    assert sorted(cleared) == sorted(doc["scalars"])
