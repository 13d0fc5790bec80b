"""Issue 17 item 5: W&B offline runs. The fixture was written by `wandb.init(mode="offline")` (wandb 0.31.0) and read
back by wandb's own Python reader (DataStore + wandb_internal_pb2.Record) into reference/history.json; see
tests/fixtures/wandb_offline_small/PROVENANCE.md. The reader must give the same points, the same status, and
survive damage; a run that logged only to W&B still gets its curves and logged schedules."""

from __future__ import annotations

import json
import math
import shutil
import struct
import zlib
from pathlib import Path

import pytest

pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="the [wandb] extra (wandb) is not installed")

from hjepa_report.collect import collect_run  # noqa: E402
from hjepa_report.collect import wandb_offline as wo  # noqa: E402
from hjepa_report.errors import RunDirError  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "wandb_offline_small"
RUN = FIX / "run"
(FOLDER,) = [p for p in (RUN / "wandb").iterdir() if p.name.startswith("offline-run-") and not p.is_symlink()]
(HISTORY,) = FOLDER.glob("run-*.wandb")
REFERENCE = json.loads((FIX / "reference" / "history.json").read_text())
HJEPA = Path(__file__).parent / "fixtures" / "hjepa_small"


def _rel(path: Path, root: Path = RUN) -> str:
    return path.relative_to(root).as_posix()


def test_every_logged_step_is_read_as_wandb_itself_reads_it():
    read = wo.read_wandb_history(HISTORY, _rel(HISTORY))
    frame = read.log.frame
    assert read.log.ok and not read.log.damaged
    expected = [
        (key, float(step["_step"]), float(value), float(step["_timestamp"]))
        for step in REFERENCE["steps"]
        for key, value in step.items()
        if not key.startswith("_")
    ]
    got = list(zip(frame["tag"], frame["step"], frame["value"], frame["wall_time"], strict=True))
    assert len(got) == len(expected) == 1236
    key = lambda p: (p[0], p[1])  # noqa: E731
    for (tag, step, value, wall), (etag, estep, evalue, ewall) in zip(
        sorted(got, key=key), sorted(expected, key=key), strict=True
    ):
        assert (tag, step, wall) == (etag, estep, ewall)
        assert value == evalue or (math.isnan(value) and math.isnan(evalue))  # exact: same JSON, same float
    assert sum(math.isnan(v) for v in frame["value"]) == 1  # train/grad_norm at step 150
    assert read.counts == REFERENCE["record_types"]


def test_the_exit_record_gives_the_status():
    read = wo.read_wandb_history(HISTORY, _rel(HISTORY))
    assert REFERENCE["exit"]["exit_code"] == 0
    assert read.status.state == "completed" and "exit code 0" in read.status.line
    assert read.run_id == HISTORY.stem.removeprefix("run-")


def test_a_wandb_only_run_gets_curves_schedules_and_its_status():
    run = collect_run(RUN)
    assert run.layout == "generic"  # W&B is a log, not a training code: the layout stays what the rest says
    assert run.scalars.tags() == [
        "epoch",
        "train/ema_momentum",
        "train/grad_norm",
        "train/loss",
        "train/lr",
        "val/loss",
    ]
    steps, lr = run.scalars.arrays("train/lr")
    assert len(steps) == 300 and lr.max() == pytest.approx(1e-3, abs=1e-6)  # warm-up to the base lr, then cosine
    record = {f.path: f for f in run.files}[_rel(HISTORY)]
    assert (record.kind, record.status) == ("wandb", "read") and "300 logged steps" in record.detail
    assert [s.state for s in run.statuses] == ["completed"]
    assert run.config is None  # W&B's copy of the config is never the training config


