"""Golden reports: the scrubbed report.json and HTML skeleton of both fixture runs against tests/gold/.

The comparison rules (what is scrubbed, how numbers are rounded and matched) are in tests/goldtest.py. After an
intended change of the reports, rewrite the gold files and review their git diff:

    HJEPA_REPORT_REGOLD=1 python -m pytest tests/test_golden.py -m slow

The first tests check the gold machinery itself on small inputs, so that a lax comparison cannot hide a change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from goldtest import (
    GOLD_DIR,
    Scrubs,
    compare_gold,
    dump_json,
    json_differences,
    line_differences,
    numbers_match,
    round_float,
    scrub_html,
    scrub_json,
    text_matches,
)

RUNS = ["hjepa_small", "ijepa_small"]
REPO = Path(__file__).resolve().parent.parent
GOLD_BUDGET_BYTES = 400_000  # the gold files together: small enough to review a regenerated diff


def scrubs_for(built: dict) -> Scrubs:
    """The scrubs of one fixture report: its run copy, output folder, the session's temp folder, the repo."""
    from hjepa_report import __version__

    paths = {
        str(built["run"]): "RUN_DIR",
        str(built["html"].parent): "OUT_DIR",
        str(built["base"]): "TMP",
        str(REPO): "REPO",
    }
    return Scrubs(paths=paths, version=__version__)


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_report_json_matches_its_gold_file(reports, name):
    built = reports[name]
    assert built["result"].exit_code == 0, built["result"].output
    doc = json.loads(built["json"].read_text(encoding="utf-8"))
    compare_gold(f"{name}/report.json", dump_json(scrub_json(doc, scrubs_for(built))))


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_report_html_skeleton_matches_its_gold_file(reports, name):
    built = reports[name]
    assert built["result"].exit_code == 0, built["result"].output
    html = built["html"].read_text(encoding="utf-8")
    compare_gold(f"{name}/report.html", scrub_html(html, scrubs_for(built)))


def test_the_readme_test_command_runs_the_slow_tests_too():
    """CI runs the README's test command verbatim; without overriding the default `-m 'not slow'` the gold
    tests (and every other whole-report test) would never run anywhere."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = readme.split("<!-- ci:test -->", 1)[1].split("```", 2)[1]
    assert '-m "slow or not slow"' in command, command


def test_gold_files_stay_small():
    files = [p for p in GOLD_DIR.rglob("*") if p.is_file()]
    assert {p.relative_to(GOLD_DIR).as_posix() for p in files} >= {
        f"{n}/report.{x}" for n in RUNS for x in ("json", "html")
    }
    assert sum(p.stat().st_size for p in files) < GOLD_BUDGET_BYTES


def test_gold_files_hold_no_machine_dependent_text():
    for path in GOLD_DIR.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for leak in ("/tmp/", "pytest-of-", str(REPO)):
                assert leak not in text, (path, leak)
            assert re.search(r"base64,(?!SCRUBBED)", text) is None, path


# --- the machinery ----------------------------------------------------------------------------------------


def test_floats_are_rounded_to_four_significant_digits_and_noise_to_zero():
    assert round_float(0.592718601) == 0.5927
    assert round_float(1234567.0) == 1235000.0
    assert round_float(3.7e-8) == 3.7e-8
    assert round_float(1.4e-17) == 0.0 and round_float(-3e-13) == 0.0
    assert round_float(float("inf")) == float("inf")


def test_a_value_on_a_rounding_edge_matches_from_either_side():
    # 0.12345 rounds to 0.1234 or 0.1235 depending on its last bits: both roundings must match the other value
    assert numbers_match(0.1235, 0.1234499999)
    assert numbers_match(0.1234, 0.1234500001)
    assert numbers_match(round_float(0.1234500001), 0.1234499999)


def test_a_change_in_the_fourth_digit_is_a_difference():
    assert not numbers_match(0.1235, 0.1237)
    assert not numbers_match(0.5927, 0.5929)
    assert not numbers_match(1.0, 1.01)
    assert not numbers_match(3, 4) and not numbers_match(64, 64.5)
    assert not numbers_match(True, 1)
    assert numbers_match(0.0, 4e-13) and not numbers_match(0.0, 3e-9)


def test_a_json_difference_names_its_path():
    gold = {
        "sections": [
            {"name": "overview", "metrics": {"files": 3}},
            {"name": "loss-landscape", "metrics": {"origin_loss": 0.5927, "grid": 5}},
        ]
    }
    actual = json.loads(json.dumps(gold))
    actual["sections"][1]["metrics"]["origin_loss"] = 0.61
    actual["sections"][1]["metrics"]["extra"] = 1
    del actual["sections"][0]["metrics"]["files"]
    found = json_differences(gold, actual)
    assert "$.sections[1:loss-landscape].metrics.origin_loss: gold 0.5927, actual 0.61" in found
    assert "$.sections[1:loss-landscape].metrics.extra: not in gold (actual 1)" in found
    assert "$.sections[0:overview].metrics.files: only in gold (3)" in found
    assert len(found) == 3
    assert json_differences(gold, json.loads(json.dumps(gold))) == []


def test_printed_numbers_may_move_by_one_unit_in_their_last_digit():
    assert text_matches("loss fell from 0.4349 to 0.2221", "loss fell from 0.4350 to 0.2221")
    assert text_matches("cosine 0.59 (baseline 1.5e-05)", "cosine 0.591 (baseline 1.6e-05)")
    assert text_matches("accuracy 0.5", "accuracy 0.4999") and not text_matches("accuracy 0.5", "accuracy 0.4349")
    assert text_matches("context 42% of the patches", "context 43% of the patches")
    assert not text_matches("loss fell from 0.4349 to 0.2221", "loss fell from 0.4352 to 0.2221")
    assert not text_matches("15 patches never a target", "16 patches never a target")
    assert not text_matches("seed 1,899,002,249", "seed 1,899,002,250")
    assert not text_matches("RankMe 28.5", "rankme 28.5")


def test_html_skeleton_drops_figures_timings_paths_and_dates():
    html = (
        '<html><head><meta name="generator" content="hjepa-report 9.9"></head><body>\n'
        "<dl><dt>Run</dt><dd><code>/tmp/x/run</code></dd><dt>Created</dt><dd>2026-12-01T16:35:46+00:00 with "
        "hjepa-report 9.9 in 26.1 s</dd><dt>Command</dt><dd><code>hjepa-report /tmp/x/run -q</code></dd></dl>"
        '<h2>Model   <span class="timing">1.766 s</span></h2><img src="data:image/png;base64,iVBORw0KG+/=">'
        "<table><thead><tr><th>LiDAR</th><th>seconds</th></tr></thead>"
        "<tbody><tr><td>3.43</td><td>0.076</td></tr></tbody></table></body></html>"
    )
    skeleton = scrub_html(html, Scrubs(paths={"/tmp/x/run": "RUN_DIR"}, version="9.9"))
    assert skeleton.splitlines() == [
        "<html>",
        "<head>",
        '<meta name="generator" content="hjepa-report VERSION">',
        "</head>",
        "<body>",
        "<dl>",
        "<dt>Run</dt><dd><code>RUN_DIR</code></dd>",
        "<dt>Created</dt><dd>DATE with hjepa-report VERSION in SECONDS s</dd>",
        "<dt>Command</dt><dd><code>COMMAND</code></dd>",
        "</dl>",
        '<h2>Model <span class="timing">SECONDS</span></h2>',
        '<img src="data:image/png;base64,SCRUBBED">',
        "<table>",
        "<thead>",
        "<tr><th>LiDAR</th><th>seconds</th></tr>",
        "</thead>",
        "<tbody>",
        "<tr><td>3.43</td><td>SECONDS</td></tr>",
        "</tbody>",
        "</table>",
        "</body>",
        "</html>",
    ]


def test_report_json_scrubs_timings_sizes_and_moments():
    doc = {
        "schema": "1.0",
        "tool": {"name": "hjepa-report", "version": "9.9"},
        "created_at": "2026-12-01T16:35:46",
        "command_line": "hjepa-report /tmp/x/run",
        "run": {"path": "/tmp/x/run"},
        "sections": [
            {
                "name": "a",
                "seconds": 1.2,
                "figures": [{"id": "a-f", "bytes": 1234}],
                "metrics": {
                    "seconds": 0.3,
                    "fit_seconds": 2,
                    "seconds_predict": 0.1,
                    "loss": 0.592718601,
                    "n": 7,
                    "caption": "UMAP: 8 points, 10.42 s; 5 x 5 grid, 12 s budget",
                },
            }
        ],
        "render": {"figure_bytes": 99},
        "timing": {"total_seconds": 3.1, "sections": {"a": 1.2}},
    }
    scrubbed = scrub_json(doc, Scrubs(paths={"/tmp/x/run": "RUN_DIR"}, version="9.9"))
    assert scrubbed == {
        "schema": "1.0",
        "tool": {"name": "hjepa-report", "version": "VERSION"},
        "created_at": "DATE",
        "command_line": "COMMAND",
        "run": {"path": "RUN_DIR"},
        "sections": [
            {
                "name": "a",
                "seconds": "SECONDS",
                "figures": [{"id": "a-f", "bytes": "BYTES"}],
                "metrics": {
                    "seconds": "SECONDS",
                    "fit_seconds": "SECONDS",
                    "seconds_predict": "SECONDS",
                    "loss": 0.5927,
                    "n": 7,
                    "caption": "UMAP: 8 points, SECONDS s; 5 x 5 grid, SECONDS s budget",
                },
            }
        ],
        "render": {"figure_bytes": "BYTES"},
        "timing": {"total_seconds": "SECONDS", "sections": {"a": "SECONDS"}},
    }


def test_a_moved_html_line_shows_as_a_diff():
    gold = ["<p>a</p>", "<p>loss 0.4349</p>", "<p>c</p>"]
    assert line_differences(gold, ["<p>a</p>", "<p>loss 0.4350</p>", "<p>c</p>"]) == []
    changed = line_differences(gold, ["<p>a</p>", "<p>loss 0.5</p>", "<p>c</p>"])
    assert changed == ["@@ gold line 2, actual line 2", "- <p>loss 0.4349</p>", "+ <p>loss 0.5</p>"]
    missing = line_differences(gold, ["<p>a</p>", "<p>c</p>"])
    assert missing == ["@@ gold lines 2-2, actual lines 2-1", "- <p>loss 0.4349</p>"]


def test_gold_json_reads_back_and_keeps_short_records_on_one_line():
    doc = {"metrics": {"layers": [{"layer": "blocks.0", "grad_norm": 0.5}], "curve": [1, 2.5, None]}, "empty": {}}
    text = dump_json(doc)
    assert json.loads(text) == doc
    assert '   {"layer": "blocks.0", "grad_norm": 0.5}' in text.splitlines()
    assert '  "curve": [1, 2.5, null]' in text.splitlines()
