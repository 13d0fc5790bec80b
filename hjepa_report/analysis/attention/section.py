"""AttentionPass: the report's attention section, from the run's rebuilt encoders and sample images.

compute: the attention of the encoder --attention-encoder names (default the target encoder) in every block on
up to 8 unmasked sample images (through the session's feature cache when it fits the memory budget, so other
passes reuse the encoding, else captured chunk by chunk), reduced to maps, per-head numbers and the rollout;
the context encoder's map under the report's masks (the session's masks, shared with the predictions, so the
masked context encoding is shared too) beside the target encoder's map of the same block; on runs that know
their foreground (the sample runs, read by the collector into `Run.foreground`), the rollout's mass on it.
Metrics and the rollout-on-foreground check are made here; present.py draws the result.
"""

from __future__ import annotations

import numpy as np

from ...errors import ReportError
from ..base import AnalysisPass, Presentation
from ..context import ReportContext
from .capture import ATTENTION_BUDGET_BYTES, capture_attention, plan_capture
from .foreground import image_foreground, patch_coverage, rollout_foreground_shares
from .present import present_attention
from .result import AttentionResult, EncoderComparison, attention_metrics
from .summary import EncoderAttention, context_head_mean_map, head_maps, summarise_encoder

MAX_IMAGES = 8


class AttentionPass(AnalysisPass[AttentionResult]):
    """Attention maps, heads, rollout, depth comparison and patch-to-patch attention of the target encoder
    (or the context encoder with --attention-encoder context)."""

    name = "attention"
    title = "Attention"
    minimal = False
    needs_model = True

    def applies(self, ctx: ReportContext) -> str | None:
        if ctx.run.layout in ("vjepa", "vjepa2"):  # video networks and clips: attention/video.py
            from .video import video_attention_skip

            return video_attention_skip(ctx)
        return ctx.session.part_skip_reason("attention", "Attention cannot be computed")

    def compute(self, ctx: ReportContext) -> AttentionResult:
        if ctx.run.layout in ("vjepa", "vjepa2"):
            from .video import video_attention

            return video_attention(ctx)
        session = ctx.session
        model = session.model()
        info = model.info
        images = session.sample_images()
        count = min(MAX_IMAGES, len(images.pictures))
        notes = _model_notes(info, count, len(images.pictures))
        targets, hidden, mask_seed = _masks(ctx, count, notes)
        ctx.progress(f"attention: {count} images, {info.depth} blocks")
        encoder = ctx.settings.attention_encoder
        attention, capture_note = _encoder_attention(ctx, model, count, targets, encoder)
        result = AttentionResult(
            images=list(images.pictures[:count]),
            names=list(images.names[:count]),
            image_seed=ctx.settings.seed,
            grid=tuple(info.grid),
            patch_size=info.patch_size,
            has_cls=info.has_cls,
            depth=info.depth,
            num_heads=info.num_heads,
            encoder_name=encoder,
            attention=attention,
            capture_note=capture_note,
            mask_seed=mask_seed,
            notes=notes,
        )
        if hidden is not None and model.encoder_pair() is not None:
            result.comparison = _comparison(ctx, result, hidden, count)
        elif model.encoder_pair() is None:
            notes.append("no separate target encoder in this checkpoint: the context vs target comparison is left out")
        if attention.nonfinite:
            _nonfinite_findings(result, _checkpoint_name(ctx))
        elif attention.rollout is None:
            notes.append("attention rollout left out: it needs the attention of every block")
        result.foreground = _foreground(ctx, info, images.paths[:count], result)
        result.metrics = attention_metrics(result)
        _foreground_check(result)
        return result

    def present(self, result: AttentionResult) -> Presentation:
        from .video import VideoAttentionResult, present_video_attention

        if isinstance(result, VideoAttentionResult):
            return present_video_attention(result)
        return present_attention(result)


def _encoder_attention(ctx: ReportContext, model, count: int, targets, encoder: str) -> tuple[EncoderAttention, str]:
    """Return (EncoderAttention of `encoder` on the first `count` images, how the attention was captured)."""
    info = model.info
    tokens = info.num_patches + int(info.has_cls)
    plan = plan_capture(info.depth, info.num_heads, tokens, count, ATTENTION_BUDGET_BYTES)
    per_image = info.depth * info.num_heads * tokens**2 * 4
    tensor = ctx.session.sample_images().tensor
    if per_image * len(tensor) <= ATTENTION_BUDGET_BYTES:  # small enough to share through the report's cache
        out = ctx.session.encode(encoder, attention_layers=tuple(plan.layers))
        attentions = {k: v[:count].detach().float().cpu().numpy() for k, v in out.attentions.items()}
        summary = summarise_encoder(attentions, tuple(info.grid), info.has_cls, info.depth, targets)
        return summary, f"attention probabilities of all {info.depth} blocks (explicit softmax)"
    return capture_attention(model, tensor[:count], plan, targets, encoder=encoder), plan.note


