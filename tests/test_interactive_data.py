"""The interactive charts' data (analysis/charts.py, embedded by render/interactive.py) and the vendored chart
library, without a browser.

Known answers: a spike inside a long log survives the min/max downsampling; a hostile tag name cannot end the
JSON script block; the vendored uPlot files are the bytes PROVENANCE.md names.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from hjepa_report.analysis.charts import DISPLAY_CAP, display_indices, json_number
from hjepa_report.render.html import VENDOR, vendored
from hjepa_report.render.interactive import script_json

HOSTILE = "train/</script><script>window.pwned=1</script><!--&amp;"


def test_short_logs_are_kept_whole():
    values = np.arange(DISPLAY_CAP, dtype=float)
    assert np.array_equal(display_indices(values), np.arange(DISPLAY_CAP))


def test_min_max_buckets_keep_spikes_dips_ends_and_non_finite_points():
    rng = np.random.default_rng(0)
    values = 1.0 + 0.01 * rng.standard_normal(50_001)
    values[12_345], values[40_000], values[777] = 80.0, -30.0, np.nan
    keep = display_indices(values, cap=1000)
    assert {0, 50_000, 12_345, 40_000, 777} <= set(keep.tolist())
    assert np.all(np.diff(keep) > 0)  # in step order
    assert len(keep) <= 1000 + 3  # two per bucket, plus first, last and the NaN
    # every bucket's extremes are there: the kept points' max per bucket equals the full series' max per bucket
    for bucket in np.array_split(np.arange(len(values)), 500):
        finite = bucket[np.isfinite(values[bucket])]
        kept = np.intersect1d(finite, keep)
        assert values[kept].max() == values[finite].max() and values[kept].min() == values[finite].min()


def test_json_numbers_follow_report_json():
    assert [json_number(v) for v in (1.5, float("nan"), float("inf"), -float("inf"))] == [1.5, None, "inf", "-inf"]


def test_script_json_cannot_close_the_script_block_and_round_trips():
    doc = {"series": {HOSTILE: {"values": [1.0, None]}}, "line": "a\u2028b"}
    text = script_json(doc)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == doc


def test_vendored_files_are_the_bytes_provenance_names():
    table = (VENDOR / "PROVENANCE.md").read_text()
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"):
        (digest,) = re.findall(rf"\| {re.escape(name)} \|[^|]*\| ([0-9a-f]{{64}}) \|", table)
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest
    assert "v1.6.32" in vendored("uPlot.iife.min.js")[:80]
    assert "MIT License" in (VENDOR / "uPlot.LICENSE").read_text()


def test_the_wheel_sources_include_the_vendor_folder():
    """Hatchling ships every file of the hjepa_report package unless git ignores it: nothing here is ignored."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    names = [str(p.relative_to(root)) for p in VENDOR.iterdir()]
    ignored = subprocess.run(["git", "check-ignore", *names], cwd=root, capture_output=True, text=True).stdout
    assert ignored.strip() == ""


def test_gold_skeletons_name_the_vendored_library_instead_of_copying_it():
    from goldtest import Scrubs, scrub_html

    html = '<html><body><script data-vendored="uplot-1.6.32">var uPlot = 1; /* 50 kB */</script></body></html>'
    assert 'data-vendored="uplot-1.6.32">VENDORED</script>' in scrub_html(html, Scrubs({}))
