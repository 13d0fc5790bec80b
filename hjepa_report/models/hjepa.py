"""H-JEPA networks with the exact state-dict keys of github.com/jonwiggins/H-JEPA (src/models/*.py).

Keys: ``context_encoder.vit.*`` and ``target_encoder.vit.*`` (timm ViT), ``predictor.*`` (mask_token,
pos_embed_predictor, blocks.N.{norm1, attn (nn.MultiheadAttention), norm2, mlp.0, mlp.3}, norm, head) and
``hierarchy_projections.N.{0: Linear, 1: LayerNorm eps 1e-5}``.

Semantics (H-JEPA src/models/hjepa.py HJEPA.forward, checked against tests/fixtures/hjepa_small/reference):
- the context encoder zeroes hidden patch tokens after the position table and keeps the sequence (CLS at 0);
- the predictor appends K mask tokens (mask_token + encoder pos_embed gathered at the index-sorted hidden
  patches, padded with index 0) after the N patch tokens and returns the last K after norm and head;
- level l projects with hierarchy_projections[l] and, for l > 0, average-pools 2^l consecutive entries of the
  index-sorted token list (1-D pooling); the validity mask is pooled the same way and thresholded at 0.5.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from .tokens import gather_tokens, hidden_indices, pool_level, pool_valid
from .vit import VisionTransformer, VitOutput, init_linear


class HJepaEncoder(nn.Module):
    """Context or target encoder: a timm-style ViT under ``.vit``; outputs [B, 1+N, D] with CLS at 0."""

    def __init__(self, **vit_kwargs):
        super().__init__()
        self.vit = VisionTransformer(**vit_kwargs)

    def forward_features(
        self,
        images: torch.Tensor,
        *,
        hidden_mask: torch.Tensor | None = None,
        attention_layers=(),
        return_blocks: bool = False,
    ) -> VitOutput:
        """Encode; hidden_mask [B, N] bool (True = hidden) zeroes those tokens, the sequence is kept."""
        return self.vit.forward_features(
            images, hidden_mask=hidden_mask, attention_layers=attention_layers, return_blocks=return_blocks
        )

    def forward(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_features(images, hidden_mask=mask).tokens


class PredictorBlock(nn.Module):
    """Pre-norm block on torch's nn.MultiheadAttention; LayerNorm eps 1e-5; mlp = Linear, GELU, Dropout,
    Linear, Dropout (keys mlp.0 / mlp.3), as H-JEPA src/models/predictor.py PredictorBlock."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class HJepaPredictor(nn.Module):
    """Predicts target tokens at hidden positions from the N context patch tokens."""

    def __init__(self, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed_predictor = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.blocks = nn.ModuleList(PredictorBlock(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, embed_dim)
        init_linear(self)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.normal_(self.pos_embed_predictor, std=0.02)

    def forward(
        self, context_tokens: torch.Tensor, mask_indices: torch.Tensor, pos_embed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """context_tokens [B, N, D] (patch tokens, CLS removed), mask_indices [B, K] -> predictions [B, K, D].

        pos_embed [1 or B, N, D]: the encoder's patch position table; without it every mask token gets
        pos_embed_predictor (the original's fallback)."""
        b, n, d = context_tokens.shape
        k = mask_indices.shape[1]
        tokens = self.mask_token.expand(b, k, d)
        if pos_embed is not None:
            tokens = tokens + gather_tokens(pos_embed.expand(b, -1, -1), mask_indices)
        else:
            tokens = tokens + self.pos_embed_predictor
        x = torch.cat([context_tokens, tokens], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, n:]))


class TokenBatchNorm(nn.Module):
    """BatchNorm1d over the feature axis of [B, K, D] tokens (H-JEPA BatchNorm1dForTokens, key prefix bn.).

    In eval mode it uses the running statistics the checkpoint holds; with `batch_statistics` set (the loss,
    HJepaNetwork.training_batchnorm) it normalises with the batch's own mean and biased variance, as
    nn.BatchNorm1d does in training mode, without updating the running statistics."""

    def __init__(self, dim: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.batch_statistics = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if self.batch_statistics:
            bn = self.bn
            flat = F.batch_norm(flat, None, None, bn.weight, bn.bias, training=True, eps=bn.eps)
            return flat.reshape(x.shape)
        return self.bn(flat).reshape(x.shape)


def make_projection(dim: int, norm: str = "layernorm", in_dim: int | None = None) -> nn.Sequential:
    """One hierarchy projection: Linear(in_dim, D) then the post-projection norm
    ('layernorm' eps 1e-5 | 'batchnorm' | 'none'), as H-JEPA _make_projection_norm."""
    norms = {"layernorm": lambda: nn.LayerNorm(dim), "batchnorm": lambda: TokenBatchNorm(dim), "none": nn.Identity}
    if norm not in norms:
        raise ValueError(f"unsupported projection norm {norm!r}")
    return nn.Sequential(nn.Linear(in_dim or dim, dim), norms[norm]())


class HJepaNetwork(nn.Module):
    """The whole H-JEPA model: context / target encoders, predictor and hierarchy projections.

    ``forward(images, mask)`` mirrors HJEPA.forward (no FPN) and returns a dict with predictions, targets and
    masks_valid (lists over levels), mask_indices, context_features and target_features.
    """

    def __init__(
        self,
        encoder_kwargs: dict,
        predictor_depth: int,
        predictor_heads: int,
        predictor_mlp_ratio: float = 4.0,
        num_levels: int = 3,
        projection_norm: str = "layernorm",
        projection_in_dim: int | None = None,
        ema_target: bool = True,
        fpn_dim: int | None = None,
        fpn_fusion: str = "add",
    ):
        super().__init__()
        self.context_encoder = HJepaEncoder(**encoder_kwargs)
        self.target_encoder = None  # end-to-end runs (use_target_encoder: false) reuse the context encoder
        if ema_target:
            self.target_encoder = HJepaEncoder(**encoder_kwargs)
            self.target_encoder.load_state_dict(self.context_encoder.state_dict())
            self.target_encoder.requires_grad_(False)
        dim = self.context_encoder.vit.embed_dim
        self.predictor = HJepaPredictor(dim, predictor_depth, predictor_heads, predictor_mlp_ratio)
        self.hierarchy_projections = nn.ModuleList(
            make_projection(dim, projection_norm, fpn_dim or projection_in_dim) for _ in range(num_levels)
        )
        if fpn_dim:  # feature pyramid (fpn.py), as H-JEPA's model.fpn.use_fpn
            from .fpn import build_pyramid

            for name, modules in build_pyramid(dim, fpn_dim, num_levels, fpn_fusion).items():
                self.add_module(name, modules)
        heads = [self.hierarchy_projections] + [
            getattr(self, n)
            for n in ("fpn_lateral_convs", "fpn_top_down_convs", "fpn_fusion_convs")
            if hasattr(self, n)
        ]
        init_linear(nn.ModuleList(heads))  # H-JEPA HJEPA._init_weights

    @classmethod
    def from_parts(
        cls,
        context_encoder: HJepaEncoder,
        target_encoder: HJepaEncoder | None,
        predictor: HJepaPredictor,
        hierarchy_projections: nn.ModuleList,
    ) -> HJepaNetwork:
        """Assemble a network from existing modules (the --model-factory escape hatch)."""
        net = cls.__new__(cls)
        nn.Module.__init__(net)
        net.context_encoder, net.target_encoder = context_encoder, target_encoder
        net.predictor, net.hierarchy_projections = predictor, hierarchy_projections
        return net

    @property
    def target(self) -> HJepaEncoder:
        """The encoder that makes targets: the EMA target encoder, or the context encoder in end-to-end runs."""
        return self.target_encoder if self.target_encoder is not None else self.context_encoder

    @property
    def num_levels(self) -> int:
        return len(self.hierarchy_projections)

    def predict(self, context_tokens: torch.Tensor, mask_indices: torch.Tensor) -> torch.Tensor:
        """Predictor on context patch tokens [B, N, D] (CLS removed) -> [B, K, D], with the context
        encoder's patch position table, as HJEPA.forward calls it."""
        pos = self.context_encoder.vit.pos_embed[:, self.context_encoder.vit.num_prefix_tokens :]
        return self.predictor(context_tokens, mask_indices, pos)

    @contextmanager
    def training_batchnorm(self):
        """Within the block, BatchNorm hierarchy heads use batch statistics, as the training loss saw them
        (H-JEPA trains in model.train() mode); running statistics stay untouched."""
        norms = [m for m in self.modules() if isinstance(m, TokenBatchNorm)]
        for norm in norms:
            norm.batch_statistics = True
        try:
            yield
        finally:
            for norm in norms:
                norm.batch_statistics = False

    @property
    def uses_fpn(self) -> bool:
        return hasattr(self, "fpn_lateral_convs")

    def levels(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """All hierarchy levels of [B, K, D] tokens: projection l then AvgPool1d(2^l) over the list, or, with
        the feature pyramid, projection l of pyramid level l (fpn.py)."""
        if self.uses_fpn:
            from .fpn import apply_pyramid

            return [proj(f) for proj, f in zip(self.hierarchy_projections, apply_pyramid(self, tokens), strict=True)]
        return [pool_level(proj(tokens), lv) for lv, proj in enumerate(self.hierarchy_projections)]

    def valid_levels(self, valid: torch.Tensor) -> list[torch.Tensor]:
        """Validity masks [B, K_l] of every level for a [B, K] mask, as HJEPA.forward derives them."""
        if self.uses_fpn:
            from .fpn import apply_pyramid

            expanded = valid.float().unsqueeze(-1).expand(-1, -1, self.context_encoder.vit.embed_dim)
            return [f.mean(dim=-1) > 0.5 for f in apply_pyramid(self, expanded)]
        return [pool_valid(valid, lv) for lv in range(self.num_levels)]

    def level(self, tokens: torch.Tensor, level: int) -> torch.Tensor:
        """One hierarchy level of [B, K, D] tokens (see levels)."""
        if self.uses_fpn:
            return self.levels(tokens)[level]
        return pool_level(self.hierarchy_projections[level](tokens), level)

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> dict:
        prefix = self.context_encoder.vit.num_prefix_tokens
        context = self.context_encoder(images, mask)
        if self.target_encoder is None:  # end-to-end: gradients flow through both branches (LeWM regime)
            target = self.context_encoder(images)
        else:
            with torch.no_grad():
                target = self.target_encoder(images)
        indices, valid = hidden_indices(mask)
        predicted = self.predict(context[:, prefix:], indices)
        target_masked = gather_tokens(target[:, prefix:], indices)
        return {
            "predictions": self.levels(predicted),
            "targets": self.levels(target_masked),
            "masks_valid": self.valid_levels(valid),
            "mask_indices": indices,
            "context_features": context,
            "target_features": target,
        }

    @torch.no_grad()
    def update_target_encoder(self, momentum: float) -> None:
        """EMA: theta_target <- m * theta_target + (1 - m) * theta_context (BYOL / I-JEPA update rule)."""
        if self.target_encoder is None:
            return
        for t, c in zip(self.target_encoder.parameters(), self.context_encoder.parameters(), strict=True):
            t.mul_(momentum).add_(c.detach(), alpha=1.0 - momentum)
