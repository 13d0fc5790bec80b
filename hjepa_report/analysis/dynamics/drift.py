"""EMA drift: how far the target encoder sits from the context encoder, per encoder part, at every checkpoint.

The target encoder is an exponential moving average of the context encoder (BYOL, Grill et al. 2020; I-JEPA,
Assran et al. 2023): theta_t <- m theta_t + (1 - m) theta_c. Its distance to the context encoder is a lag:
large while the context encoder moves fast (high LR) or m is close to 1, shrinking as training settles. We
report the relative L2 distance per encoder part,

    drift(part) = ||theta_t(part) - theta_c(part)||_2 / ||theta_t(part)||_2,

over all parameters of the part flattened together, with the Model card's EMA gap function and part names
(models/ema.py: relative_l2, its zero-norm rule, patch_embed / pos_embed / cls_token / block_N / norm). Needs
only the state dicts, not a rebuilt network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...models.ema import part_order, relative_l2_by_part

ENCODER_PREFIXES = {  # layout -> (context prefix, target prefix) in models.normalise's flat state dict
    "hjepa": ("context_encoder.vit.", "target_encoder.vit."),
    "ijepa": ("encoder.", "target_encoder."),
    "vjepa": ("encoder.", "target_encoder."),  # models/vjepa.py normalise_video
    "vjepa2": ("encoder.", "target_encoder."),
}


@dataclass
class DriftTable:
    """Relative L2 drift per checkpoint (rows) and encoder part (columns, in models.ema.part_order)."""

    checkpoints: list[str]
    parts: list[str]
    values: np.ndarray  # [checkpoints, parts]; NaN where a part is missing or its drift undefined (None)


def split_encoders(state: dict, layout: str) -> tuple[dict, dict]:
    """Return (context, target) encoder parameters with their prefixes removed, from a flat state dict."""
    ctx_prefix, tgt_prefix = ENCODER_PREFIXES[layout]
    context = {k[len(ctx_prefix) :]: v for k, v in state.items() if k.startswith(ctx_prefix)}
    target = {k[len(tgt_prefix) :]: v for k, v in state.items() if k.startswith(tgt_prefix)}
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
            rows.append((ref.name, relative_l2_by_part(target, context)))
    if not rows:
        return None
    parts = sorted({p for _, d in rows for p in d}, key=part_order)
    values = np.array([[np.nan if d.get(p) is None else d[p] for p in parts] for _, d in rows], dtype=float)
    return DriftTable(checkpoints=[name for name, _ in rows], parts=parts, values=values)
