"""Read scalars from CSV training logs: I-JEPA `{tag}_r{rank}.csv`, Lightning `metrics.csv`, generic CSVs.

- I-JEPA (facebookresearch/ijepa, src/utils/logging.py CSVLogger): header `epoch,itr,loss,mask-A,mask-B,time (ms)`,
  epoch 1-based, itr 0-based, no global step. The file is opened in append mode, so a resumed run writes a
  second header line mid-file. We derive step = (epoch - 1) * iters_per_epoch + itr, where iters_per_epoch is
  the largest itr + 1 seen in the file (so an unfinished last epoch does not shrink it). Tags are the column
  names as written: `loss`, `mask-A`, `mask-B`, `time (ms)`.
- Lightning (`metrics.csv` of CSVLogger) and generic CSVs: the first step-like column (see STEP_COLUMNS) is
  the step; every other non-empty numeric cell is one point of the tag named by its column (Lightning writes
  train and val metrics on separate, sparse rows).
Rows with the wrong number of cells or a non-numeric step are skipped and counted; a repeated header is
skipped and counted, and so are rows the csv module cannot parse and lines over MAX_LINE_CHARS; a CSV of more
than MAX_COLUMNS columns is not read; nothing here raises on bad content. CSVs have no wall time (NaN in the table).
"""

from __future__ import annotations

import csv
from array import array
from pathlib import Path

from .logread import LogRead, TagPoints, bounded_lines, count_phrase

STEP_COLUMNS = ("step", "global_step", "iteration", "iter", "itr", "epoch")
_IJEPA_INDEX = ("epoch", "itr")
MAX_COLUMNS = 10_000  # a wider CSV is not a training log (a data table): one tag per column would not end


def read_csv_log(path: Path, source: str) -> LogRead:
    """Read one CSV log; return its points or why it was skipped."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            lines = bounded_lines(fh)
            rows = _Rows(csv.reader(lines))
            read = _read_rows(rows, source, path.name == "metrics.csv")
    except OSError as exc:
        return LogRead("csv", None, f"unreadable: {exc.strerror or exc}")
    read.detail += rows.note() + lines.note()
    return read


def _read_rows(rows, source: str, lightning: bool) -> LogRead:
    """Read the parsed rows of a CSV log: find the header, tell I-JEPA from step-indexed logs."""
    header = next((r for r in rows if any(c.strip() for c in r)), None)
    if header is None:
        return LogRead("csv", None, "empty CSV")
    if len(header) > MAX_COLUMNS:
        return LogRead("csv", None, f"CSV with {len(header)} columns (over {MAX_COLUMNS}): not read as a log")
    columns = [c.strip() for c in header]
    lowered = [c.lower() for c in columns]
    if lowered[:2] == list(_IJEPA_INDEX):
        return _read_ijepa(rows, header, columns, source)
    step_col = next((lowered.index(s) for s in STEP_COLUMNS if s in lowered), None)
    if step_col is None:
        return LogRead("csv", None, "CSV without a step-like column (step, global_step, iteration, epoch)")
    return _read_stepped(rows, header, columns, step_col, source, lightning)


class _Rows:
    """The rows of a csv.reader, skipping (and counting) the ones it cannot parse (a field over its limit)."""

    def __init__(self, reader) -> None:
        self.reader, self.bad = reader, 0

    def __iter__(self):
        return self

    def __next__(self) -> list[str]:
        while True:
            try:
                return next(self.reader)
            except csv.Error:  # the reader starts afresh on the next line
                self.bad += 1

    def note(self) -> str:
        n = self.bad
        return f"; {n} unparseable row{'s' if n != 1 else ''} skipped" if n else ""


def _read_ijepa(rows, header: list[str], columns: list[str], source: str) -> LogRead:
    """Read an I-JEPA CSV and derive the global step from epoch and itr."""
    epochs, itrs = array("d"), array("d")
    values: list[array] = [array("d") for _ in columns[2:]]
    garbage = headers = 0
    for row in rows:
        if row == header:
            headers += 1
            continue
        parsed = _floats(row, len(columns))
        if parsed is None or not (parsed[0] >= 1 and parsed[1] >= 0):
            garbage += int(any(c.strip() for c in row))
            continue
        epochs.append(parsed[0])
        itrs.append(parsed[1])
        for col, v in zip(values, parsed[2:], strict=False):
            col.append(v)
    if not epochs:
        return LogRead("csv", None, _with_counts("I-JEPA CSV without data rows", garbage, headers), "ijepa")
    per_epoch = int(max(itrs)) + 1
    points = TagPoints()
    for tag, col in zip(columns[2:], values, strict=True):
        for e, i, v in zip(epochs, itrs, col, strict=True):
            points.add(tag, (e - 1) * per_epoch + i, v)
    detail = (
        f"I-JEPA CSV: {count_phrase(len(points.tags()), len(points))}; step = (epoch-1)*{per_epoch} + itr "
        f"({per_epoch} iterations per epoch, the largest itr+1 seen)"
    )
    return LogRead("csv", points.frame(source), _with_counts(detail, garbage, headers), flavour="ijepa")


def _read_stepped(rows, header, columns, step_col: int, source: str, lightning: bool) -> LogRead:
    """Read a CSV whose `step_col` is the step; each other non-empty numeric cell is a point."""
    points = TagPoints()
    garbage = headers = 0
    for row in rows:
        if row == header:
            headers += 1
            continue
        if len(row) != len(columns):
            garbage += int(any(c.strip() for c in row))
            continue
        step = _float(row[step_col])
        if step is None:
            garbage += 1
            continue
        for j, cell in enumerate(row):
            if j != step_col and cell.strip():
                value = _float(cell)
                if value is not None:
                    points.add(columns[j], step, value)
    kind = "Lightning metrics.csv" if lightning else "CSV"
    what = f"{kind}: {count_phrase(len(points.tags()), len(points))}; step from column '{columns[step_col]}'"
    frame = points.frame(source) if len(points) else None
    detail = _with_counts(what if frame is not None else f"{kind} without numeric values", garbage, headers)
    return LogRead("csv", frame, detail, flavour="lightning" if lightning else "")


def _floats(row: list[str], n: int) -> list[float] | None:
    """Return the row as n floats, or None when it has another length or a non-numeric cell."""
    if len(row) != n:
        return None
    out = [_float(c) for c in row]
    return None if any(v is None for v in out) else out


def _float(cell: str) -> float | None:
    """Parse one cell as a float (nan/inf accepted: they are findings), else None."""
    try:
        return float(cell)
    except ValueError:
        return None


def _with_counts(detail: str, garbage: int, headers: int) -> str:
    """Append the skipped-row counts to a detail sentence."""
    if headers:
        detail += f"; {headers} repeated header line{'s' if headers != 1 else ''} skipped"
    if garbage:
        detail += f"; {garbage} garbage row{'s' if garbage != 1 else ''} skipped"
    return detail
