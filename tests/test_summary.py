"""The PR-comment summary (render/summary.py): built only from report.json, short, robust to missing parts."""

import json

import pytest

from hjepa_report.render.summary import ARTIFACT_LINK, MAX_CHECK_ROWS, key_metrics, summary_markdown, write_summary_md
from reportfixtures import LOSS_SCALE, cached_report

MAX_LINES, MAX_BYTES = 60, 6000


def _fits_a_comment(text: str) -> None:
    assert len(text.splitlines()) < MAX_LINES
    assert len(text.encode()) < MAX_BYTES


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    return {kind: json.loads(cached_report(tmp_path_factory, kind).read_text()) for kind in ("base", "changed")}


def test_summary_of_a_real_report_shows_verdict_checks_loss_and_link(docs, tmp_path):
    doc = docs["changed"]
    log = next(s for s in doc["sections"] if s["name"] == "log-health")["metrics"]
    path = write_summary_md(doc, tmp_path / "summary.md", html_name="changed.html")
    text = path.read_text()
    _fits_a_comment(text)
    assert "`changed`" in text and "**FAIL**" in text and "Layout hjepa" in text
    # the failing check (the NaN put into train/loss_h2) is listed with its section, before any warning
    fail_line = next(i for i, line in enumerate(text.splitlines()) if line.startswith("| **FAIL** | non-finite-values"))
    warn_lines = [i for i, line in enumerate(text.splitlines()) if line.startswith("| **WARN**")]
    assert all(i > fail_line for i in warn_lines)
    n_pass = sum(c["status"] == "pass" for c in doc["health"]["checks"])
    assert f"{n_pass} check(s) pass." in text
    assert f"| train/loss, end (median of last 10 %) | {log['loss_end_median']:.4g} |" in text
    assert f"[changed.html]({ARTIFACT_LINK})" in text


def test_loss_metrics_follow_the_logged_values(docs):
    base = {m.key: m.value for m in key_metrics(docs["base"])}
    changed = {m.key: m.value for m in key_metrics(docs["changed"])}
    # every train/loss point was doubled, so both medians double
    assert changed["loss_start"] == pytest.approx(LOSS_SCALE * base["loss_start"], rel=1e-6)
    assert changed["loss_end"] == pytest.approx(LOSS_SCALE * base["loss_end"], rel=1e-6)


def test_model_metrics_are_read_from_their_sections():
    doc = {
        "run": {"name": "r", "layout": "hjepa"},
        "health": {"verdict": "pass", "checks": []},
        "sections": [
            {
                "name": "representations",
                "status": "ok",
                "metrics": {
                    "health": {"tokens": {"rankme": 30.5}, "image": {"rankme": 4.5, "mean_pairwise_cosine": 0.02}},
                    "anchors": {"tokens": {"isotropic": {"rankme": 62.0}}},
                    "accuracy": {"image": {"knn_accuracy": 0.375, "chance": 0.25}},
                    "lidar": {"lidar": None},
                    "best_checkpoint": "checkpoints/checkpoint_epoch_0001.pth",
                },
            },
            {
                "name": "predictions",
                "status": "ok",
                "metrics": {
                    "levels": [
                        {"level": 0, "cosine_mean": 0.64, "baseline_cosine_mean": 0.27},
                        {"level": 1, "cosine_mean": "inf"},
                    ]
                },
            },
            {"name": "attention", "status": "error", "metrics": {}},
        ],
    }
    got = {m.key: m for m in key_metrics(doc)}
    assert got["rankme_tokens"].value == 30.5 and got["rankme_tokens"].note == "isotropic anchor 62"
    assert got["knn_accuracy"].value == 0.375 and got["knn_accuracy"].note == "chance 0.25"
    doc["sections"][0]["metrics"]["accuracy"]["image"].update(knn_interval=[0.3, 0.45], samples=256)
    note = {m.key: m for m in key_metrics(doc)}["knn_accuracy"].note
    assert note == "chance 0.25, 95 % interval 0.3-0.45, 256 images"
    assert got["prediction_cosine_l0"].value == 0.64 and got["prediction_cosine_l0"].better == "higher"
    assert "lidar" not in got and "prediction_cosine_l1" not in got  # null / "inf" are not numbers to show
    assert got["best_checkpoint"].value == "checkpoints/checkpoint_epoch_0001.pth"
    text = summary_markdown(doc)
    assert "| RankMe, patch tokens (Garrido et al. 2023) | 30.5 (isotropic anchor 62) |" in text
    assert "Sections that failed: attention" in text and "No health check could run" in text


def test_a_skipped_section_contributes_no_metric():
    doc = {
        "sections": [
            {"name": "representations", "status": "skipped", "metrics": {"health": {"tokens": {"rankme": 3.0}}}}
        ]
    }
    assert key_metrics(doc) == []


def test_an_old_or_bare_report_still_summarises():
    text = summary_markdown({"run": {"name": "old"}, "health": {"verdict": "warn"}})
    assert "**WARN**" in text and "No health check could run" in text and "No key metric" in text
    _fits_a_comment(text)


def test_many_problems_stay_within_a_comment_and_table_cells_stay_intact():
    checks = [
        {"section": "s|x", "name": f"check-{i}", "status": "warn", "detail": "a | b\nc " + "x" * 400} for i in range(50)
    ] + [{"section": "s", "name": "bad", "status": "fail", "detail": "<script>"}]
    text = summary_markdown({"run": {"name": "many"}, "health": {"verdict": "fail", "checks": checks}})
    _fits_a_comment(text)
    lines = text.splitlines()
    rows = [line for line in lines if line.startswith("| **")]
    assert len(rows) == MAX_CHECK_ROWS and rows[0].startswith("| **FAIL** | bad")
    assert f"| ... | {51 - MAX_CHECK_ROWS} more |" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    # escaped pipes keep every row at exactly four cells
    assert all(row.replace("\\|", "").count("|") == 5 for row in rows)
