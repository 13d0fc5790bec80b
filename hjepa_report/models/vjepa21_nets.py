"""V-JEPA 2.1 networks rebuilt from a checkpoint, with their multi-level (hierarchical) outputs, and its loss.

Source: facebookresearch/vjepa2 @ 45d025f ("V-JEPA 2.1 (#130)"), app/vjepa_2_1/models/{vision_transformer,
predictor}.py, models/utils/{modules,masks_dist}.py, train.py (the index's later copies, 16de6c8 / be434e4, are
the same code). What 2.1 changes against V-JEPA 2 (models/vjepa_nets.py, whose blocks are reused):
- Encoder: no `pos_embed` (RoPE only) and no final `norm`: four LayerNorms `norms_block.{0..3}` normalise the
  tokens after the blocks `hierarchical_layers` ([2, 5, 8, 11] at depth 12, [5, 11, 17, 23] at 24, [9, 19, 29,
  39] at 40, [11, 23, 37, 47] at 48). In training (training=True, as train.py calls it) the output is the four
  normed levels concatenated, [B, N, 4 D]; in eval the last level alone. `model.modality_embedding` adds
  `video_mod_embed` to every token after the tubelet embedding (`img_mod_embed` for the image stream).
- RoPE: the d/2 angles are interleaved ([a0, a0, a1, a1, ...], the fix V-JEPA 2 left as a comment), and with
  `model.interpolate_rope` the row / column positions are rescaled to the pretraining grid: h * (G - 1) / (H - 1),
  G = 256 / 16 or 252 / 14 (patch 16 / 14), H the clip's rows (the predictor's blocks get no H: the grid side).
- Predictor: `predictor_embed` is Linear(4 D, D), GELU, Linear(D, predictor width); the mask token and the
  index sort as V-JEPA 2 (+ video_mod_embed where the run has an image stream); `predictor_proj` maps the target
  tokens to 4 D, `predictor_proj_context` (loss.predict_all) the context tokens to 4 D.
- Loss (train.py train_step): targets are the target encoder's 4 levels, each layer-normed over its D features
  (F.layer_norm, no parameters; with model.levels_predictor 1, all 4 D features together). L_pred = mean over
  masks of mean(|z - h|^p) / p at the target tokens; with predict_all, L_ctx = the same at the context tokens,
  each token's error divided by its distance weight (loss.weight_distance_loss: sqrt of the Euclidean
  distance, in (frame, row, column) token units, to the nearest target token; masks_dist.compute_mask_distance).
  loss = L_pred + lambda * L_ctx, lambda = model.lambda_value_vid, ramped linearly from 0 at iteration 15000 to
  its value at 30000 when model.lambda_progressive (default true; modules.Lambda_LinearWarmupHold). The mean over
  the 4 D features is the mean of the 4 levels' means: each level weighs 1/4.
tests/test_vjepa21.py checks the networks and the loss against the original code's outputs
(tests/fixtures/vjepa21_small).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ModelBuildError
from .vjepa import network_state
from .vjepa_nets import KNOWN_HEADS, LN_EPS, Attention, Block, VideoGrid, VideoNetworks, _count, _load, take_tokens

ENCODER_LEVELS = {12: (2, 5, 8, 11), 24: (5, 11, 17, 23), 40: (9, 19, 29, 39), 48: (11, 23, 37, 47)}
PRETRAINED_GRID = {14: 252 // 14, 16: 256 // 16}  # modules.RoPEAttention.pretrained_grid_size
LAMBDA_START, LAMBDA_END = 15_000, 30_000  # Lambda_LinearWarmupHold defaults, as train.py builds it


def is_vjepa21(checkpoint: Mapping, config: dict | None) -> bool:
    """Whether a video checkpoint is V-JEPA 2.1's: its config names app vjepa_2_1, or its encoder has the
    per-level norms `norms_block.*` and no final `norm`."""
    if str((config or {}).get("app", "")) == "vjepa_2_1":
        return True
    enc = network_state(checkpoint, "target_encoder") or network_state(checkpoint, "encoder")
    return "norms_block.0.weight" in enc and "norm.weight" not in enc


def rotate_interleaved(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs of x [..., N, d] by pos [..., N] with the angles interleaved (2.1's
    modules.rotate_queries_or_keys; RoFormer, Su et al. 2021: omega_i = 10000^(-i / (d/2)))."""
    d = x.size(-1)
    omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=x.dtype, device=x.device) / (d / 2.0))
    freq = pos.to(x.dtype).unsqueeze(-1) * omega
    sin, cos = freq.sin().repeat_interleave(2, dim=-1), freq.cos().repeat_interleave(2, dim=-1)
    pairs = x.unflatten(-1, (-1, 2))
    turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos + turned * sin


