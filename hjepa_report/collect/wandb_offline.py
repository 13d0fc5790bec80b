"""Read a W&B run's history file (`run-<id>.wandb`): its logged scalars and how the run ended.

The file is a transaction log of `wandb_internal_pb2.Record` protobufs in LevelDB's log framing, as both
writers lay it out (wandb/sdk/internal/datastore.py, wandb-core core/pkg/leveldb/record.go and
core/internal/transactionlog/writer.go, wandb/wandb @ b6e2950):
    header  := ident ':W&B' (4 bytes), magic 0xBEE1 (uint16 LE), version 0 (uint8)
    then 32 KiB blocks of chunks; a chunk never crosses a block (fewer than 7 bytes left: zero padding)
    chunk   := crc32 (uint32 LE, IEEE, over the type byte and the data), length (uint16 LE), type (uint8),
               data; type FULL = 1 holds a whole record, FIRST = 2, MIDDLE = 3, LAST = 4 split one.
We do the framing here, read-only (wandb's own DataStore opens the file for writing, 'r+b', which a read-only
run directory refuses, and stops on the first bad chunk with an AssertionError), and parse each record with the
wandb package's own protobuf class, the maintained definition of the format (optional extra `[wandb]`,
imported lazily). Records used: `history` (one per `wandb.log` step: items `key` or `nested_key` with
`value_json`; `_step`, `_timestamp`, `_runtime` are W&B's own), `run` (id, name) and `exit` (exit code: the
run's status). A damaged or cut-short file yields the records before the damage and a note, never a crash.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .logread import LogRead, TagPoints, count_phrase
from .run import RunStatus

HEADER = struct.Struct("<4sHB")
IDENT, MAGIC, VERSION = b":W&B", 0xBEE1, 0
CHUNK = struct.Struct("<IHB")
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
MAX_RECORD_BYTES = 64 << 20  # a history step is ~100 B to a few kB; a longer chain of chunks is damage
_CRC_SEED = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}
WANDB_MISSING = "W&B history not read: the wandb package is not installed (pip install 'hjepa-report[wandb]')"


def is_history_file(rel: str) -> bool:
    """Tell whether a file of a W&B run folder is its history (`run-<id>.wandb`)."""
    name = rel.rsplit("/", 1)[-1]
    return name.startswith("run-") and name.endswith(".wandb")


class Chunks:
    """The record payloads of a LevelDB-log file, in order; `damage` says why reading stopped early ('' if not)."""

    def __init__(self, fh) -> None:
        self.fh, self.damage, self.offset = fh, "", 0

    def __iter__(self):
        head = self.fh.read(HEADER.size)
        if len(head) < HEADER.size or HEADER.unpack(head) != (IDENT, MAGIC, VERSION):
            self.damage = "not a W&B transaction log (no ':W&B' header)"
            return
        self.offset, pending = HEADER.size, None
        while True:
            left = BLOCK - self.offset % BLOCK
            if left < CHUNK.size:  # the writer pads the end of a block with zeros
                self.offset += len(self.fh.read(left))
                continue
            head = self.fh.read(CHUNK.size)
            if not head:
                self.damage = "the last record is cut short" if pending is not None else ""
                return
            kind, data = self._chunk(head, left)
            if kind is None:
                return
            if kind == 0:  # zeroed space the writer pre-allocated: the rest of the block is empty
                self.offset += len(self.fh.read(left - CHUNK.size))
                continue
            if kind == FULL and pending is None:
                yield data
            elif kind == FIRST and pending is None:
                pending = bytearray(data)
            elif kind in (MIDDLE, LAST) and pending is not None:
                pending += data
                if len(pending) > MAX_RECORD_BYTES:
                    self.damage = f"a record of over {MAX_RECORD_BYTES >> 20} MiB at byte {self.offset}"
                    return
                if kind == LAST:
                    yield bytes(pending)
                    pending = None
            else:
                self.damage = f"chunk of type {kind} out of order at byte {self.offset}"
                return

    def _chunk(self, head: bytes, left: int) -> tuple[int | None, bytes]:
        """Read one chunk after its 7-byte header; (None, b'') with `damage` set when it is broken."""
        start = self.offset
        if len(head) < CHUNK.size:
            self.damage = f"cut short at byte {start}"
            return None, b""
        crc, length, kind = CHUNK.unpack(head)
        if crc == 0 and length == 0 and kind == 0:
            self.offset += CHUNK.size
            return 0, b""
        if kind not in _CRC_SEED or CHUNK.size + length > left:
            self.damage = f"bad chunk header at byte {start}"
            return None, b""
        data = self.fh.read(length)
        if len(data) < length:
            self.damage = f"cut short at byte {start}"
            return None, b""
        if zlib.crc32(data, _CRC_SEED[kind]) != crc:
            self.damage = f"checksum mismatch at byte {start}"
            return None, b""
        self.offset += CHUNK.size + length
        return kind, data


@dataclass
class WandbHistory:
    """What a `run-<id>.wandb` file held: its scalars (as a LogRead) and the run's status from its exit record."""

    log: LogRead
    status: RunStatus | None = None
    run_id: str = ""
    counts: Counter = field(default_factory=Counter)  # record type -> records


def record_class():
    """The wandb package's Record protobuf class, or None when wandb is not installed."""
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError:
        return None
    return wandb_internal_pb2.Record


