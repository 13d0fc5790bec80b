"""H-JEPA's optional feature pyramid over the token list (model.fpn.use_fpn; src/models/hjepa.py _apply_fpn).

Keys on the network: ``fpn_lateral_convs.l`` (Linear D->F, LayerNorm F) for every level,
``fpn_top_down_convs.l`` (Linear F->F, LayerNorm F) for all but the coarsest, and, with fusion "concat",
``fpn_fusion_convs.l`` (Linear 2F->F, LayerNorm F, ReLU). LayerNorm eps 1e-5 (torch default).

Pyramid of [B, K, D] tokens (Lin et al. 2017, FPN, on a 1-D token list):
  p_l = AvgPool1d(2^l) of the tokens (p_0 = tokens); lat_l = lateral_l(p_l);
  f_{L-1} = lat_{L-1}; for l = L-2 .. 0: t = top_down_l(linear-interpolate f_{l+1} to len(p_l), align_corners
  False); f_l = lat_l + t ("add") or fusion_l([lat_l, t]) ("concat").
Level l of the hierarchy is then hierarchy_projections[l](f_l) (no pooling after the projection), and the
validity mask of level l is f_l(valid expanded to D).mean(-1) > 0.5: the original passes the 0/1 mask through
the same learned pyramid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .tokens import pool_level


def build_pyramid(dim: int, fpn_dim: int, levels: int, fusion: str) -> dict[str, nn.ModuleList]:
    """Return the pyramid's module lists, named as the network attributes that hold them."""
    if fusion not in ("add", "concat"):
        raise ValueError(f"FPN fusion must be 'add' or 'concat', not {fusion!r}")
    parts = {
        "fpn_lateral_convs": nn.ModuleList(
            nn.Sequential(nn.Linear(dim, fpn_dim), nn.LayerNorm(fpn_dim)) for _ in range(levels)
        ),
        "fpn_top_down_convs": nn.ModuleList(
            nn.Sequential(nn.Linear(fpn_dim, fpn_dim), nn.LayerNorm(fpn_dim)) for _ in range(levels - 1)
        ),
    }
    if fusion == "concat":
        parts["fpn_fusion_convs"] = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * fpn_dim, fpn_dim), nn.LayerNorm(fpn_dim), nn.ReLU()) for _ in range(levels - 1)
        )
    return parts


def apply_pyramid(network, tokens: torch.Tensor) -> list[torch.Tensor]:
    """Return the pyramid features f_0 .. f_{L-1} of [B, K, D] tokens (see module docstring)."""
    levels = len(network.fpn_lateral_convs)
    lateral = [network.fpn_lateral_convs[lv](pool_level(tokens, lv)) for lv in range(levels)]
    fused: list[torch.Tensor] = [lateral[-1]]
    for lv in range(levels - 2, -1, -1):
        top = fused[0]
        if top.shape[1] != lateral[lv].shape[1]:
            top = F.interpolate(
                top.transpose(1, 2), size=lateral[lv].shape[1], mode="linear", align_corners=False
            ).transpose(1, 2)
        top = network.fpn_top_down_convs[lv](top)
        if hasattr(network, "fpn_fusion_convs"):
            fused.insert(0, network.fpn_fusion_convs[lv](torch.cat([lateral[lv], top], dim=-1)))
        else:
            fused.insert(0, lateral[lv] + top)
    return fused
