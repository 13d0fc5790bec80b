"""V-JEPA and V-JEPA 2 video networks rebuilt from a checkpoint: encoder, target encoder, predictor.

The same computation as the original modules, module names as their state-dict keys (strict loading), in
eval mode (no dropout, no drop-path). Sources: facebookresearch/jepa @ 51c59d5 and facebookresearch/vjepa2 @
c2963a4, src/models/vision_transformer.py, src/models/predictor.py, src/models/utils/{patch_embed,modules}.py.

- Tokens: PatchEmbed3D, a Conv3d with kernel = stride = (tubelet, patch, patch) over [B, C, T, H, W]; tokens
  in (time, row, column) order, N = T/tubelet * H/patch * W/patch. No CLS token.
- Positions: V-JEPA and V-JEPA 2 without RoPE add the fixed 3-D sin-cos table the checkpoint stores as
  `pos_embed` ([1, N, D], get_3d_sincos_pos_embed) right after the patch embedding. With `use_rope` (V-JEPA 2)
  there is no table: each attention rotates q and k in three slices of d = 2 * ((head_dim // 3) // 2)
  channels by the token's frame, row and column (RoPEAttention; rotate_queries_or_keys, RoFormer, Su et al.
  2021: omega_i = 10000^(-i / (d/2)), i < d/2), leaving the last head_dim - 3d channels as they are. The
  original repeats the d/2 angles as [a, a] rather than interleaving them ([a0, a0, a1, a1]): its own note
  says so, and the rebuild keeps it, because the weights were trained with it.
- Masks (context / target) are index lists [B, K] into the N tokens: the encoder keeps only the listed tokens
  (apply_masks, a gather), with their RoPE positions taken from the indices.
- Blocks: pre-norm x + attn(LN(x)), x + MLP(LN(x)) (GELU MLP; V-JEPA 2's SwiGLU `use_silu` is refused);
  LayerNorm eps 1e-6; attention softmax(q k^T / sqrt(head_dim)) v. Final LayerNorm `norm`.
- Predictor: Linear to the predictor width, + predictor_pos_embed at the context indices (no RoPE); the
  mask token `mask_tokens[mask_index % n]` at every target index (+ its position); context then targets.
  V-JEPA 2 sorts the concatenated tokens by index before the blocks (its RoPE reads positions from the sorted
  indices, grid_size x grid_size per frame) and unsorts after the norm; V-JEPA keeps the order. The target
  tokens go through predictor_norm and predictor_proj back to the encoder width.
tests/test_vjepa_nets.py checks all three networks against the original modules' outputs within 1e-4.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import ModelBuildError
from .vjepa import network_state

LN_EPS = 1e-6  # vit_* and vit_predictor: norm_layer=partial(nn.LayerNorm, eps=1e-6)
KNOWN_HEADS = {  # model_name -> num_heads (the weights do not tell): the vit_* constructors of
    # src/models/vision_transformer.py, vjepa2 c2963a4 (jepa 51c59d5 has the sizes without _rope / _xformers,
    # the same numbers)
    "vit_synthetic": 1,
    "vit_tiny": 3,
    "vit_small": 6,
    "vit_base": 12,
    "vit_large": 16,
    "vit_large_rope": 16,
    "vit_huge": 16,
    "vit_huge_rope": 16,
    "vit_giant": 16,
    "vit_giant_rope": 16,
    "vit_giant_xformers": 22,
    "vit_giant_xformers_rope": 22,
    "vit_gigantic": 16,
    "vit_gigantic_xformers": 26,
}


def take_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The rows of x [B, N, D] at the token indices ids [B, K]: [B, K, D] (V-JEPA's src/masks/utils.py
    apply_masks, for one mask)."""
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def rotate(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs of x [..., N, d] by pos [..., N] (modules.rotate_queries_or_keys, its [a, a]
    frequency layout included)."""
    d = x.size(-1)
    omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=x.dtype, device=x.device) / (d / 2.0))
    freq = pos.to(x.dtype).unsqueeze(-1) * omega
    sin, cos = torch.cat([freq.sin()] * 2, dim=-1), torch.cat([freq.cos()] * 2, dim=-1)
    pairs = x.unflatten(-1, (-1, 2))
    turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos + turned * sin


class Attention(nn.Module):
    """Multi-head self-attention, optionally with 3-D RoPE on (frame, row, column) token positions."""

    def __init__(self, dim: int, num_heads: int, rope: bool) -> None:
        super().__init__()
        self.num_heads, self.rope = num_heads, rope
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rope_dim = 2 * ((self.head_dim // 3) // 2)
        self.keep_probs = False
        self.probs: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, positions: tuple[torch.Tensor, ...] | None) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).unflatten(-1, (3, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        if self.rope:
            q, k = self._rotate(q, positions), self._rotate(k, positions)
        attn = ((q @ k.transpose(-2, -1)) * self.head_dim**-0.5).softmax(dim=-1)
        self.probs = attn if self.keep_probs else None
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))

    def _rotate(self, t: torch.Tensor, positions) -> torch.Tensor:
        d, parts, s = self.rope_dim, [], 0
        for pos in positions:  # frame, row, column: [B, N] (broadcast over heads)
            parts.append(rotate(t[..., s : s + d], pos.unsqueeze(1)))
            s += d
        return torch.cat([*parts, t[..., s:]], dim=-1)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, hidden: int, rope: bool) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=LN_EPS), nn.LayerNorm(dim, eps=LN_EPS)
        self.attn, self.mlp = Attention(dim, num_heads, rope), Mlp(dim, hidden)

    def forward(self, x: torch.Tensor, positions) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), positions)
        return x + self.mlp(self.norm2(x))


@dataclass
class VideoGrid:
    """Token grid of the clips the networks were built for: frames per clip / tubelet, rows, columns."""

    depth: int
    height: int
    width: int
    tubelet: int
    patch: int

    @property
    def tokens(self) -> int:
        return self.depth * self.height * self.width

    def positions(self, ids: torch.Tensor, per_frame: int, per_row: int) -> tuple[torch.Tensor, ...]:
        """(frame, row, column) of token indices (RoPEAttention.separate_positions)."""
        frame = ids // per_frame
        row = (ids - per_frame * frame) // per_row
        return frame, row, ids - per_frame * frame - per_row * row


class VideoEncoder(nn.Module):
    """Context / target encoder: tubelet embedding, positions, blocks, final norm; tokens [B, N or K, D]."""

    def __init__(self, dim, depth, num_heads, hidden, channels, grid: VideoGrid, rope: bool) -> None:
        super().__init__()
        self.grid, self.rope = grid, rope
        self.patch_embed = nn.Module()
        kernel = (grid.tubelet, grid.patch, grid.patch)
        self.patch_embed.proj = nn.Conv3d(channels, dim, kernel_size=kernel, stride=kernel)
        if not rope:
            self.pos_embed = nn.Parameter(torch.zeros(1, grid.tokens, dim), requires_grad=False)
        self.blocks = nn.ModuleList(Block(dim, num_heads, hidden, rope) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, clips: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """clips [B, C, T, H, W] at the built size; mask [B, K] token indices to keep (None: all)."""
        x = self.patch_embed.proj(clips).flatten(2).transpose(1, 2)
        if not self.rope:
            x = x + self.pos_embed
        ids = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)
        if mask is not None:
            x = take_tokens(x, mask)
            ids = mask
        g = self.grid
        positions = g.positions(ids, g.height * g.width, g.width) if self.rope else None
        for blk in self.blocks:
            x = blk(x, positions)
        return self.norm(x)


class VideoPredictor(nn.Module):
    """The predictor: context tokens + mask tokens at the target positions -> predicted target features."""

    def __init__(self, dim, pred_dim, depth, num_heads, hidden, mask_tokens, grid: VideoGrid, rope, sort) -> None:
        super().__init__()
        self.grid, self.rope, self.sort = grid, rope, sort
        self.predictor_embed = nn.Linear(dim, pred_dim)
        self.mask_tokens = nn.ParameterList(nn.Parameter(torch.zeros(1, 1, pred_dim)) for _ in range(mask_tokens))
        if not rope:
            self.predictor_pos_embed = nn.Parameter(torch.zeros(1, grid.tokens, pred_dim), requires_grad=False)
        self.predictor_blocks = nn.ModuleList(Block(pred_dim, num_heads, hidden, rope) for _ in range(depth))
        self.predictor_norm = nn.LayerNorm(pred_dim, eps=LN_EPS)
        self.predictor_proj = nn.Linear(pred_dim, dim)

    def forward(self, context, mask_x, mask_y, mask_index: int = 0) -> torch.Tensor:
        """context [B, K, D] (the encoder's output for mask_x [B, K]); mask_y [B, M] target indices."""
        x = self.predictor_embed(context)
        n_ctx, pred_dim = x.shape[1], x.shape[2]
        token = self.mask_tokens[mask_index % len(self.mask_tokens)]
        targets = token.expand(mask_y.shape[0], mask_y.shape[1], pred_dim)
        if not self.rope:
            table = self.predictor_pos_embed.expand(x.shape[0], -1, -1)
            x = x + take_tokens(table, mask_x)
            targets = targets + take_tokens(table, mask_y)
        x = torch.cat([x, targets], dim=1)
        ids = torch.cat([mask_x, mask_y], dim=1)
        order = torch.argsort(ids, dim=1) if self.sort else None
        if order is not None:
            ids = torch.gather(ids, 1, order)
            x = take_tokens(x, order)
        g = self.grid  # the predictor's blocks get no T/H/W: RoPE uses grid_size x grid_size per frame
        positions = g.positions(ids, g.height * g.height, g.height) if self.rope else None
        for blk in self.predictor_blocks:
            x = blk(x, positions)
        x = self.predictor_norm(x)
        if order is not None:
            x = take_tokens(x, torch.argsort(order, dim=1))
        return self.predictor_proj(x[:, n_ctx:])


@dataclass
class VideoNetworks:
    """The rebuilt networks of one checkpoint and what they were built with."""

    encoder: VideoEncoder
    target_encoder: VideoEncoder
    predictor: VideoPredictor
    settings: dict = field(default_factory=dict)


def build_vjepa_networks(
    checkpoint: Mapping, config: dict, layout: str, num_heads: int | None = None, pred_heads: int | None = None
) -> VideoNetworks:
    """Rebuild encoder, target encoder and predictor of a V-JEPA (layout vjepa) or V-JEPA 2 (vjepa2) checkpoint
    (V-JEPA 2.1's are video_networks.py's other branch).

    Sizes come from the tensor shapes; what the weights cannot tell from the config: the grid (crop_size,
    patch_size, frames, tubelet_size), use_rope, the head counts (model.model_name's size, or num_heads;
    V-JEPA 2's model.pred_num_heads, else the encoder's). Raises ModelBuildError on anything it cannot
    rebuild exactly (SwiGLU, unknown head count, keys that do not match)."""
    data, model = config.get("data") or {}, config.get("model") or {}
    if model.get("use_silu") or model.get("use_pred_silu"):
        raise ModelBuildError("V-JEPA 2's SwiGLU MLP (use_silu / use_pred_silu) is not rebuilt")
    enc = network_state(checkpoint, "target_encoder") or network_state(checkpoint, "encoder")
    pred = network_state(checkpoint, "predictor")
    proj = enc.get("patch_embed.proj.weight")
    if proj is None or proj.dim() != 5 or not pred:
        raise ModelBuildError("not a V-JEPA video checkpoint: no Conv3d patch embedding or no predictor")
    dim, channels, tubelet, patch = proj.shape[0], proj.shape[1], proj.shape[2], proj.shape[3]
    frames = data.get("num_frames") or max(data.get("dataset_fpcs") or [0])
    side = int(data.get("crop_size", 224)) // patch
    grid = VideoGrid(int(frames) // tubelet, side, side, tubelet, patch)
    heads = num_heads or KNOWN_HEADS.get(str(model.get("model_name")))
    if heads is None:
        raise ModelBuildError(f"unknown number of heads for model {model.get('model_name')!r}: pass num_heads")
    p_heads = pred_heads or model.get("pred_num_heads") or heads
    rope = bool(model.get("use_rope", False))
    depth = _count(enc, "blocks.")
    networks = VideoNetworks(
        encoder=VideoEncoder(dim, depth, heads, enc["blocks.0.mlp.fc1.weight"].shape[0], channels, grid, rope),
        target_encoder=VideoEncoder(dim, depth, heads, enc["blocks.0.mlp.fc1.weight"].shape[0], channels, grid, rope),
        predictor=VideoPredictor(
            dim,
            pred["predictor_embed.weight"].shape[0],
            _count(pred, "predictor_blocks."),
            int(p_heads),
            pred["predictor_blocks.0.mlp.fc1.weight"].shape[0],
            _count(pred, "mask_tokens."),
            grid,
            rope,
            sort=layout == "vjepa2",
        ),
        settings={"layout": layout, "grid": grid, "heads": heads, "pred_heads": int(p_heads), "rope": rope},
    )
    for net, part in ((networks.encoder, "encoder"), (networks.target_encoder, "target_encoder")):
        _load(net, network_state(checkpoint, part), part)
    _load(networks.predictor, pred, "predictor")
    for net in (networks.encoder, networks.target_encoder, networks.predictor):
        net.eval()
    return networks


def _count(state: Mapping, prefix: str) -> int:
    return len({k[len(prefix) :].split(".")[0] for k in state if k.startswith(prefix)})


def _load(net: nn.Module, state: Mapping, part: str) -> None:
    """Strict loading, with a one-line error naming what does not match."""
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        raise ModelBuildError(
            f"the {part} does not match the rebuilt network: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"mis-shaped {shapes[:5]}"
        )
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # app/vjepa/transforms.py defaults


def load_clip(clip, grid: VideoGrid, config: dict | None = None) -> tuple[torch.Tensor, list, str]:
    """Read a sample clip into [3, T, H, W] for networks built for `grid`. `clip` is a collect.run.ClipRef (a
    frame folder or a video file) or a list of frame files. T frames are taken as collect/clips.py says (a
    folder's first T frames, the last one repeated when there are fewer; a video's frames sampled with the
    run's `config` as V-JEPA's VideoDataset samples them), each resized to the crop (bilinear) and normalised
    with the ImageNet mean / std as V-JEPA's transforms do. Returns (tensor, the RGB frames as uint8 arrays,
    a note or ""); raises collect.clips.ClipError in one line for a clip that cannot be read."""
    import numpy as np
    from PIL import Image

    from ..collect.clips import decode_video, read_frame_folder, sampling_of

    need, side = grid.depth * grid.tubelet, grid.height * grid.patch
    video = getattr(clip, "video", None)
    if video is not None:
        read = decode_video(video, sampling_of(config, need))
    else:
        read = read_frame_folder(list(getattr(clip, "frames", clip)), need)
    pictures = []
    for frame in read.frames:
        rgb = Image.fromarray(frame)
        if rgb.size != (side, side):
            rgb = rgb.resize((side, side), Image.BILINEAR)
        pictures.append(np.asarray(rgb, dtype=np.uint8))
    x = torch.from_numpy(np.stack(pictures)).float().div(255.0)  # T, H, W, C
    x = (x - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    return x.permute(3, 0, 1, 2).contiguous(), pictures, read.note


def attention_maps(encoder: VideoEncoder, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of every block of `encoder` on one unmasked clip, reduced to per-token maps [T, H, W]:
    (the last block's attention each token receives, averaged over heads and queries; the attention rollout
    (Abnar & Zuidema 2020): the product over blocks of 0.5 * A + 0.5 * I, A averaged over heads, rows
    renormalised, then the attention each token receives, averaged over queries)."""
    g = encoder.grid
    for blk in encoder.blocks:
        blk.attn.keep_probs = True
    try:
        with torch.no_grad():
            encoder(clip.unsqueeze(0))
        probs = [blk.attn.probs[0].mean(dim=0) for blk in encoder.blocks]  # [N, N] per block
    finally:
        for blk in encoder.blocks:
            blk.attn.keep_probs, blk.attn.probs = False, None
    eye = torch.eye(probs[0].shape[0])
    rollout = eye
    for a in probs:
        step = 0.5 * a + 0.5 * eye
        rollout = (step / step.sum(dim=-1, keepdim=True)) @ rollout
    shape = (g.depth, g.height, g.width)
    return probs[-1].mean(dim=0).reshape(shape), rollout.mean(dim=0).reshape(shape)
