"""How far the EMA target encoder sits from the context encoder: one relative L2 distance, one naming of parts.

The target encoder is an exponential moving average of the context encoder (BYOL, Grill et al. 2020; I-JEPA
src/train.py momentum update: theta_t <- m theta_t + (1 - m) theta_c), so its distance to the context encoder
is a lag. Both the Model card's EMA gap (one checkpoint, from the rebuilt networks) and the Schedules section's
EMA drift (every checkpoint, from the state dicts alone) use

    relative_l2(t, c) = ||t - c||_2 / ||t||_2

over all entries of a group of tensors flattened together: each difference formed in float32 (or the tensors'
wider dtype: one rounding, ~6e-8 relative), squares summed in float64. Zero norm: when ||t|| = 0
the ratio has no scale; it is 0.0 when t and c are identical (both all-zero: no lag at all) and None
(undefined; null in report.json, a gap in figures) otherwise.

Parts of an encoder are named after the parameter's first component, blocks by index: patch_embed, pos_embed,
cls_token (reg_token), block_0 .. block_{L-1}, norm (the timm / I-JEPA ViT key names), in that order.

Whether the EMA ran at all: `norms_at_init` counts LayerNorm tensors still at their initial 1 / 0, and
`small_tensor_fingerprint` tells whether an encoder changed between checkpoints (a target encoder that the
trainer never updated stays at its initial state; analysis/dynamics/ema_updates.py turns these into a check).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_BLOCK = re.compile(r"^blocks\.(\d+)\.")
_FRONT = ("cls_token", "reg_token", "pos_embed", "patch_embed")  # the parts before the blocks, in key order


def relative_l2(target: Iterable, context: Iterable) -> float | None:
    """||t - c|| / ||t|| over paired tensors; 0.0 when ||t|| = 0 and t == c, None when ||t|| = 0 otherwise."""
    import torch

    diff2 = norm2 = 0.0
    for t, c in zip(target, context, strict=True):
        t = t.detach().flatten()
        t = t.to(torch.promote_types(t.dtype, torch.float32))  # half-precision tensors subtract in float32
        d = (t - c.detach().flatten().to(t.device, t.dtype)).double()  # one rounding of the difference
        t64 = t.double()
        diff2 += float(torch.dot(d, d))  # float64 dot products: 3-4x faster than squaring float64 copies
        norm2 += float(torch.dot(t64, t64))
    if norm2 > 0:
        return diff2**0.5 / norm2**0.5
    return 0.0 if diff2 == 0 else None


def encoder_part(name: str) -> str:
    """Name the encoder part a parameter belongs to: 'block_3' for blocks.3.*, else its first component
    ('patch_embed', 'pos_embed', 'cls_token', 'norm', ...)."""
    m = _BLOCK.match(name)
    return f"block_{int(m.group(1))}" if m else name.split(".")[0]


def part_order(part: str) -> tuple:
    """Sort key of parts: the embeddings (cls_token, reg_token, pos_embed, patch_embed), the blocks in order,
    norm, then any other part by name."""
    if part in _FRONT:
        return (0, _FRONT.index(part), "")
    if part.startswith("block_") and part[6:].isdigit():
        return (1, int(part[6:]), "")
    return (2, 0, "") if part == "norm" else (3, 0, part)


def relative_l2_by_part(target: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, float | None]:
    """relative_l2 per encoder part over the floating-point tensors both name with the same shape, parts in
    part_order; `target` and `context` map parameter names (without the encoder's prefix) to tensors."""
    groups: dict[str, list[str]] = {}
    for name, t in target.items():
        c = context.get(name)
        if c is not None and c.shape == t.shape and t.is_floating_point():
            groups.setdefault(encoder_part(name), []).append(name)
    return {
        part: relative_l2([target[n] for n in groups[part]], [context[n] for n in groups[part]])
        for part in sorted(groups, key=part_order)
    }


def ema_gap(context_vit, target_vit) -> dict[str, Any]:
    """The EMA gap of two ViTs: relative_l2 per encoder part and overall.

    Returns {"parts": {name: gap}, "blocks": [gap per block], "overall": gap, "fixed": [names of
    non-trainable parts, e.g. I-JEPA's sin-cos pos_embed, whose gap is 0 by construction], "method"}.
    """
    ctx, tgt = dict(context_vit.named_parameters()), dict(target_vit.named_parameters())
    parts = relative_l2_by_part(tgt, ctx)
    blocks = [parts.get(f"block_{i}") for i in range(len(target_vit.blocks))]
    shared = [n for n in tgt if n in ctx]
    overall = relative_l2([tgt[n] for n in shared], [ctx[n] for n in shared])
    fixed = sorted({encoder_part(n) for n, p in ctx.items() if not p.requires_grad and n in tgt})
    return {
        "parts": parts,
        "blocks": blocks,
        "overall": overall,
        "fixed": fixed,
        "method": "relative L2 distance ||theta_target - theta_context|| / ||theta_target||",
    }


# LayerNorm parameters of a timm / I-JEPA ViT: blocks.N.norm1 / norm2, the final norm, fc_norm, patch_embed.norm
_NORM_PARAM = re.compile(r"(^|\.)(norm\d*|fc_norm)\.(weight|bias)$")


def norms_at_init(params: Mapping[str, Any]) -> tuple[int, int]:
    """(LayerNorm weight/bias tensors, how many of them still hold their initial value).

    nn.LayerNorm starts with weight = 1 and bias = 0 exactly (torch.nn.LayerNorm.reset_parameters; timm's ViT
    init keeps them), and any gradient or EMA step moves them off those values, so a tensor that is still
    exactly 1 (weight) or 0 (bias) after training was never updated.
    """
    total = at_init = 0
    for name, t in params.items():
        m = _NORM_PARAM.search(name)
        if m is None or not t.is_floating_point() or t.dim() != 1:
            continue
        total += 1
        start = 1.0 if m.group(3) == "weight" else 0.0
        at_init += bool((t == start).all())
    return total, at_init


def small_tensor_fingerprint(params: Mapping[str, Any]) -> str:
    """A digest of the 1-D floating-point tensors (biases, norms) by name: equal digests mean those tensors are
    bit-identical. An EMA step moves every tensor, so these few (~0.1 % of a ViT's values, cheap to read from a
    memory-mapped checkpoint) tell whether an encoder changed between two checkpoints."""
    import hashlib

    import torch

    digest = hashlib.sha1()
    for name in sorted(params):
        t = params[name]
        if t.is_floating_point() and t.dim() == 1:
            digest.update(name.encode())
            digest.update(t.detach().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