def _masks(ctx: ReportContext, count: int, notes: list[str]):
    """Return (first target block [K, N], hidden mask [K, N], seed) of the report's masks (the ones the
    predictions use) for the first `count` sample images, or Nones with a note when none can be drawn."""
    try:
        masks = ctx.session.masks()
    except ReportError as exc:
        notes.append(f"no masks could be drawn ({exc}): no target-block query patch, no context encoder map")
        return None, None, None
    return masks.targets[:count, 0], masks.hidden[:count], masks.seed


def _comparison(ctx: ReportContext, result: AttentionResult, hidden: np.ndarray, count: int) -> EncoderComparison:
    """Return the last block's head-mean maps of the context encoder under the report's masks and of the target
    encoder on the full images: taken from the shown attention when it is the target encoder's, else encoded
    here, so the figure always compares the two encoders its panels name."""
    layer = result.depth - 1
    out = ctx.session.encode("context", masked=True, first=count, attention_layers=(layer,))
    context_maps = context_head_mean_map(
        out.attentions[layer].float().numpy(), out.patch_indices.numpy(), out.valid.numpy(), result.grid, result.has_cls
    )
    if result.encoder_name == "target":
        target_maps = result.attention.head_maps[:, result.attention.layers.index(layer)].mean(axis=1)
    else:
        target = ctx.session.encode("target", first=count, attention_layers=(layer,))
        attention = np.asarray(target.attentions[layer].float().numpy(), dtype=np.float64)
        target_maps = head_maps(attention, result.grid, result.has_cls).mean(axis=1)
    return EncoderComparison(
        layer=layer, mask_seed=result.mask_seed, target_maps=target_maps, context_maps=context_maps, hidden=hidden
    )


def _foreground(ctx: ReportContext, info, paths, result: AttentionResult) -> dict | None:
    """Return the rollout-vs-foreground numbers when the run has foreground masks (Run.foreground), else None."""
    if result.attention.rollout is None or not ctx.run.foreground:
        return None
    coverages = [
        None if m is None else patch_coverage(m, info.image_size, info.preprocess, tuple(info.grid))
        for m in image_foreground(ctx.run.foreground, paths)
    ]
    return rollout_foreground_shares(result.attention.rollout, coverages, result.names)


def _foreground_check(result: AttentionResult) -> None:
    """Add the check 'rollout-on-foreground' when the run knows its images' foreground."""
    shares = result.foreground
    if shares is None:
        return
    mass, area = shares["rollout_mass_on_foreground"], shares["foreground_area_share"]
    status = "pass" if mass > area else "warn"
    result.add_check(
        "rollout-on-foreground",
        status,
        f"the {result.encoder_label}'s attention rollout puts {mass:.0%} of its mass on the foreground, which "
        f"covers {area:.0%} of the image area (mean over {shares['images']} images; "
        f"{shares['images_above_area_share']} above their own share); a model that looks at the objects puts "
        f"more than their area share there",
        figure_id="rollout",
        value=mass,
    )


def _checkpoint_name(ctx: ReportContext) -> str | None:
    """Return the name of the checkpoint the section shows, None when the session names none."""
    ref = getattr(ctx.session, "checkpoint", None)
    return getattr(ref, "name", None)


def where_nonfinite(nonfinite: dict[int, dict]) -> str:
    """Return where attention held NaN / inf in words: 'block 1 head 0 (16 values); block 3 heads 0, 2 (4 values)'."""
    return "; ".join(
        f"block {block} head{'s' if len(f['heads']) > 1 else ''} {', '.join(map(str, f['heads']))} "
        f"({f['values']} value{'s' if f['values'] != 1 else ''})"
        for block, f in nonfinite.items()
    )


def _nonfinite_findings(result: AttentionResult, checkpoint: str | None) -> None:
    """Say in one note and one failing check 'attention-finite' where the shown attention holds NaN / inf."""
    nonfinite = result.attention.nonfinite
    total = sum(f["values"] for f in nonfinite.values())
    of = f" of checkpoint {checkpoint}" if checkpoint else ""
    where = where_nonfinite(nonfinite)
    result.notes.append(
        f"the {result.encoder_label}'s attention{of} holds {total} non-finite value(s) (NaN or inf) in {where}: "
        "those heads' distance and entropy and the attention rollout are not computed"
    )
    result.add_check(
        "attention-finite",
        "fail",
        f"the {result.encoder_label}'s attention{of} holds {total} NaN or inf value(s): {where}; the weights or "
        "the input overflowed, so no map of these heads means anything",
        figure_id="heads",
        value=float(total),
    )


def _model_notes(info, count: int, available: int) -> list[str]:
    """Return the one-line notes about choices and doubts that the reader must know."""
    notes = []
    if info.heads_guessed:
        notes.append(
            f"the checkpoint does not record the number of heads; {info.num_heads} is a guess "
            f"({info.heads_source}): every attention map and number here is only right if the guess "
            f"is; pass --encoder-heads otherwise"
        )
    if available > count:
        notes.append(f"attention shown for the first {count} of the {available} sample images")
    return notes
