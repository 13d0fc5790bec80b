"""A stable-pretraining run's logged kNN / linear-probe / RankMe numbers beside the report's own, kept apart.

The fixture run (tests/fixtures/stable_pretraining_small) holds no images, so the report's side is measured on a
small labelled folder made here (4 classes of coloured noise, like the fixture's data). The logged side must be
the run's last logged values exactly (summary.json keeps the same numbers as metrics.csv).
"""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hjepa_report.analysis.representations import logged_probes
from hjepa_report.collect import collect_run

RUN = Path(__file__).parent / "fixtures" / "stable_pretraining_small" / "run"


def _summary_last(tag: str) -> float:
    return json.loads((RUN / "summary.json").read_text())["metrics"][tag]["last"]


def test_the_logged_tags_are_the_callbacks_accuracies_and_rankme():
    tags = list(collect_run(RUN).scalars.tags())
    assert logged_probes.logged_tag(tags, "knn") == "eval/knn_probe_top1"
    assert logged_probes.logged_tag(tags, "probe") == "eval/linear_probe_top1_epoch"  # the validation epoch's
    assert logged_probes.logged_tag(tags, "rankme") == "rankme"  # not rankme/entropy
    assert logged_probes.logged_tag(tags, "lidar") is None
    assert logged_probes.logged_tag(["train/linear_probe_loss_step", "hparams/lr_linear_probe"], "probe") is None


def test_other_layouts_get_no_logged_rows():
    result = SimpleNamespace(metrics={}, notes=[])
    logged_probes.attach(SimpleNamespace(run=SimpleNamespace(layout="hjepa")), result)
    assert result.metrics == {} and result.notes == []


def _image_folder(root: Path, per_class: int = 8) -> Path:
    from PIL import Image

    rng = np.random.default_rng(5)
    for label in range(4):
        folder = root / f"class{label}"
        folder.mkdir(parents=True)
        base = np.array([60 * label, 255 - 60 * label, 128], dtype=float)
        for i in range(per_class):
            pixels = np.clip(base + rng.normal(0, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def sections(tmp_path_factory):
    pytest.importorskip("torch")
    from hjepa_report.pipeline import build_report
    from hjepa_report.settings import ReportSettings

    images = _image_folder(tmp_path_factory.mktemp("images"))
    common = dict(images=images, encoder_heads=2, quiet=True)
    quick = ReportSettings(sections=["representations", "predictions"], minimal=True, **common)
    found = {s.name: s for s in build_report(RUN, quick).sections}
    attention = ReportSettings(sections=["attention"], **common)  # --minimal leaves it out
    return found | {s.name: s for s in build_report(RUN, attention).sections}


@pytest.fixture(scope="module")
def representations(sections):
    return sections["representations"]


def test_the_sections_without_masks_or_predictor_say_so(sections):
    attention = sections["attention"]
    assert attention.status == "ok", attention.message
    assert any("without masks (LeJEPA)" in n for n in attention.notes)
    assert sections["predictions"].status == "skipped" and "no predictor" in sections["predictions"].message


def test_the_representations_section_runs_on_the_rebuilt_backbone(representations):
    assert representations.status == "ok", representations.message
    accuracy = representations.metrics["accuracy"]
    assert set(accuracy) == {"image", "cls"} and accuracy["cls"]["samples"] == 32
    assert accuracy["cls"]["knn_accuracy"] > 0.5  # the 4 colours separate well above chance (0.25)


def test_logged_and_report_numbers_appear_side_by_side(representations):
    rows = {r["measure"]: r for r in representations.metrics["logged_beside"]}
    assert set(rows) == {"kNN accuracy", "linear-probe accuracy", "RankMe"}
    for measure, tag in (
        ("kNN accuracy", "eval/knn_probe_top1"),
        ("linear-probe accuracy", "eval/linear_probe_top1_epoch"),
        ("RankMe", "rankme"),
    ):
        logged = rows[measure]["logged"]
        assert logged["tag"] == tag and logged["value"] == _summary_last(tag)  # exactly the run's own number
        assert "stable-pretraining" in logged["method"] and "during training" in logged["data"]
        assert "report" in rows[measure]["report"]["data"]
    cls = representations.metrics["accuracy"]["cls"]
    assert rows["kNN accuracy"]["report"]["value"] == cls["knn_accuracy"]
    assert rows["linear-probe accuracy"]["report"]["value"] == cls["probe"]["accuracy"]
    assert rows["RankMe"]["report"]["value"] == representations.metrics["health"]["cls"]["rankme"]
    assert "ordered_queue_embedding 64" in rows["kNN accuracy"]["logged"]["method"]


def test_the_table_keeps_the_two_sources_on_separate_lines(representations):
    table = next(t for t in representations.tables if t.id.endswith("logged-probes"))
    assert table.columns == logged_probes.TABLE_COLUMNS
    sources = [row[1] for row in table.rows]
    assert sources == ["logged by the run", "this report"] * 3
    knn_logged, knn_report = table.rows[0], table.rows[1]
    assert knn_logged[3] == round(_summary_last("eval/knn_probe_top1"), 4) and knn_report[2] == ""
    assert knn_report[3] == round(representations.metrics["accuracy"]["cls"]["knn_accuracy"], 4)
