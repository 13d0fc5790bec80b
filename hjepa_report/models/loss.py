"""The run's own training loss, once per layout, split into a target part (computed once) and a context part.

H-JEPA (jonwiggins/H-JEPA @ eb995a0, src/losses/hjepa_loss.py HJEPALoss, built by src/losses/combined.py
create_loss_from_config): per level l, prediction and target are the hierarchy projection (then 1-D pooling) of
the predictor output and of the target tokens at the hidden patches; optionally both are L2-normalised
(`loss.normalize_embeddings`, default true, F.normalize eps 1e-8); L_l = mse | smooth_l1 (beta 1) | huber
(delta 1) averaged over every entry of the padded [B, K_l, D] tensors (the trainer passes no validity masks, so
padded slots count too); L = sum_l w_l L_l with `loss.hierarchy_weights` (default 1.0 each), and H-JEPA logs
the plain mean of the L_l as loss_unweighted. The targets are detached unless `loss.detach_targets: false`
(read by the jepa and SIGReg builders; `combined` always detaches). `loss.type` (default `combined`) picks the
builder: mse / smoothl1 / hjepa / jepa: the JEPA loss alone (its distance `loss.jepa_loss_type`, else the type
when it is mse / smoothl1, else smoothl1); `combined`: + VICReg on the context encoder's output;
`hjepa_sigreg` / `sigreg_combined`: + SIGReg on it (regularisers.py has both, with their parameters). The
types whose module cannot be called the way the trainer calls its loss (sigreg, vicreg, hierarchical_combined,
cjepa / contrastive_jepa, use_contrastive: their forward takes no `context_features`, so training them stops
at the first step) are refused with that reason (UnsupportedLoss), as are unknown types.
End-to-end runs (`model.use_target_encoder: false`; no target_encoder.* weights) make the targets with the
context encoder itself, without mask, at the current weights: they are recomputed at every evaluation (with
gradient unless detached). BatchNorm hierarchy heads (`model.projection_norm: batchnorm`) normalise with the
batch's statistics as in training (predictions and targets each with their own), without updating the running
statistics the checkpoint holds.
`loss.target_norm: layernorm` (hjepa-report's own sample run; no H-JEPA config has it) replaces the projected
targets by the target tokens layer-normed without parameters, as I-JEPA does, then pooled like the level.
I-JEPA (facebookresearch/ijepa @ 52c1ae9, src/train.py): targets = F.layer_norm(target_encoder(images)) at each
target block (no affine, eps 1e-5); L = F.smooth_l1_loss(predictor(...), targets), beta 1, mean.

The target part depends only on the EMA target encoder, which gradients never train, so `loss_targets` computes
it once per batch (under no_grad, as both trainers do) and `network_loss` re-runs only the context encoder, the
predictor and the projections: gradient flow and the loss landscape evaluate it many times on one batch. The
sample trainer (sample/train.py) trains with this same function, so the report's loss is the trained loss.

Masks are the trainer's own: H-JEPA a bool [B, N] hidden mask (True = hidden; the union of the target blocks);
I-JEPA (masks_enc, masks_pred), lists of [B, K] ascending patch-index tensors as its MaskCollator returns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from .loss_settings import TARGET_NORMS, LossSettings
from .regularisers import regularise
from .tokens import as_mask_list, gather_each, gather_tokens, hidden_indices, pool_level, repeat_groups


@dataclass
class LossTargets:
    """The target side of the loss for one batch and one draw of masks (computed without gradient).

    H-JEPA: `tokens` = the target tokens at the hidden patches [B, K, D] (layer-normed first under target_norm
    layernorm), `indices` [B, K] those patches; I-JEPA: `tokens` = the layer-normed target tokens of every
    (target block, context) pair, rows as the predictor returns them. `features`: the target encoder's whole
    output [B, T, D], for monitors such as H-JEPA's collapse metrics.
    """

    layout: str
    masks: Any
    tokens: torch.Tensor
    features: torch.Tensor
    indices: torch.Tensor | None = None
    moving: bool = False  # made by the encoder being trained (end-to-end): recomputed at every evaluation


@dataclass
class Loss:
    """One evaluation of the loss: the total, the per-level losses (H-JEPA; None for I-JEPA), the context
    encoder's output and the targets it was measured against."""

    total: torch.Tensor
    levels: list[torch.Tensor] | None = None
    context: torch.Tensor | None = None
    targets: LossTargets | None = None
    components: dict[str, torch.Tensor] = field(default_factory=dict)  # jepa_loss, vicreg_* / sigreg_*

    @property
    def unweighted(self) -> torch.Tensor:
        """The plain mean of the per-level losses (H-JEPA's loss_unweighted); the total without levels."""
        return torch.stack(self.levels).mean() if self.levels else self.total

    def logged(self) -> dict[str, torch.Tensor]:
        """The values under H-JEPA's logged names: loss_h0.., loss, loss_unweighted (src/trainers/trainer.py)."""
        values = {f"loss_h{i}": level for i, level in enumerate(self.levels or [])}
        values["loss"] = self.total
        if self.levels:
            values["loss_unweighted"] = self.unweighted
        values.update(self.components)
        return values


