"""Predictions vs targets per tubelet for a V-JEPA / V-JEPA 2 run, on its sample clips.

The networks are rebuilt from the chosen checkpoint (models/vjepa_nets.py) and the masks drawn as the run's
collator draws them (models/vjepa_masks.py, one collation of the clips, seeded with the report's seed). For
each mask setting the context encoder sees the context tokens, the predictor predicts the target tokens, and
each prediction is compared with the target encoder's output there after a parameter-free layer norm over the
features, as app/vjepa/train.py forms its targets: the run's loss term mean(|z - h|^loss_exp) / loss_exp
(loss.loss_exp, 1 in the released configs: an L1 loss), the same error per target token (mean over features),
and the cosine similarity. The predictor's mask token is the one training uses: V-JEPA's PredictorMultiMaskWrapper
passes the mask setting's index, V-JEPA 2's PredictorMultiSeqWrapper the index of the clip-length group (0 here:
the clips have one length). A V-JEPA 2.1 run (models/vjepa21_nets.py) predicts the target encoder's four normed
levels at the targets and at the context: the section reproduces the loss its train.py optimised, per level and
in total (L_pred + lambda * L_ctx, each level 1/4), beside the same error maps.
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
    levels: list[dict] = field(default_factory=list)  # V-JEPA 2.1: its loss per target level
    total: dict = field(default_factory=dict)  # V-JEPA 2.1: L_pred + lambda * L_ctx


def video_predictions(ctx) -> VideoPredictionsResult:
    """Rebuild, mask, predict, compare (see the module docstring)."""
    import torch
    import torch.nn.functional as F

    from ...collect.checkpoints import load_checkpoint
    from ...models.video_networks import build_video_networks
    from ...models.vjepa_masks import as_grid, draw_masks, mask_specs
    from ...models.vjepa_nets import load_clip
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
    drawn = draw_masks(specs, len(clips), int(settings.seed))
    with torch.no_grad():
        terms = _vjepa21_terms(nets, x, drawn, config)  # None unless V-JEPA 2.1 (4 target levels)
        h = nets.target_encoder(x)
        h = F.layer_norm(h, (h.size(-1),))
        for i, (spec, (enc, pred)) in enumerate(zip(specs, drawn, strict=True)):
            if terms is not None:  # the mean over the 4 levels' features and their cosines
                per_token, cosine = terms["masks"][i]["per_token"], terms["masks"][i]["cosine_levels"]
            else:
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
    if terms is not None:
        _add_levels(result, terms, nets, run, ref)
    if logged is not None:
        result.message += f"; {ref.name} stores its epoch's mean training loss {float(logged):.4f}"
        result.metrics["checkpoint_epoch_loss"] = float(logged)
    result.notes.append(
        "The training loss was measured on training clips with augmentations and fresh masks at every step; "
        "the loss here is on the sample clips without augmentation, so the two agree only in size."
    )
    return result


def _vjepa21_terms(nets, x, drawn, config) -> dict | None:
    """V-JEPA 2.1's loss terms per mask and per target level (models/vjepa21_nets.loss_terms), or None."""
    if nets.settings.get("variant") != "2.1":
        return None
    from ...models.vjepa21_nets import LossSettings21, loss_terms

    return loss_terms(nets, x, drawn, LossSettings21.from_config(config), mask_index=0)


def _add_levels(result: VideoPredictionsResult, terms: dict, nets, run, ref) -> None:
    """The 2.1 loss per target level and its total L_pred + lambda * L_ctx (app/vjepa_2_1/train.py train_step),
    lambda at the checkpoint's iteration, its stored epoch (epochs done) x iterations per epoch
    (model.lambda_progressive: 0 before 15000, then a ramp)."""
    from ...models.vjepa21_nets import LossSettings21

    config = run.config or {}
    loss_set = LossSettings21.from_config(config)
    blocks, n = nets.settings["levels"], len(nets.settings["levels"])
    ctx_levels = terms.get("context_levels")
    for k, block in enumerate(blocks):
        result.levels.append(
            {
                "level": k + 1,
                "block": block,
                "weight": 1.0 / n,
                "prediction_loss": float(terms["pred_levels"][k]),
                "context_loss": None if ctx_levels is None else float(ctx_levels[k]),
                "cosine": float(np.mean([float(t["cosine_levels"][k]) for t in terms["masks"]])),
            }
        )
    from ..dynamics.vjepa_schedules import video_steps_per_epoch

    ipe, _ = video_steps_per_epoch(run.scalars, config)  # optimization.ipe, else the CSV's rows per epoch
    iteration = ref.step if ref.step is not None else (ref.epoch * ipe if ref.epoch and ipe else None)
    lam = loss_set.lambda_at(iteration) if (iteration is not None or not loss_set.lambda_progressive) else None
    total = {"prediction_loss": float(terms["pred"]), "lambda": lam, "iteration": iteration}
    if "context" in terms:
        total["context_loss"] = float(terms["context"])
        total["distance_weighted"] = loss_set.weight_distance
    if lam is not None:
        total["loss"] = total["prediction_loss"] + lam * total.get("context_loss", 0.0)
        result.message = (
            f"loss on the sample clips {total['loss']:.4f} = L_pred {total['prediction_loss']:.4f} + {lam:g} x "
            f"L_ctx {total.get('context_loss', 0.0):.4f} over {n} target levels (1/{n} each)"
        )
    else:
        result.notes.append("lambda of the context loss needs the checkpoint's iteration, which the run does not say")
    result.total = total
    result.metrics.update(
        {
            "method": "V-JEPA 2.1 loss (app/vjepa_2_1/train.py): L_pred + lambda * L_ctx, each the mean of "
            "|z - LN_level(h)|^loss_exp / loss_exp over 4 target levels (1/4 each), L_ctx at the context tokens "
            "divided by their distance weight when loss.weight_distance_loss",
            "levels": result.levels,
            "total": total,
        }
    )


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
    if result.levels:
        _levels_table(shown, result)
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


def _levels_table(shown: Presentation, result: VideoPredictionsResult) -> None:
    """V-JEPA 2.1: the loss per target level, as train.py weighs it, and the total."""
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    rows = [
        [
            lv["level"],
            f"block {lv['block']}",
            f"{lv['weight']:g}",
            fmt(lv["prediction_loss"]),
            fmt(lv["context_loss"]),
            f"{lv['cosine']:.3f}",
        ]
        for lv in result.levels
    ]
    t = result.total
    rows.append(
        [
            "all",
            f"lambda {t['lambda']:g}" if t.get("lambda") is not None else "lambda ?",
            "",
            fmt(t["prediction_loss"]),
            fmt(t.get("context_loss")),
            fmt(t.get("loss")),
        ]
    )
    shown.add_table(
        "video-prediction-levels",
        "Loss per target level (V-JEPA 2.1)",
        ["level", "encoder output", "weight", "L_pred (targets)", "L_ctx (context)", "mean cosine / total"],
        rows,
        caption="The target is the target encoder's four normed levels (after the blocks named), each layer-normed "
        "over its features; the predictor predicts all four at the hidden tokens (L_pred) and, with predict_all, "
        "at the context tokens (L_ctx, each token's error divided by its distance weight when "
        "weight_distance_loss). The mean over the concatenated features weighs each level 1/4; the last row is "
        "the loss train.py optimises, L_pred + lambda x L_ctx. Healthy: a total near the checkpoint's stored "
        "epoch loss (in the section's line) and no level far above the others.",
    )
