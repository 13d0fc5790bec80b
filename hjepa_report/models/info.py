"""What was rebuilt from a checkpoint (ModelInfo) and the data of the report's Model card.

The EMA gap is the relative L2 distance between the target and context encoder weights,
||theta_target - theta_context|| / ||theta_target||, per encoder part (patch_embed, pos_embed, cls_token,
each block, final norm), computed by models/ema.py (the same function and part names as the Schedules
section's EMA drift). The target encoder is an exponential moving average of the context encoder
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
        out["unsupported"] = [
            {"option": u.option, "affects": list(u.affects), "message": u.message} for u in self.unsupported
        ]
        out["num_patches"] = self.num_patches
        return out


def model_card(model) -> dict[str, Any]:
    """Return the Model card data for a loaded JepaModel: architecture, parameter counts, what was rebuilt,
    unsupported options, warnings and the EMA gap (None when there is no separate target encoder)."""
    info = model.info
    rebuilt = [
        name
        for name in ("context_encoder", "target_encoder", "predictor", "hierarchy")
        if getattr(model, name, None) is not None
    ]
    gap = None
    pair = model.encoder_pair()
    if pair is not None:
        from .ema import ema_gap

        gap = ema_gap(*pair)
    return {
        "architecture": info.as_dict(),
        "param_counts": dict(info.param_counts),
        "rebuilt": rebuilt,
        "unsupported": [
            {"option": u.option, "affects": list(u.affects), "message": u.message} for u in info.unsupported
        ],
        "refused": {out: info.refusal(out) for out in OUTPUTS if info.refusal(out)},
        "warnings": list(info.warnings),
        "ema_gap": gap,
    }
