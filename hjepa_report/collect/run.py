"""What the collector found in a run directory: plain records, no analysis, no HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .scalars import ScalarTable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass
class FileRecord:
    """One file below the run directory and what the collector did with it."""

    path: str  # relative to the run directory (or absolute when given from outside it)
    kind: str  # tensorboard | csv | jsonl | json | checkpoint | image | config | foreground | wandb | other
    status: str  # read | skipped
    detail: str  # what was taken from it, or why it was skipped
    size: int = 0


@dataclass
class CheckpointRef:
    """A checkpoint file, described without loading its tensors."""

    path: Path
    name: str
    size: int
    format: str  # torch | safetensors
    epoch: int | None = None  # training epoch as stored in (or implied by) the file, 0-based where known
    step: int | None = None
    role: str = "epoch"  # epoch | latest | best | other
    top_level_keys: list[str] = field(default_factory=list)
    param_counts: dict[str, int] = field(default_factory=dict)  # sub-model -> number of values
    dtypes: list[str] = field(default_factory=list)
    same_as: str | None = None  # name of a byte-identical checkpoint already listed
    note: str = ""  # e.g. the I-JEPA off-by-one, or why the file could not be inspected
    metadata: dict[str, Any] = field(default_factory=dict)  # small scalar fields (loss, lr, metrics, ...)
    readable: bool = True  # False when the file could not be loaded safely or at all (why: see note)


@dataclass
class RunStatus:
    """How the training run stands, as its own files say (stable-pretraining's sidecar.json, W&B's exit record)."""

    state: str  # running | completed | failed | stale (said running, heartbeat too old) | unknown
    line: str  # one sentence for the overview: the state, where it was read, and why when it is not plain
    source: str  # the file it was read from, relative to the run dir


@dataclass
class ImageRef:
    """A sample image and its class label (the name of its sub-folder, if any)."""

    path: Path
    label: str | None = None


@dataclass
class ClipRef:
    """A sample clip: a folder of frames (`clips/<name>/*.png`, in file-name order) or a video file
    (`clips/<name>.mp4`), with its class label when it lies one folder deeper (collect/clips.py)."""

    name: str
    frames: list[Path] = field(default_factory=list)
    label: str | None = None
    video: Path | None = None  # the video file, when the clip is one (frames then empty)


@dataclass
class Run:
    """Everything the collector found in one run directory."""

    root: Path
    name: str
    layout: str  # hjepa | ijepa | generic
    layout_reason: str
    config: dict[str, Any] | None = None
    config_path: Path | None = None
    scalars: ScalarTable = field(default_factory=ScalarTable.empty)
    checkpoints: list[CheckpointRef] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)
    # bool [H, W] foreground mask per sample image, keyed by the image's resolved path (collect/foreground.py)
    foreground: dict[Path, np.ndarray] = field(default_factory=dict)
    files: list[FileRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # points left out of `scalars` because they mean "not computed" (collect/placeholders.py): tag -> count
    placeholders: dict[str, int] = field(default_factory=dict)
    wandb_runs: dict[str, int] = field(default_factory=dict)  # W&B run folder -> its files
    statuses: list[RunStatus] = field(default_factory=list)  # the run's state, per file that tells it
    clips: list[ClipRef] = field(default_factory=list)  # sample clips for video runs (V-JEPA): frames or videos

    def relative_name(self, path: str | Path) -> str:
        """Return a path relative to the run directory when it lies inside, else its file name."""
        try:
            return Path(path).resolve().relative_to(Path(self.root).resolve()).as_posix()
        except ValueError:
            return Path(path).name

    def unique_checkpoints(self) -> list[CheckpointRef]:
        """Return the checkpoints without byte-identical copies (latest/best duplicating an epoch file)."""
        return [c for c in self.checkpoints if c.same_as is None]

    def latest_checkpoint(self) -> CheckpointRef | None:
        """Return the checkpoint of the latest training state (highest epoch/step; 'latest' wins ties).

        Checkpoints that could not be read safely are never chosen, and a byte copy (checkpoint_latest.pth of
        checkpoint_epoch_0023.pth) stands back for its original, so sweeps over the unique checkpoints reuse the
        same network instead of loading and encoding it a second time.
        """
        candidates = [c for c in self.unique_checkpoints() if c.readable]
        if not candidates:
            return None

        def key(c: CheckpointRef):
            return (c.epoch if c.epoch is not None else -1, c.step if c.step is not None else -1, c.role == "latest")

        return max(candidates, key=key)
