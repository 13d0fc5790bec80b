"""What a log reader hands back, and a compact per-tag point buffer the readers share.

Every reader (TensorBoard, CSV, JSON) returns a `LogRead`: the points it took as a tidy frame (the
`ScalarTable` columns) and one short human sentence for the file inventory. A reader that finds nothing
usable returns `frame=None` and says why; readers never raise on bad content.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .scalars import COLUMNS


@dataclass
class LogRead:
    """The result of reading one log file: its points (None when skipped) and what happened, in words."""

    kind: str  # tensorboard | csv | jsonl | json
    frame: pd.DataFrame | None
    detail: str
    flavour: str = ""  # which writer's format was recognised: ijepa | lightning | "" (generic)
    damaged: bool = False  # the file was cut short or corrupt; `frame` holds what came before the damage

    @property
    def ok(self) -> bool:
        return self.frame is not None


class TagPoints:
    """Per-tag (step, value, wall_time) columns kept as packed C doubles while reading.

    `array('d')` stores 8 bytes per number and appends in amortised O(1), so a million points cost ~24 MB
    instead of the ~100 MB of Python float objects in lists.
    """

    def __init__(self) -> None:
        self._cols: dict[str, tuple[array, array, array]] = {}

    def add(self, tag: str, step: float, value: float, wall_time: float = float("nan")) -> None:
        """Append one point to `tag`."""
        steps, values, walls = self.columns(tag)
        steps.append(step)
        values.append(value)
        walls.append(wall_time)

    def columns(self, tag: str) -> tuple[array, array, array]:
        """Return the (steps, values, wall_times) columns of `tag`, for readers that append in a hot loop."""
        cols = self._cols.get(tag)
        if cols is None:
            cols = self._cols[tag] = (array("d"), array("d"), array("d"))
        return cols

    def __len__(self) -> int:
        return sum(len(c[0]) for c in self._cols.values())

    def tags(self) -> list[str]:
        return sorted(self._cols)

    def frame(self, source: str) -> pd.DataFrame:
        """Return all points as one frame with the ScalarTable columns, tags in first-seen order."""
        parts = []
        for tag, (steps, values, walls) in self._cols.items():
            n = len(steps)
            parts.append(
                pd.DataFrame(
                    {
                        "source": [source] * n,
                        "tag": [tag] * n,
                        "step": np.frombuffer(steps, dtype=np.float64).copy(),
                        "value": np.frombuffer(values, dtype=np.float64).copy(),
                        "wall_time": np.frombuffer(walls, dtype=np.float64).copy(),
                    }
                )
            )
        if not parts:
            return pd.DataFrame({c: [] for c in COLUMNS})
        return pd.concat(parts, ignore_index=True)[COLUMNS]


MAX_LINE_CHARS = 1 << 20  # a log line longer than this (1 Mi characters) is skipped, never held whole


class BoundedLines:
    """The lines of a text file, each at most `limit` characters: longer ones are skipped and counted.

    A file's "line" can be gigabytes (a log whose newlines were lost, a binary file named .csv); iterating the
    file object would hold it whole. A line over the limit is read through in chunks of `limit` and dropped.
    """

    def __init__(self, fh, limit: int = MAX_LINE_CHARS) -> None:
        self.fh, self.limit, self.overlong = fh, limit, 0

    def __iter__(self):
        while True:
            line = self.fh.readline(self.limit + 1)
            if not line:
                return
            if len(line) > self.limit:
                self.overlong += 1
                while line and not line.endswith("\n"):
                    line = self.fh.readline(self.limit)
                continue
            yield line

    def note(self) -> str:
        """Say how many lines were skipped for their length ('' when none)."""
        n = self.overlong
        return f"; {n} line{'s' if n != 1 else ''} over {self.limit >> 20} Mi characters skipped" if n else ""


def bounded_lines(fh, limit: int = MAX_LINE_CHARS) -> BoundedLines:
    """Return BoundedLines over an open text file (see there)."""
    return BoundedLines(fh, limit)


def count_phrase(n_tags: int, n_points: int) -> str:
    """Say '12 scalar tags, 226 points' with the right plurals."""
    return f"{n_tags} scalar tag{'s' if n_tags != 1 else ''}, {n_points} point{'s' if n_points != 1 else ''}"
