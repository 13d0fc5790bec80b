"""Interactive training curves in a real headless Chromium (tests/browser_driver.py), on a run written here.

The run's TensorBoard log has known values: train/loss (3000 points), train/lr (a linear schedule),
train/long (10 000 points with one spike: downsampled for display), val/loss, and a tag whose name tries to
end the data block and run code. Asserted: hovering at a known step reads that step's raw and smoothed value;
the smoothing slider gives TensorBoard's debiased EMA as hjepa_report computes it; drag-zoom narrows every
panel of the figure (linked) and reset restores it; a legend click hides a series; the log axis applies;
the hostile tag is text, not code; no request, no console error; print shows the static PNGs.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from browser_driver import inspect_page
from hjepa_report.analysis.charts import DISPLAY_CAP
from hjepa_report.analysis.smoothing import debiased_ema
from reportfixtures import browser_marks

pytestmark = browser_marks()

HOSTILE = "train/</script><script>window.pwned=1</script>"
SPIKE_STEP, SPIKE = 7777, 50.0
FIGURE = "training-group-train-0"
CHART = f"hjepaCharts.charts[{FIGURE!r}]"
LOSS_PLOT = CHART + ".plots.find(p => p.hjepaPanel.title === 'train/loss')"


def loss_at(step):
    return 2.0 * np.exp(-step / 900.0) + 0.3 + 0.05 * np.sin(step * 0.37)


def write_run(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write a TensorBoard log of known values (float32, as TensorBoard stores them); return them per tag."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    steps = np.arange(1, 3001) * 3
    long_steps = np.arange(10_000)
    long = 1.0 + 0.1 * np.cos(long_steps / 50.0)
    long[SPIKE_STEP] = SPIKE
    tags = {
        "train/loss": (steps, loss_at(steps)),
        "train/lr": (steps[::30], 1e-3 * steps[::30] / 9000.0),
        "train/long": (long_steps, long),
        "val/loss": (steps[::150], loss_at(steps[::150]) + 0.1),
        HOSTILE: (steps[:40], np.linspace(1.0, 2.0, 40)),
    }
    logdir = root / "logs" / "tensorboard"
    logdir.mkdir(parents=True)
    writer = EventFileWriter(str(logdir))
    for tag, (s, v) in tags.items():
        for step, value in zip(s, v, strict=True):
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
            writer.add_event(Event(wall_time=1.7e9 + float(step) * 0.5, step=int(step), summary=summary))
    writer.close()
    return {t: (s.astype(float), v.astype(np.float32).astype(float)) for t, (s, v) in tags.items()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from reportfixtures import build

    root = tmp_path_factory.mktemp("interactive")
    logged = write_run(root / "run")
    json_path = build(root / "run", root / "report", ("overview", "training"))
    html = json_path.with_name("report.html")
    text = html.read_text()
    (block,) = re.findall(r'<script type="application/json" id="hjepa-chart-data">(.*?)</script>', text, re.S)
    return {
        "html": html,
        "text": text,
        "doc": json.loads(block),
        "logged": logged,
        "json": json.loads(json_path.read_text()),
    }


def test_embedded_data_is_the_logged_data_and_long_logs_keep_their_spike(built):
    doc, logged = built["doc"], built["logged"]
    assert doc["smoothing"] == 0.6 and doc["display_cap"] == DISPLAY_CAP
    loss = doc["series"]["train/loss"]
    assert loss["steps"] == logged["train/loss"][0].astype(int).tolist() and not loss["downsampled"]
    assert loss["values"] == logged["train/loss"][1].tolist()  # every point, exact
    long = doc["series"]["train/long"]
    assert long["downsampled"] and long["count"] == 10_000 and len(long["steps"]) <= DISPLAY_CAP + 2
    assert long["values"][long["steps"].index(SPIKE_STEP)] == SPIKE
    # at the kept points the embedded smoothed curve is the full-resolution EMA
    full = debiased_ema(logged["train/long"][1], 0.6)
    np.testing.assert_allclose(long["smoothed"], full[long["steps"]], rtol=0, atol=0)
    assert long["wall"] == [0.5 * s for s in long["steps"]]  # seconds since the run's first logged point
    assert built["text"].count('<script data-vendored="uplot-1.6.32">') == 1  # the library inlined once
    assert built["text"].count("/*! https://github.com/leeoniya/uPlot (v1.6.32) */") == 1
    assert HOSTILE in doc["series"] and HOSTILE not in built["text"]  # escaped everywhere: JSON, table, titles


HOVER = """
(() => {
  const e = hjepaCharts.charts[%(fig)r];
  const u = e.plots.find(p => p.hjepaPanel.title === %(tag)r);
  u.root.scrollIntoView({block: "center", behavior: "instant"});
  const r = u.over.getBoundingClientRect();
  return {x: r.left + u.valToPos(%(step)s, "x"), y: r.top + r.height / 2, width: r.width};
})()
"""
LEGEND = """
(async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const u = hjepaCharts.charts[%(fig)r].plots.find(p => p.hjepaPanel.title === %(tag)r);
  return Array.from(u.root.querySelectorAll(".u-legend .u-series")).map(
    row => [row.querySelector(".u-label").textContent, row.querySelector(".u-value").textContent]);
})()
"""
SCALES = """
Array.from(hjepaCharts.charts[%(fig)r].plots).map(u => [u.hjepaPanel.title, u.scales.x.min, u.scales.x.max,
  u.scales.y.distr, u.series.map(s => s.show)])
