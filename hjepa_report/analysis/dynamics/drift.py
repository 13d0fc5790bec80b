"""EMA drift: how far the target encoder sits from the context encoder, per block, at every checkpoint.

The target encoder is an exponential moving average of the context encoder (BYOL, Grill et al. 2020; I-JEPA,
Assran et al. 2023): theta_t <- m theta_t + (1 - m) theta_c. Its distance to the context encoder is a lag:
large while the context encoder moves fast (high LR) or m is close to 1, shrinking as training settles. We
report the relative L2 distance per block,

    drift(block) = ||theta_t(block) - theta_c(block)||_2 / ||theta_t(block)||_2,

over all parameters of the block flattened together. Needs only the state dicts, not a rebuilt network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

ENCODER_PREFIXES = {  # layout -> (context prefix, target prefix) in models.normalise's flat state dict
    "hjepa": ("context_encoder.vit.", "target_encoder.vit."),
    "ijepa": ("encoder.", "target_encoder."),
}
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


@dataclass
class DriftTable:
    """Relative L2 drift per checkpoint (rows) and encoder part (columns: embed, block 0.., norm)."""

    checkpoints: list[str]
    parts: list[str]
    values: np.ndarray  # [checkpoints, parts]; NaN where a part is missing


def encoder_part(name: str) -> str:
    """Name the encoder part a parameter belongs to: 'embed', 'block N', 'norm' or 'other'."""
    m = _BLOCK.match(name)
    if m:
        return f"block {int(m.group(1))}"
    if name.startswith(("patch_embed.", "pos_embed", "cls_token", "reg_token")):
        return "embed"
    if name.startswith("norm."):
        return "norm"
    return "other"


def part_order(part: str) -> tuple[int, int]:
    """Sort key: embed, blocks in order, norm, other."""
    if part.startswith("block "):
        return (1, int(part.split()[1]))
    return ({"embed": 0, "norm": 2}.get(part, 3), 0)


def relative_drift(context: dict, target: dict) -> dict[str, float]:
    """Return ||target - context|| / ||target|| per encoder part, over the parameters both share."""
    import torch

    diff2: dict[str, float] = {}
    norm2: dict[str, float] = {}
    for name, t in target.items():
        c = context.get(name)
        if c is None or c.shape != t.shape or not t.is_floating_point():
            continue
        part = encoder_part(name)
        t64, c64 = t.detach().to(torch.float64), c.detach().to(torch.float64)
        diff2[part] = diff2.get(part, 0.0) + float(((t64 - c64) ** 2).sum())
        norm2[part] = norm2.get(part, 0.0) + float((t64**2).sum())
    return {p: (diff2[p] ** 0.5 / norm2[p] ** 0.5 if norm2[p] > 0 else float("nan")) for p in diff2}


def split_encoders(state: dict, layout: str) -> tuple[dict, dict]:
    """Return (context, target) encoder parameters with their prefixes removed, from a flat state dict."""
    ctx_prefix, tgt_prefix = ENCODER_PREFIXES[layout]
    context = {k[len(ctx_prefix):]: v for k, v in state.items() if k.startswith(ctx_prefix)}
    target = {k[len(tgt_prefix):]: v for k, v in state.items() if k.startswith(tgt_prefix)}
    return context, target


def ema_drift(checkpoints, load) -> DriftTable | None:
    """Compute the drift table for `checkpoints` (CheckpointRef list, in order); `load(ref) -> (layout, state)`.

    Returns None when no checkpoint holds both a context and a target encoder.
    """
    rows: list[tuple[str, dict[str, float]]] = []
    for ref in checkpoints:
        layout, state = load(ref)
        if layout not in ENCODER_PREFIXES:
            continue
        context, target = split_encoders(state, layout)
        if context and target:
            rows.append((ref.name, relative_drift(context, target)))
    if not rows:
        return None
    parts = sorted({p for _, d in rows for p in d}, key=part_order)
    values = np.array([[d.get(p, np.nan) for p in parts] for _, d in rows], dtype=float)
    return DriftTable(checkpoints=[name for name, _ in rows], parts=parts, values=values)
