"""Run a JepaModel's encoders with attention capture and reduce the probabilities chunk by chunk.

Full attention of every block is what rollout, mean distance and entropy need, and it is large
(depth x heads x T^2 floats per image), so images go through the encoder in chunks sized to a memory budget
and each chunk is reduced (summary.py) before the next one runs. Torch is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .summary import EncoderAttention, merge_chunks, summarise_encoder

ATTENTION_BUDGET_BYTES = 256 * 2**20  # float32 probabilities held at once (all captured blocks of a chunk)


@dataclass
class CapturePlan:
    """Which blocks to capture and how many images per encoder call; `note` says so in words."""

    layers: list[int]
    chunk: int
    note: str


def depth_layers(depth: int) -> list[int]:
    """Return the early / middle / late blocks shown side by side (fewer when the encoder is shallower)."""
    return sorted({0, depth // 2, depth - 1})


def plan_capture(
    depth: int, num_heads: int, num_tokens: int, num_images: int, budget_bytes: int = ATTENTION_BUDGET_BYTES
) -> CapturePlan:
    """Capture every block (rollout, distance and entropy per layer need them), in chunks within the budget.

    One image's attention over all blocks is depth * heads * T^2 float32 values. When even one image is over
    the budget (large models at high resolution), only the early / middle / late blocks the maps need are
    captured, and the note says that the rollout and the other blocks' numbers are left out.
    """
    per_block = num_heads * num_tokens**2 * 4
    layers = list(range(depth))
    note = f"attention probabilities captured in all {depth} blocks ({_size(per_block * depth)} per image)"
    if per_block * depth > budget_bytes:
        layers = depth_layers(depth)
        note = (
            f"attention probabilities captured only in blocks {layers}: all {depth} blocks would hold "
            f"{_size(per_block * depth)} per image (budget {_size(budget_bytes)}), so the rollout and the "
            f"other blocks' distances and entropies are left out"
        )
    chunk = int(max(1, min(num_images, budget_bytes // (per_block * len(layers)))))
    note += f", {chunk} image{'s' if chunk > 1 else ''} per encoder call, reduced to maps right away"
    return CapturePlan(layers, chunk, note)


def _size(num_bytes: int) -> str:
    """Return a byte count in words: '34.0 MB', '132 kB'."""
    return f"{num_bytes / 2**20:.1f} MB" if num_bytes >= 2**20 else f"{num_bytes / 2**10:.0f} kB"


def _to_numpy(attentions: dict) -> dict[int, np.ndarray]:
    """{block: torch [B, H, T, T]} -> {block: float32 numpy} on the CPU."""
    return {int(k): v.detach().float().cpu().numpy() for k, v in attentions.items()}


def capture_attention(
    model,
    images,
    plan: CapturePlan,
    target_masks: np.ndarray | None = None,
    head_fusion: str = "mean",
    discard_ratio: float = 0.9,
    encoder: str = "target",
) -> EncoderAttention:
    """Encode `images` [K, 3, S, S] (unmasked) with one encoder (default: the target encoder) chunk by chunk and
    reduce the attention."""
    import torch

    info = model.info
    parts = []
    for start in range(0, len(images), plan.chunk):
        part = slice(start, start + plan.chunk)
        with torch.inference_mode():
            out = model.encode(images[part], encoder=encoder, attention_layers=plan.layers)
        masks = None if target_masks is None else target_masks[part]
        parts.append(
            summarise_encoder(
                _to_numpy(out.attentions), tuple(info.grid), info.has_cls, info.depth, masks, head_fusion, discard_ratio
            )
        )
    return merge_chunks(parts)