"""


def _interact(page):
    out = {"pwned": page.evaluate("typeof window.pwned")}
    step = 1500  # train/loss is logged every 3 steps: index 499
    at = page.evaluate(HOVER % {"fig": FIGURE, "tag": "train/loss", "step": step})
    page.mouse("mouseMoved", at["x"], at["y"])
    out["plot_width"] = at["width"]
    out["legend"] = page.evaluate(LEGEND % {"fig": FIGURE, "tag": "train/loss"})
    # drag from 20 % to 45 % of the panel's width: every panel of the figure zooms to the same x range
    box = page.evaluate(
        "(() => { const u = " + LOSS_PLOT + ";"
        " const r = u.over.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()"
    )
    left, top, width, height = box
    page.drag(left + 0.2 * width, top + height / 2, left + 0.45 * width, top + height / 2)
    out["zoomed"] = page.evaluate(SCALES % {"fig": FIGURE})
    page.evaluate(CHART + ".fig.querySelector('.chart-reset').click()")
    out["reset"] = page.evaluate(SCALES % {"fig": FIGURE})
    # legend click hides the raw series of train/loss (the pointer leaves the plot first, as a hand would)
    page.mouse("mouseMoved", 5, 5)
    label = page.evaluate(
        "(() => { const u = " + LOSS_PLOT + ";"
        " const r = u.root.querySelectorAll('.u-legend .u-series')[1].querySelector('.u-label')"
        ".getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
    )
    page.click(*label)
    out["toggled"] = page.evaluate(SCALES % {"fig": FIGURE})
    # the smoothing slider at 0.9, then the y axis forced to log
    page.evaluate(
        "(() => { const s = " + CHART + ".fig.querySelector('.chart-smoothing'); s.value = '0.9';"
        " s.dispatchEvent(new Event('input')); })()"
    )
    out["smoothed_09"] = page.evaluate(LOSS_PLOT + ".data[2]")
    out["ema_06"] = page.evaluate("hjepaCharts.ema(hjepaCharts.doc.series['train/loss'].values, 0.6)")
    page.evaluate(
        "(() => { const s = " + CHART + ".fig.querySelector('.chart-yscale'); s.value = 'log';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    out["log"] = page.evaluate(SCALES % {"fig": FIGURE})
    out["hostile_title"] = page.evaluate(
        "Array.from(document.querySelectorAll('.chart-panel-title')).map(t => t.textContent)"
        ".filter(t => t.includes('pwned'))"
    )
    page.browser.send("Emulation.setEmulatedMedia", {"media": "print"}, page.session)
    out["print"] = page.evaluate(
        "(() => { const f = " + CHART + ".fig; return [getComputedStyle(f.querySelector('img.fig-static')).display,"
        " getComputedStyle(f.querySelector('.chart-host')).display]; })()"
    )
    return out


def test_hover_zoom_toggle_smoothing_log_in_chromium(built):
    page = inspect_page(built["html"], interact=_interact)
    assert page.requests == [] and page.console_errors == [], (page.requests, page.console_errors)
    assert [i for i in page.images if not i["ok"]] == []
    out, (steps, values) = page.interaction, built["logged"]["train/loss"]
    assert out["pwned"] == "undefined"
    legend = dict(out["legend"])
    # the cursor snaps to the logged step nearest the pointer: within a pixel (about 41 steps) of 1500
    assert abs(float(legend["step"]) - 1500) <= 9000 / out["plot_width"] + 3
    i = int(np.flatnonzero(steps == float(legend["step"]))[0])
    assert math.isclose(float(legend["raw"]), values[i], rel_tol=1e-5)
    assert math.isclose(float(legend["smoothed"]), debiased_ema(values, 0.6)[i], rel_tol=1e-5)
    zoomed = {t: (lo, hi) for t, lo, hi, _, _ in out["zoomed"]}
    lo, hi = zoomed["train/loss"]
    assert 0.1 * 9000 < lo < 0.3 * 9000 and 0.35 * 9000 < hi < 0.55 * 9000  # about 20-45 % of steps 3..9000
    assert all(v == (lo, hi) for v in zoomed.values())  # linked x axes
    reset = {t: (lo, hi) for t, lo, hi, _, _ in out["reset"]}
    assert reset["train/loss"] == (3, 9000)
    shows = {t: s for t, _, _, _, s in out["toggled"]}
    assert shows["train/loss"] == [True, False, True]
    np.testing.assert_allclose(out["smoothed_09"], debiased_ema(values, 0.9), rtol=1e-12)
    np.testing.assert_allclose(out["ema_06"], debiased_ema(values, 0.6), rtol=1e-12)
    distr = {t: d for t, _, _, d, _ in out["log"]}
    assert distr["train/loss"] == 3 and distr["train/lr"] == 3
    assert len(out["hostile_title"]) == 1 and out["hostile_title"][0].startswith(HOSTILE)
    assert out["print"] == ["block", "none"]


def test_scripts_off_show_the_static_pngs(built, tmp_path):
    """Without JavaScript the chart data block is inert and every training figure is its PNG."""
    page = inspect_page(built["html"], script="document.querySelectorAll('.fig-live').length")
    assert page.script_result >= 1
    stripped = tmp_path / "noscript.html"
    stripped.write_text(re.sub(r"<script\b[^>]*>.*?</script>", "", built["text"], flags=re.S))
    page = inspect_page(
        stripped,
        script="Array.from(document.querySelectorAll('img.fig-static')).map(i => [i.naturalWidth > 0,"
        " getComputedStyle(i).display])",
    )
    assert page.script_result and all(ok and display == "block" for ok, display in page.script_result)