def base_loss(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean element-wise loss of one level: mse | smoothl1 (beta 1) | huber (delta 1) (HJEPALoss)."""
    if kind == "mse":
        return F.mse_loss(pred, target)
    if kind == "smoothl1":
        return F.smooth_l1_loss(pred, target)
    if kind == "huber":
        return F.huber_loss(pred, target, delta=1.0)
    raise ValueError(f"unknown H-JEPA loss type {kind!r} (mse, smoothl1, huber)")


def hierarchical_loss(predictions: list, targets: list, settings: LossSettings) -> Loss:
    """L = sum_l w_l L_l over the levels, targets detached unless the run did not (HJEPALoss.forward, no
    validity masks)."""
    levels = []
    for pred, target in zip(predictions, targets, strict=True):
        if settings.normalize:
            pred, target = F.normalize(pred, dim=-1, eps=1e-8), F.normalize(target, dim=-1, eps=1e-8)
        levels.append(base_loss(pred, target.detach() if settings.detach_targets else target, settings.kind))
    stacked = torch.stack(levels)
    weights = torch.tensor(settings.weights, dtype=stacked.dtype, device=stacked.device)
    return Loss(total=(stacked * weights).sum(), levels=levels)


def target_tokens(patch_tokens: torch.Tensor, indices: torch.Tensor, target_norm: str) -> torch.Tensor:
    """H-JEPA's target tokens [B, K, D] at the hidden patches `indices` [B, K] of the target encoder's patch
    tokens [B, N, D]: as they are ("projected": the levels project them), or layer-normed without parameters
    over the feature axis first ("layernorm", I-JEPA src/train.py F.layer_norm)."""
    if target_norm not in TARGET_NORMS:
        raise ValueError(f"target_norm must be 'projected' or 'layernorm', not {target_norm!r}")
    if target_norm == "layernorm":
        patch_tokens = F.layer_norm(patch_tokens, (patch_tokens.shape[-1],))
    return gather_tokens(patch_tokens, indices)


def level_targets(network, tokens: torch.Tensor, target_norm: str) -> list[torch.Tensor]:
    """The targets of every level from `target_tokens`: the level's projection and pooling ("projected",
    H-JEPA HJEPA.forward), or the pooling alone ("layernorm")."""
    if target_norm == "layernorm":
        return [pool_level(tokens, level) for level in range(network.num_levels)]
    return network.levels(tokens)


def loss_targets(network, images: torch.Tensor, masks, settings: LossSettings) -> LossTargets:
    """Compute the target side of the loss for a batch (see the module docstring): without gradient, unless it
    comes from the encoder being trained and the run did not detach it."""
    if _is_ijepa(network):
        with torch.no_grad():
            enc, pred = as_mask_list(masks[0]), as_mask_list(masks[1])
            features = _ijepa_target(network)(images)
            normed = F.layer_norm(features, (features.shape[-1],))  # I-JEPA src/train.py forward_target
            tokens = repeat_groups(gather_each(normed, pred), len(images), len(enc))
            return LossTargets("ijepa", (enc, pred), tokens, features)
    moving = network.target_encoder is None  # end-to-end: HJEPA.forward runs the context encoder unmasked
    with torch.set_grad_enabled(torch.is_grad_enabled() and moving and not settings.detach_targets):
        encoder = network.target
        features = encoder(images)
        indices, _ = hidden_indices(masks)
        tokens = target_tokens(features[:, encoder.vit.num_prefix_tokens :], indices, settings.target_norm)
    return LossTargets("hjepa", masks, tokens, features, indices, moving)


def network_loss(
    network, images: torch.Tensor, masks, settings: LossSettings, targets: LossTargets | None = None
) -> Loss:
    """The training loss of an HJepaNetwork or IJepaNetwork on one batch, in the caller's autograd mode.

    targets: this batch's `loss_targets` (same masks), to compute the target side once; computed when None,
    and again when they come from the encoder being trained (end-to-end runs).
    """
    if targets is None or targets.moving:
        targets = loss_targets(network, images, masks, settings)
    if targets.layout == "ijepa":
        from .ijepa import encode_kept

        enc, pred = targets.masks
        context = encode_kept(network.encoder, images, enc).tokens
        predicted = network.predictor(context, enc, pred)
        return Loss(
            total=F.smooth_l1_loss(predicted, targets.tokens), context=context, targets=targets
        )  # I-JEPA src/train.py loss_fn
    prefix = network.context_encoder.vit.num_prefix_tokens
    context = network.context_encoder(images, targets.masks)
    predicted = network.predict(context[:, prefix:], targets.indices)
    with network.training_batchnorm():
        loss = hierarchical_loss(
            network.levels(predicted), level_targets(network, targets.tokens, settings.target_norm), settings
        )
    loss.context, loss.targets = context, targets
    if settings.regulariser is not None:  # CombinedLoss / HJEPASIGRegLoss: total = JEPA + weighted term
        terms = regularise(settings.regulariser, context, settings.seed)
        loss.components = {"jepa_loss": loss.total, **{k: v for k, v in terms.items() if k != "weighted"}}
        loss.total = loss.total + terms["weighted"]
    return loss


def same_masks(a, b) -> bool:
    """Tell whether two masks of the loss (a [B, N] tensor, or I-JEPA's pair of index lists) are equal."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool(torch.equal(a, b.to(a.device)))
        )
    a, b = list(a), list(b)
    return len(a) == len(b) and all(same_masks(x, y) for x, y in zip(a, b, strict=True))


def _ijepa_target(network):
    """I-JEPA's target encoder, or its context encoder in a run without one (models.builders warns)."""
    return network.target_encoder if network.target_encoder is not None else network.encoder


def _is_ijepa(network) -> bool:
    from .ijepa import IJepaNetwork

    return isinstance(network, IJepaNetwork)