class Attention21(Attention):
    """V-JEPA 2's RoPE attention with 2.1's interleaved angles."""

    def _rotate(self, t: torch.Tensor, positions) -> torch.Tensor:
        d, parts, s = self.rope_dim, [], 0
        for pos in positions:
            parts.append(rotate_interleaved(t[..., s : s + d], pos.unsqueeze(1)))
            s += d
        return torch.cat([*parts, t[..., s:]], dim=-1)


class Block21(Block):
    def __init__(self, dim: int, num_heads: int, hidden: int) -> None:
        super().__init__(dim, num_heads, hidden, rope=True)
        self.attn = Attention21(dim, num_heads, rope=True)


def _positions(grid: VideoGrid, ids: torch.Tensor, side: int, pretrained: int | None) -> tuple[torch.Tensor, ...]:
    """(frame, row, column) of token ids on a grid `side` wide, rows / columns rescaled to the pretraining grid
    when interpolate_rope is on (pretrained: its side)."""
    frame, row, col = grid.positions(ids, side * side, side)
    frame, row, col = frame.float(), row.float(), col.float()
    if pretrained is not None:
        row, col = row * (pretrained - 1) / (side - 1), col * (pretrained - 1) / (side - 1)
    return frame, row, col


class VideoEncoder21(nn.Module):
    """2.1's encoder: tubelet embedding (+ video modality embedding), RoPE blocks, per-level norms."""

    def __init__(self, dim, depth, num_heads, hidden, channels, grid: VideoGrid, parts: dict) -> None:
        super().__init__()
        self.grid, self.levels = grid, ENCODER_LEVELS[depth]
        self.pretrained = parts.get("pretrained_grid")
        self.patch_embed = nn.Module()
        kernel = (grid.tubelet, grid.patch, grid.patch)
        self.patch_embed.proj = nn.Conv3d(channels, dim, kernel_size=kernel, stride=kernel)
        if parts.get("image_embed"):  # the image stream's tubelet-1 embedding: loaded, not used on clips
            self.patch_embed_img = nn.Module()
            one = (1, grid.patch, grid.patch)
            self.patch_embed_img.proj = nn.Conv3d(channels, dim, kernel_size=one, stride=one)
        if parts.get("modality"):
            self.img_mod_embed = nn.Parameter(torch.zeros(1, 1, dim))
            self.video_mod_embed = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList(Block21(dim, num_heads, hidden) for _ in range(depth))
        self.norms_block = nn.ModuleList(nn.LayerNorm(dim, eps=LN_EPS) for _ in self.levels)

    def hierarchy(self, clips: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The 4 normed levels concatenated [B, N or K, 4 D] (forward with training=True)."""
        x = self.patch_embed.proj(clips).flatten(2).transpose(1, 2)
        if hasattr(self, "video_mod_embed"):
            x = x + self.video_mod_embed
        ids = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)
        if mask is not None:
            x = take_tokens(x, mask)
            ids = mask
        g = self.grid
        positions = _positions(g, ids, g.width, self.pretrained)
        levels = []
        for i, blk in enumerate(self.blocks):
            x = blk(x, positions)
            if i in self.levels:
                levels.append(self.norms_block[self.levels.index(i)](x))
        return torch.cat(levels, dim=-1)

    def forward(self, clips: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The eval output: the last level [B, N or K, D] (norms_block[-1] after the last block)."""
        return self.hierarchy(clips, mask)[..., -self.norms_block[-1].normalized_shape[0] :]


class VideoPredictor21(nn.Module):
    """2.1's predictor: 4-level context tokens + mask tokens -> 4-level predictions at targets and context."""

    def __init__(self, dim, pred_dim, depth, num_heads, hidden, mask_tokens, grid: VideoGrid, parts: dict) -> None:
        super().__init__()
        self.grid, self.n_levels, self.pretrained = grid, parts["levels"], parts.get("pretrained_grid")
        if self.n_levels == 1:
            self.predictor_embed = nn.Linear(dim, pred_dim)
        else:
            self.predictor_embed = nn.Sequential(
                nn.Linear(dim * self.n_levels, dim), nn.GELU(), nn.Linear(dim, pred_dim)
            )
        self.mask_tokens = nn.ParameterList(nn.Parameter(torch.zeros(1, 1, pred_dim)) for _ in range(mask_tokens))
        if parts.get("modality"):
            self.video_mod_embed = nn.Parameter(torch.zeros(1, 1, pred_dim))
            self.img_mod_embed = nn.Parameter(torch.zeros(1, 1, pred_dim))
        self.predictor_blocks = nn.ModuleList(Block21(pred_dim, num_heads, hidden) for _ in range(depth))
        self.predictor_norm = nn.LayerNorm(pred_dim, eps=LN_EPS)
        self.predictor_proj = nn.Linear(pred_dim, dim * self.n_levels)
        if parts.get("context_head"):
            self.predictor_proj_context = nn.Linear(pred_dim, dim * self.n_levels)

    def predict(self, context, mask_x, mask_y, mask_index: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(predictions at mask_y [B, M, L D], predictions at mask_x [B, K, L D] or None without
        predictor_proj_context); context [B, K, L D] is the encoder's hierarchy at mask_x."""
        x = self.predictor_embed(context)
        n_ctx, pred_dim = x.shape[1], x.shape[2]
        token = self.mask_tokens[mask_index % len(self.mask_tokens)]
        x = torch.cat([x, token.expand(mask_y.shape[0], mask_y.shape[1], pred_dim)], dim=1)
        order = torch.argsort(torch.cat([mask_x, mask_y], dim=1), dim=1)
        ids = torch.gather(torch.cat([mask_x, mask_y], dim=1), 1, order)
        x = take_tokens(x, order)
        if hasattr(self, "video_mod_embed"):
            x = x + self.video_mod_embed
        positions = _positions(self.grid, ids, self.grid.height, self.pretrained)  # no H given: the grid side
        for blk in self.predictor_blocks:
            x = blk(x, positions)
        x = self.predictor_norm(x)
        x = take_tokens(x, torch.argsort(order, dim=1))
        at_context = self.predictor_proj_context(x[:, :n_ctx]) if hasattr(self, "predictor_proj_context") else None
        return self.predictor_proj(x[:, n_ctx:]), at_context

    def forward(self, context, mask_x, mask_y, mask_index: int = 0) -> torch.Tensor:
        return self.predict(context, mask_x, mask_y, mask_index)[0]


def build_vjepa21_networks(
    checkpoint: Mapping, config: dict, num_heads: int | None = None, pred_heads: int | None = None
) -> VideoNetworks:
    """Rebuild a V-JEPA 2.1 checkpoint's encoder, target encoder and predictor (sizes from the tensor shapes;
    grid, heads, interpolate_rope from the config). Raises ModelBuildError on what it cannot rebuild exactly."""
    data, model = config.get("data") or {}, config.get("model") or {}
    refused = [k for k in ("use_silu", "use_pred_silu", "has_cls_first", "is_causal", "pred_is_causal") if model.get(k)]
    refused += [k for k in ("n_registers", "n_registers_predictor") if model.get(k)]
    if int((config.get("loss") or {}).get("shift_by_n") or 0):
        refused.append("loss.shift_by_n")
    if refused:
        raise ModelBuildError(f"V-JEPA 2.1 options not rebuilt: {', '.join(refused)}")
    enc = network_state(checkpoint, "target_encoder") or network_state(checkpoint, "encoder")
    pred = network_state(checkpoint, "predictor")
    proj = enc.get("patch_embed.proj.weight")
    if proj is None or proj.dim() != 5 or not pred:
        raise ModelBuildError("not a V-JEPA 2.1 video checkpoint: no Conv3d patch embedding or no predictor")
    dim, channels, tubelet, patch = proj.shape[0], proj.shape[1], proj.shape[2], proj.shape[3]
    depth = _count(enc, "blocks.")
    if depth not in ENCODER_LEVELS or _count(enc, "norms_block.") != 4:
        raise ModelBuildError(f"a V-JEPA 2.1 encoder of depth {depth} has no hierarchical layers in the original code")
    frames = max(data.get("dataset_fpcs") or [data.get("num_frames") or 0])
    side = int(data.get("crop_size", 224)) // patch
    grid = VideoGrid(int(frames) // tubelet, side, side, tubelet, patch)
    pretrained = None
    if model.get("interpolate_rope"):
        if patch not in PRETRAINED_GRID:
            raise ModelBuildError(f"interpolate_rope with patch size {patch}: the original defines it for 14 and 16")
        pretrained = PRETRAINED_GRID[patch]
    heads = num_heads or KNOWN_HEADS.get(str(model.get("model_name")))
    if heads is None:
        raise ModelBuildError(f"unknown number of heads for model {model.get('model_name')!r}: pass num_heads")
    p_heads = int(pred_heads or model.get("pred_num_heads") or heads)
    embed = pred.get("predictor_embed.2.weight", pred.get("predictor_embed.weight"))
    enc_parts = {
        "pretrained_grid": pretrained,
        "image_embed": "patch_embed_img.proj.weight" in enc,
        "modality": "video_mod_embed" in enc,
    }
    pred_parts = {
        "pretrained_grid": pretrained,
        "levels": pred["predictor_proj.weight"].shape[0] // dim,
        "modality": "video_mod_embed" in pred,
        "context_head": "predictor_proj_context.weight" in pred,
    }
    hidden = enc["blocks.0.mlp.fc1.weight"].shape[0]
    networks = VideoNetworks(
        encoder=VideoEncoder21(dim, depth, heads, hidden, channels, grid, enc_parts),
        target_encoder=VideoEncoder21(dim, depth, heads, hidden, channels, grid, enc_parts),
        predictor=VideoPredictor21(
            dim,
            embed.shape[0],
            _count(pred, "predictor_blocks."),
            p_heads,
            pred["predictor_blocks.0.mlp.fc1.weight"].shape[0],
            _count(pred, "mask_tokens."),
            grid,
            pred_parts,
        ),
        settings={
            "layout": "vjepa2",
            "variant": "2.1",
            "grid": grid,
            "heads": heads,
            "pred_heads": p_heads,
            "rope": True,
            "levels": [i + 1 for i in ENCODER_LEVELS[depth]],
            "interpolate_rope": pretrained is not None,
        },
    )
    for net, part in ((networks.encoder, "encoder"), (networks.target_encoder, "target_encoder")):
        _load(net, network_state(checkpoint, part), part)
    _load(networks.predictor, pred, "predictor")
    for net in (networks.encoder, networks.target_encoder, networks.predictor):
        net.eval()
    return networks


@dataclass
class LossSettings21:
    """What train.py reads for the 2.1 loss (config loss.* and model.*)."""

    loss_exp: float = 1.0
    predict_all: bool = True
    weight_distance: bool = False
    offset_context: bool = False
    normalize_predictor: bool = False
    lambda_value: float = 0.0
    lambda_progressive: bool = True
    levels_predictor: int = 4  # train.py: > 1 layer-norms each level's features, 1 all 4 D features together

    @classmethod
    def from_config(cls, config: dict) -> LossSettings21:
        loss, model = config.get("loss") or {}, config.get("model") or {}
        return cls(
            loss_exp=float(loss.get("loss_exp", 1.0)),
            predict_all=bool(loss.get("predict_all", True)),
            weight_distance=bool(loss.get("weight_distance_loss", False)),
            offset_context=bool(loss.get("offset_context_loss", False)),
            normalize_predictor=bool(model.get("normalize_predictor", False)),
            lambda_value=float(model.get("lambda_value_vid", 0.0)),  # video clips: the video ranks' lambda
            lambda_progressive=bool(model.get("lambda_progressive", True)),
            levels_predictor=int(model.get("levels_predictor", 4)),
        )

    def lambda_at(self, iteration: int) -> float:
        """lambda at a global iteration (modules.Lambda_LinearWarmupHold, or the constant)."""
        if not self.lambda_progressive or iteration >= LAMBDA_END:
            return self.lambda_value
        if iteration < LAMBDA_START:
            return 0.0
        return self.lambda_value * (iteration - LAMBDA_START) / (LAMBDA_END - LAMBDA_START)


def level_norm(h: torch.Tensor, levels: int) -> torch.Tensor:
    """Layer-norm each level's D features separately, no parameters (train.py forward_target / utils.
    normalize_and_concat)."""
    import torch.nn.functional as F

    dim = h.shape[-1] // levels
    return torch.cat([F.layer_norm(c, (dim,)) for c in h.split(dim, dim=-1)], dim=-1)


def context_distance(mask_x: torch.Tensor, mask_y: torch.Tensor, grid: VideoGrid, offset: bool) -> torch.Tensor:
    """Per context token [B, K]: sqrt of the Euclidean distance, in (frame, row, column) token units, to the
    nearest target token (masks_dist.compute_mask_distance; offset_context_loss divides by grid // 16 first)."""
    side = grid.height

    def coords(ids):
        return torch.stack([p.float() for p in grid.positions(ids, side * side, side)], dim=-1)

    d = torch.cdist(coords(mask_x), coords(mask_y)).min(dim=-1).values
    if offset:
        d = d / (side // 16)
    return d.sqrt()


def loss_terms(nets: VideoNetworks, clips, masks, settings: LossSettings21, mask_index: int = 0) -> dict:
    """The 2.1 training loss on clips [B, C, T, H, W] for masks [(context ids, target ids), ...] (module
    docstring): per mask and per level the prediction and context terms, their means over masks, and the
    per-token errors; `loss` = L_pred + lambda * L_ctx needs lambda, which the caller applies."""
    p = settings.loss_exp
    levels = nets.predictor.n_levels
    h = level_norm(nets.target_encoder.hierarchy(clips), levels if settings.levels_predictor > 1 else 1)
    out = {"masks": []}
    for mask_x, mask_y in masks:
        z = nets.encoder.hierarchy(clips, mask_x)
        z_pred, z_ctx = nets.predictor.predict(z, mask_x, mask_y, mask_index)
        if settings.normalize_predictor:
            z_pred = level_norm(z_pred, levels)
            z_ctx = level_norm(z_ctx, levels) if z_ctx is not None else None
        target = take_tokens(h, mask_y)
        err = (z_pred - target).abs() ** p  # [B, M, L D]
        term = {
            "pred_levels": err.unflatten(-1, (levels, -1)).mean(dim=(0, 1, 3)) / p,
            "pred": err.mean() / p,
            "per_token": err.mean(dim=-1),
            "cosine_levels": torch.nn.functional.cosine_similarity(
                z_pred.unflatten(-1, (levels, -1)), target.unflatten(-1, (levels, -1)), dim=-1
            ).mean(dim=(0, 1)),
            "prediction": z_pred,
            "prediction_context": z_ctx,
            "context": z,
        }
        if settings.predict_all and z_ctx is not None:
            weight = torch.ones(mask_x.shape, dtype=err.dtype)
            if settings.weight_distance:
                weight = context_distance(mask_x, mask_y, nets.encoder.grid, settings.offset_context)
            cerr = (z_ctx - take_tokens(h, mask_x)).abs() ** p / weight.unsqueeze(-1)
            term["context_levels"] = cerr.unflatten(-1, (levels, -1)).mean(dim=(0, 1, 3)) / p
            term["context_loss"] = cerr.mean() / p
            term["distance"] = weight
        out["masks"].append(term)
    n = len(out["masks"])
    out["pred"] = sum(t["pred"] for t in out["masks"]) / n
    out["pred_levels"] = sum(t["pred_levels"] for t in out["masks"]) / n
    if all("context_loss" in t for t in out["masks"]):
        out["context"] = sum(t["context_loss"] for t in out["masks"]) / n
        out["context_levels"] = sum(t["context_levels"] for t in out["masks"]) / n
    out["target_levels"] = h
    return out
