"""The tidy scalar table: every logged number of a run in one place.

Columns: source (file it came from, relative to the run dir), tag, step, value, wall_time (seconds since
the epoch, NaN when the log has none). NaN and inf values are kept: they are findings, not noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

COLUMNS = ["source", "tag", "step", "value", "wall_time"]


@dataclass
class ScalarTable:
    """All scalars of a run as one long-format pandas DataFrame."""

    frame: pd.DataFrame

    @classmethod
    def empty(cls) -> ScalarTable:
        """Return a table with the right columns and no rows."""
        return cls(_typed(pd.DataFrame({c: [] for c in COLUMNS})))

    @classmethod
    def concat(cls, frames: list[pd.DataFrame]) -> ScalarTable:
        """Stack per-source frames (each with COLUMNS) into one table."""
        frames = [f for f in frames if len(f)]
        if not frames:
            return cls.empty()
        return cls(_typed(pd.concat([f[COLUMNS] for f in frames], ignore_index=True)))

    def __len__(self) -> int:
        return len(self.frame)

    def tags(self) -> list[str]:
        """Return every tag, sorted."""
        return sorted(self.frame["tag"].unique().tolist())

    def has(self, tag: str) -> bool:
        """Tell whether any point was logged under `tag`."""
        return bool((self.frame["tag"] == tag).any())

    def series(self, tag: str) -> pd.DataFrame:
        """Return the points of one tag sorted by step (stable, so same-step points keep file order)."""
        sub = self.frame[self.frame["tag"] == tag]
        return sub.sort_values("step", kind="stable").reset_index(drop=True)

    def arrays(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """Return (steps, values) of one tag as float arrays sorted by step."""
        s = self.series(tag)
        return s["step"].to_numpy(dtype=float), s["value"].to_numpy(dtype=float)

    def value_at(self, tag: str, step) -> float | None:
        """The last value of `tag` logged at or before `step` (None when there is none, or no step)."""
        if step is None or not self.has(tag):
            return None
        steps, values = self.arrays(tag)
        before = steps <= step
        return float(values[before][-1]) if before.any() else None

    def summary(self, tag: str) -> dict:
        """Summarise one tag: count, first/last step, first/last/min/max value, nan/inf counts."""
        steps, values = self.arrays(tag)
        finite = np.isfinite(values)
        fv = values[finite]
        return {
            "count": int(len(values)),
            "first_step": _num(steps[0]) if len(steps) else None,
            "last_step": _num(steps[-1]) if len(steps) else None,
            "first": _num(values[0]) if len(values) else None,
            "last": _num(values[-1]) if len(values) else None,
            "min": _num(fv.min()) if len(fv) else None,
            "max": _num(fv.max()) if len(fv) else None,
            "nan": int(np.isnan(values).sum()),
            "inf": int(np.isinf(values).sum()),
            "sources": sorted(self.series(tag)["source"].unique().tolist()),
        }


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype({"source": str, "tag": str, "step": "float64", "value": "float64", "wall_time": "float64"})


def _num(x: float):
    """Return a JSON-friendly number: int when integral, None for NaN, 'inf'/'-inf' strings for infinities."""
    x = float(x)
    if np.isnan(x):
        return None
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return int(x) if x.is_integer() and abs(x) < 2**53 else x
