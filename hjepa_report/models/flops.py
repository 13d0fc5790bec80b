"""How much arithmetic one evaluation of the training loss costs, estimated from the networks' shapes.

The loss landscape evaluates the loss hundreds of times; how many times it may do so is decided from this
estimate and a stated budget (ReportSettings.landscape_tflop), never from a stopwatch, so the same run and seed
give the same report on any machine and under any load.

Forward FLOPs of a transformer (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Sec. 2.1:
C_forward ~ 2 N_weights + 2 n_layer n_ctx d_attn per token; Hoffmann et al. 2022, "Training Compute-Optimal
Large Language Models", App. F, which also counts the attention-weighted sum of the values): every matrix
weight costs 2 FLOPs (one multiply-add) per token it is applied to, and each layer's attention costs
4 T^2 d per sequence of T tokens (QK^T and AV, 2 T^2 d each). Norms, activations, softmax and the loss itself
are left out: they are a few percent of a ViT's work. Which tokens each network sees follows the trainer's
masks (models/loss.py): H-JEPA's context encoder keeps every token (hidden ones zeroed) and its predictor runs
on the N patch tokens plus K hidden slots; I-JEPA's encoder keeps only the context patches and its predictor
runs once per target block on the context plus that block.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LossFlops:
    """Estimated forward FLOPs of the loss on one batch: the target side (computed once per batch) and the
    context side (context encoder, predictor, projections: what every landscape grid point re-runs)."""

    target: float
    context: float

    @property
    def total(self) -> float:
        """Both sides: one evaluation of the whole loss (the checkpoint interpolation's cost per point)."""
        return self.target + self.context


def matrix_weights(module) -> int:
    """Number of entries of the module's matrix parameters (>= 2-D: Linear and conv weights, attention
    in-projections, position tables); biases and norm scales are elementwise work and not counted."""
    return sum(p.numel() for p in module.parameters() if p.ndim >= 2)


def transformer_flops(blocks, rows: int, tokens: int, width: int) -> float:
    """Forward FLOPs of a stack of transformer blocks on `rows` sequences of `tokens` tokens of width `width`:
    2 per matrix weight per token, plus 4 T^2 d per layer for attention (module docstring)."""
    return float(rows) * (2.0 * matrix_weights(blocks) * tokens + 4.0 * len(blocks) * tokens**2 * width)


def encoder_flops(vit, rows: int, tokens: int) -> float:
    """A ViT encoder on `rows` images whose sequences keep `tokens` tokens: the patch embedding of every patch
    (applied before any token is dropped), then the blocks."""
    patches = 2.0 * vit.patch_embed.proj.weight.numel() * vit.num_patches * rows
    return patches + transformer_flops(vit.blocks, rows, tokens, vit.embed_dim)


def hjepa_loss_flops(network, hidden, target_norm: str = "projected") -> LossFlops:
    """H-JEPA (models/loss.py): hidden = the bool [B, N] mask; K = the largest hidden count (padded slots are
    computed too). The hierarchy heads project the predictions and, under projected targets, the cached
    target tokens too (at every evaluation: they are trained)."""
    batch, n = hidden.shape
    k = int(hidden.sum(dim=1).max()) if batch else 0
    vit = network.context_encoder.vit
    tokens = n + vit.num_prefix_tokens
    predictor = network.predictor
    passes = 2 if target_norm == "projected" else 1
    hierarchy = passes * sum(matrix_weights(m) for m in _hierarchy(network))
    heads = 2.0 * (matrix_weights(predictor.head) + hierarchy) * k * batch
    context = (
        encoder_flops(vit, batch, tokens) + transformer_flops(predictor.blocks, batch, n + k, vit.embed_dim) + heads
    )
    return LossFlops(target=encoder_flops(network.target.vit, batch, tokens), context=context)


def ijepa_loss_flops(network, masks) -> LossFlops:
    """I-JEPA (models/loss.py): masks = (masks_enc, masks_pred) lists of [B, K] index tensors, every list of
    one size (the MaskCollator cuts them to the batch minimum)."""
    enc, pred = list(masks[0]), list(masks[1])
    batch, kc, kp = enc[0].shape[0], enc[0].shape[1], pred[0].shape[1]
    encoder, predictor = network.encoder, network.predictor
    width = predictor.predictor_embed.weight.shape[0]
    rows = len(enc) * batch  # one sequence per (context mask, image); the predictor: per target block too
    patches = 2.0 * encoder.patch_embed.proj.weight.numel() * encoder.num_patches * batch  # before the gather
    context = (
        patches
        + transformer_flops(encoder.blocks, rows, kc, encoder.embed_dim)
        + 2.0 * matrix_weights(predictor.predictor_embed) * kc * rows
        + transformer_flops(predictor.predictor_blocks, rows * len(pred), kc + kp, width)
        + 2.0 * matrix_weights(predictor.predictor_proj) * kp * rows * len(pred)
    )
    target = network.target_encoder if network.target_encoder is not None else encoder  # models/loss.py
    return LossFlops(target=encoder_flops(target, batch, encoder.num_patches), context=context)


def loss_flops(network, masks, target_norm: str = "projected") -> LossFlops:
    """Estimated FLOPs of one loss evaluation of an HJepaNetwork or IJepaNetwork with the trainer's masks
    (target_norm: the H-JEPA loss setting, models.loss.LossSettings.target_norm)."""
    from .ijepa import IJepaNetwork

    if isinstance(network, IJepaNetwork):
        return ijepa_loss_flops(network, masks)
    return hjepa_loss_flops(network, masks, target_norm)


def _hierarchy(network) -> list:
    """The hierarchy heads: the level projections and any feature pyramid (2 FLOPs per weight per token is
    exact for the projections and approximate for the pyramid's 1-D convolutions)."""
    modules = list(network.hierarchy_projections)
    return modules + [
        getattr(network, name)
        for name in ("fpn_lateral_convs", "fpn_top_down_convs", "fpn_fusion_convs")
        if hasattr(network, name)
    ]
