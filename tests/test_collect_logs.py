"""Log readers: TensorBoard (written by torch's SummaryWriter and hand-framed), CSV and JSON logs, bad input."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from hjepa_report.collect.csvlogs import read_csv_log
from hjepa_report.collect.jsonlogs import read_json_log
from hjepa_report.collect.tensorboard import read_event_file


def _series(frame, tag):
    sub = frame[frame["tag"] == tag].sort_values("step", kind="stable")
    return sub["step"].tolist(), sub["value"].tolist()


@pytest.fixture(scope="module")
def summary_writer_file(tmp_path_factory):
    """An event file written by torch.utils.tensorboard with simple and tensor-encoded scalars, NaN, inf, images."""
    from torch.utils.tensorboard import SummaryWriter

    folder = tmp_path_factory.mktemp("tb")
    writer = SummaryWriter(str(folder))
    for step in range(5):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
        writer.add_scalar("val/acc", 0.5 + step / 10, step, new_style=True)  # tensor + plugin "scalars"
    writer.add_scalar("train/loss", float("nan"), 5)
    writer.add_scalar("train/loss", float("inf"), 6)
    writer.add_image("samples", np.zeros((3, 8, 8), dtype=np.uint8), 0)
    writer.add_histogram("weights", np.arange(10.0), 0)
    writer.close()
    return next(folder.glob("events.out.tfevents.*"))


def test_summary_writer_scalars_simple_and_tensor_encoded(summary_writer_file):
    result = read_event_file(summary_writer_file, "tb/events")
    assert result.ok
    assert sorted(result.frame["tag"].unique()) == ["train/loss", "val/acc"]
    steps, values = _series(result.frame, "train/loss")
    assert steps == [0, 1, 2, 3, 4, 5, 6]
    assert values[:5] == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert math.isnan(values[5]) and values[6] == math.inf  # kept: they are findings
    assert _series(result.frame, "val/acc")[1] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    assert result.frame["wall_time"].gt(1e9).all()
    assert set(result.frame["source"]) == {"tb/events"}
    assert "2 scalar tags, 12 points" in result.detail
    assert "1 image tag" in result.detail and "1 histogram tag" in result.detail


def _frame_record(data: bytes) -> bytes:
    """Frame one TFRecord (length, masked crc of length, data, masked crc of data)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


def _tensor_event(step, tag, dtype, plugin="scalars", **fields):
    from tensorboard.compat.proto.event_pb2 import Event

    event = Event(step=step, wall_time=1.0e9)
    value = event.summary.value.add(tag=tag)
    if plugin:
        value.metadata.plugin_data.plugin_name = plugin
    value.tensor.dtype = dtype
    for name, content in fields.items():
        if name == "tensor_content":
            value.tensor.tensor_content = content
        else:
            getattr(value.tensor, name).extend(content)
    return event.SerializeToString()


def test_tensor_scalars_of_every_dtype(tmp_path):
    half_bits = int(np.array([1.5], dtype=np.float16).view(np.uint16)[0])
    events = [
        _tensor_event(1, "a", 2, double_val=[0.25]),  # DT_DOUBLE
        _tensor_event(1, "b", 1, tensor_content=np.array([2.5], "<f4").tobytes()),  # DT_FLOAT as raw bytes
        _tensor_event(1, "c", 19, half_val=[half_bits]),  # DT_HALF bits in half_val
        _tensor_event(1, "d", 9, int64_val=[7]),  # DT_INT64
        _tensor_event(2, "a", 2, plugin="", double_val=[0.5]),  # later values carry no plugin name (TF2)
        _tensor_event(1, "text", 7, plugin="text", string_val=[b"hello"]),  # not a scalar
    ]
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(b"".join(_frame_record(e) for e in events))
    result = read_event_file(path, "x")
    assert _series(result.frame, "a") == ([1, 2], [0.25, 0.5])
    assert _series(result.frame, "b")[1] == [2.5]
    assert _series(result.frame, "c")[1] == [1.5]
    assert _series(result.frame, "d")[1] == [7.0]
    assert "1 text tag (not tabulated)" in result.detail


def test_truncated_event_file_keeps_records_before_the_cut(summary_writer_file, tmp_path):
    data = summary_writer_file.read_bytes()
    full = read_event_file(summary_writer_file, "x")
    cut = tmp_path / "events.out.tfevents.cut"
    cut.write_bytes(data[: len(data) - 7])  # cut into the last record
    result = read_event_file(cut, "x")
    assert result.ok
    assert "truncated event file" in result.detail
    assert 0 < len(result.frame) <= len(full.frame)


