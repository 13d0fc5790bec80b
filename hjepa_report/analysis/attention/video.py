"""The attention section of a V-JEPA / V-JEPA 2 run: attention maps and rollout per frame of its sample clips.

The networks are rebuilt from the chosen checkpoint by models/vjepa_nets.py (the original computation, within
1e-6 of it on the fixtures); the clips are the run's frame folders (clips/<name>/, read by the collector). For
each clip the encoder (--attention-encoder, default the target encoder) runs on the whole clip, unmasked; its
attention becomes two maps over the (time slot, row, column) token grid: the last block's attention each token
receives (mean over heads and queries) and the attention rollout (Abnar & Zuidema 2020). Both are drawn over
the first frame of each tubelet, one GIF frame per time slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ReportError
from ..base import Animation, PassResult, Presentation

MAX_CLIPS = 4
MIN_SIDE = 128  # px of each drawn frame


@dataclass
class VideoAttentionResult(PassResult):
    """Per clip: its name, the first frame of each time slot, and the two maps [T, H, W]."""

    names: list[str] = field(default_factory=list)
    frames: list[list[np.ndarray]] = field(default_factory=list)
    last_block: list[np.ndarray] = field(default_factory=list)
    rollout: list[np.ndarray] = field(default_factory=list)
    encoder_name: str = "target"
    checkpoint: str = ""


def video_attention_skip(ctx) -> str | None:
    """Why the video attention cannot be drawn (no checkpoint, no clips), or None."""
    if ctx.session.checkpoint is None:
        return "The run has no checkpoint, so its networks cannot be run."
    if not ctx.run.clips:
        return (
            "The run has no sample clips (put frame folders RUN_DIR/clips/<name>/*.png or videos "
            "RUN_DIR/clips/<name>.mp4 there)."
        )
    from ...models.vjepa_nets import KNOWN_HEADS

    name = str(((ctx.run.config or {}).get("model") or {}).get("model_name"))
    if ctx.settings.encoder_heads is None and name not in KNOWN_HEADS:
        return (
            f"The encoder's number of attention heads is unknown for model_name '{name}' (the weights do not tell): "
            "pass --encoder-heads."
        )
    return None


def video_attention(ctx) -> VideoAttentionResult:
    """Rebuild the chosen checkpoint's networks and measure their attention on up to MAX_CLIPS clips."""
    from ...collect.checkpoints import load_checkpoint
    from ...models.video_networks import build_video_networks
    from ...models.vjepa_nets import attention_maps, load_clip

    ref, settings = ctx.session.checkpoint, ctx.settings
    raw = load_checkpoint(ref.path, trust=settings.trust_checkpoints)
    try:
        nets = build_video_networks(
            raw, ctx.run.config or {}, ctx.run.layout, settings.encoder_heads, settings.predictor_heads
        )
    except ReportError as exc:
        raise ReportError(f"the video networks could not be rebuilt: {exc}") from None
    which = "context" if settings.attention_encoder == "context" else "target"
    encoder = nets.encoder if which == "context" else nets.target_encoder
    grid = encoder.grid
    result = VideoAttentionResult(encoder_name=which, checkpoint=ref.name)
    clips = ctx.run.clips[:MAX_CLIPS]
    ctx.progress(f"attention: {len(clips)} clips, {len(encoder.blocks)} blocks")
    per_clip = []
    for clip in clips:
        tensor, pictures, note = load_clip(clip, grid, ctx.run.config)
        if note:
            result.notes.append(f"clip '{clip.name}': {note}")
        last, roll = (m.numpy() for m in attention_maps(encoder, tensor))
        result.names.append(clip.name)
        result.frames.append([pictures[t * grid.tubelet] for t in range(grid.depth)])
        result.last_block.append(last)
        result.rollout.append(roll)
        per_clip.append(_clip_metrics(clip.name, roll))
    if len(ctx.run.clips) > MAX_CLIPS:
        result.notes.append(f"the first {MAX_CLIPS} of {len(ctx.run.clips)} clips are shown")
    result.metrics = {
        "encoder": which,
        "checkpoint": ref.name,
        "grid": [grid.depth, grid.height, grid.width],
        "networks": "rebuilt by hjepa_report/models/vjepa_nets.py (V-JEPA's own computation)",
        "clips": per_clip,
        "rollout_method": "attention rollout, Abnar & Zuidema 2020 (0.5 A + 0.5 I per block, heads averaged)",
    }
    shares = [c["rollout_share_per_slot"] for c in per_clip]
    result.message = f"{len(clips)} clips, {len(encoder.blocks)} blocks of the {which} encoder ({ref.name})"
    if shares:
        mean = np.mean(shares, axis=0)
        result.message += "; rollout share per time slot " + " ".join(f"{100 * v:.0f}%" for v in mean)
    return result


