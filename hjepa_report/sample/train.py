"""Reference trainer of the sample run: a small H-JEPA trained on procedural shapes, on CPU, in minutes.

The loop follows the public H-JEPA trainer (src/trainers/trainer.py HJEPATrainer) on our own networks
(hjepa_report.models.hjepa.HJepaNetwork, the original state-dict keys):
- each step hides the union of 4 multi-block target masks (sample/masks.py) and computes the hierarchical MSE
  loss with models.loss.network_loss, the loss the report reproduces (H-JEPA src/losses/hjepa_loss.py
  HJEPALoss: per-level F.mse_loss over all slots, padding included, weighted sum = loss, plain mean =
  loss_unweighted; targets detached), by default against layer-normed target tokens instead of H-JEPA's
  projected ones: the learned projection on both sides lets a tiny run shrink it until every level is
  trivially predictable (the loss falls towards 0 while the encoder stops learning); fixed normalised
  targets rule that out (recipe target_norm, config loss.target_norm);
- AdamW, gradient clipping, lr with linear warm-up from 0 then cosine to min_lr, EMA of the context encoder
  into the target encoder with momentum rising linearly from start to end after warmup_steps
  (src/utils/scheduler.py CosineScheduler, EMAScheduler); the lr for step s is set before step s (H-JEPA sets
  it after, so its first step runs at the base lr; we do not copy that quirk);
- TensorBoard tags and steps as H-JEPA logs them; a validation loss with masks that are the same at every
  epoch (seeded), so the val curve compares like with like; an online k-NN probe every epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..models.hjepa import HJepaNetwork
from ..models.loss import network_loss
from ..models.loss_settings import LossSettings, loss_settings
from .data import ShapeSet
from .knn import knn_accuracy, normalise, pooled_features
from .masks import hidden_masks
from .recipe import SampleRecipe, loss_section


def build_network(recipe: SampleRecipe) -> HJepaNetwork:
    """Build the sample network with the recipe's seeded initialisation (the same weights for the same seed)."""
    torch.manual_seed(recipe.seed)
    return HJepaNetwork(
        recipe.encoder_kwargs(),
        recipe.predictor_depth,
        recipe.predictor_heads,
        recipe.predictor_mlp_ratio,
        recipe.num_levels,
    )


def cosine_lr(step: int, recipe: SampleRecipe, steps_per_epoch: int) -> float:
    """Linear warm-up from 0, then cosine to min_lr (H-JEPA src/utils/scheduler.py CosineScheduler)."""
    warmup = recipe.warmup_epochs * steps_per_epoch
    total = recipe.epochs * steps_per_epoch
    if step < warmup:
        return recipe.lr * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return recipe.min_lr + (recipe.lr - recipe.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def ema_momentum(step: int, recipe: SampleRecipe, steps_per_epoch: int) -> float:
    """Momentum: start during warm-up, then linear to end (H-JEPA src/utils/scheduler.py EMAScheduler; the
    trainer turns warmup_steps into whole epochs: warmup_steps // steps_per_epoch)."""
    warmup = (recipe.ema_warmup_steps // steps_per_epoch) * steps_per_epoch
    total = recipe.epochs * steps_per_epoch
    if step < warmup:
        return recipe.ema_start
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return recipe.ema_start + (recipe.ema_end - recipe.ema_start) * progress


def training_loss_settings(recipe: SampleRecipe) -> LossSettings:
    """The loss the sample trains with, read from the loss section its config.yaml records (H-JEPA HJEPALoss,
    type mse, no masks; see models/loss.py), by the same reader the report uses on the run."""
    return loss_settings({"loss": loss_section(recipe)}, "hjepa", recipe.num_levels)


@torch.no_grad()
def collapse_metrics(context: torch.Tensor, target: torch.Tensor) -> dict:
    """H-JEPA's collapse monitor (HJEPATrainer._compute_collapse_metrics): each sample's tokens flattened to
    one row; std over all values, mean L2 norm of the rows, and the effective rank exp(H(s / sum s)) of the
    rows' singular values s (Roy & Vetterli 2007), on at most 100 rows."""
    metrics = {}
    for name, features in (("context", context), ("target", target)):
        rows = features.reshape(features.shape[0], -1)
        metrics[f"{name}_std"] = rows.std().item()
        metrics[f"{name}_norm"] = rows.norm(dim=1).mean().item()
        s = torch.linalg.svdvals(rows[:100])
        p = s / s.sum()
        metrics[f"{name}_eff_rank"] = torch.exp(-(p * torch.log(p + 1e-8)).sum()).item()
    return metrics


def augment(images: torch.Tensor, generator: torch.Generator, recipe: SampleRecipe) -> torch.Tensor:
    """Random resized crop (area scale ~ U(crop_scale), aspect ~ logU(3/4, 4/3)) and horizontal flip, as one
    bilinear affine resampling per batch; uint8 [B, 3, H, W] -> normalised float32."""
    b = images.shape[0]
    area = torch.empty(b).uniform_(*recipe.crop_scale, generator=generator)
    log_ratio = torch.empty(b).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator)
    ratio = log_ratio.exp()
    width = (area * ratio).sqrt().clamp(max=1.0)
    height = (area / ratio).sqrt().clamp(max=1.0)
    cx = (torch.rand(b, generator=generator) * 2 - 1) * (1 - width)
    cy = (torch.rand(b, generator=generator) * 2 - 1) * (1 - height)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0) if recipe.horizontal_flip else 1.0
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = width * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = height, cy
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(normalise(images), grid, mode="bilinear", padding_mode="border", align_corners=False)