def test_a_history_cut_short_keeps_what_came_before(tmp_path):
    data = HISTORY.read_bytes()
    cut = tmp_path / HISTORY.name
    cut.write_bytes(data[: len(data) // 2])
    read = wo.read_wandb_history(cut, cut.name)
    assert read.log.ok and read.log.damaged and "the records before it were read" in read.log.detail
    n = read.counts["history"]
    assert 50 < n < 300
    assert read.status.state == "running"  # no exit record: still running or killed, said so
    assert "no exit record" in read.status.line


def test_a_corrupt_chunk_stops_the_reading_with_a_note(tmp_path):
    data = bytearray(HISTORY.read_bytes())
    data[40000] ^= 0xFF  # inside the second block
    bad = tmp_path / HISTORY.name
    bad.write_bytes(bytes(data))
    read = wo.read_wandb_history(bad, bad.name)
    assert read.log.damaged and "checksum mismatch" in read.log.detail
    assert 0 < read.counts["history"] < 300


def test_a_file_that_is_not_a_wandb_log(tmp_path):
    other = tmp_path / "run-x.wandb"
    other.write_bytes(b"PK\x03\x04 not a transaction log")
    read = wo.read_wandb_history(other, other.name)
    assert not read.log.ok and "no ':W&B' header" in read.log.detail


def _write_log(path: Path, payloads: list[bytes]) -> None:
    """LevelDB-log framing as wandb/sdk/internal/datastore.py writes it (FULL, or FIRST/MIDDLE/LAST over blocks)."""
    out = bytearray(struct.pack("<4sHB", b":W&B", 0xBEE1, 0))

    def chunk(kind: int, data: bytes) -> None:
        out.extend(struct.pack("<IHB", zlib.crc32(data, zlib.crc32(bytes([kind]))), len(data), kind) + data)

    for data in payloads:
        left = wo.BLOCK - len(out) % wo.BLOCK
        if left < 7:
            out.extend(b"\0" * left)
            left = wo.BLOCK
        if len(data) + 7 <= left:
            chunk(wo.FULL, data)
            continue
        chunk(wo.FIRST, data[: left - 7])
        data = data[left - 7 :]
        while len(data) + 7 > wo.BLOCK:
            chunk(wo.MIDDLE, data[: wo.BLOCK - 7])
            data = data[wo.BLOCK - 7 :]
        chunk(wo.LAST, data)
    path.write_bytes(bytes(out))


def _history(step: int, values: dict) -> bytes:
    record = wo.record_class()()
    for key, value in {**values, "_step": step}.items():
        item = record.history.item.add()
        item.key, item.value_json = key, json.dumps(value)
    return record.SerializeToString()


def test_records_split_over_blocks_and_nested_values(tmp_path):
    wide = {f"probe/class_{i:04d}": i / 7 for i in range(3000)}  # one ~100 kB record: FIRST, MIDDLE..., LAST
    payloads = [_history(0, {"train/loss": 1.5, "eval": {"knn": 0.25}}), _history(1, wide), _history(2, {"x": True})]
    path = tmp_path / "run-abc.wandb"
    _write_log(path, payloads)
    read = wo.read_wandb_history(path, path.name)
    assert not read.log.damaged and read.counts["history"] == 3
    table = read.log.frame
    assert len(table) == 2 + 3000
    assert table[table["tag"] == "probe/class_2999"]["value"].item() == 2999 / 7
    assert table[table["tag"] == "eval.knn"]["value"].item() == 0.25  # nested dicts: W&B's "a.b" keys
    assert "1 bool" in read.log.detail  # not a scalar, counted


def test_tags_also_in_tensorboard_are_taken_from_tensorboard(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(HJEPA, run, ignore=shutil.ignore_patterns("reference"))
    folder = run / "logs" / "wandb" / "offline-run-20261201_101500-abc123"
    folder.mkdir(parents=True)
    _write_log(folder / "run-abc123.wandb", [_history(s, {"train/loss": 9.0, "wandb_only": s}) for s in range(5)])
    base = collect_run(HJEPA)
    mixed = collect_run(run)
    assert len(mixed.scalars.series("train/loss")) == len(base.scalars.series("train/loss"))  # no double curve
    assert mixed.scalars.has("wandb_only") and mixed.layout == "hjepa"
    record = {f.path: f for f in mixed.files}["logs/wandb/offline-run-20261201_101500-abc123/run-abc123.wandb"]
    assert "also in the run's other logs are taken from those (train/loss)" in record.detail


def test_without_the_wandb_package_the_history_is_listed_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(wo, "record_class", lambda: None)
    with pytest.raises(RunDirError, match=r"nothing usable .* \(W&B history not read: the wandb package is not"):
        collect_run(RUN)  # a W&B-only run: the one-line error says what to install
    run = tmp_path / "run"
    shutil.copytree(RUN, run, symlinks=True)
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
    record = {f.path: f for f in collect_run(run).files}[_rel(HISTORY)]
    assert record.status == "skipped" and record.detail == wo.WANDB_MISSING
    assert "pip install 'hjepa-report[wandb]'" in wo.WANDB_MISSING


@pytest.mark.slow
def test_a_minimal_report_of_the_wandb_run_has_no_error_section(tmp_path):
    from hjepa_report.pipeline import generate
    from hjepa_report.settings import ReportSettings

    _, _, json_path = generate(RUN, ReportSettings(output=tmp_path / "report.html", quiet=True, minimal=True))
    report = json.loads(Path(json_path).read_text())
    status = {s["name"]: s["status"] for s in report["sections"]}
    assert "error" not in status.values() and status["training"] == "ok" and status["schedules"] == "ok"
    overview = next(s for s in report["sections"] if s["name"] == "overview")
    assert overview["metrics"]["status"][0]["state"] == "completed"
    assert any(n.startswith("Run status: W&B: completed (exit code 0)") for n in overview["notes"])


def test_damaged_or_hostile_history_files_never_raise(tmp_path):
    """Fuzzing (hypothesis, seeded): the fixture cut, bytes flipped, spliced; random framed payloads."""
    pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    seed = HISTORY.read_bytes()[:40000]  # the header, the first block and a record split over the boundary

    @st.composite
    def mutated(draw):
        data = bytearray(seed[: draw(st.integers(0, len(seed)))] if draw(st.booleans()) else seed)
        for _ in range(draw(st.integers(0, 8))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)

    path = tmp_path / "run-fuzz.wandb"

    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]

    @settings(max_examples=100, derandomize=True, deadline=None, database=None, suppress_health_check=quiet)
    @given(st.one_of(mutated(), st.lists(st.binary(max_size=200), max_size=20)))
    def check(data):
        if isinstance(data, list):
            _write_log(path, data)
        else:
            path.write_bytes(data)
        read = wo.read_wandb_history(path, path.name)
        assert isinstance(read.log.detail, str)
        if read.log.ok:
            assert list(read.log.frame.columns) == ["source", "tag", "step", "value", "wall_time"]

    check()