def test_corrupt_length_crc_stops_there(tmp_path):
    from tensorboard.compat.proto.event_pb2 import Event

    def scalar(step):
        e = Event(step=step, wall_time=1.0)
        e.summary.value.add(tag="loss", simple_value=float(step))
        return _frame_record(e.SerializeToString())

    good = scalar(0) + scalar(1)
    bad = bytearray(scalar(2))
    bad[8] ^= 0xFF  # flip a byte of the length CRC
    path = tmp_path / "events.out.tfevents.bad"
    path.write_bytes(good + bytes(bad) + scalar(3))
    result = read_event_file(path, "x")
    assert _series(result.frame, "loss") == ([0, 1], [0.0, 1.0])
    assert f"corrupt record length at byte {len(good)}: read 2 records before it" in result.detail


def test_garbage_and_empty_event_files_are_skipped_not_raised(tmp_path):
    junk = tmp_path / "events.out.tfevents.junk"
    junk.write_bytes(b"this is not a TFRecord file at all" * 3)
    empty = tmp_path / "events.out.tfevents.empty"
    empty.write_bytes(b"")
    assert not read_event_file(junk, "x").ok
    assert "corrupt record length at byte 0" in read_event_file(junk, "x").detail
    assert read_event_file(empty, "x").detail == "empty event file"


def test_ijepa_csv_with_resume_header_and_garbage(tmp_path):
    header = "epoch,itr,loss,mask-A,mask-B,time (ms)\n"
    rows = [f"{e},{i},{1.0 / (e * 10 + i):.5f},8.00000,12.00000,40\n" for e in (1, 2) for i in range(4)]
    text = header + "".join(rows[:4]) + "1,2,oops,8,12,40\n" + "garbage line\n" + header + "".join(rows[4:])
    path = tmp_path / "jepa_r0.csv"
    path.write_text(text)
    result = read_csv_log(path, "jepa_r0.csv")
    assert result.flavour == "ijepa"
    steps, values = _series(result.frame, "loss")
    assert steps == list(range(8))  # (epoch-1)*4 + itr
    assert values[5] == pytest.approx(1.0 / 21, abs=1e-5)
    assert sorted(result.frame["tag"].unique()) == ["loss", "mask-A", "mask-B", "time (ms)"]
    assert "(epoch-1)*4 + itr" in result.detail
    assert "1 repeated header line skipped" in result.detail and "2 garbage rows skipped" in result.detail


def test_lightning_metrics_csv_sparse_columns(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(
        "epoch,step,train_loss,val_loss,lr\n0,9,1.5,,0.1\n0,9,,1.7,\n0,19,1.2,,0.1\n1,19,,1.1,\nnot,a,row\n"
    )
    result = read_csv_log(path, "lightning_logs/version_0/metrics.csv")
    assert result.flavour == "lightning"
    assert _series(result.frame, "train_loss") == ([9, 19], [1.5, 1.2])
    assert _series(result.frame, "val_loss") == ([9, 19], [1.7, 1.1])
    assert _series(result.frame, "epoch")[1] == [0, 0, 0, 1]
    assert "step from column 'step'" in result.detail and "1 garbage row skipped" in result.detail


def test_csv_without_step_column_is_skipped(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("file,label\na.png,cat\n")
    result = read_csv_log(path, "labels.csv")
    assert not result.ok and "without a step-like column" in result.detail


def test_jsonl_log_with_nested_fields_and_bad_lines(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(
        '{"step": 10, "loss": 0.5, "val": {"acc": 0.8}, "phase": "train", "timestamp": 1700000000.0}\n'
        "not json\n"
        '{"step": 20, "loss": NaN}\n'
    )
    result = read_json_log(path, "log.jsonl")
    assert _series(result.frame, "loss")[0] == [10, 20]
    assert math.isnan(_series(result.frame, "loss")[1][1])
    assert _series(result.frame, "val/acc") == ([10], [0.8])
    assert "timestamp" not in set(result.frame["tag"])
    assert result.frame["wall_time"].iloc[0] == 1700000000.0
    assert "step from field 'step'" in result.detail and "1 non-JSON line skipped" in result.detail


def test_json_metric_lists_and_records(tmp_path):
    lists = tmp_path / "history.json"
    lists.write_text('{"train_loss": [3, 2, 1], "val_loss": [2.5, 1.5], "note": "x"}')
    result = read_json_log(lists, "history.json")
    assert _series(result.frame, "train_loss") == ([0, 1, 2], [3, 2, 1])
    assert "step from the list index" in result.detail
    records = tmp_path / "records.json"
    records.write_text('[{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}]')
    assert _series(read_json_log(records, "r.json").frame, "loss") == ([1, 2], [2.0, 1.0])
    text_log = tmp_path / "train.log"
    text_log.write_text("INFO starting\nINFO done\n")
    assert not read_json_log(text_log, "train.log").ok