@dataclass
class Splits:
    """Train / val data as uint8 tensors [N, 3, H, W] plus the sets they came from."""

    train: ShapeSet
    val: ShapeSet

    def __post_init__(self) -> None:
        self.train_images = torch.from_numpy(self.train.images).permute(0, 3, 1, 2).contiguous()
        self.val_images = torch.from_numpy(self.val.images).permute(0, 3, 1, 2).contiguous()


class Trainer:
    """One training run: network, AdamW, schedules, seeded randomness and the writer it logs to."""

    def __init__(self, recipe: SampleRecipe, splits: Splits, writer):
        self.recipe, self.splits, self.writer = recipe, splits, writer
        self.network = build_network(recipe)
        self.grid = recipe.image_size // recipe.patch_size
        self.steps_per_epoch = len(splits.train) // recipe.batch_size
        trainable = [p for p in self.network.parameters() if p.requires_grad]
        self.loss_settings = training_loss_settings(recipe)
        self.optimizer = torch.optim.AdamW(
            trainable, lr=recipe.lr, betas=recipe.betas, weight_decay=recipe.weight_decay
        )
        self.mask_rng = np.random.default_rng([recipe.seed, 1])
        self.order_rng = np.random.default_rng([recipe.seed, 2])
        self.augment_generator = torch.Generator().manual_seed(recipe.seed * 1000 + 3)
        self.global_step = 0

    def masks(self, rng: np.random.Generator, batch: int) -> torch.Tensor:
        """Draw the hidden masks of one batch: bool [B, N]."""
        r = self.recipe
        return torch.from_numpy(hidden_masks(rng, batch, self.grid, r.num_masks, r.mask_scale, r.aspect_ratio))

    def train_epoch(self) -> dict:
        """Run one epoch; log per-step scalars as H-JEPA does; return the epoch means of the step values."""
        r, net = self.recipe, self.network
        net.train()
        order = torch.from_numpy(self.order_rng.permutation(len(self.splits.train)))
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for batch_idx in range(self.steps_per_epoch):
            idx = order[batch_idx * r.batch_size : (batch_idx + 1) * r.batch_size]
            images = augment(self.splits.train_images[idx], self.augment_generator, r)
            lr = cosine_lr(self.global_step, r, self.steps_per_epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            loss = network_loss(net, images, self.masks(self.mask_rng, len(idx)), self.loss_settings)
            losses = loss.logged()
            self.optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), r.clip_grad)
            self.optimizer.step()
            momentum = ema_momentum(self.global_step, r, self.steps_per_epoch)
            net.update_target_encoder(momentum)
            self.global_step += 1
            values = {k: v.item() for k, v in losses.items()}
            if batch_idx % (r.log_every * 2) == 0:
                values.update(collapse_metrics(loss.context, loss.targets.features))
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
            if batch_idx % r.log_every == 0:
                self.writer.scalars({"lr": lr, "ema_momentum": momentum, **values}, self.global_step, "train/")
        self.last_loss = values["loss"]
        return {k: sums[k] / counts[k] for k in sums}

    @torch.no_grad()
    def validate(self) -> np.float64:
        """Mean loss over the val split with masks drawn from a fixed seed (identical at every epoch)."""
        r, net = self.recipe, self.network
        net.eval()
        rng = np.random.default_rng([r.seed, 4])
        losses = []
        for start in range(0, len(self.splits.val), r.batch_size):
            images = normalise(self.splits.val_images[start : start + r.batch_size])
            losses.append(network_loss(net, images, self.masks(rng, len(images)), self.loss_settings).total.item())
        return np.mean(losses)  # numpy float64, as H-JEPA's _validate_epoch returns it

    @torch.no_grad()
    def online_knn(self) -> float:
        """k-NN accuracy (%) of val images against a bank of un-augmented train images (knn.py)."""
        r, net = self.recipe, self.network
        net.eval()
        bank_count = r.knn_bank_per_class * len(self.splits.train.class_names)
        bank = pooled_features(net, self.splits.train.images[:bank_count])
        queries = pooled_features(net, self.splits.val.images)
        return knn_accuracy(bank, self.splits.train.labels[:bank_count], queries, self.splits.val.labels, r.knn_k)

    def checkpoint_state(self, val_loss, best_metric, epoch: int) -> dict:
        """The H-JEPA checkpoint fields except 'epoch'. The optimizer's per-parameter AdamW moments are
        dropped (state {}) to keep the sample small; param_groups (lr, betas, weight decay) are kept."""
        optimizer_state = self.optimizer.state_dict()
        optimizer_state["state"] = {}
        return {
            "model_state_dict": self.network.state_dict(),
            "optimizer_state_dict": optimizer_state,
            "scheduler_state_dict": {
                "lr": cosine_lr(self.global_step, self.recipe, self.steps_per_epoch),
                "ema_momentum": ema_momentum(self.global_step, self.recipe, self.steps_per_epoch),
            },
            "metrics": {"epoch": float(epoch), "val_loss": val_loss},
            "best_metric": best_metric,
            "global_step": self.global_step,
        }
