"""JepaModel: one object per loaded checkpoint, with the layout's own semantics behind one interface.

Shapes: B images, N = grid rows x cols patches (row-major, row 0 at the top), D encoder width, H heads,
T tokens in the encoder sequence (N + 1 with a CLS token; for I-JEPA with a context mask: the kept patches).

- ``encode(images, *, encoder="target"|"context", context_mask=None, attention_layers=None,
  return_blocks=False) -> EncoderOutput``. ``context_mask`` is a bool [B, N] "hidden" mask (True = hidden)
  for both layouts: H-JEPA zeroes the hidden tokens after the position table and keeps the sequence;
  I-JEPA drops them. I-JEPA rows with different numbers of visible patches are encoded one sample at a
  time (exact, no truncation to the batch minimum as the training collator does) and padded; ``valid``
  marks real tokens. Attention probabilities are formed only for the blocks in ``attention_layers``.
- ``predict(images or context EncoderOutput, context_mask, targets=None, *, target=None) -> Prediction``.
- ``levels(tokens [B, K, D], valid=None, levels=None) -> list[(tokens_l [B, K_l, D], valid_l or None)]``.
- ``features(images, level=0, *, encoder="target") -> [B, N_l, D]`` (H-JEPA extract_features).

Methods run in the caller's autograd mode (gradient-based analyses need it); the FeatureCache runs them
under ``torch.inference_mode()``. Networks are in eval mode; outputs stay on the model's device.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from ..errors import ModelBuildError
from .info import ModelInfo


@contextmanager
def exact_float32(device: torch.device):
    """Run fp32 work on CUDA without TF32, restoring the caller's settings afterwards.

    cuDNN convolutions use TF32 by default on Ampere+ GPUs (10-bit mantissa): on an H200 it moved the patch
    embedding, and so every token, by up to 1e-3 from the original code's fp32 outputs (1e-6 without it)."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def exact(method):
    """Decorate a JepaModel method so that it runs under exact_float32 on the model's device."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with exact_float32(self.device):
            return method(self, *args, **kwargs)

    return wrapper


@dataclass
class EncoderOutput:
    """tokens [B, T, D] (CLS first when present); patch_tokens [B, P, D]; patch_indices [B, P] (patch index of
    each patch token, 0 for padding); valid [B, P]; attentions {block: [B, H, T, T]}; blocks {block: [B, T, D]}
    (block outputs before the final norm); hidden: the context mask used, or None."""

    tokens: torch.Tensor
    patch_tokens: torch.Tensor
    patch_indices: torch.Tensor
    valid: torch.Tensor
    attentions: dict[int, torch.Tensor] = field(default_factory=dict)
    blocks: dict[int, torch.Tensor] = field(default_factory=dict)
    num_prefix_tokens: int = 0
    hidden: torch.Tensor | None = None

    def pooled(self):
        """Return (mean of the valid patch tokens [B, D], CLS token [B, D] or None) as float numpy arrays: the
        image embeddings the representation measures use (mean pooling as I-JEPA's evaluation; CLS as ViTs).

        Both own their memory: a CLS that were a view of the tokens would keep the whole [B, T, D] batch alive
        wherever only pooled embeddings are meant to be kept (a forgotten checkpoint of the sweep: 19 MB each
        for a ViT-B/16 with 32 images; every batch of LiDAR's views)."""
        import numpy as np

        tokens = self.patch_tokens.float().cpu().numpy()
        valid = self.valid.cpu().numpy().astype(np.float64)
        mean = (tokens * valid[..., None]).sum(axis=1) / np.maximum(valid.sum(axis=1, keepdims=True), 1.0)
        cls = self.tokens[:, 0].float().cpu().numpy().copy() if self.num_prefix_tokens else None
        return mean, cls

    def pooled_blocks(self):
        """Return every block's output pooled like `pooled` (before the final norm): (mean patch token
        [L, B, D], CLS [L, B, D] or None) numpy arrays owning their memory (a CLS view would keep the stacked
        [L, B, T, D] block outputs alive: 116 MB per batch of 16 ViT-B/16 images)."""
        stacked = torch.stack([self.blocks[i] for i in sorted(self.blocks)]).float()
        mean = stacked[:, :, self.num_prefix_tokens :].mean(dim=2).cpu().numpy()
        return mean, stacked[:, :, 0].cpu().numpy().copy() if self.num_prefix_tokens else None


@dataclass
class Prediction:
    """Predicted and target tokens per predicted patch, comparable entry by entry.

    predicted, target: [B, K, D]; indices: [B, K] patch index (0 for padding); valid: [B, K];
    block: [B, K] target block of each entry (always 0 for H-JEPA's single union); target_kind says what
    the targets are (H-JEPA: target-encoder patch tokens; I-JEPA: layer-normed target tokens, as its loss).
    """

    predicted: torch.Tensor
    target: torch.Tensor
    indices: torch.Tensor
    valid: torch.Tensor
    block: torch.Tensor
    target_kind: str


def check_context(context: EncoderOutput, hidden: torch.Tensor | None) -> None:
    """Refuse a context output that was encoded with a different context mask than the one given."""
    if context.hidden is None and hidden is None:
        return
    same = context.hidden is not None and hidden is not None and torch.equal(context.hidden.to(hidden.device), hidden)
    if not same:
        raise ValueError("the context EncoderOutput was encoded with a different context_mask than the one given")


class JepaModel:
    """Shared plumbing of the layout-specific models (HJepaModel, IJepaModel): device, input checks, refusals."""

    layout = ""

    def __init__(self, network: torch.nn.Module, info: ModelInfo, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.info = info

    context_encoder: torch.nn.Module
    target_encoder: torch.nn.Module
    predictor: torch.nn.Module
    hierarchy: torch.nn.Module | None = None

    def __repr__(self) -> str:
        i = self.info
        return (
            f"{type(self).__name__}({i.layout}, D={i.embed_dim}, depth={i.depth}, heads={i.num_heads}, "
            f"patch={i.patch_size}, grid={i.grid}, levels={i.num_levels})"
        )

    def check(self, output: str) -> None:
        """Raise ModelBuildError when an unsupported option affects `output`."""
        reason = self.info.refusal(output)
        if reason:
            raise ModelBuildError(f"cannot compute {output} outputs for this checkpoint: {reason}")

    def images(self, images: torch.Tensor) -> torch.Tensor:
        """Check a [B, 3, S, S] batch against the model's input size and move it to the device."""
        s = self.info.patch_size
        want = (self.info.grid[0] * s, self.info.grid[1] * s)
        if images.ndim != 4 or tuple(images.shape[-2:]) != want:
            raise ModelBuildError(
                f"images of shape {tuple(images.shape)} do not fit the model: it takes [B, 3, {want[0]}, {want[1]}]"
            )
        return images.to(self.device, torch.float32)

    def mask(self, mask: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """Check a bool [B, N] patch mask and move it to the device."""
        if mask is None:
            return None
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != (batch, self.info.num_patches):
            raise ModelBuildError(f"mask of shape {tuple(mask.shape)}; expected [{batch}, {self.info.num_patches}]")
        return mask.to(self.device, torch.bool)

    def encoder(self, which: str) -> torch.nn.Module:
        """Return the context or target encoder module."""
        if which not in ("context", "target"):
            raise ValueError(f"encoder must be 'context' or 'target', not {which!r}")
        return self.context_encoder if which == "context" else self.target_encoder

    def encoder_pair(self):
        """Return (context ViT, target ViT) for the EMA gap, or None without a separate target encoder."""
        return None

    def features(self, images: torch.Tensor, level: int = 0, *, encoder: str = "target") -> torch.Tensor:
        """Patch tokens of an unmasked image mapped to one hierarchy level: [B, N_level, D]."""
        out = self.encode(images, encoder=encoder)
        return self.levels(out.patch_tokens, levels=[level])[0][0]

    def pooled_features(self, batches, encoder: str = "target", *, blocks: bool = False):
        """Pass image batches through an encoder under inference mode and keep only each image's pooled
        features (EncoderOutput.pooled: mean patch token, CLS or None), for images no other measure needs
        (probe images, LiDAR's augmented views). Returns (mean [B, D], CLS [B, D] or None) numpy arrays; with
        `blocks`, also every block's output pooled the same way from the same pass (before the final norm):
        (mean, CLS, block mean [L, B, D], block CLS [L, B, D] or None)."""
        import numpy as np

        means, cls, block_means, block_cls = [], [], [], []
        with torch.inference_mode():
            for batch in batches:
                out = self.encode(batch, encoder=encoder, return_blocks=blocks)
                mean, first = out.pooled()
                means.append(mean)
                cls.append(first)
                if blocks:
                    block_mean, block_first = out.pooled_blocks()
                    block_means.append(block_mean)
                    block_cls.append(block_first)
        pooled = np.concatenate(means), None if cls[0] is None else np.concatenate(cls)
        if not blocks:
            return pooled
        per_block_cls = None if block_cls[0] is None else np.concatenate(block_cls, axis=1)
        return (*pooled, np.concatenate(block_means, axis=1), per_block_cls)

    # -- the training loss (models/loss.py: one implementation per layout, also the sample trainer's) ---------

    loss_outputs: tuple[str, ...] = ("encoder", "predictor")  # outputs the loss is made of (refusals apply)

    def loss_settings(self, config: dict | None, seed: int = 0):
        """How the run computed its loss (type, level weights, target normalisation), read from its config:
        a models.loss.LossSettings for `loss`."""
        from .loss_settings import loss_settings

        return loss_settings(config, self.layout, getattr(self.network, "num_levels", 1), seed)

    def loss_masks(self, masks, batch: int):
        """Check the trainer's masks of a batch and move them to the device (the layout's own format)."""
        raise NotImplementedError

    @exact
    def loss_targets(self, images: torch.Tensor, masks, settings):
        """The target side of the training loss for one batch and its masks (no gradient): a
        models.loss.LossTargets to pass to `loss` when the same batch is evaluated many times."""
        from .loss import loss_targets

        images = self.images(images)
        return loss_targets(self.network, images, self.loss_masks(masks, len(images)), settings)

    @exact
    def loss(self, images: torch.Tensor, masks, settings, *, targets=None):
        """The run's training loss on one batch (models.loss.Loss: total, per-level losses), in the caller's
        autograd mode. masks: the trainer's own (H-JEPA bool [B, N] hidden; I-JEPA (masks_enc, masks_pred));
        settings: `loss_settings(config)`; targets: this batch's `loss_targets` with the same masks, so that
        only the context side runs again (gradient flow, the loss landscape)."""
        from .loss import network_loss, same_masks

        for output in self.loss_outputs:
            self.check(output)
        images = self.images(images)
        masks = self.loss_masks(masks, len(images))
        if targets is not None and not same_masks(targets.masks, masks):
            raise ValueError("the loss targets were computed with other masks than the ones given")
        return network_loss(self.network, images, masks, settings, targets)

    def autocast(self, precision: str = "fp32"):
        """A context in which the networks run in `precision`: 'bf16' is torch.autocast to bfloat16 on the
        model's device (matrix products in bfloat16, reductions and the loss in float32), 'fp32' changes
        nothing. Callers state the measured error (analysis/precision.py)."""
        # cache_enabled=False: each weight is used once per forward, so autocast's cache of bfloat16 weight
        # copies (half the weights' size, held for the whole context) would cost memory and save nothing
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=False)

    def native_bf16(self) -> bool:
        """Whether the model's device computes bfloat16 natively (a CPU with AVX512-BF16 or AMX, a GPU that
        supports it), so autocast is faster, not an emulation."""
        if self.device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported())
        if self.device.type != "cpu":
            return False
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's ISA checks (private)
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)

    meter = None  # a models.meter.PassMeter timing this model's passes, once attached (PassMeter.attach)
    meter_checkpoint = ""

    def backward(self, loss) -> None:
        """Back-propagate a loss of this model's networks (timed and counted by the attached meter, if any)."""
        if self.meter is None:
            loss.backward()
        else:
            self.meter.timed_backward(loss, self.meter_checkpoint, self.device)

    def encode_flops(self, images: int, encoder: str = "target") -> float:
        """Estimated forward FLOPs of `images` unmasked images through an encoder (models/flops.py)."""
        from .flops import encoder_flops

        vit = getattr(self.encoder(encoder), "vit", self.encoder(encoder))
        return encoder_flops(vit, images, vit.num_patches + vit.num_prefix_tokens)

    def recomputing(self):
        """A context in which backward passes recompute each transformer block instead of keeping its
        activations (models/recompute.py): the same gradients in a fraction of the memory."""
        from .recompute import recomputed_blocks

        return recomputed_blocks(self.network)

    def loss_flops(self, masks, settings):
        """Estimated forward FLOPs of the loss on one batch with these masks and loss settings
        (models.flops.LossFlops: target side once, context side per evaluation), from the networks' shapes."""
        from .flops import loss_flops

        return loss_flops(self.network, masks, settings.target_norm)

    def parameter_counts(self) -> dict[str, int]:
        """Number of parameter values per rebuilt sub-model."""
        parts = {
            "context_encoder": self.context_encoder,
            "target_encoder": self.target_encoder,
            "predictor": self.predictor,
            "hierarchy": self.hierarchy,
        }
        counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items() if m is not None}
        if self.target_encoder is self.context_encoder:
            counts.pop("target_encoder", None)
        return counts
