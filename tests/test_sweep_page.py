"""The sweep page (render/index.py + sweep/data.py): only the differing config values, the plots' data, the
failed runs, and in headless Chromium: sort, filter, hide same, compare selected, the plots, follow a link.

Reports are copies of one real report of the H-JEPA fixture run with their `run.config` and loss end replaced
(tests/sweepfixtures.py), so every number the page shows is known.
"""

from __future__ import annotations

import json
import re

import pytest

from hjepa_report.render.index import build_index, write_index
from hjepa_report.sweep.data import flatten_config, split_config
from reportfixtures import browser_marks, cached_report
from sweepfixtures import fake_report_copies

LRS = [0.0001, 0.001, 0.003, 0.03]
LOSSES = [0.9, 0.5, 0.7, 2.0]


def _config(lr: float, i: int) -> dict:
    return {
        "training": {"lr": lr, "epochs": 10, "betas": [0.9, 0.95]},
        "masking": {"mask_scale": [0.15, 0.2 if i % 2 else 0.3]},
        "experiment": {"name": f"exp{i}"},  # unique per run: a column, not a plotted axis
        "model": {"use_fpn": False},
    }


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    base = cached_report(tmp_path_factory, "base")
    root = tmp_path_factory.mktemp("page")
    fake_report_copies(base, root, [_config(lr, i) for i, lr in enumerate(LRS)], LOSSES)
    return root


def test_configs_flatten_to_dotted_keys_and_split_into_differing_and_shared():
    flat = flatten_config({"a": {"b": 1, "c": [1, 2]}, "d": [{"x": 1}], "e": None, "f": True})
    assert flat == {"a.b": 1, "a.c[0]": 1, "a.c[1]": 2, "d": '[{"x": 1}]', "e": None, "f": True}
    differ, same = split_config([{"lr": 1e-4, "n": 1, "t": "a"}, {"lr": 1e-1, "n": 1, "t": "b"}, {"lr": 1e-3, "n": 1}])
    assert same == {"n": 1}
    lr, t = differ
    assert (lr.key, lr.numeric, lr.log, lr.plotted) == ("lr", True, True, True)  # 3 decades: a log axis
    assert (t.key, t.numeric, t.distinct) == ("t", False, 3)  # a, b and missing
    differ, _ = split_config([{"x": True}, {"x": 1}])
    assert differ and not differ[0].numeric  # True is not the number 1 in a config


def test_the_page_shows_only_the_differing_config_columns(sweep):
    html = write_index(sweep).read_text()
    headers = re.findall(r'<th class="cfg[^"]*" title="([^"]+)">', html)
    assert headers == ["experiment.name", "masking.mask_scale[1]", "training.lr"]
    view = build_index(sweep, sweep)
    assert dict(view.same) == {
        "masking.mask_scale[0]": "0.15",
        "model.use_fpn": "false",
        "training.betas[0]": "0.9",
        "training.betas[1]": "0.95",
        "training.epochs": "10",
    }
    lr_cells = {r.name: view.cells(r)[2] for r in view.rows}
    assert lr_cells["r1"] == ("0.001", 0.001, True)
    assert "Config values every run shares (5)" in html


def test_the_embedded_data_holds_each_runs_metrics_and_values(sweep):
    html = write_index(sweep).read_text()
    data = json.loads(re.search(r'<script type="application/json" id="sweep-data">(.*?)</script>', html, re.S)[1])
    assert data["params"] == [
        ["experiment.name", False, False, False],  # unique text per run: not plotted
        ["masking.mask_scale[1]", True, False, True],
        ["training.lr", True, True, True],  # 1e-4 .. 3e-2 spans more than two decades: a log axis
    ]
    runs = {r["name"]: r for r in data["runs"]}
    loss_col = [m[0] for m in data["metrics"]].index("loss_end")
    assert data["metrics"][loss_col][2] == "lower"
    assert {name: r["m"][loss_col] for name, r in runs.items()} == dict(
        zip(["r0", "r1", "r2", "r3"], LOSSES, strict=True)
    )
    assert runs["r3"]["c"] == ["exp3", 0.2, 0.03]
    assert runs["r0"]["json"] == "r0/report.json"


def test_failed_runs_are_listed_with_their_reason(tmp_path):
    folder = tmp_path / "reports" / "crashed"
    folder.mkdir(parents=True)
    (folder / "report.failed.json").write_text(
        json.dumps({"name": "crashed", "run": "/runs/crashed", "reason": "nothing usable in /runs/crashed", "at": ""})
    )
    html = write_index(tmp_path / "reports").read_text()
    assert "Runs without a report" in html and "nothing usable in /runs/crashed" in html
    assert "Files not listed" not in html  # the failure record is not taken for a broken report


