"""I-JEPA networks with the exact state-dict keys of github.com/facebookresearch/ijepa (DDP prefix removed).

Encoder keys: ``pos_embed`` [1, N, D] (fixed 2-D sin-cos, stored), ``patch_embed.proj``, ``blocks.N.*``,
``norm``. Predictor keys: ``predictor_embed``, ``mask_token``, ``predictor_pos_embed``, ``predictor_blocks.N.*``,
``predictor_norm``, ``predictor_proj``. LayerNorm eps 1e-6 everywhere; the predictor's MLP ratio is 4.

Masks follow the original's convention (src/masks/utils.py apply_masks, src/utils/tensors.py
repeat_interleave_batch): a list of [B, K] index tensors; outputs for mask j and sample b sit at row j * B + b.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .tokens import as_mask_list, gather_each, repeat_groups
from .vit import Block, VisionTransformer, init_linear, sincos_pos_embed_2d


def make_encoder(
    img_size, patch_size: int, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True
) -> VisionTransformer:
    """I-JEPA encoder: ViT without CLS, stored sin-cos table, LayerNorm eps 1e-6, scale after q @ k^T."""
    return VisionTransformer(
        img_size,
        patch_size,
        embed_dim,
        depth,
        num_heads,
        mlp_ratio,
        qkv_bias,
        class_token=False,
        pos_embed="sincos",
        norm_eps=1e-6,
        scale_first=False,
    )


def encode_kept(
    encoder: VisionTransformer, images: torch.Tensor, masks=None, attention_layers=(), return_blocks: bool = False
):
    """Encode, keeping only the listed patches of each mask (others dropped); rows block-major."""
    x = encoder.embed(images)
    if masks is not None:
        x = gather_each(x, as_mask_list(masks))
    return encoder.run_blocks(x, attention_layers, return_blocks)


class IJepaPredictor(nn.Module):
    """Narrow ViT that predicts target-block tokens from the context tokens (vit_predictor)."""

    def __init__(
        self,
        grid: tuple[int, int],
        embed_dim: int,
        predictor_embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
    ):
        super().__init__()
        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, predictor_embed_dim))
        table = sincos_pos_embed_2d(predictor_embed_dim, *grid)[None]
        self.predictor_pos_embed = nn.Parameter(table, requires_grad=False)
        self.predictor_blocks = nn.ModuleList(
            Block(predictor_embed_dim, num_heads, mlp_ratio, qkv_bias, norm_eps=1e-6, scale_first=False)
            for _ in range(depth)
        )
        self.predictor_norm = nn.LayerNorm(predictor_embed_dim, eps=1e-6)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim)
        init_linear(self)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(self, context: torch.Tensor, masks_enc, masks_pred) -> torch.Tensor:
        """context [nenc * B, Kc, D], masks_enc: nenc x [B, Kc], masks_pred: npred x [B, Kp]
        -> predictions [npred * nenc * B, Kp, D]; row (j * nenc + e) * B + b = target block j, context e,
        sample b."""
        masks_enc, masks_pred = as_mask_list(masks_enc), as_mask_list(masks_pred)
        batch = len(context) // len(masks_enc)
        table = self.predictor_pos_embed.expand(batch, -1, -1)
        x = self.predictor_embed(context) + gather_each(table, masks_enc)
        n_context = x.shape[1]
        pos = repeat_groups(gather_each(table, masks_pred), batch, len(masks_enc))
        tokens = self.mask_token + pos
        x = torch.cat([x.repeat(len(masks_pred), 1, 1), tokens], dim=1)
        for block in self.predictor_blocks:
            x = block(x)[0]
        return self.predictor_proj(self.predictor_norm(x[:, n_context:]))


class IJepaNetwork(nn.Module):
    """encoder (context), target_encoder (EMA) and predictor; the state-dict prefixes match the checkpoint's
    top-level sub-dicts ('encoder', 'target_encoder', 'predictor')."""

    def __init__(
        self,
        encoder_kwargs: dict,
        predictor_embed_dim: int,
        predictor_depth: int,
        predictor_heads: int | None = None,
        predictor_mlp_ratio: float = 4.0,
        predictor_qkv_bias: bool = True,
    ):
        super().__init__()
        self.encoder = make_encoder(**encoder_kwargs)
        self.target_encoder = make_encoder(**encoder_kwargs)
        self.target_encoder.load_state_dict(self.encoder.state_dict())
        self.target_encoder.requires_grad_(False)
        heads = predictor_heads or self.encoder.num_heads
        self.predictor = IJepaPredictor(
            self.encoder.grid,
            self.encoder.embed_dim,
            predictor_embed_dim,
            predictor_depth,
            heads,
            predictor_mlp_ratio,
            predictor_qkv_bias,
        )

    @classmethod
    def from_parts(
        cls, encoder: VisionTransformer, target_encoder: VisionTransformer | None, predictor: IJepaPredictor
    ) -> IJepaNetwork:
        """Assemble a network from existing modules (the --model-factory escape hatch)."""
        net = cls.__new__(cls)
        nn.Module.__init__(net)
        net.encoder, net.target_encoder, net.predictor = encoder, target_encoder, predictor
        return net

    def forward(self, images: torch.Tensor, masks_enc, masks_pred) -> dict:
        """Training step quantities: predictions and layer-normed targets (src/train.py forward_target)."""
        masks_enc, masks_pred = as_mask_list(masks_enc), as_mask_list(masks_pred)
        with torch.no_grad():
            h = F.layer_norm(self.target_encoder(images), (self.encoder.embed_dim,))
            target = repeat_groups(gather_each(h, masks_pred), len(images), len(masks_enc))
        context = encode_kept(self.encoder, images, masks_enc).tokens
        return {"predictions": self.predictor(context, masks_enc, masks_pred), "targets": target}
