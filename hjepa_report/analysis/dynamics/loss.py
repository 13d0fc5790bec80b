"""The run's own training loss on a batch, split into a target part (computed once) and a context part.

H-JEPA (jonwiggins/H-JEPA @ eb995a0, src/losses/hjepa_loss.py HJEPALoss, built by src/losses/combined.py
_build_jepa): per level l, prediction and target are the hierarchy projection (then 1-D pooling) of the predictor
output and of the target-encoder tokens at the hidden patches; optionally both are L2-normalised
(`loss.normalize_embeddings`, default true, F.normalize eps 1e-8); L_l = mse | smooth_l1 (beta 1) | huber
(delta 1) averaged over every entry of the padded [B, K_l, D] tensors (the trainer passes no validity masks, so
padded slots count too); L = sum_l w_l L_l with `loss.hierarchy_weights` (default 1.0 each). The loss type is
`loss.jepa_loss_type`, else `loss.type` when it is mse / smoothl1, else smoothl1. For `combined` losses the
VICReg term is NOT reproduced: only the JEPA part is.
I-JEPA (facebookresearch/ijepa @ 52c1ae9, src/train.py): targets = F.layer_norm(target_encoder(images)) at each
target block (no affine, eps 1e-5); L = F.smooth_l1_loss(predictor(...), targets), beta 1, mean.

The target part depends only on the EMA target encoder, which gradients never train; `TargetCache` holds it so
that gradient flow and the loss landscape re-run only the context encoder, the predictor and the projections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LossSettings:
    """How the run computed its JEPA loss, read from the config."""

    layout: str
    kind: str  # mse | smoothl1 | huber
    weights: list[float] = field(default_factory=list)  # per hierarchy level (H-JEPA)
    normalize: bool = False
    target_norm: str = "projected"  # projected (H-JEPA) | layernorm (models.config.loss_target_norm)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for captions: the loss formula with its settings."""
        if self.layout == "ijepa":
            return "smooth-L1 on layer-normed target tokens (I-JEPA src/train.py)"
        norm = ", L2-normalised" if self.normalize else ""
        targets = "" if self.target_norm == "projected" else "; targets: layer-normed target tokens, pooled"
        return f"sum_l w_l {self.kind}(pred_l, target_l){norm}, w = {self.weights} (H-JEPA HJEPALoss){targets}"


@dataclass
class TargetCache:
    """The target side of the loss for one batch and one set of masks (no gradient)."""

    layout: str
    masks: object
    tokens: object  # H-JEPA: target tokens at the hidden patches [B, K, D]; I-JEPA: layer-normed targets


def loss_settings(config: dict | None, layout: str, num_levels: int = 1) -> LossSettings:
    """Read the loss type, weights and normalisation the trainer used (see module docstring)."""
    if layout == "ijepa":
        return LossSettings(layout="ijepa", kind="smoothl1")
    loss = dict((config or {}).get("loss") or {})
    notes = [] if config and "loss" in config else ["the config has no loss section: H-JEPA's defaults are used"]
    declared = str(loss.get("type", "combined")).lower()
    kind = str(loss.get("jepa_loss_type", declared if declared in ("smoothl1", "mse") else "smoothl1")).lower()
    if declared in ("combined", "hierarchical_combined", "hjepa_sigreg", "sigreg_combined", "cjepa"):
        notes.append(f"loss.type {declared!r} adds a regulariser that is not reproduced; only the JEPA part is")
    weights = loss.get("hierarchy_weights", 1.0)
    weights = [float(weights)] * num_levels if isinstance(weights, (int, float)) else [float(w) for w in weights]
    if len(weights) != num_levels:
        raise ValueError(f"loss.hierarchy_weights has {len(weights)} entries for {num_levels} levels")
    from ...models.config import loss_target_norm

    return LossSettings(layout="hjepa", kind=kind, weights=weights, normalize=bool(loss.get("normalize_embeddings", True)),
                        target_norm=loss_target_norm(config), notes=notes)


def base_loss(pred, target, kind: str):
    """Mean element-wise loss of one level: mse | smoothl1 (beta 1) | huber (delta 1) (HJEPALoss)."""
    import torch.nn.functional as F

    if kind == "mse":
        return F.mse_loss(pred, target)
    if kind == "smoothl1":
        return F.smooth_l1_loss(pred, target)
    if kind == "huber":
        return F.huber_loss(pred, target, delta=1.0)
    raise ValueError(f"unknown H-JEPA loss type {kind!r} (mse, smoothl1, huber)")