def _clip_metrics(name: str, rollout: np.ndarray) -> dict:
    """The rollout's share of attention per time slot and its normalised entropy over all tokens
    (1: attention spread evenly over the clip; near 0: on a few tokens)."""
    p = rollout.astype(float).ravel()
    p = p / p.sum()
    entropy = float(-(p * np.log(np.clip(p, 1e-30, None))).sum() / np.log(len(p)))
    share = rollout.sum(axis=(1, 2)) / rollout.sum()
    return {"clip": name, "rollout_share_per_slot": [float(v) for v in share], "rollout_entropy": entropy}


def present_video_attention(result: VideoAttentionResult) -> Presentation:
    shown = Presentation(
        intro=(
            f"Attention of the {result.encoder_name} encoder of {result.checkpoint} on the run's sample clips, "
            "rebuilt from the checkpoint. Each token is a tubelet (a few frames x one patch); the maps show "
            "the attention each token receives."
        )
    )
    rows = [
        [c["clip"], " ".join(f"{100 * v:.0f}%" for v in c["rollout_share_per_slot"]), f"{c['rollout_entropy']:.3f}"]
        for c in result.metrics.get("clips", [])
    ]
    shown.add_table(
        "video-attention-stats",
        "Rollout per clip",
        ["clip", "rollout share per time slot", "normalised entropy"],
        rows,
        caption="Share of the rollout's attention mass that each time slot receives, and the rollout's entropy "
        "over all tokens divided by log(tokens): 1 is attention spread evenly over the clip, near 0 is "
        "attention on a few tokens. A model that attends to one slot only ignores the motion.",
    )
    shown.add_figure(
        "video-attention",
        "Attention per frame",
        "One GIF frame per time slot (a tubelet of frames); rows: clips; columns: the slot's first frame, the "
        "last block's attention received per token (mean over heads and queries) and the attention rollout "
        "(Abnar & Zuidema 2020), each map scaled to its clip's range over all slots (bright: more attention). "
        "Healthy: attention that follows the moving object from slot to slot rather than a fixed corner or "
        "border token (a high-norm artifact).",
        attention_gif(result),
    )
    return shown


def attention_gif(result: VideoAttentionResult) -> Animation:
    """Frame k: for each clip a row [frame, last-block map, rollout] of time slot k."""
    from ..masking.gifs import LAST_MS, STEP_MS, _frame

    depth = len(result.frames[0])
    frames = []
    for k in range(depth):
        rows = []
        for frames_of_clip, last, roll in zip(result.frames, result.last_block, result.rollout, strict=True):
            picture = _upscale(frames_of_clip[k])
            rows.append(_row([picture, _heat(picture, last, k), _heat(picture, roll, k)]))
        panel = np.concatenate(_spaced(rows), axis=0)
        frames.append(_frame(panel, f"time slot {k + 1}/{depth}: frame | last block | rollout"))
    return Animation(frames=frames, duration_ms=[STEP_MS] * (len(frames) - 1) + [LAST_MS], loop=0)


def _upscale(picture: np.ndarray) -> np.ndarray:
    factor = max(1, int(np.ceil(MIN_SIDE / min(picture.shape[:2]))))
    return picture.repeat(factor, axis=0).repeat(factor, axis=1)


def _heat(picture: np.ndarray, maps: np.ndarray, k: int) -> np.ndarray:
    """The slot's map over a washed copy of the frame, scaled to the clip's range (magma colour map)."""
    from matplotlib import colormaps

    lo, hi = float(maps.min()), float(maps.max())
    norm = (maps[k] - lo) / (hi - lo) if hi > lo else np.zeros_like(maps[k])
    rows = picture.shape[0] // norm.shape[0]
    cols = picture.shape[1] // norm.shape[1]
    big = norm.repeat(rows, axis=0).repeat(cols, axis=1)
    colour = colormaps["magma"](big)[..., :3] * 255
    grey = picture[: big.shape[0], : big.shape[1]].astype(float).mean(axis=2, keepdims=True)
    return (0.25 * grey + 0.75 * colour).clip(0, 255).astype(np.uint8)


def _row(panels: list[np.ndarray], gap: int = 6) -> np.ndarray:
    height = min(p.shape[0] for p in panels)
    parts = []
    for p in panels:
        parts += [p[:height], np.full((height, gap, 3), 255, dtype=np.uint8)]
    return np.concatenate(parts[:-1], axis=1)


def _spaced(rows: list[np.ndarray], gap: int = 6) -> list[np.ndarray]:
    width = max(r.shape[1] for r in rows)
    out = []
    for r in rows:
        out += [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)]
        out += [np.full((gap, width, 3), 255, dtype=np.uint8)]
    return out[:-1]
