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


def count_phrase(n_tags: int, n_points: int) -> str:
    """Say '12 scalar tags, 226 points' with the right plurals."""
    return f"{n_tags} scalar tag{'s' if n_tags != 1 else ''}, {n_points} point{'s' if n_points != 1 else ''}"