def hierarchical_loss(predictions: list, targets: list, settings: LossSettings):
    """Return (total, per-level losses): L = sum_l w_l L_l (HJEPALoss.forward, no validity masks)."""
    import torch.nn.functional as F

    levels = []
    for pred, target in zip(predictions, targets):
        if settings.normalize:
            pred, target = F.normalize(pred, dim=-1, eps=1e-8), F.normalize(target, dim=-1, eps=1e-8)
        levels.append(base_loss(pred, target.detach(), settings.kind))
    total = sum(w * lv for w, lv in zip(settings.weights, levels))
    return total, levels


def _network(model):
    """Accept a JepaModel (uses .network) or a bare HJepaNetwork / IJepaNetwork."""
    return getattr(model, "network", model)


def network_layout(model) -> str:
    """Return 'ijepa' or 'hjepa' for a JepaModel or a bare network."""
    from ...models.ijepa import IJepaNetwork

    return "ijepa" if isinstance(_network(model), IJepaNetwork) else "hjepa"


def target_cache(model, images, masks, layout: str) -> TargetCache:
    """Compute the target side once: H-JEPA `masks` = bool [B, N] (True = hidden); I-JEPA `masks` =
    (masks_enc, masks_pred), lists of [B, K] patch-index tensors as the collator returns them."""
    import torch
    import torch.nn.functional as F

    net = _network(model)
    with torch.no_grad():
        if layout == "hjepa":
            from ...models.tokens import gather_tokens, hidden_indices

            encoder = getattr(net, "target", net.target_encoder)
            tokens = encoder(images)[:, encoder.vit.num_prefix_tokens:]
            return TargetCache("hjepa", masks, gather_tokens(tokens, hidden_indices(masks)[0]))
        from ...models.tokens import as_mask_list, gather_each, repeat_groups

        enc, pred = as_mask_list(masks[0]), as_mask_list(masks[1])
        h = F.layer_norm(net.target_encoder(images), (net.target_encoder.embed_dim,))  # src/train.py
        return TargetCache("ijepa", (enc, pred), repeat_groups(gather_each(h, pred), len(images), len(enc)))


def context_loss(model, images, cache: TargetCache, settings: LossSettings):
    """Return (total loss, per-level losses or None) with the context path run in the caller's autograd mode."""
    import torch.nn.functional as F

    net = _network(model)
    if cache.layout == "hjepa":
        from ...models.tokens import hidden_indices

        prefix = net.context_encoder.vit.num_prefix_tokens
        indices, _ = hidden_indices(cache.masks)
        predicted = net.predict(net.context_encoder(images, cache.masks)[:, prefix:], indices)
        preds = [net.level(predicted, lv) for lv in range(net.num_levels)]
        if settings.target_norm == "layernorm":
            from ...models.tokens import pool_level

            normed = F.layer_norm(cache.tokens, (cache.tokens.shape[-1],))
            targets = [pool_level(normed, lv) for lv in range(net.num_levels)]
        else:
            targets = [net.level(cache.tokens, lv) for lv in range(net.num_levels)]
        return hierarchical_loss(preds, targets, settings)
    from ...models.ijepa import encode_kept

    enc, pred = cache.masks
    z = net.predictor(encode_kept(net.encoder, images, enc).tokens, enc, pred)
    return F.smooth_l1_loss(z, cache.tokens), None  # I-JEPA src/train.py loss_fn


def jepa_loss(model, images, masks, config: dict | None):
    """Reproduce the run's training loss on one batch: returns (total, per-level losses or None).

    model: a JepaModel or its network; masks as in `target_cache`; config: the run's config (loss section).
    """
    layout = network_layout(model)
    levels = getattr(_network(model), "num_levels", 1)
    settings = loss_settings(config, layout, levels)
    return context_loss(model, images, target_cache(model, images, masks, layout), settings)


def training_masks(config: dict | None, layout: str, batch: int, seed: int, grid: tuple[int, int],
                   patch_size: int | None = None):
    """Draw one batch of masks the way the run's training does (analysis.masking samplers), seeded.

    Returns the `masks` argument of `jepa_loss`: H-JEPA bool [B, N] (union of the level-0 target blocks,
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

    return ([indices(contexts[:, j]) for j in range(contexts.shape[1])],
            [indices(targets[:, j]) for j in range(targets.shape[1])])
