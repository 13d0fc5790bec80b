"""Read the architecture from tensor shapes, and choose the number of attention heads.

Everything except the number of heads is in the weights: width = patch_embed.proj rows, patch size = its
kernel, depth = number of ``blocks.N``, CLS = a ``cls_token`` key, token grid = pos_embed rows (minus CLS),
MLP ratio = fc1 rows / width, qkv bias = a ``qkv.bias`` key, LayerScale = ``ls1.gamma`` / ``ls_attn.gamma``.
Heads cannot be read from weights (the qkv matrix is the same for any split), so they come from, in order:
an explicit override, an explicit config field, a known model name, else 64-dim heads (choose_heads).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import ModelBuildError

# timm / I-JEPA model names -> (width, heads) (timm vision_transformer.py, ijepa src/models/vision_transformer.py)
NAMED_SIZES = {
    "tiny": (192, 3),
    "small": (384, 6),
    "base": (768, 12),
    "large": (1024, 16),
    "huge": (1280, 16),
    "giant": (1408, 16),
}
_NAME = re.compile(r"vit_(tiny|small|base|large|huge|giant)", re.IGNORECASE)


@dataclass
class VitShape:
    """Architecture of one ViT encoder as read from its tensors."""

    embed_dim: int
    depth: int
    patch_size: int
    num_patches: int
    has_cls: bool
    mlp_ratio: float
    qkv_bias: bool
    layer_scale: str | None  # None | "timm" (ls1/ls2.gamma) | "hjepa" (ls_attn/ls_mlp.gamma)
    in_chans: int


@dataclass
class HeadsChoice:
    """How many heads, and where that number came from."""

    heads: int
    source: str
    guessed: bool
    warning: str | None = None


def _require(sd: dict, key: str):
    if key not in sd:
        raise ModelBuildError(f"missing key '{key}' needed to read the architecture")
    return sd[key]


def count_indexed(sd: dict, prefix: str) -> int:
    """Return 1 + the largest N among keys '<prefix>N.*' (0 when there is none)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = [int(m.group(1)) for k in sd if (m := pattern.match(k))]
    return max(found) + 1 if found else 0


def infer_vit(sd: dict, prefix: str) -> VitShape:
    """Read a ViT's architecture from the keys under `prefix` (e.g. 'context_encoder.vit.')."""
    proj = _require(sd, prefix + "patch_embed.proj.weight")
    if proj.shape[2] != proj.shape[3]:
        raise ModelBuildError(f"{prefix}patch_embed has a non-square kernel {tuple(proj.shape[2:])}")
    dim, depth = int(proj.shape[0]), count_indexed(sd, prefix + "blocks.")
    if depth == 0:
        raise ModelBuildError(f"no transformer blocks under '{prefix}blocks.'")
    has_cls = prefix + "cls_token" in sd
    pos = _require(sd, prefix + "pos_embed")
    fc1 = _require(sd, prefix + "blocks.0.mlp.fc1.weight")
    layer_scale = None
    if prefix + "blocks.0.ls1.gamma" in sd:
        layer_scale = "timm"
    elif prefix + "blocks.0.ls_attn.gamma" in sd:
        layer_scale = "hjepa"
    return VitShape(
        embed_dim=dim,
        depth=depth,
        patch_size=int(proj.shape[2]),
        num_patches=int(pos.shape[1]) - int(has_cls),
        has_cls=has_cls,
        mlp_ratio=int(fc1.shape[0]) / dim,
        qkv_bias=prefix + "blocks.0.attn.qkv.bias" in sd,
        layer_scale=layer_scale,
        in_chans=int(proj.shape[1]),
    )


def token_grid(num_patches: int, patch_size: int, image_size: int | None) -> tuple[int, int]:
    """Return the (rows, cols) token grid: from the image size when given and consistent, else square."""
    if image_size and (image_size // patch_size) ** 2 == num_patches:
        side = image_size // patch_size
        return side, side
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ModelBuildError(f"{num_patches} position-table rows do not form a square token grid")
    return side, side


def name_heads(model_name: str | None, width: int) -> tuple[int | None, str | None]:
    """Return (heads, warning) for a timm / I-JEPA model name such as 'vit_base_patch16_224'."""
    match = _NAME.search(model_name or "")
    if not match:
        return None, None
    named_width, heads = NAMED_SIZES[match.group(1).lower()]
    if named_width != width:
        return None, (
            f"model name '{model_name}' implies width {named_width}, but the weights are {width} "
            "wide; the name was not used for the number of heads"
        )
    return heads, None


def default_heads(width: int) -> int:
    """64-dim heads (ViT convention, Dosovitskiy et al. 2021); 1280 and 1408 wide models use 16 heads."""
    if width in (1280, 1408):
        return 16
    return width // 64 if width % 64 == 0 and width >= 64 else 1


def choose_heads(
    width: int, *, override: int | None = None, config_value=None, config_field: str = "", model_name: str | None = None
) -> HeadsChoice:
    """Pick the number of heads: override > explicit config field > model name > 64-dim heads."""
    if override:
        return _checked(HeadsChoice(int(override), "command line override", False), width)
    if config_value:
        return _checked(HeadsChoice(int(config_value), f"config {config_field}", False), width)
    heads, warning = name_heads(model_name, width)
    if heads:
        return _checked(HeadsChoice(heads, f"model name '{model_name}'", False), width)
    guess = default_heads(width)
    note = (
        f"number of heads not recorded: guessed {guess} ({width // guess}-dim heads); if that is wrong, "
        "attention maps and every output are wrong: pass --encoder-heads / --predictor-heads"
    )
    return HeadsChoice(guess, "guess (64-dim heads)", True, f"{warning}; {note}" if warning else note)


def _checked(choice: HeadsChoice, width: int) -> HeadsChoice:
    if choice.heads <= 0 or width % choice.heads:
        raise ModelBuildError(f"{choice.heads} heads (from {choice.source}) do not divide the width {width}")
    return choice
