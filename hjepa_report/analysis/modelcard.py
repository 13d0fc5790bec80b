"""Model card: the architecture rebuilt from the checkpoint, how each number was obtained, the EMA gap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..plotting import PALETTE, new_figure
from .base import AnalysisPass, PassResult, Presentation
from .context import ReportContext


@dataclass
class ModelCardResult(PassResult):
    """The rebuilt architecture of the chosen checkpoint and its EMA gap."""

    checkpoint_name: str
    rebuilt: list[str]
    architecture: dict
    param_counts: dict
    ema_gap: dict | None
    training_loss: list[str]  # [formula or why it cannot be reproduced, where it was read]


class ModelCardPass(AnalysisPass[ModelCardResult]):
    """What could be rebuilt from the chosen checkpoint, and how far the EMA target trails the context encoder."""

    name = "model"
    title = "Model"
    needs_model = True

    def applies(self, ctx: ReportContext) -> str | None:
        return ctx.session.skip_reason(needs_images=False)

    def compute(self, ctx: ReportContext) -> ModelCardResult:
        from ..models import model_card

        card = model_card(ctx.session.model())
        arch, gap = card["architecture"], card["ema_gap"]
        result = ModelCardResult(
            checkpoint_name=ctx.session.checkpoint.name,
            rebuilt=card["rebuilt"],
            architecture=arch,
            param_counts=card["param_counts"],
            ema_gap=gap,
            training_loss=_training_loss(ctx),
        )
        for output, why in card.get("refused", {}).items():
            result.notes.append(f"{output} outputs are not computed: {why}")
        for u in card["unsupported"]:
            result.notes.append(
                f"Unsupported option {u['option']}: {u['message']} (refused: {', '.join(u['affects'])})."
            )
        result.notes.extend(f"Warning: {w}" for w in card["warnings"])
        if arch.get("heads_guessed"):
            result.add_check(
                "heads-known",
                "warn",
                f"The number of encoder heads ({arch['num_heads']}) was "
                f"guessed ({arch['heads_source']}); pass --encoder-heads if attention looks wrong.",
            )
        result.metrics.update(
            {
                "architecture": arch,
                "param_counts": card["param_counts"],
                "ema_gap": gap,
                "training_loss": result.training_loss[0],
            }
        )
        if gap is None:
            result.notes.append("The checkpoint has no separate target encoder, so there is no EMA gap to show.")
        return result

    def present(self, result: ModelCardResult) -> Presentation:
        shown = Presentation(
            intro=(
                f"Rebuilt from {result.checkpoint_name}: {', '.join(result.rebuilt)}. Weights were matched key by key "
                "(strict), so every number below comes from the run's own networks."
            )
        )
        shown.add_table(
            "architecture",
            "Architecture",
            ["property", "value", "how it was obtained"],
            _architecture_rows(result.architecture) + [["training loss (as reproduced)", *result.training_loss]],
        )
        shown.add_table(
            "parameters", "Parameters", ["sub-model", "values"], [[k, v] for k, v in result.param_counts.items()]
        )
        if result.ema_gap is not None:
            shown.add_figure(
                "ema-gap", "EMA gap per encoder part", _gap_caption(result.ema_gap), _gap_figure(result.ema_gap)
            )
        return shown


def _training_loss(ctx: ReportContext) -> list[str]:
    """The loss the report reproduces for gradient flow and the landscape (models/loss_settings.py), or why it
    cannot, with where it was read."""
    from ..models.loss_settings import UnsupportedLoss

    model = ctx.session.model()
    declared = ((ctx.run.config or {}).get("loss") or {}).get("type")
    source = f"config loss.type {declared!r}" if declared else "H-JEPA default loss.type 'combined' (no loss.type)"
    if model.layout == "ijepa":
        source = "I-JEPA src/train.py"
    try:
        return [model.loss_settings(ctx.run.config).describe(), source]
    except UnsupportedLoss as exc:
        return [f"not reproduced: {exc}", source]


def _architecture_rows(arch: dict) -> list[list]:
    rows = [
        ["layout", arch["layout"], "checkpoint keys"],
        ["embed dim / depth", f"{arch['embed_dim']} / {arch['depth']}", "tensor shapes"],
        ["heads", arch["num_heads"], arch["heads_source"] + (" (guessed)" if arch["heads_guessed"] else "")],
        ["patch size / image size", f"{arch['patch_size']} / {arch['image_size']}", "patch_embed shape; config"],
        ["token grid", f"{arch['grid'][0]} x {arch['grid'][1]}", "pos_embed shape"],
        ["CLS token", arch["has_cls"], "checkpoint keys"],
        ["MLP ratio / qkv bias", f"{arch['mlp_ratio']:g} / {arch['qkv_bias']}", "tensor shapes"],
    ]
    if arch.get("predictor_depth") is not None:
        rows.append(
            [
                "predictor width / depth / heads",
                f"{arch['predictor_embed_dim']} / {arch['predictor_depth']} / {arch['predictor_heads']}",
                f"tensor shapes; heads: {arch['predictor_heads_source']}",
            ]
        )
    rows.append(
        [
            "hierarchy levels",
            arch["num_levels"],
            "hierarchy_projections keys" if arch["num_levels"] > 1 else "single level (no hierarchy heads)",
        ]
    )
    rows.append(["input normalisation", f"mean {arch['norm_mean']}, std {arch['norm_std']}", arch["norm_source"]])
    rows.append(["preprocessing", arch["preprocess"], "layout (H-JEPA eval transform / I-JEPA full-image resize)"])
    if arch.get("layer_scale"):
        rows.append(["LayerScale", arch["layer_scale"], "checkpoint keys"])
    if arch.get("fpn_dim"):
        rows.append(["FPN", f"width {arch['fpn_dim']}, fusion {arch.get('fpn_fusion')}", "checkpoint keys; config"])
    if arch.get("projection_norm") and arch["num_levels"] > 1:
        rows.append(["hierarchy projection norm", arch["projection_norm"], "checkpoint keys"])
    rows.append(["EMA target encoder", arch.get("ema_target", True), "checkpoint keys"])
    return rows


def _gap_figure(gap: dict):
    names = list(gap["parts"])
    values = np.array([np.nan if gap["parts"][n] is None else gap["parts"][n] for n in names], dtype=float)
    fig, ax = new_figure(max(4.0, 0.45 * len(names) + 1.5), 2.8)
    ax.bar(range(len(names)), np.nan_to_num(values), color=PALETTE[0])
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylabel("||target - context|| / ||target||")
    ax.set_title(f"overall gap {gap['overall']:.3g}" if gap["overall"] is not None else "overall gap: n/a", loc="left")
    return fig


def _gap_caption(gap: dict) -> str:
    fixed = f" Fixed (non-trained) parts have gap 0 by construction: {', '.join(gap['fixed'])}." if gap["fixed"] else ""
    return (
        "Relative L2 distance between the EMA target encoder's and the context encoder's weights, per part "
        "(BYOL, Grill et al. 2020; the EMA update of I-JEPA's src/train.py). Small values (around 1e-3 to "
        "1e-1) are typical: the target trails the context encoder. A gap near 0 everywhere means the EMA "
        "momentum was ~1 from the start (the target never moved); a very large gap in early blocks means "
        "the context encoder moved far from its average late in training." + fixed
    )
