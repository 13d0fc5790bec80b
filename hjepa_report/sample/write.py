"""Write a sample run in the file layout of the public H-JEPA training code.

What H-JEPA writes, and what this module writes the same way (see tests/fixtures/hjepa_small/PROVENANCE.md):
- checkpoints/checkpoint_epoch_NNNN.pth (0-based epoch, 4 digits; the file's 'epoch' field equals NNNN), with
  keys epoch, model_state_dict, optimizer_state_dict, scheduler_state_dict {lr, ema_momentum},
  metrics {epoch: float, val_loss: numpy.float64}, best_metric, global_step (src/utils/checkpoint.py
  CheckpointManager.save_checkpoint); checkpoint_latest.pth and checkpoint_best.pth are byte copies
  (shutil.copy) of the epoch file just written;
- logs/tensorboard/events.out.tfevents.* through torch.utils.tensorboard.SummaryWriter (src/utils/logging.py);
- config.yaml (the config dict trained with).
The sample adds images/<class>/*.png and their foreground masks in sample_meta/foreground.npz (outside
images/, so that image readers never mistake a mask for a sample).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ..collect.foreground import FOREGROUND_FILE  # the collector reads what this writes


class RunWriter:
    """Owns the output directory of one sample run: config, TensorBoard scalars, checkpoints, images."""

    def __init__(self, out_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.root = Path(out_dir)
        self.checkpoint_dir = self.root / "checkpoints"
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.tensorboard = SummaryWriter(log_dir=str(self.root / "logs" / "tensorboard"))

    def write_config(self, config: dict) -> Path:
        """Write config.yaml (block style, keys in schema order, as a person would keep it)."""
        path = self.root / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
        return path

    def scalars(self, values: dict, step: int, prefix: str) -> None:
        """Log every value under `prefix + name` at `step` (H-JEPA MetricsLogger.log_metrics)."""
        for name, value in values.items():
            self.tensorboard.add_scalar(prefix + name, float(value), global_step=step)

    def save_checkpoint(self, epoch: int, state: dict, is_best: bool) -> Path:
        """torch.save the H-JEPA checkpoint dict, then byte-copy it to latest (and best when it is the best)."""
        import torch

        path = self.checkpoint_dir / f"checkpoint_epoch_{epoch:04d}.pth"
        torch.save({"epoch": epoch, **state}, path)
        shutil.copy(path, self.checkpoint_dir / "checkpoint_latest.pth")
        if is_best:
            shutil.copy(path, self.checkpoint_dir / "checkpoint_best.pth")
        return path

    def write_images(
        self,
        images: np.ndarray,
        foreground: np.ndarray,
        labels: np.ndarray,
        class_names: tuple[str, ...],
        per_class: int,
    ) -> list[str]:
        """Save the first `per_class` images of each class as images/<class>/<class>_NNNN.png and their
        foreground masks in sample_meta/foreground.npz keyed by the image's path relative to the run dir."""
        masks: dict[str, np.ndarray] = {}
        for label, name in enumerate(class_names):
            folder = self.root / "images" / name
            folder.mkdir(parents=True, exist_ok=True)
            for n, i in enumerate(np.flatnonzero(labels == label)[:per_class]):
                relative = f"images/{name}/{name}_{n:04d}.png"
                Image.fromarray(images[i]).save(self.root / relative, optimize=True)
                masks[relative] = foreground[i]
        meta = self.root / FOREGROUND_FILE
        meta.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(meta, **masks)
        return sorted(masks)

    def close(self) -> None:
        """Flush and close the TensorBoard event file."""
        self.tensorboard.close()
