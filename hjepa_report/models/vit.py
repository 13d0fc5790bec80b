"""Vision Transformer with the state-dict key names of timm / I-JEPA, and analysis entry points.

One implementation serves H-JEPA encoders (timm ViT: CLS token, learned pos-embed with a CLS row), I-JEPA
encoders and predictor blocks (no CLS, fixed 2-D sin-cos pos-embed) and the sample trainer. Keys:
``cls_token``, ``pos_embed``, ``patch_embed.proj``, ``blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1,
mlp.fc2}`` (optionally ``ls1.gamma``/``ls2.gamma`` for timm LayerScale or ``ls_attn.gamma``/``ls_mlp.gamma``
for H-JEPA's LayerScale), ``norm``.

Attention runs through ``F.scaled_dot_product_attention`` unless a block is asked for its probabilities; only
then is the softmax formed explicitly, in the order of the original code (``scale_first=True``: timm's
``(q * scale) @ k^T``; ``False``: I-JEPA's ``(q @ k^T) * scale``, src/models/vision_transformer.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .tokens import keep_tokens

LAYER_SCALE_NAMES = {"timm": ("ls1", "ls2"), "hjepa": ("ls_attn", "ls_mlp")}


@dataclass
class VitOutput:
    """Tokens after the final norm, plus what was asked for: attention probabilities and block outputs.

    tokens: [B, T, D] (T = kept tokens, CLS first when present); attentions: {block: [B, H, T, T]};
    blocks: {block: [B, T, D]} output of that block (before the final norm).
    """

    tokens: torch.Tensor
    attentions: dict[int, torch.Tensor] = field(default_factory=dict)
    blocks: dict[int, torch.Tensor] = field(default_factory=dict)


def sincos_pos_embed_2d(dim: int, grid_h: int, grid_w: int) -> torch.Tensor:
    """Return the fixed 2-D sin-cos table [grid_h * grid_w, dim] (MAE / I-JEPA convention, row-major patches).

    Half the channels encode the column, half the row; each half is [sin(p * w_k), cos(p * w_k)] with
    w_k = 1 / 10000^(k / (dim/4)) (Vaswani et al. 2017; MAE util/pos_embed.py layout, first half = column).
    """
    if dim % 4:
        raise ValueError(f"sin-cos position embedding needs a width divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    rows, cols = torch.meshgrid(
        torch.arange(grid_h, dtype=torch.float64), torch.arange(grid_w, dtype=torch.float64), indexing="ij"
    )

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.reshape(-1, 1) * omega[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([encode(cols), encode(rows)], dim=1).float()


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens: Conv2d with kernel = stride = patch size, flattened row-major."""

    def __init__(self, patch_size: int, embed_dim: int, in_chans: int = 3):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a packed qkv Linear (rows: q, k, v; heads contiguous within each)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, scale_first: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.scale_first = scale_first
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """Return (output [B, T, D], probabilities [B, H, T, T] or None)."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        probs = None
        if return_attention:
            if self.scale_first:  # timm Attention: q = q * scale; attn = q @ k^T
                logits = (q * self.scale) @ k.transpose(-2, -1)
            else:  # I-JEPA Attention: attn = (q @ k^T) * scale
                logits = (q @ k.transpose(-2, -1)) * self.scale
            probs = logits.softmax(dim=-1)
            out = probs @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, t, d)), probs


class Mlp(nn.Module):
    """fc1 -> exact (erf) GELU -> fc2."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """Per-channel residual scale ``x * gamma`` (Touvron et al. 2021, CaiT)."""

    def __init__(self, dim: int, init_value: float = 1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)), optional LayerScale."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        scale_first: bool = True,
        layer_scale: str | None = None,
        layer_scale_init: float = 1e-5,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, scale_first=scale_first)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.layer_scale = layer_scale
        if layer_scale is not None:
            first, second = LAYER_SCALE_NAMES[layer_scale]
            self.add_module(first, LayerScale(dim, layer_scale_init))
            self.add_module(second, LayerScale(dim, layer_scale_init))

    def _scaled(self, which: int, x: torch.Tensor) -> torch.Tensor:
        if self.layer_scale is None:
            return x
        return getattr(self, LAYER_SCALE_NAMES[self.layer_scale][which])(x)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """Return (tokens, attention probabilities or None)."""
        y, probs = self.attn(self.norm1(x), return_attention=return_attention)
        x = x + self._scaled(0, y)
        x = x + self._scaled(1, self.mlp(self.norm2(x)))
        return x, probs


def init_linear(module: nn.Module) -> None:
    """Give every nn.Linear below `module` truncated-normal weights (std 0.02) and zero biases, in module order:
    the init of timm's ViT, H-JEPA (HJEPA._init_weights) and I-JEPA (_init_weights) alike."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class VisionTransformer(nn.Module):
    """ViT encoder; ``forward(images)`` -> [B, T, D] tokens after the final norm (CLS first when present).

    pos_embed="learned": trainable [1, (1+)N, D] table (timm, with a CLS row when class_token);
    pos_embed="sincos": fixed 2-D sin-cos table stored as a non-trainable parameter (I-JEPA), no CLS row.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int],
        patch_size: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        class_token: bool = True,
        pos_embed: str = "learned",
        norm_eps: float = 1e-6,
        scale_first: bool = True,
        layer_scale: str | None = None,
        layer_scale_init: float = 1e-5,
    ):
        super().__init__()
        h, w = (img_size, img_size) if isinstance(img_size, int) else img_size
        self.grid = (h // patch_size, w // patch_size)
        self.num_patches = self.grid[0] * self.grid[1]
        self.embed_dim, self.num_heads, self.patch_size = embed_dim, num_heads, patch_size
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        self.num_prefix_tokens = 1 if class_token else 0
        if class_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        rows = self.num_patches + self.num_prefix_tokens
        if pos_embed == "sincos":
            if class_token:
                raise ValueError("the sin-cos position table has no CLS row; use class_token=False")
            table = sincos_pos_embed_2d(embed_dim, *self.grid)[None]
            self.pos_embed = nn.Parameter(table, requires_grad=False)
        elif pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, rows, embed_dim))
        else:
            raise ValueError(f"pos_embed must be 'learned' or 'sincos', not {pos_embed!r}")
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, norm_eps, scale_first, layer_scale, layer_scale_init)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self._init_trainable(pos_embed == "learned")

    def set_heads(self, num_heads: int) -> None:
        """Split every block's attention into `num_heads` heads (same weights: a checkpoint does not record the
        split, models/heads.py infers it)."""
        for block in self.blocks:
            attn = block.attn
            if self.embed_dim % num_heads:
                raise ValueError(f"width {self.embed_dim} is not divisible by {num_heads} heads")
            attn.num_heads, attn.head_dim = num_heads, self.embed_dim // num_heads
            attn.scale = attn.head_dim**-0.5
        self.num_heads = num_heads

    def _init_trainable(self, learned_pos: bool) -> None:
        """Initialise like timm (truncated normal std 0.02 for Linear / tokens; LayerNorm 1, 0)."""
        init_linear(self)
        if learned_pos:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.num_prefix_tokens:
            nn.init.normal_(self.cls_token, std=1e-6)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Return patch tokens (+ CLS first) with the position table added: [B, T, D]."""
        x = self.patch_embed(images)
        if self.num_prefix_tokens:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.pos_embed

    def run_blocks(self, x: torch.Tensor, attention_layers=(), return_blocks: bool = False) -> VitOutput:
        """Run the blocks and the final norm on embedded tokens; record what was asked for."""
        wanted = {i % len(self.blocks) for i in (attention_layers or ())}
        out = VitOutput(tokens=x)
        for i, block in enumerate(self.blocks):
            x, probs = block(x, return_attention=i in wanted)
            if probs is not None:
                out.attentions[i] = probs
            if return_blocks:
                out.blocks[i] = x
        out.tokens = self.norm(x)
        return out

    def forward_features(
        self,
        images: torch.Tensor,
        *,
        hidden_mask: torch.Tensor | None = None,
        keep_indices: torch.Tensor | None = None,
        attention_layers=(),
        return_blocks: bool = False,
    ) -> VitOutput:
        """Encode images; hidden_mask [B, N] (True = hidden) zeroes those patch tokens after the position
        table (H-JEPA, sequence kept); keep_indices [B, K] keeps only those patches, in that order (I-JEPA)."""
        x = self.embed(images)
        if hidden_mask is not None:
            x = zero_hidden_tokens(x, hidden_mask, self.num_prefix_tokens)
        if keep_indices is not None:
            x = keep_tokens(x, keep_indices, self.num_prefix_tokens)
        return self.run_blocks(x, attention_layers, return_blocks)

    def forward(
        self, images: torch.Tensor, hidden_mask: torch.Tensor | None = None, keep_indices: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.forward_features(images, hidden_mask=hidden_mask, keep_indices=keep_indices).tokens


def zero_hidden_tokens(x: torch.Tensor, hidden_mask: torch.Tensor, prefix: int) -> torch.Tensor:
    """Multiply hidden patch tokens by 0, keep the sequence (H-JEPA src/models/encoder.py ContextEncoder)."""
    keep = 1.0 - hidden_mask.to(x.dtype)
    if prefix:
        keep = torch.cat([keep.new_ones(keep.shape[0], prefix), keep], dim=1)
    return x * keep.unsqueeze(-1)
