"""Read the foreground masks a run stores for its sample images (this project's sample runs do).

`hjepa-report make-sample` writes one bool mask [H, W] per sample image (True = object pixel) into
sample_meta/foreground.npz, keyed by the image's path relative to the run dir (hjepa_report.sample.write).
The attention section compares the rollout's mass on the foreground with the foreground's share of the image
(analysis/attention/foreground.py); the collector reads the file, so the file inventory says what was taken.
Nothing here raises on bad content: an unreadable file is listed as skipped, with why.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FOREGROUND_FILE = "sample_meta/foreground.npz"  # relative to the run dir


@dataclass
class ForegroundRead:
    """What reading a foreground file gave: the masks by resolved image path, and one line about it."""

    masks: dict[Path, np.ndarray] = field(default_factory=dict)
    detail: str = ""
    ok: bool = False


def is_foreground_file(relative: str) -> bool:
    """Tell whether a file (path relative to the run dir) is the run's foreground-mask file."""
    return relative == FOREGROUND_FILE


def read_foreground(path: Path, root: Path) -> ForegroundRead:
    """Read the 2-D masks of a foreground .npz (no pickles), keyed by `root / key` resolved, as bool arrays."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: np.asarray(stored[key]) for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        return ForegroundRead(detail=f"unreadable foreground masks: {exc}".splitlines()[0])
    masks = {(root / key).resolve(): array.astype(bool) for key, array in arrays.items() if array.ndim == 2}
    if not masks:
        return ForegroundRead(detail="no 2-D foreground mask in the file")
    shapes = sorted({f"{m.shape[0]}x{m.shape[1]}" for m in masks.values()})
    left_out = len(arrays) - len(masks)
    detail = (
        f"foreground masks of {len(masks)} images (bool {', '.join(shapes)}), keyed by image path, for the "
        f"attention section's rollout-on-foreground check"
    )
    if left_out:
        detail += f"; {left_out} entries that are not 2-D masks left out"
    return ForegroundRead(masks=masks, detail=detail, ok=True)
