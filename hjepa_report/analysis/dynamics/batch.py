"""The fixed batch gradient flow and the loss landscape evaluate the run's loss on, and the checkpoint order.

Both passes evaluate the run's own training loss (JepaModel.loss, models/loss.py) on the first BATCH sample
images with one seeded draw of the run's own masks (analysis.masking samplers, drawn the way the run's training
draws them); the landscape keeps that batch and those masks fixed at every grid point. The masks are sampled
here, in analysis, because they follow the run's masking config; the loss itself lives with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BATCH = 8


def training_masks(
    config: dict | None, layout: str, batch: int, seed: int, grid: tuple[int, int], patch_size: int | None = None
):
    """Draw one batch of masks the way the run's training does (analysis.masking samplers), seeded.

    Returns the `masks` argument of JepaModel.loss: H-JEPA bool [B, N] (union of the level-0 target blocks,
    True = hidden); I-JEPA (masks_enc, masks_pred) index lists, cut to the batch minimum as the collator does.
    """
    import torch

    from ..masking.samplers import sample_masks

    draws = sample_masks(config, batch, seed, layout=layout, batch_size=batch, grid=grid, patch_size=patch_size)
    if layout == "hjepa":
        return torch.from_numpy(draws.hidden.copy())
    targets, contexts = draws.collated_targets, draws.collated_contexts

    def indices(masks):  # [B, N] bool with equal counts per row -> [B, K] ascending patch indices
        return torch.stack([torch.from_numpy(np.flatnonzero(row)) for row in masks])

    return (
        [indices(contexts[:, j]) for j in range(contexts.shape[1])],
        [indices(targets[:, j]) for j in range(targets.shape[1])],
    )


@dataclass
class LossBatch:
    """The fixed batch of one report: images on the model's device, masks drawn with a stated seed (checked and
    moved by the model), and the loss settings read from the run's config."""

    images: Any  # torch.Tensor [B, 3, S, S]
    masks: Any
    seed: int
    settings: Any  # models.loss.LossSettings

    @classmethod
    def draw(cls, ctx, model) -> LossBatch:
        """The first BATCH sample images and one draw of the run's masks, seeded from the report seed."""
        images = ctx.session.sample_images().tensor[:BATCH].to(model.device)
        seed = int(ctx.rng("dynamics-masks").integers(2**31))
        info = model.info
        masks = training_masks(ctx.run.config, model.layout, len(images), seed, info.grid, info.patch_size)
        settings = model.loss_settings(ctx.run.config, seed)  # SIGReg's directions: seeded like the masks
        return cls(images, model.loss_masks(masks, len(images)), seed, settings)

    def describe(self) -> str:
        """One line for captions: the batch, the mask seed and the loss formula."""
        return (
            f"{len(self.images)} sample images, one draw of the run's masks (seed {self.seed}), loss = "
            f"{self.settings.describe()}"
        )

    def loss_with(self, model):
        """Return a closure computing the loss tensor of `model` on this batch, its target side computed once
        (the EMA target encoder is not what gradients or landscape directions move; targets made by the encoder
        being trained, in end-to-end runs, are recomputed by the loss at every call)."""
        terms = self.terms_with(model)
        return lambda: terms().total

    def terms_with(self, model):
        """Like `loss_with`, the closure returning the whole models.loss.Loss (per-level losses, regulariser
        components under the names the run logs)."""
        targets = model.loss_targets(self.images, self.masks, self.settings)
        return lambda: model.loss(self.images, self.masks, self.settings, targets=targets)

    def full_loss(self, model, precision: str = "fp32") -> float:
        """The whole loss of `model` on this batch under inference mode, targets recomputed (every tensor moves
        when checkpoints are interpolated, the EMA target encoder included), in `precision` (JepaModel.autocast)."""
        import torch

        with torch.inference_mode(), model.autocast(precision):
            return float(model.loss(self.images, self.masks, self.settings).total)


def loss_skip_reason(ctx) -> str | None:
    """Why the run's loss cannot be reproduced (models.loss_settings.UnsupportedLoss), else None; ask only
    after session.skip_reason() is None (it needs the rebuilt model's layout and levels)."""
    from ...models.loss_settings import UnsupportedLoss, loss_settings

    info = ctx.session.info()
    try:
        loss_settings(ctx.run.config, info.layout, info.num_levels)
    except UnsupportedLoss as exc:
        return f"The run's training loss cannot be reproduced: {exc}."
    return None


def checkpoints_in_order(run, limit: int | None = None) -> list:
    """The run's distinct checkpoints in training order (epoch, then step), thinned evenly to `limit` with the
    last one kept (None: all)."""
    refs = sorted(
        run.unique_checkpoints(),
        key=lambda c: (c.epoch if c.epoch is not None else -1, c.step if c.step is not None else -1),
    )
    if limit is None or len(refs) <= limit:
        return refs
    keep = np.unique(np.linspace(0, len(refs) - 1, limit).round().astype(int))
    return [refs[i] for i in keep]