def test_a_single_report_has_no_config_columns_or_plots(tmp_path, tmp_path_factory):
    fake_report_copies(cached_report(tmp_path_factory, "base"), tmp_path, [_config(0.1, 0)], [1.0])
    html = write_index(tmp_path).read_text()
    assert 'class="cfg' not in html and 'id="sweep-plots"' not in html


def in_browser(test):
    """Mark one test as a browser test (skipped without Chromium, as reportfixtures.browser_marks says)."""
    for mark in browser_marks():
        test = mark(test)
    return test


DRIVE = """
(async () => {
  const table = document.getElementById("reports");
  const headers = () => Array.from(table.tHead.rows[0].cells).map(th => th.textContent.trim());
  const col = name => headers().indexOf(name);
  const names = () => Array.from(table.tBodies[0].rows).filter(r => !r.hidden)
    .map(r => r.cells[col("run")].querySelector("a").textContent);
  const click = name => table.tHead.rows[0].cells[col(name)].querySelector("button").click();
  const out = {};
  click("training.lr");
  out.byLr = names();
  click("loss end");
  out.byLoss = names();
  const filter = document.getElementById("sweep-filter");
  filter.value = "lr>0.001"; filter.dispatchEvent(new Event("input"));
  out.filtered = names();
  out.count = document.getElementById("sweep-count").textContent;
  out.lines = document.querySelectorAll("#parallel polyline").length;
  out.axes = Array.from(document.querySelectorAll("#parallel .pc-axis")).map(g => g.dataset.label);
  out.scatter = document.querySelectorAll("#scatter figure").length;
  out.dots = document.querySelectorAll("#scatter figure:first-child circle").length;
  filter.value = "r0 exp0"; filter.dispatchEvent(new Event("input"));
  out.words = names();
  filter.value = "r0 exp1"; filter.dispatchEvent(new Event("input"));
  out.none = names();
  filter.value = ""; filter.dispatchEvent(new Event("input"));
  const before = headers().length;
  const hide = document.getElementById("hide-same");
  hide.click();
  out.sameShown = headers().length - before;
  hide.click();
  out.sameHidden = headers().length - before;
  Array.from(table.tBodies[0].rows)
    .filter(r => ["r1", "r3"].includes(r.cells[col("run")].querySelector("a").textContent))
    .forEach(r => r.querySelector("input.pick").click());
  document.getElementById("compare-selected").click();
  out.compare = document.getElementById("compare-command").textContent;
  out.picked = document.querySelectorAll("#parallel polyline.picked").length;
  return out;
})()
"""


@in_browser
def test_sort_filter_compare_and_plots_in_chromium(sweep):
    from browser_driver import inspect_page

    out = write_index(sweep)
    page = inspect_page(out, script=DRIVE)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    r = page.script_result
    assert r["byLr"] == ["r0", "r1", "r2", "r3"]  # ascending lr
    assert r["byLoss"] == ["r1", "r2", "r0", "r3"]  # ascending loss end: 0.5, 0.7, 0.9, 2.0
    assert sorted(r["filtered"]) == ["r2", "r3"] and r["count"] == "2 of 4 shown"
    assert r["lines"] == 2 and r["axes"] == ["masking.mask_scale[1]", "training.lr", "loss end"]
    assert r["scatter"] == 2 and r["dots"] == 2
    assert r["words"] == ["r0"] and r["none"] == []  # every word must match somewhere in the row
    assert r["sameShown"] == 5 and r["sameHidden"] == 0
    assert r["compare"].endswith("hjepa-report compare r1/report.json r3/report.json -o compare.html")
    assert r["picked"] == 2


FOLLOW = """
(() => {
  const link = Array.from(document.querySelectorAll("#reports a")).find(a => a.textContent === "r2");
  const r = link.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2, link.href];
})()
"""


def _follow(page):
    import time

    x, y, href = page.evaluate(FOLLOW)
    page.click(x, y)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            state = page.evaluate("[location.href, document.readyState, document.title]")
        except RuntimeError:  # the old page's context went away mid-navigation
            state = None
        if state and state[0] == href and state[1] == "complete":
            return href, state
        time.sleep(0.2)
    return href, None


@in_browser
def test_a_run_name_follows_to_its_report(sweep):
    from browser_driver import inspect_page

    out = write_index(sweep)
    page = inspect_page(out, interact=_follow)
    href, state = page.interaction
    assert href.endswith("/r2/report.html") and state is not None, (href, state)
    title = re.search(r"<title>(.*?)</title>", (sweep / "r2" / "report.html").read_text())[1]
    assert state[2] == html_unescape(title)  # the report itself loaded, not an error page


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)
