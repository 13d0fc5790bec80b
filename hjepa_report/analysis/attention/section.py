"""AttentionPass: the report's attention section, from the run's rebuilt encoders and sample images.

compute: the target encoder's attention in every block on up to 8 sample images (shared with other passes
through model_access when it fits the memory budget, else captured chunk by chunk), reduced to maps, per-head
numbers and the rollout; the context encoder's map under the report's masks (model_access.report_masks, shared
with the predictions, so the masked context encoding is shared too); on runs that
know their foreground (the sample runs), the rollout's mass on it. present: see present.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ReportError
from ..base import AnalysisPass, ReportContext, Section
from ..model_access import encoded, model_for, model_skip_reason, report_masks, sample_images
from .capture import ATTENTION_BUDGET_BYTES, capture_target, plan_capture
from .foreground import load_foreground, patch_coverage, rollout_foreground_shares
from .present import AttentionResult, present_attention
from .summary import context_head_mean_map, summarise_encoder

MAX_IMAGES = 8


class AttentionPass(AnalysisPass):
    """Attention maps, heads, rollout, depth comparison and patch-to-patch attention of the target encoder
    (or the context encoder with --attention-encoder context)."""

    name = "attention"
    title = "Attention"
    minimal = False

    def applies(self, ctx: ReportContext) -> str | None:
        reason = model_skip_reason(ctx)
        if reason:
            return reason
        refusal = model_for(ctx).info.refusal("attention")
        return f"Attention cannot be computed for this checkpoint: {refusal}" if refusal else None

    def compute(self, ctx: ReportContext) -> AttentionResult:
        model = model_for(ctx)
        info = model.info
        images = sample_images(ctx)
        count = min(MAX_IMAGES, len(images.pictures))
        notes = _model_notes(info, count, len(images.pictures))
        targets, hidden, mask_seed = _masks(ctx, model, count, notes)
        ctx.progress(f"attention: {count} images, {info.depth} blocks")
        encoder = ctx.settings.attention_encoder
        target, capture_note = _target_attention(ctx, model, images.tensor, count, targets, encoder)
        result = AttentionResult(
            images=list(images.pictures[:count]), names=[_name(ctx, p) for p in images.paths[:count]],
            image_seed=ctx.settings.seed, grid=tuple(info.grid), patch_size=info.patch_size, has_cls=info.has_cls,
            depth=info.depth, num_heads=info.num_heads, target=target, capture_note=capture_note,
            mask_seed=mask_seed, notes=notes, encoder=encoder)
        if hidden is not None and model.encoder_pair() is not None:
            result.compare_layer = info.depth - 1
            result.hidden = hidden
            out = encoded(ctx, "context", masked=True, first=count, attention_layers=(result.compare_layer,))
            result.context_maps = context_head_mean_map(
                out.attentions[result.compare_layer].float().numpy(), out.patch_indices.numpy(), out.valid.numpy(),
                tuple(info.grid), info.has_cls)
        elif model.encoder_pair() is None:
            notes.append("no separate target encoder in this checkpoint: the context vs target comparison is left out")
        result.foreground = _foreground(ctx, info, images.paths[:count], result)
        return result

    def present(self, result: AttentionResult, ctx: ReportContext, section: Section) -> None:
        present_attention(result, section)


def _target_attention(ctx: ReportContext, model, tensor, count: int, targets, encoder: str = "target"):
    """Return (EncoderAttention of `encoder` on the first `count` images, how the attention was captured)."""
    info = model.info
    tokens = info.num_patches + int(info.has_cls)
    plan = plan_capture(info.depth, info.num_heads, tokens, count, ATTENTION_BUDGET_BYTES)
    per_image = info.depth * info.num_heads * tokens ** 2 * 4
    if per_image * len(tensor) <= ATTENTION_BUDGET_BYTES:  # small enough to share through the report's cache
        out = encoded(ctx, encoder, attention_layers=tuple(plan.layers))
        attentions = {k: v[:count].detach().float().cpu().numpy() for k, v in out.attentions.items()}
        summary = summarise_encoder(attentions, tuple(info.grid), info.has_cls, info.depth, targets)
        return summary, f"attention probabilities of all {info.depth} blocks (explicit softmax)"
    return capture_target(model, tensor[:count], plan, targets, encoder=encoder), plan.note


def _masks(ctx: ReportContext, model, count: int, notes: list[str]):
    """Return (first target block [K, N], hidden mask [K, N], seed) of the report's masks (the ones the
    predictions use) for the first `count` sample images, or Nones with a note when none can be drawn."""
    try:
        masks = report_masks(ctx, model)
    except ReportError as exc:
        notes.append(f"no masks could be drawn ({exc}): no target-block query patch, no context encoder map")
        return None, None, None
    return masks.targets[:count, 0], masks.hidden[:count], masks.seed


def _foreground(ctx: ReportContext, info, paths, result: AttentionResult) -> dict | None:
    """Return the rollout-vs-foreground numbers when the run stores foreground masks, else None."""
    if result.target.rollout is None:
        return None
    masks = load_foreground(ctx.run.root, paths)
    if masks is None:
        return None
    coverages = [None if m is None else patch_coverage(m, info.image_size, info.preprocess, tuple(info.grid))
                 for m in masks]
    return rollout_foreground_shares(result.target.rollout, coverages, result.names)


def _model_notes(info, count: int, available: int) -> list[str]:
    """Return the one-line notes about choices and doubts that the reader must know."""
    notes = []
    if info.heads_guessed:
        notes.append(f"the checkpoint does not record the number of heads; {info.num_heads} is a guess "
                     f"({info.heads_source}): every attention map and number here is only right if the guess "
                     f"is; pass --encoder-heads otherwise")
    if available > count:
        notes.append(f"attention shown for the first {count} of the {available} sample images")
    return notes


def _name(ctx: ReportContext, path) -> str:
    """Return an image path relative to the run dir when it lies inside, else its file name."""
    try:
        return Path(path).resolve().relative_to(Path(ctx.run.root).resolve()).as_posix()
    except ValueError:
        return Path(path).name
