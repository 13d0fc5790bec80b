"""Find and take, in a real headless Chromium: search, lightbox, downloads of a chart's and a table's numbers,
and the persisted theme, on the H-JEPA fixture run's report (log, masking and attention sections).

Known answers: the downloaded chart CSV holds, per tag, exactly report.json's count, first/last step and
first/last/min/max value; the table CSV is the table's rows; searching a tag shows only panels naming it.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from browser_driver import inspect_page
from reportfixtures import browser_marks, cached_report, fast_sections

pytestmark = browser_marks()

FIGURE = "training-group-train-0"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    json_path = cached_report(tmp_path_factory, "base", fast_sections())
    return json_path.with_name("report.html"), json.loads(json_path.read_text())


VISIBLE = """
(() => ({
  sections: Array.from(document.querySelectorAll("main section.section")).filter(s => !s.hidden).map(s => s.id),
  panels: Array.from(document.querySelectorAll(".chart-panel")).filter(p => !p.hidden && p.offsetParent)
    .map(p => p.dataset.search),
  figures: Array.from(document.querySelectorAll("main .fig")).filter(f => f.offsetParent).map(f => f.id),
  status: document.getElementById("search-status").textContent,
}))()
"""


def _search(page):
    page.click(*page.center("#report-search"))
    page.type_text("knn")
    found = page.evaluate(VISIBLE)
    page.evaluate(
        "(() => { const s = document.getElementById('report-search'); s.value = '';"
        " s.dispatchEvent(new Event('input')); })()"
    )
    cleared = page.evaluate(VISIBLE)
    page.click(*page.center("#report-search"))
    page.type_text("attention")
    by_title = page.evaluate(VISIBLE)
    return found, cleared, by_title


def test_search_filters_panels_by_tag_and_sections_by_title(report):
    html, doc = report
    page = inspect_page(html, interact=_search)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    found, cleared, by_title = page.interaction
    knn_tags = [t for t in doc["scalars"] if "knn" in t.lower()]
    assert knn_tags and found["panels"] and all("knn" in p.lower() for p in found["panels"])
    assert "sec-training" in found["sections"] and "sec-masking" not in found["sections"]
    assert found["status"].endswith("figures and tables match")
    assert len(cleared["panels"]) > len(found["panels"]) and len(cleared["sections"]) == len(doc["sections"])
    attention = next(s for s in doc["sections"] if s["name"] == "attention")
    assert "sec-attention" in by_title["sections"] and "sec-training" not in by_title["sections"]
    assert set(attention["figures"]) <= set(by_title["figures"])  # a matching section title shows all of it


def _lightbox(page):
    first = page.evaluate(
        "Array.from(document.querySelectorAll('main .fig img')).find(i => i.offsetParent).closest('figure').id"
    )
    page.click(*page.center(f"#{first} img"))
    state = (
        "(() => { const b = document.getElementById('lightbox'); return [b.hidden, b.dataset.figure,"
        " b.querySelector('.lightbox-count').textContent, b.querySelector('img').src ==="
        " document.querySelector('#' + b.dataset.figure + ' img').src]; })()"
    )
    opened = page.evaluate(state)
    page.key("ArrowRight", key_code=39)
    moved = page.evaluate(state)
    page.key("ArrowLeft", key_code=37)
    back = page.evaluate(state)
    page.key("Escape", key_code=27)
    closed = page.evaluate("document.getElementById('lightbox').hidden")
    return first, opened, moved, back, closed


def test_lightbox_opens_moves_with_arrows_and_closes_with_escape(report):
    html, _ = report
    page = inspect_page(html, interact=_lightbox)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    first, opened, moved, back, closed = page.interaction
    assert opened[0] is False and opened[1] == first and opened[2].startswith("1 / ") and opened[3]
    assert moved[1] != first and moved[2].startswith("2 / ") and moved[3]
    assert back[1] == first and closed is True


def _downloads(page):
    page.allow_downloads()
    page.click(*page.center(f"#{FIGURE} .download-csv"))
    chart = page.wait_download()
    page.click(*page.center("#training-tags .table-download"))
    table = page.wait_download()
    return chart[0], chart[1].decode(), table[0], table[1].decode()


def test_downloaded_chart_data_is_report_json_and_table_csv_is_the_table(report):
    html, doc = report
    page = inspect_page(html, interact=_downloads)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    chart_name, chart_csv, table_name, table_csv = page.interaction
    assert chart_name == f"{FIGURE}.csv" and table_name == "training-tags.csv"
    rows = list(csv.DictReader(io.StringIO(chart_csv)))
    tags = sorted({r["tag"] for r in rows})
    assert tags and all(t.startswith("train/") for t in tags)
    for tag in tags:
        mine = [r for r in rows if r["tag"] == tag]
        want = doc["scalars"][tag]
        values = [float(r["value"]) for r in mine]
        assert len(mine) == want["count"] and all(r["downsampled"] == "no" for r in mine)
        assert float(mine[0]["step"]) == want["first_step"] and float(mine[-1]["step"]) == want["last_step"]
        assert values[0] == want["first"] and values[-1] == want["last"]
        assert min(values) == want["min"] and max(values) == want["max"]
    table = list(csv.reader(io.StringIO(table_csv)))
    assert table[0][:3] == ["tag", "points", "first step"]
    assert sorted(r[0] for r in table[1:]) == sorted(doc["scalars"])


THEME = """
(() => [document.documentElement.dataset.theme || "auto", document.getElementById("theme-toggle").textContent,
        getComputedStyle(document.body).backgroundColor, document.querySelectorAll(".fig-live").length])()
"""


def _theme(page):
    seen = [page.evaluate(THEME)]
    for _ in range(2):
        page.click(*page.center("#theme-toggle"))
        seen.append(page.evaluate(THEME))
    page.reload()
    seen.append(page.evaluate(THEME))
    page.click(*page.center("#theme-toggle"))
    seen.append(page.evaluate(THEME))
    return seen


def test_theme_toggle_cycles_and_persists_across_a_reload(report):
    html, _ = report
    page = inspect_page(html, interact=_theme)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    start, light, dark, reloaded, auto = page.interaction
    assert [s[0] for s in (start, light, dark, reloaded, auto)] == ["auto", "light", "dark", "dark", "auto"]
    assert light[2] == "rgb(246, 247, 249)" and dark[2] == "rgb(20, 23, 28)" and reloaded[2] == dark[2]
    assert dark[1] == "theme: dark" and reloaded[3] == start[3] > 0  # the charts are drawn again after the reload
