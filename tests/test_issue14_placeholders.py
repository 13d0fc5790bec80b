"""Issue 14 item 7 (c): H-JEPA's `*_eff_rank = -1` placeholders are missing values, not plotted as values.

jonwiggins/H-JEPA @ eb995a0 src/trainers/trainer.py _compute_collapse_metrics logs context_eff_rank =
target_eff_rank = -1 when the device has no SVD (MPS); the epoch means of those (train_epoch/*) are -1 too.
The runs here are the H-JEPA fixture with its event file rewritten record by record (TFRecord framing, as
tests/reportfixtures.py does) so that the eff_rank values read as an MPS run would have logged them.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.loghealth import LogHealthPass
from hjepa_report.analysis.training import TrainingPass
from hjepa_report.collect import collect_run
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures" / "hjepa_small"
RANK_TAGS = (
    "train/context_eff_rank",
    "train/target_eff_rank",
    "train_epoch/context_eff_rank",
    "train_epoch/target_eff_rank",
)
FIXTURE_POINTS = {"train/context_eff_rank": 9, "train/target_eff_rank": 9, "train_epoch/context_eff_rank": 3,
                  "train_epoch/target_eff_rank": 3}  # fmt: skip


def _mps_run(dst: Path, first_n: int | None = None) -> Path:
    """Copy the fixture with every eff_rank value (or the first `first_n` of each tag) logged as -1."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    shutil.copytree(FIX, dst, ignore=shutil.ignore_patterns("reference"))
    (events,) = (dst / "logs" / "tensorboard").glob("events.out.tfevents.*")
    data, out, pos, seen = events.read_bytes(), bytearray(), 0, dict.fromkeys(RANK_TAGS, 0)
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        event = Event.FromString(data[pos + 12 : pos + 12 + length])
        for value in event.summary.value:
            if value.tag in seen and (first_n is None or seen[value.tag] < first_n):
                value.simple_value = -1.0
                seen[value.tag] += 1
        payload = event.SerializeToString()
        header = struct.pack("<Q", len(payload))
        out += header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))
        pos += 12 + length + 4
    events.write_bytes(bytes(out))
    return dst


def test_an_mps_run_has_its_eff_rank_placeholders_left_out_and_counted(tmp_path):
    run = collect_run(_mps_run(tmp_path / "mps"))
    assert run.placeholders == FIXTURE_POINTS
    assert not any(run.scalars.has(t) for t in RANK_TAGS)  # nothing left to plot as a value
    assert run.scalars.has("train/context_std")  # the other collapse metrics stay
    health = LogHealthPass().run(ReportContext(run, ReportSettings()))
    note = next(n for n in health.notes if "placeholders" in n)
    assert note.startswith("24 logged placeholders are shown as missing values, not plotted")
    assert "train/context_eff_rank 9 of 9 points" in note and "MPS" in note
    assert health.metrics["placeholders"] == FIXTURE_POINTS
    assert {c.name: c.status for c in health.checks}["non-finite-values"] == "pass"


def test_only_the_placeholder_points_go(tmp_path):
    run = collect_run(_mps_run(tmp_path / "mixed", first_n=2))
    assert run.placeholders == dict.fromkeys(RANK_TAGS, 2)
    steps, values = run.scalars.arrays("train/context_eff_rank")
    assert len(values) == 7 and np.all(values > 1)  # an effective rank is exp(entropy) >= 1
    training = TrainingPass().compute(ReportContext(run, ReportSettings()))
    assert training.summaries["train/context_eff_rank"]["min"] > 1  # drawn and summarised without the -1s


def test_runs_without_placeholders_are_unchanged():
    run = collect_run(FIX)
    assert run.placeholders == {}
    assert {t: len(run.scalars.series(t)) for t in RANK_TAGS} == FIXTURE_POINTS
    assert "placeholders" not in LogHealthPass().run(ReportContext(run, ReportSettings())).metrics
