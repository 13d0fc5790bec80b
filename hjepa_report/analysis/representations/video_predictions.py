"""Predictions vs targets per tubelet for a V-JEPA / V-JEPA 2 run, on its sample clips.

The networks are rebuilt from the chosen checkpoint (models/vjepa_nets.py) and the masks drawn as the run's
collator draws them (models/vjepa_masks.py, one collation of the clips, seeded with the report's seed). For
each mask setting the context encoder sees the context tokens, the predictor predicts the target tokens, and
each prediction is compared with the target encoder's output there after a parameter-free layer norm over the
features, as app/vjepa/train.py forms its targets: the run's loss term mean(|z - h|^loss_exp) / loss_exp
(loss.loss_exp, 1 in the released configs: an L1 loss), the same error per target token (mean over features),
and the cosine similarity. The predictor's mask token is the one training uses: V-JEPA's PredictorMultiMaskWrapper
passes the mask setting's index, V-JEPA 2's PredictorMultiSeqWrapper the index of the clip-length group (0 here:
the clips have one length).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ReportError
from ..base import Animation, PassResult, Presentation


@dataclass
class VideoPredictionsResult(PassResult):
    """Per clip its frames (first of each time slot); per mask setting the error map [B, T, H, W] (NaN off the
    targets) and the numbers."""

    names: list[str] = field(default_factory=list)
    frames: list[list[np.ndarray]] = field(default_factory=list)
    errors: list[np.ndarray] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    loss_exp: float = 1.0
    seed: int = 0


def video_predictions(ctx) -> VideoPredictionsResult:
    """Rebuild, mask, predict, compare (see the module docstring)."""
    import torch
    import torch.nn.functional as F

    from ...collect.checkpoints import load_checkpoint
    from ...models.vjepa_masks import as_grid, draw_masks, mask_specs
    from ...models.vjepa_nets import build_video_networks, load_clip
    from ..attention.video import MAX_CLIPS

    ref, settings, run = ctx.session.checkpoint, ctx.settings, ctx.run
    config = run.config or {}
    try:
        nets = build_video_networks(
            load_checkpoint(ref.path, trust=settings.trust_checkpoints),
            config,
            run.layout,
            settings.encoder_heads,
            settings.predictor_heads,
        )
    except ReportError as exc:
        raise ReportError(f"the video networks could not be rebuilt: {exc}") from None
    grid = nets.encoder.grid
    clips = run.clips[:MAX_CLIPS]
    loaded = [load_clip(c, grid, config) for c in clips]
    x = torch.stack([t for t, _, _ in loaded])
    loss_exp = float((config.get("loss") or {}).get("loss_exp", 1.0))
    result = VideoPredictionsResult(loss_exp=loss_exp, seed=int(settings.seed))
    result.names = [c.name for c in clips]
    result.frames = [[pictures[t * grid.tubelet] for t in range(grid.depth)] for _, pictures, _ in loaded]
    specs = mask_specs(config)
    ctx.progress(f"predictions: {len(clips)} clips, {len(specs)} mask settings")
    with torch.no_grad():
        h = nets.target_encoder(x)
        h = F.layer_norm(h, (h.size(-1),))
        for i, (spec, (enc, pred)) in enumerate(
            zip(specs, draw_masks(specs, len(clips), int(settings.seed)), strict=True)
        ):
            z = nets.predictor(nets.encoder(x, enc), enc, pred, i if run.layout == "vjepa" else 0)
            target = torch.gather(h, 1, pred.unsqueeze(-1).expand(-1, -1, h.size(-1)))
            per_token = (z - target).abs().pow(loss_exp).mean(dim=-1)  # [B, M]
            cosine = F.cosine_similarity(z, target, dim=-1)
            err = np.full((len(clips), spec.tokens), np.nan)
            np.put_along_axis(err, pred.numpy(), per_token.numpy().astype(float), axis=1)
            result.errors.append(err.reshape(len(clips), spec.duration, spec.height, spec.width))
            targets = as_grid(pred.numpy(), spec)
            result.summary.append(
                {
                    "mask": i + 1,
                    "target_tokens": int(pred.shape[1]),
                    "loss": float(per_token.mean()) / loss_exp,
                    "mean_cosine": float(cosine.mean()),
                    "targets_per_slot": [int(v) for v in targets.sum(axis=(0, 2, 3))],
                }
            )
    loss = float(np.mean([s["loss"] for s in result.summary]))
    logged = (ref.metadata or {}).get("loss")  # save_checkpoint stores loss_meter.avg: the epoch's mean loss
    result.metrics = {
        "method": "V-JEPA loss term mean(|z - LN(h)|^loss_exp) / loss_exp at the target tokens (app/vjepa/train.py)",
        "loss_exp": loss_exp,
        "masks": result.summary,
        "loss_on_clips": loss,
        "mask_seed": int(settings.seed),
        "clips": len(clips),
    }
    result.message = f"loss on the sample clips {loss:.4f} (mean over {len(specs)} mask settings)"
    if logged is not None:
        result.message += f"; {ref.name} stores its epoch's mean training loss {float(logged):.4f}"
        result.metrics["checkpoint_epoch_loss"] = float(logged)
    result.notes.append(
        "The training loss was measured on training clips with augmentations and fresh masks at every step; "
        "the loss here is on the sample clips without augmentation, so the two agree only in size."
    )
    return result


def present_video_predictions(result: VideoPredictionsResult) -> Presentation:
    from ..attention.video import _heat, _row, _spaced, _upscale
    from ..masking.gifs import LAST_MS, STEP_MS, _frame

    shown = Presentation(
        intro=(
            "What the predictor makes of the hidden tubelets: each target token's prediction against the target "
            "encoder's layer-normed output, with the run's own masks and loss."
        )
    )
    shown.add_table(
        "video-prediction-stats",
        "Prediction error per mask setting",
        ["mask", "target tokens", f"loss (|z - h|^{result.loss_exp:g})", "mean cosine", "targets per time slot"],
        [
            [s["mask"], s["target_tokens"], f"{s['loss']:.4f}", f"{s['mean_cosine']:.3f}", str(s["targets_per_slot"])]
            for s in result.summary
        ],
        caption="Loss: the run's loss term, averaged over the target tokens of the sample clips; cosine: between "
        "prediction and target per token. Healthy: a loss near the logged training loss and a cosine well "
        "above 0; a cosine near 1 with a collapsed target encoder means nothing (see Representations).",
    )
    for i, err in enumerate(result.errors):
        depth = err.shape[1]
        frames = []
        for k in range(depth):
            rows = []
            for j, clip_frames in enumerate(result.frames):
                picture = _upscale(clip_frames[k])
                maps = np.nan_to_num(err[j], nan=0.0)
                heat = _heat(picture, maps, k)
                off = np.isnan(err[j][k])
                cell = picture.shape[0] // off.shape[0]
                heat[off.repeat(cell, axis=0).repeat(cell, axis=1)] = 200  # context tokens: light grey
                rows.append(_row([picture, heat]))
            frames.append(_frame(np.concatenate(_spaced(rows), axis=0), f"mask {i + 1}, time slot {k + 1}/{depth}"))
        shown.add_figure(
            f"video-prediction-error-{i + 1}",
            f"Prediction error per tubelet, mask {i + 1}",
            "One GIF frame per time slot; rows: clips; left: the slot's first frame, right: the error of each "
            "predicted tubelet token (bright: large |z - h|, scaled to the clip's range over the slots), grey: "
            "context tokens, which are not predicted. Healthy: errors that are small inside objects the context "
            "shows and larger where something new enters.",
            Animation(frames=frames, duration_ms=[STEP_MS] * (len(frames) - 1) + [LAST_MS], loop=0),
        )
    return shown
