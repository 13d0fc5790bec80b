"""What the attention pass computes: AttentionResult (arrays, settings, metrics, checks) and its metrics.

The result names the encoder whose attention it holds (`encoder_name`, from --attention-encoder), so every
caption, title, metric and check says which encoder is shown; the context-vs-target comparison carries the
target encoder's own map, whichever encoder the other figures show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base import PassResult
from .metrics import patch_distances
from .rollout import describe_rollout
from .summary import EncoderAttention


@dataclass
class EncoderComparison:
    """One block's head-mean maps [K, rows, cols] of the target encoder on the full images and of the context
    encoder under the report's masks (hidden [K, N], True = hidden from the context encoder)."""

    layer: int
    mask_seed: int
    target_maps: np.ndarray
    context_maps: np.ndarray  # NaN where the context encoder dropped the patch (I-JEPA)
    hidden: np.ndarray


@dataclass
class AttentionResult(PassResult):
    """The sample images, the shown encoder's attention reduced to maps and numbers, and the extras."""

    images: list[np.ndarray]  # uint8 [H, W, 3], the model's input de-normalised
    names: list[str]
    image_seed: int
    grid: tuple[int, int]
    patch_size: int
    has_cls: bool
    depth: int
    num_heads: int
    encoder_name: str  # "target" | "context": whose attention `attention` holds (--attention-encoder)
    attention: EncoderAttention  # that encoder's attention on the unmasked images, reduced
    head_fusion: str = "mean"
    discard_ratio: float = 0.9
    capture_note: str = ""
    mask_seed: int | None = None  # seed of the report's masks (target-block query patch), None without masks
    comparison: EncoderComparison | None = None
    foreground: dict | None = None  # see foreground.rollout_foreground_shares

    @property
    def encoder_label(self) -> str:
        """The shown encoder in words: 'target encoder' or 'context encoder'."""
        return f"{self.encoder_name} encoder"

    @property
    def map_kind(self) -> str:
        """What one attention map shows, in words."""
        return (
            "the CLS token's attention to each patch"
            if self.has_cls
            else "the mean attention each patch receives from all patches (no CLS token)"
        )

    @property
    def num_tokens(self) -> int:
        """Tokens per image in the encoder's sequence: the patches, plus CLS when there is one."""
        return self.grid[0] * self.grid[1] + int(self.has_cls)


def attention_metrics(result: AttentionResult) -> dict:
    """Return the JSON-friendly metrics of the section (per block and head, averaged over images)."""
    distance = result.attention.distance.mean(axis=0)
    entropy = result.attention.entropy.mean(axis=0)
    metrics = {
        "encoder": result.encoder_name,
        "map": result.map_kind,
        "images": len(result.images),
        "image_names": list(result.names),
        "image_seed": result.image_seed,
        "layers": list(result.attention.layers),
        "mean_attention_distance": {
            "method": "sum_k a_qk * ||pos_q - pos_k|| over key patches, CLS removed and rows re-normalised, mean "
            "over query patches and images (Dosovitskiy et al. 2021, ViT, Fig. 7)",
            "unit": "patches",
            "patch_size_px": result.patch_size,
            "per_layer_head": _rounded(distance),
            "per_layer_head_px": _rounded(distance * result.patch_size),
            "uniform_attention": round(float(patch_distances(result.grid).mean()), 6),
        },
        "attention_entropy": {
            "method": "-sum_k a_qk ln a_qk, mean over all query tokens and images",
            "unit": "nats",
            "per_layer_head": _rounded(entropy),
            "uniform_attention": round(float(np.log(result.num_tokens)), 6),
        },
        "capture": result.capture_note,
    }
    if result.attention.rollout is not None:
        metrics["rollout"] = {
            "method": describe_rollout(result.head_fusion, result.discard_ratio, result.has_cls),
            "head_fusion": result.head_fusion,
            "discard_ratio": result.discard_ratio,
            "source": "cls" if result.has_cls else "mean query",
        }
    if result.attention.nonfinite:
        metrics["non_finite_attention"] = {
            str(block): {"heads": list(f["heads"]), "values": int(f["values"])}
            for block, f in result.attention.nonfinite.items()
        }
        metrics["rollout"] = None
        metrics["rollout_reason"] = "not computed: the attention holds NaN or inf (see non_finite_attention)"
    if result.comparison is not None:
        metrics["context_comparison"] = {"layer": result.comparison.layer, "mask_seed": result.comparison.mask_seed}
    if result.foreground is not None:
        metrics["rollout_foreground"] = result.foreground
    return metrics


def _rounded(values: np.ndarray) -> list[list[float]]:
    """Return a [L, H] array as nested lists of floats rounded to 6 digits."""
    return [[round(float(v), 6) for v in row] for row in values]