def read_wandb_history(path: Path, source: str) -> WandbHistory:
    """Read the history, run and exit records of one `.wandb` file; never raises on bad content."""
    record_type = record_class()
    if record_type is None:
        return WandbHistory(LogRead("wandb", None, WANDB_MISSING))
    reader = _HistoryReader(record_type, source)
    try:
        with open(path, "rb") as fh:
            chunks = Chunks(fh)
            for payload in chunks:
                reader.take(payload)
    except OSError as exc:
        return WandbHistory(LogRead("wandb", None, f"unreadable: {exc.strerror or exc}"))
    return reader.result(chunks.damage)


class _HistoryReader:
    """Turn Record payloads into points (history), the run's id and its exit (status)."""

    def __init__(self, record_type, source: str) -> None:
        self.record_type, self.source = record_type, source
        self.points, self.counts, self.skipped = TagPoints(), Counter(), Counter()
        self.run_id, self.exit, self.unparsed = "", None, 0

    def take(self, payload: bytes) -> None:
        record = self.record_type()
        try:
            record.ParseFromString(payload)
        except Exception:  # google.protobuf.message.DecodeError, or a RuntimeWarning-turned error: damage
            self.unparsed += 1
            return
        kind = record.WhichOneof("record_type") or "none"
        self.counts[kind] += 1
        if kind == "history":
            self._history(record.history)
        elif kind == "run":
            self.run_id = record.run.run_id
        elif kind == "exit":
            self.exit = (record.exit.exit_code, record.exit.runtime)

    def _history(self, history) -> None:
        """One logged step: every numeric item is a point at `_step`, with `_timestamp` as its wall time."""
        values = {}
        for item in history.item:
            key = item.key or ".".join(item.nested_key)
            try:  # a number's JSON text (NaN and Infinity included) is what float() parses, 3x faster than json
                values[key] = float(item.value_json)
                continue
            except ValueError:
                pass
            try:
                values[key] = json.loads(item.value_json)
            except (ValueError, RecursionError):
                self.skipped["unparseable JSON"] += 1
        step = values.get("_step", history.step.num)
        wall = values.get("_timestamp", math.nan)
        step = float(step) if _is_number(step) else float(history.step.num)
        wall = float(wall) if _is_number(wall) else math.nan
        for key, value in values.items():
            if not key.startswith("_"):
                self._value(key, value, step, wall)

    def _value(self, key: str, value, step: float, wall: float, depth: int = 0) -> None:
        if _is_number(value):
            self.points.add(key, step, float(value), wall)
        elif isinstance(value, dict) and "_type" in value:  # media, histograms, tables: not scalars
            self.skipped[str(value["_type"])] += 1
        elif isinstance(value, dict) and depth < 8:  # a nested dict logs as "a.b" in W&B
            for sub, v in value.items():
                self._value(f"{key}.{sub}", v, step, wall, depth + 1)
        else:
            self.skipped[type(value).__name__] += 1

    def result(self, damage: str) -> WandbHistory:
        steps = self.counts.get("history", 0)
        detail = f"W&B history: {count_phrase(len(self.points.tags()), len(self.points))} from {steps} logged steps"
        detail += f" (run {self.run_id})" if self.run_id else ""
        if self.skipped:
            detail += "; not scalars, not read: " + ", ".join(f"{n} {k}" for k, n in sorted(self.skipped.items()))
        if self.unparsed:
            detail += f"; {self.unparsed} record{'s' if self.unparsed != 1 else ''} not parseable, skipped"
        if damage:
            detail += f"; {damage}: the records before it were read"
        frame = self.points.frame(self.source) if len(self.points) else None
        if frame is None:
            counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items())) or "no records"
            detail = f"W&B history without numeric values ({counts})" + (f"; {damage}" if damage else "")
        log = LogRead("wandb", frame, detail, flavour="wandb", damaged=bool(damage))
        return WandbHistory(log, _status(self.exit, self.source, damage), self.run_id, self.counts)


def drop_logged_elsewhere(logs: dict[str, LogRead], records: list) -> None:
    """Leave out of each W&B history the tags another log of the run has too, and say so in its file record.

    H-JEPA's MetricsLogger sends every metric to TensorBoard and to W&B (jonwiggins/H-JEPA @ eb995a0,
    src/utils/logging.py): both copies in one table would draw each curve twice. The other log wins: it is the
    trainer's own, and W&B's history is what the run falls back on when it logged nowhere else.
    """
    other: set[str] = set()
    for read in logs.values():
        if read.ok and read.kind != "wandb":
            other.update(read.frame["tag"].unique())
    for source, read in logs.items():
        if not (read.ok and read.kind == "wandb"):
            continue
        shared = sorted(other.intersection(read.frame["tag"].unique()))
        if not shared:
            continue
        read.frame = read.frame[~read.frame["tag"].isin(shared)].reset_index(drop=True)
        note = f"; {len(shared)} of its tags also in the run's other logs are taken from those ({', '.join(shared[:6])}"
        note += ", ...)" if len(shared) > 6 else ")"
        for record in records:
            if record.path == source:
                record.detail += note
        if read.frame.empty:
            read.frame = None


def _status(exit_record, source: str, damage: str) -> RunStatus:
    """The run's state from its exit record: exit code 0 completed, another failed, none: running or killed."""
    if exit_record is None:
        return RunStatus(
            "running",
            f"W&B: no exit record in {source}: the run is still running, or its process was killed before "
            "wandb.finish()" + (f" ({damage})" if damage else ""),
            source,
        )
    code, runtime = exit_record
    state = "completed" if code == 0 else "failed"
    return RunStatus(
        state, f"W&B: {state} (exit code {code}) after {runtime} s, from the exit record of {source}", source
    )


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
