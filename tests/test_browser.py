"""The report as a reader's browser shows it: headless Chromium, driven over its DevTools pipe.

Opens the sample run's report (sample_runs/hjepa_shapes64 when present, else the H-JEPA fixture run) and
asserts: no request leaves the page, no console error, every <img> decodes, every GIF has more than one
frame, every in-page link has a target; saves a screenshot. Also checks the compare and index pages and the
index's numeric-aware sorting. Skipped where /usr/bin/chromium is absent (CI installs it).
"""

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from browser_driver import inspect_page
from reportfixtures import browser_marks, build, cached_report, fast_sections

pytestmark = browser_marks()

SAMPLE_RUN = Path(__file__).resolve().parent.parent / "sample_runs" / "hjepa_shapes64"


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    """The sample run's report (every section, --minimal), else the fixture run's (fast sections)."""
    if SAMPLE_RUN.is_dir():
        from hjepa_report.analysis.registry import pass_names

        out = tmp_path_factory.mktemp("sample-report")
        return build(SAMPLE_RUN, out, tuple(pass_names())).with_name("report.html")
    return cached_report(tmp_path_factory, "base", fast_sections()).with_name("report.html")


def _assert_clean(page, html: str) -> None:
    assert page.requests == [], f"the page made network requests: {page.requests}"
    assert page.console_errors == [], f"console errors: {page.console_errors}"
    assert len(page.images) == len(re.findall(r"<img\b", html))
    assert [i for i in page.images if not i["ok"]] == [], "images that did not decode"
    assert page.broken_anchors == [], f"links to missing ids: {page.broken_anchors}"


def test_report_loads_offline_without_errors_and_every_image_decodes(report_html, tmp_path):
    shot = tmp_path / "report.png"
    page = inspect_page(report_html, shot, full_page=True)
    html = report_html.read_text()
    _assert_clean(page, html)
    assert len(page.images) > 0
    image = Image.open(shot)
    assert image.format == "PNG" and image.width == 1280 and image.height > 900
    assert Image.open(shot).convert("L").getextrema()[0] < 128  # not a blank page


def test_every_gif_is_animated(report_html):
    doc = json.loads(report_html.with_name("report.json").read_text())
    animations = [f for s in doc["sections"] for f in s["figures"] if f["kind"] == "animation"]
    gifs = re.findall(r'src="data:image/gif;base64,([^"]+)"', report_html.read_text())
    assert len(gifs) == len(animations)
    if any(s["name"] == "masking" and s["status"] == "ok" for s in doc["sections"]):
        assert gifs, "the masking section has animations, but the report holds no GIF"
    for payload in gifs:
        assert Image.open(io.BytesIO(base64.b64decode(payload))).n_frames > 1


def test_compare_page_loads_cleanly(report_html, tmp_path):
    from hjepa_report.compare import build_comparison

    out = build_comparison([report_html.with_name("report.json")] * 2, tmp_path / "compare.html")
    page = inspect_page(out)
    _assert_clean(page, out.read_text())


SORT_BY_LOSS_END = """
(() => {
  const table = document.getElementById("reports");
  const col = Array.from(table.tHead.rows[0].cells).findIndex(th => th.textContent.trim() === "loss end");
  const read = () => Array.from(table.tBodies[0].rows).map(r => r.cells[col].textContent.trim());
  const button = table.tHead.rows[0].cells[col].querySelector("button");
  button.click();
  const up = read();
  button.click();
  return {up: up, down: read(), sort: table.tHead.rows[0].cells[col].getAttribute("aria-sort")};
})()
"""


def test_index_page_sorts_numbers_as_numbers(report_html, tmp_path):
    from hjepa_report.render.index import write_index

    doc = json.loads(report_html.with_name("report.json").read_text())
    log = next(s for s in doc["sections"] if s["name"] == "log-health")["metrics"]
    for name, loss in (("a", 10.0), ("b", 9.0), ("c", 100.0)):  # as text "10" < "100" < "9"
        log["loss_end_median"] = loss
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(doc))
        shutil.copy(report_html, tmp_path / name / "report.html")
    out = write_index(tmp_path)
    page = inspect_page(out, script=SORT_BY_LOSS_END)
    _assert_clean(page, out.read_text())
    assert page.script_result == {"up": ["9", "10", "100"], "down": ["100", "10", "9"], "sort": "descending"}


def test_the_driver_sees_requests_errors_broken_images_and_anchors(tmp_path):
    """The checks above can fail: a page with each fault is caught (the request goes to a closed local port)."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><a href="#nowhere">x</a><p id="here"><a href="#here">y</a></p>'
        '<img src="http://127.0.0.1:9/remote.png"><img src="data:image/png;base64,AAAA">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==">'
        '<script>console.error("boom"); undefined_function();</script></body></html>'
    )
    page = inspect_page(bad)
    assert page.requests == ["http://127.0.0.1:9/remote.png"]
    assert any("boom" in e for e in page.console_errors)
    assert any("undefined_function" in e for e in page.console_errors)
    assert [i["ok"] for i in page.images] == [False, False, True]
    assert page.broken_anchors == ["nowhere"]
