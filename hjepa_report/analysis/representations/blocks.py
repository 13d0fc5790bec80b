"""Every encoder block's output for the sample images from one forward pass, reduced to what the report keeps.

`encode_blocks` runs the sample images once through an encoder with `return_blocks=True` (models.api: block
outputs before the final norm) and the last block's attention probabilities, a batch at a time, and keeps per
block only the L2 norm of every patch token, the mean-pooled patch tokens and the CLS token (ViT-B/16 on 32
images: 12 blocks x 32 x 197 x 768 floats would be 230 MB; the kept arrays are 2.5 MB). The artifact-token
section reads the norms and the attention; the pooled features serve per-block probes (Skean et al. 2025,
"Layer by Layer") without a second pass. ModelSession.block_outputs calls it once per checkpoint and report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..attention.summary import head_maps


@dataclass
class BlockOutputs:
    """Per-block reductions of one encoder's unmasked pass over the sample images (L blocks, B images,
    N patches, D width, H heads).

    norms [L, B, N]: L2 norm of each patch token at each block's output, before the final norm (Darcet et al.
    2024 measure there); mean_pooled [L, B, D]: mean of each image's patch tokens per block; cls [L, B, D] or
    None without a CLS token; attention [B, H, rows, cols] of block `attention_block` (the last): the CLS
    query's attention to each patch with a CLS token, else the mean attention each patch receives
    (attention.summary.head_maps, the maps the attention section draws), or None with `attention_note` saying
    why; seconds: the pass, reductions included."""

    encoder: str
    norms: np.ndarray
    mean_pooled: np.ndarray
    cls: np.ndarray | None
    grid: tuple[int, int]
    attention: np.ndarray | None
    attention_block: int | None
    attention_note: str
    seconds: float = 0.0

    @property
    def depth(self) -> int:
        """Number of blocks."""
        return int(self.norms.shape[0])


def reduce_output(out, info) -> dict:
    """The kept reductions of one batch's EncoderOutput with every block (and, when captured, the last block's
    attention): norms [L, b, N], mean [L, b, D], cls [L, b, D] or None, attention [b, ...] or None."""
    import torch

    prefix, last = out.num_prefix_tokens, info.depth - 1
    blocks = [out.blocks[i].float() for i in range(info.depth)]  # [b, T, D] each; no stacked copy
    attention = None
    if last in out.attentions:
        probabilities = out.attentions[last].float().cpu().numpy().astype(np.float64)
        attention = head_maps(probabilities, tuple(info.grid), bool(prefix))
    return {
        "norms": np.stack([torch.linalg.vector_norm(x[:, prefix:], dim=-1).cpu().numpy() for x in blocks]),
        "mean": np.stack([x[:, prefix:].mean(dim=1).cpu().numpy() for x in blocks]),
        "cls": np.stack([x[:, 0].cpu().numpy() for x in blocks]) if prefix else None,
        "attention": attention,
    }


def per_image(parts: dict) -> list[dict]:
    """Split one batch's reductions into per-image ones (batch axis 1 of the block arrays, 0 of attention)."""
    count = parts["norms"].shape[1]
    pick = {"norms": 1, "mean": 1, "cls": 1, "attention": 0}
    return [{k: None if v is None else np.take(v, [b], axis=pick[k]) for k, v in parts.items()} for b in range(count)]


def assemble(parts: list[dict], info, encoder: str, seconds: float, how: str) -> BlockOutputs:
    """BlockOutputs from reductions (per batch or per image, in image order); `how`: the pass, for the note."""
    last = info.depth - 1
    refusal = info.refusal("attention")
    with_attention = all(p["attention"] is not None for p in parts)
    if with_attention:
        note = f"attention of block {last} (the last) from {how}"
    else:
        note = f"no attention probabilities for this checkpoint: {refusal or 'not captured in ' + how}"
    return BlockOutputs(
        encoder=encoder,
        norms=np.concatenate([p["norms"] for p in parts], axis=1),
        mean_pooled=np.concatenate([p["mean"] for p in parts], axis=1),
        cls=None if parts[0]["cls"] is None else np.concatenate([p["cls"] for p in parts], axis=1),
        grid=tuple(info.grid),
        attention=np.concatenate([p["attention"] for p in parts]) if with_attention else None,
        attention_block=last if with_attention else None,
        attention_note=note,
        seconds=seconds,
    )


def encode_blocks(model, images, encoder: str = "target", batch: int = 16) -> BlockOutputs:
    """Pass `images` [B, 3, S, S] once through `encoder` of a JepaModel with every block's output and the last
    block's attention, `batch` images per call under inference mode, and reduce each batch right away (used
    when the report's own pass of these images did not keep the reductions)."""
    import torch

    start = time.perf_counter()
    info = model.info
    layers = () if info.refusal("attention") else (info.depth - 1,)
    parts = []
    for first in range(0, len(images), batch):
        with torch.inference_mode():
            out = model.encode(
                images[first : first + batch], encoder=encoder, attention_layers=layers, return_blocks=True
            )
        parts.append(reduce_output(out, info))
        del out
    return assemble(parts, info, encoder, time.perf_counter() - start, "the same pass")
