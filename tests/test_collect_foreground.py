"""The collector reads the sample run's foreground masks and lists the file as read (issue 12: collect owns
every file read; the inventory used to say "skipped" for a file the attention pass then opened itself)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hjepa_report.analysis.attention.foreground import image_foreground
from hjepa_report.collect import collect_run
from hjepa_report.collect.foreground import FOREGROUND_FILE

SAMPLE = Path(__file__).parent.parent / "sample_runs" / "hjepa_shapes64"


def test_the_sample_runs_foreground_file_is_read_and_carried_on_the_run():
    run = collect_run(SAMPLE)
    record = next(f for f in run.files if f.path == FOREGROUND_FILE)
    assert (record.kind, record.status) == ("foreground", "read")
    assert record.detail.startswith("foreground masks of 256 images (bool 64x64)")
    masks = image_foreground(run.foreground, [image.path for image in run.images])
    assert len(run.images) == 256 and all(m is not None and m.dtype == bool for m in masks)
    with np.load(SAMPLE / FOREGROUND_FILE) as stored:
        first = run.images[0].path.relative_to(SAMPLE.absolute()).as_posix()
        np.testing.assert_array_equal(masks[0], stored[first])
        assert 0 < stored[first].mean() < 1


def test_an_image_outside_the_run_dir_has_no_foreground(tmp_path):
    run = _run_with_foreground(tmp_path, {"images/a_0000.png": np.ones((4, 4), bool)})
    inside, outside = image_foreground(
        run.foreground, [tmp_path / "images" / "a_0000.png", tmp_path.parent / "a_0000.png"]
    )
    assert inside.all() and outside is None


def test_entries_that_are_not_masks_are_left_out_and_said(tmp_path):
    run = _run_with_foreground(tmp_path, {"images/a_0000.png": np.ones((4, 4), bool), "junk": np.arange(3)})
    record = next(f for f in run.files if f.path == FOREGROUND_FILE)
    assert record.status == "read" and "1 entries that are not 2-D masks left out" in record.detail
    assert len(run.foreground) == 1


def test_an_unreadable_foreground_file_is_skipped_with_why(tmp_path):
    _write_image(tmp_path)
    (tmp_path / "sample_meta").mkdir()
    (tmp_path / FOREGROUND_FILE).write_bytes(b"not a zip archive")
    run = collect_run(tmp_path)
    record = next(f for f in run.files if f.path == FOREGROUND_FILE)
    assert (record.kind, record.status) == ("foreground", "skipped")
    assert record.detail.startswith("unreadable foreground masks")
    assert run.foreground == {} and any(FOREGROUND_FILE in w for w in run.warnings)


def _write_image(root: Path) -> None:
    from PIL import Image

    (root / "images").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "images" / "a_0000.png")


def _run_with_foreground(root: Path, arrays: dict):
    _write_image(root)
    (root / "sample_meta").mkdir()
    np.savez_compressed(root / FOREGROUND_FILE, **arrays)
    return collect_run(root)
