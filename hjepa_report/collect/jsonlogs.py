"""Read scalars from JSON logs: JSON lines (*.jsonl, or *.json / *.log whose lines are objects) and JSON files.

Shapes understood:
- records, one per line or as a JSON list: `{"step": 10, "loss": 0.5, "train": {"acc": 0.9}}`; every numeric
  field is a tag (nested dicts flattened with "/"), the step comes from the record's first field among
  STEP_FIELDS, else from the record's index (the detail says which);
- a dict of lists: `{"train_loss": [...], "val_loss": [...]}` (the predecessor toolkit's format); each list of
  numbers is a tag, the step is the list index, or the values of a `step`/`epoch` list of the same length.
`wall_time` / `timestamp` fields are taken as the wall time, not as tags. Lines that are not JSON objects
(broken, nested deeper than the parser's recursion limit, integers of over 4300 digits, which Python refuses
to parse) and lines over MAX_LINE_CHARS are counted and skipped; integers beyond the float range read as
+-inf; nothing here raises on bad content.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .logread import LogRead, TagPoints, bounded_lines, count_phrase

STEP_FIELDS = ("step", "global_step", "iteration", "iter", "epoch")
WALL_FIELDS = ("wall_time", "timestamp")
MAX_JSON_BYTES = 256 * 2**20  # a whole-file JSON is parsed in memory; bigger ones are skipped, with a note
MAX_DEPTH = 32  # nested dicts below this many levels are not searched for numbers (no real log nests so deep)


def read_json_log(path: Path, source: str) -> LogRead:
    """Read a *.json / *.jsonl / *.log file; return its points or why it was skipped."""
    kind = "jsonl" if path.suffix in (".jsonl", ".log") else "json"
    try:
        if kind == "json":
            if path.stat().st_size > MAX_JSON_BYTES:
                return LogRead(kind, None, f"JSON file over {MAX_JSON_BYTES >> 20} MB not parsed")
            text = path.read_text(encoding="utf-8", errors="replace")
            try:
                return _read_document(json.loads(text), source)
            except RecursionError:
                return LogRead(kind, None, "JSON nested too deeply to read")
            except ValueError:  # not one JSON document (JSONDecodeError), or an integer of over 4300 digits
                return _read_lines(text.splitlines(), source, "jsonl")
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = bounded_lines(fh)
            read = _read_lines(lines, source, kind)
        read.detail += lines.note()
        return read
    except OSError as exc:
        return LogRead(kind, None, f"unreadable: {exc.strerror or exc}")


def _read_document(doc, source: str) -> LogRead:
    """Read a whole-file JSON document: a list of records or a dict of metric lists."""
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        return _records(doc, source, "json", skipped=0)
    if isinstance(doc, dict):
        return _metric_lists(doc, source)
    return LogRead("json", None, "JSON without metric lists or records")


def _read_lines(lines, source: str, kind: str) -> LogRead:
    """Read JSON lines; lines that are not JSON objects are counted and skipped."""
    records, skipped = [], 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line) if line.startswith("{") else None
        except (ValueError, RecursionError):  # broken JSON, a 4300+ digit integer, nesting deeper than ~1000
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            skipped += 1
    if not records:
        return LogRead(kind, None, "no JSON object lines")
    return _records(records, source, kind, skipped)


def _records(records: list[dict], source: str, kind: str, skipped: int) -> LogRead:
    """Turn records into points; say where the step came from."""
    points = TagPoints()
    step_sources: set[str] = set()
    for index, record in enumerate(records):
        flat = dict(_flatten(record))
        step_field = next((f for f in STEP_FIELDS if f in flat), None)
        step_sources.add(f"field '{step_field}'" if step_field else "the record index")
        step = flat.pop(step_field) if step_field else float(index)  # already a float (_flatten)
        wall = next((flat.pop(f) for f in WALL_FIELDS if f in flat), math.nan)
        for tag, value in flat.items():
            points.add(tag, step, value, wall)
    if not len(points):
        return LogRead(kind, None, "JSON records without numeric fields")
    detail = f"{count_phrase(len(points.tags()), len(points))}; step from {' or '.join(sorted(step_sources))}"
    if skipped:
        detail += f"; {skipped} non-JSON line{'s' if skipped != 1 else ''} skipped"
    return LogRead(kind, points.frame(source), detail)


def _metric_lists(doc: dict, source: str) -> LogRead:
    """Read {"tag": [numbers], ...}; the step is a same-length step/epoch list, else the index."""
    lists = {k: v for k, v in doc.items() if isinstance(v, list) and v and all(_is_number(x) for x in v)}
    step_key = next((f for f in STEP_FIELDS if f in lists), None)
    steps = lists.pop(step_key) if step_key else None
    points = TagPoints()
    for tag, values in lists.items():
        use_steps = steps if steps is not None and len(steps) == len(values) else range(len(values))
        for step, value in zip(use_steps, values, strict=True):
            points.add(tag, _as_float(step), _as_float(value))
    if not len(points):
        return LogRead("json", None, "JSON without metric lists or records")
    where = f"the '{step_key}' list" if step_key else "the list index"
    return LogRead("json", points.frame(source), f"{count_phrase(len(lists), len(points))}; step from {where}")


def _flatten(record: dict, prefix: str = "", depth: int = 0):
    """Yield (name, float) for every numeric field, nested dicts joined with '/' (down to MAX_DEPTH levels)."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if depth < MAX_DEPTH:
                yield from _flatten(value, name + "/", depth + 1)
        elif _is_number(value):
            yield name, _as_float(value)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _as_float(x: int | float) -> float:
    """float(x), with integers beyond the float range (JSON allows any number of digits) as +-inf."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf
