"""stable-pretraining checkpoints: the timm ViT backbone rebuilt without timm, as an encoder-only JepaModel.

galilai-group/stable-pretraining (@ d15ec96) saves Lightning checkpoints whose ``state_dict`` holds the
method's modules under ``model.`` and the callbacks' queues and probes under ``callbacks_modules.``. LeJEPA
(stable_pretraining/methods/lejepa.py) has ONE backbone, ``timm.create_model(name, num_classes=0,
dynamic_img_size=True)`` at ``model.backbone.*`` with stock timm VisionTransformer keys, a projector and
SIGReg; no EMA target encoder and no predictor. So "the" encoder is rebuilt as both the context and the target
encoder of the report, and the parts that need a predictor, a context/target pair or the run's loss say so in
one line. Methods with two ViTs (a student/teacher pair: I-JEPA, DINO, BYOL through stable-pretraining) are
refused with that reason; a checkpoint without a timm ViT too.

The backbone is our models/vit.py VisionTransformer (timm's key names, LayerNorm eps 1e-6, exact GELU,
``(q * scale) @ k^T``), extended here with timm's register tokens and ``no_embed_class`` position tables
(timm/models/vision_transformer.py ``_pos_embed``). Read from the weights: width, depth, patch size, MLP ratio,
qkv bias, LayerScale, CLS token, register tokens and the token grid (position-table rows). The report feeds the
trained image size (grid x patch): with ``dynamic_img_size`` timm resamples the table only for other sizes
(timm/layers/pos_embed.py resample_abs_pos_embed returns it unchanged at the trained grid), so no resampling is
done. Heads are not in the weights: --encoder-heads, else the timm model name when the run's config names one
(TIMM_HEADS), else a guess with a warning. tests/test_stable_pretraining_model.py checks the outputs against
timm's own model on the fixture's weights (within 1e-5).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace

import torch
from torch import nn

from ..errors import ModelBuildError
from .api import EncoderOutput, JepaModel, exact
from .arch import choose_heads, count_indexed
from .config import normalisation
from .info import ModelInfo, Unsupported
from .vit import VisionTransformer

LAYOUT = "stable-pretraining"
VIT_MARK = "patch_embed.proj.weight"  # a timm ViT's first tensor; its prefix is where the ViT sits

# timm model-name size word -> {width: heads}, read from the model defs (the `model_args = dict(...)` of each
# registered vit_* function) of timm/models/vision_transformer.py, huggingface/pytorch-image-models @ aa4b5850
# (timm 1.0.29.dev0). The width disambiguates words used for two sizes (base 768 / 896, giant 1408 / 1536).
TIMM_HEADS = {
    "tiny": {192: 3},
    "xsmall": {256: 4},
    "wee": {256: 4},
    "pwee": {256: 4},
    "dwee": {256: 4},
    "dpwee": {256: 4},
    "little": {320: 5},
    "dlittle": {320: 5},
    "small": {384: 6},
    "medium": {512: 8},
    "mediumd": {512: 8},
    "betwixt": {640: 10},
    "base": {768: 12, 896: 14},
    "so150m": {896: 14},
    "so150m2": {832: 13},
    "large": {1024: 16},
    "huge": {1280: 16},
    "giant": {1408: 16, 1536: 24},
    "giantopt": {1536: 16},
    "so400m": {1152: 16},
    "gigantic": {1664: 16},
}
TIMM_HEADS_EXCEPTIONS = {"vit_base_patch16_gap_224": 16}  # the one 768-wide base with 16 heads
TIMM_NAME = re.compile(r"^vit_([a-z0-9]+)_")

# timm VisionTransformer options whose weights show in the state dict but that this rebuild does not compute
UNSUPPORTED_KEYS = {
    "norm_pre.": "a pre-norm before the blocks (timm pre_norm=True, CLIP-style)",
    "fc_norm.": "a norm after pooling (timm fc_norm / global_pool='avg')",
    "attn_pool.": "attention pooling (timm global_pool='map')",
    "patch_embed.norm.": "a norm in the patch embedding (timm embed_norm_layer)",
    ".attn.q_norm.": "query/key norms (timm qk_norm=True)",
    ".attn.norm.": "a norm after attention (timm scale_attn_norm)",
    ".mlp.norm.": "a norm inside the MLP (timm scale_mlp_norm)",
    ".mlp.fc1_g.": "a gated MLP (timm SwiGLU)",
    ".mlp.w12.": "a packed gated MLP (timm SwiGLUPacked)",
}


def vit_roots(state_dict: Mapping) -> list[str]:
    """Prefixes under which a timm ViT sits (its patch embedding and a first attention block), sorted."""
    return sorted(
        k[: -len(VIT_MARK)]
        for k in state_dict
        if k.endswith(VIT_MARK) and f"{k[: -len(VIT_MARK)]}blocks.0.attn.qkv.weight" in state_dict
    )


def timm_name_heads(name: str | None, width: int) -> int | None:
    """Heads of a timm ViT model name at this width (TIMM_HEADS), or None when the name does not tell."""
    if not name:
        return None
    if name in TIMM_HEADS_EXCEPTIONS:
        return TIMM_HEADS_EXCEPTIONS[name]
    match = TIMM_NAME.match(name)
    return TIMM_HEADS.get(match.group(1), {}).get(width) if match else None


def config_model_name(config: Mapping | None) -> tuple[str | None, str | None]:
    """(timm ViT model name, config key) from the first string value of the run's config that is one
    (stable-pretraining's hparams hold whatever the user's module logged; LeJEPA's `encoder_name`)."""

    def walk(node, path):
        if isinstance(node, Mapping):
            for k, v in node.items():
                yield from walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, str) and TIMM_NAME.match(node):
            yield node, path

    return next(walk(config or {}, ""), (None, None))


class TimmVit(VisionTransformer):
    """models/vit.py's ViT with timm's prefix tokens: CLS, then `reg_tokens` register tokens; the position table
    covers them (timm's default) or only the patches (`no_embed_class`, added before the prefix is prepended)."""

    def __init__(self, *args, reg_tokens: int = 0, no_embed_class: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.no_embed_class = no_embed_class
        cls = self.num_prefix_tokens
        if reg_tokens:
            self.reg_token = nn.Parameter(torch.zeros(1, reg_tokens, self.embed_dim))
        self.num_prefix_tokens = cls + reg_tokens
        rows = self.num_patches + (0 if no_embed_class else self.num_prefix_tokens)
        if self.pos_embed.shape[1] != rows:
            self.pos_embed = nn.Parameter(torch.zeros(1, rows, self.embed_dim))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Patch tokens with the prefix tokens and the position table, in timm's order (_pos_embed)."""
        x = self.patch_embed(images)
        prefix = [t.expand(len(x), -1, -1) for t in (getattr(self, "cls_token", None), getattr(self, "reg_token", None))
                  if t is not None]  # fmt: skip
        if self.no_embed_class:
            return torch.cat([*prefix, x + self.pos_embed], dim=1)
        return torch.cat([*prefix, x], dim=1) + self.pos_embed


class EncoderOnlyNetwork(nn.Module):
    """The method's one backbone, under the key `backbone` (the checkpoint's ViT prefix is mapped onto it)."""

    num_levels = 1

    def __init__(self, backbone: TimmVit):
        super().__init__()
        self.backbone = backbone
        self.callback_queues: dict[str, int] = {}  # the callbacks' embedding queues (rows), for the report's text


def _grid(rows: int, prefix: int, patch: int) -> tuple[tuple[int, int], bool]:
    """((grid rows, cols), no_embed_class) from the position table's rows: prefix rows + a square grid, or a
    square grid alone (no_embed_class)."""
    for no_embed, n in ((False, rows - prefix), (True, rows)):
        side = math.isqrt(max(n, 0))
        if n > 0 and side * side == n and (no_embed is False or prefix):
            return (side, side), no_embed
    raise ModelBuildError(f"the position table's {rows} rows are not {prefix} prefix rows and a square patch grid")


def _refuse_options(sub: Mapping, root: str) -> None:
    for fragment, what in UNSUPPORTED_KEYS.items():
        hit = next((k for k in sub if fragment in f".{k}"), None)
        if hit is not None:
            raise ModelBuildError(f"the timm ViT at {root}* has {what} ({root}{hit}), which is not rebuilt")


def backbone_state(state_dict: Mapping) -> tuple[str, dict, list[str]]:
    """(ViT prefix, its tensors keyed as in timm, notes on what else the checkpoint holds) or ModelBuildError."""
    roots = vit_roots(state_dict)
    if not roots:
        parts = sorted({".".join(k.split(".")[:2]) for k in state_dict if k.startswith("model.")})
        raise ModelBuildError(
            "no timm ViT in the stable-pretraining checkpoint (no <prefix>patch_embed.proj.weight with "
            f"blocks.0.attn.qkv): only ViT backbones are rebuilt; its model parts: {', '.join(parts) or 'none'}"
        )
    if len(roots) > 1:
        raise ModelBuildError(
            f"{len(roots)} ViTs in the checkpoint ({', '.join(r + '*' for r in roots)}): a student/teacher or "
            "context/target pair (I-JEPA, DINO, BYOL through stable-pretraining) or an encoder/decoder (MAE) is not "
            "rebuilt yet, only methods with one backbone such as LeJEPA (model.backbone.*)"
        )
    root = roots[0]
    sub = {k[len(root) :]: v for k, v in state_dict.items() if k.startswith(root)}
    dropped = sorted(k for k in sub if k.startswith("head."))
    for k in dropped:  # a classifier head is not part of the representation (LeJEPA builds none: num_classes=0)
        sub.pop(k)
    _refuse_options(sub, root)
    others = sorted({".".join(k.split(".")[:2]) for k in state_dict if not k.startswith(root)})
    notes = [f"rebuilt only the backbone {root}*; not rebuilt: {', '.join(others)}"] if others else []
    if dropped:
        notes.append(f"its classifier head ({root}head.*) is left out: the report measures the features before it")
    return root, sub, notes


def build_stable_pretraining(state_dict: dict, config: Mapping, encoder_heads=None, predictor_heads=None):
    """Build the EncoderOnlyNetwork of a stable-pretraining checkpoint's one timm ViT (see the module docstring)."""
    root, sub, notes = backbone_state(state_dict)
    proj = sub[VIT_MARK]
    if proj.shape[1] != 3 or proj.shape[2] != proj.shape[3]:
        raise ModelBuildError(f"{root}patch_embed takes {tuple(proj.shape[1:])}: only square RGB patches are rebuilt")
    if "pos_embed" not in sub:
        raise ModelBuildError(f"the timm ViT at {root}* has no pos_embed (pos_embed='none' or RoPE): not rebuilt")
    width, patch, depth = int(proj.shape[0]), int(proj.shape[2]), count_indexed(sub, "blocks.")
    has_cls = "cls_token" in sub
    regs = int(sub["reg_token"].shape[1]) if "reg_token" in sub else 0
    if regs and not has_cls:
        raise ModelBuildError(f"the timm ViT at {root}* has register tokens but no CLS token: not rebuilt")
    grid, no_embed_class = _grid(int(sub["pos_embed"].shape[1]), int(has_cls) + regs, patch)
    name, name_key = config_model_name(config)
    named = timm_name_heads(name, width)
    if encoder_heads or not named:
        heads = choose_heads(width, override=encoder_heads)
    else:
        heads = replace(choose_heads(width, config_value=named), source=f"timm model name '{name}' (config {name_key})")
    fc1 = sub.get("blocks.0.mlp.fc1.weight")
    if fc1 is None:
        raise ModelBuildError(f"no {root}blocks.0.mlp.fc1.weight: not a timm ViT block")
    layer_scale = "timm" if "blocks.0.ls1.gamma" in sub else None
    backbone = TimmVit(
        (grid[0] * patch, grid[1] * patch), patch, width, depth, heads.heads, int(fc1.shape[0]) / width,
        "blocks.0.attn.qkv.bias" in sub, class_token=has_cls, layer_scale=layer_scale,
        reg_tokens=regs, no_embed_class=no_embed_class,
    )  # fmt: skip
    mean, std, norm_source = normalisation(config)
    unsupported = [
        Unsupported(
            "no predictor",
            ("predictor",),
            "a method with one backbone and no predictor (LeJEPA: invariance across views + SIGReg); there is "
            "nothing to predict hidden patches with",
        )
    ]
    if regs:
        unsupported.append(
            Unsupported(
                "register tokens", ("attention",), f"{regs} register tokens: the attention maps assume CLS only"
            )
        )
    info = ModelInfo(
        layout=LAYOUT,
        checkpoint="",
        embed_dim=width,
        depth=depth,
        num_heads=heads.heads,
        heads_source=heads.source,
        heads_guessed=heads.guessed,
        patch_size=patch,
        image_size=grid[0] * patch,
        grid=grid,
        has_cls=has_cls,
        mlp_ratio=int(fc1.shape[0]) / width,
        qkv_bias="blocks.0.attn.qkv.bias" in sub,
        layer_scale=layer_scale,
        num_levels=1,
        ema_target=False,
        norm_mean=mean,
        norm_std=std,
        norm_source=norm_source,
        preprocess="resize_crop",
        unsupported=unsupported,
        warnings=notes
        + [
            "one backbone, no EMA target encoder: the context and target encoder of every section are the same "
            "network (the representations are those of the encoder)",
            f"the trained image size {grid[0] * patch} px (the position table's {grid[0]}x{grid[1]} grid) is used; "
            "timm's dynamic_img_size would resample the table for other sizes, so none is needed",
        ]
        + ([heads.warning] if heads.warning else []),
    )
    network = EncoderOnlyNetwork(backbone)
    network.callback_queues = callback_queues(state_dict)
    return network, info, {f"backbone.{k}": v for k, v in sub.items()}


def callback_queues(state_dict: Mapping) -> dict[str, int]:
    """Rows of each embedding queue the callbacks kept (stable-pretraining OnlineQueue, saved as
    `callbacks_modules.ordered_queue_{key}.out` [length, dim]): the queue the kNN and RankMe callbacks read."""
    out = {}
    for k, v in state_dict.items():
        name = k.removeprefix("callbacks_modules.").removesuffix(".out")
        if k.startswith("callbacks_modules.ordered_queue_") and k.endswith(".out") and len(v.shape) == 2:
            out[name] = int(v.shape[0])
    return out


class EncoderOnlyModel(JepaModel):
    """A stable-pretraining method with one backbone: context and target encoder are that backbone."""

    layout = LAYOUT
    network: EncoderOnlyNetwork

    @property
    def context_encoder(self):
        return self.network.backbone

    @property
    def target_encoder(self):
        return self.network.backbone

    predictor = None

    def loss_masks(self, masks, batch: int):
        raise ModelBuildError("the run's training loss (LeJEPA: views + SIGReg) is not reproduced")

    @exact
    def encode(
        self,
        images: torch.Tensor,
        *,
        encoder: str = "target",
        context_mask=None,
        attention_layers=None,
        return_blocks: bool = False,
    ) -> EncoderOutput:
        """Encode [B, 3, S, S] unmasked (the method trains on views, not masks): tokens [B, prefix + N, D]."""
        self.check("encoder")
        if attention_layers:
            self.check("attention")
        if context_mask is not None:
            raise ModelBuildError("this method's encoder is never run on masked images (no context mask)")
        images = self.images(images)
        vit = self.encoder(encoder)
        out = vit.forward_features(images, attention_layers=attention_layers or (), return_blocks=return_blocks)
        b, n, p = len(images), self.info.num_patches, vit.num_prefix_tokens
        return EncoderOutput(
            tokens=out.tokens,
            patch_tokens=out.tokens[:, p:],
            patch_indices=torch.arange(n, device=self.device).expand(b, n),
            valid=torch.ones(b, n, dtype=torch.bool, device=self.device),
            attentions=out.attentions,
            blocks=out.blocks,
            num_prefix_tokens=p,
        )

    def predict(self, *args, **kwargs):
        self.check("predictor")

    def levels(self, tokens: torch.Tensor, valid: torch.Tensor | None = None, levels=None):
        """One level: the tokens themselves."""
        if any(level != 0 for level in (levels or [0])):
            raise ValueError("this model has a single level (0)")
        return [(tokens, valid)]
