"""What was rebuilt from a checkpoint (ModelInfo) and the data of the report's Model card.

The EMA gap is the relative L2 distance between the target and context encoder weights,
||theta_target - theta_context|| / ||theta_target||, per encoder part (patch_embed, pos_embed, cls_token,
each block, final norm). The target encoder is an exponential moving average of the context encoder
(BYOL, Grill et al. 2020; I-JEPA src/train.py momentum update), so the gap says how far the EMA trails:
0 means identical weights (momentum 1 from the start, or a copy); a gap that only grows means the
context encoder keeps moving away from its average.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OUTPUTS = ("encoder", "predictor", "levels", "attention")  # what an unsupported option can make us refuse


@dataclass
class Unsupported:
    """A training option that is not rebuilt; the outputs it affects are refused, never computed wrongly.

    affects: any of OUTPUTS.
    """

    option: str
    affects: tuple[str, ...]
    message: str


@dataclass
class ModelInfo:
    """The architecture found in a checkpoint and how each number was obtained."""

    layout: str  # hjepa | ijepa | factory
    checkpoint: str
    embed_dim: int
    depth: int
    num_heads: int
    heads_source: str
    heads_guessed: bool
    patch_size: int
    image_size: int
    grid: tuple[int, int]
    has_cls: bool
    mlp_ratio: float
    qkv_bias: bool
    layer_scale: str | None = None
    predictor_embed_dim: int | None = None
    predictor_depth: int | None = None
    predictor_heads: int | None = None
    predictor_heads_source: str = ""
    predictor_mlp_ratio: float | None = None
    num_levels: int = 1
    projection_norm: str | None = None
    fpn_dim: int | None = None  # H-JEPA feature pyramid width (None: no pyramid)
    fpn_fusion: str | None = None  # "add" | "concat"
    ema_target: bool = True  # False: end-to-end run without a separate target encoder
    norm_mean: tuple[float, float, float] = IMAGENET_MEAN
    norm_std: tuple[float, float, float] = IMAGENET_STD
    norm_source: str = "ImageNet default"
    preprocess: str = "resize_crop"  # see images.load_images
    target_norm: str = "projected"  # how the loss formed its targets: projected (H-JEPA) | layernorm (I-JEPA style)
    param_counts: dict[str, int] = field(default_factory=dict)
    checkpoint_dtypes: list[str] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def refusal(self, output: str) -> str | None:
        """Return why `output` ("encoder", "predictor", "levels", "attention") cannot be computed, or None."""
        reasons = [f"{u.option}: {u.message}" for u in self.unsupported if output in u.affects]
        return "; ".join(reasons) or None

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (lists instead of tuples, plain numbers)."""
        out = asdict(self)
        out["grid"] = list(self.grid)
        out["norm_mean"], out["norm_std"] = list(self.norm_mean), list(self.norm_std)
        out["unsupported"] = [{"option": u.option, "affects": list(u.affects), "message": u.message}
                              for u in self.unsupported]
        out["num_patches"] = self.num_patches
        return out


def _relative_distance(target: list, context: list) -> float | None:
    """||t - c|| / ||t|| over a group of tensors (float64 accumulation); None when ||t|| is 0."""
    num = sum(float(((t.double() - c.double()) ** 2).sum()) for t, c in zip(target, context))
    den = sum(float((t.double() ** 2).sum()) for t in target)
    return (num ** 0.5) / (den ** 0.5) if den > 0 else None


def _groups(vit) -> dict[str, list[str]]:
    """Name -> parameter names of one ViT: patch_embed, pos_embed, cls_token, block_i, norm."""
    groups: dict[str, list[str]] = {}
    for name, _ in vit.named_parameters():
        head = name.split(".")[0]
        key = f"block_{name.split('.')[1]}" if head == "blocks" else head
        groups.setdefault(key, []).append(name)
    return groups


def ema_gap(context_vit, target_vit) -> dict[str, Any]:
    """Relative L2 distance ||theta_t - theta_c|| / ||theta_t|| per encoder part and overall.

    Returns {"parts": {name: gap}, "blocks": [gap per block], "overall": gap, "fixed": [names of
    non-trainable parts, e.g. I-JEPA's sin-cos pos_embed, whose gap is 0 by construction]}.
    """
    ctx, tgt = dict(context_vit.named_parameters()), dict(target_vit.named_parameters())
    parts = {}
    for group, names in _groups(target_vit).items():
        parts[group] = _relative_distance([tgt[n].detach() for n in names], [ctx[n].detach() for n in names])
    blocks = [parts[f"block_{i}"] for i in range(len(target_vit.blocks))]
    overall = _relative_distance([p.detach() for p in tgt.values()], [ctx[n].detach() for n in tgt])
    fixed = sorted({n.split(".")[0] for n, p in ctx.items() if not p.requires_grad and n in tgt})
    return {"parts": parts, "blocks": blocks, "overall": overall, "fixed": fixed,
            "method": "relative L2 distance ||theta_target - theta_context|| / ||theta_target||"}


def model_card(model) -> dict[str, Any]:
    """Return the Model card data for a loaded JepaModel: architecture, parameter counts, what was rebuilt,
    unsupported options, warnings and the EMA gap (None when there is no separate target encoder)."""
    info = model.info
    rebuilt = [name for name in ("context_encoder", "target_encoder", "predictor", "hierarchy")
               if getattr(model, name, None) is not None]
    gap = None
    pair = model.encoder_pair()
    if pair is not None:
        gap = ema_gap(*pair)
    return {
        "architecture": info.as_dict(),
        "param_counts": dict(info.param_counts),
        "rebuilt": rebuilt,
        "unsupported": [{"option": u.option, "affects": list(u.affects), "message": u.message}
                        for u in info.unsupported],
        "refused": {out: info.refusal(out) for out in OUTPUTS if info.refusal(out)},
        "warnings": list(info.warnings),
        "ema_gap": gap,
    }
