"""The --model-factory escape hatch: a user's own constructor instead of our shape-based rebuild.

``--model-factory my_pkg.my_module:build`` imports ``my_pkg.my_module`` and calls
``build(state_dict, config)``: state_dict is the checkpoint's flat state dict with wrapper prefixes removed
(H-JEPA: context_encoder.vit.*, ...; I-JEPA: encoder.*, target_encoder.*, predictor.*), or the loaded
checkpoint itself when its layout is not recognised; config is the run's config dict ({} when absent).
It must return, with the weights already loaded:
- a JepaModel (e.g. made with this package's classes), used as is; or
- an HJepaNetwork / IJepaNetwork (hjepa.py / ijepa.py); or
- a tuple of parts built from this package's modules: (context HJepaEncoder, target HJepaEncoder or None,
  HJepaPredictor[, hierarchy_projections ModuleList]) or (encoder VisionTransformer, target
  VisionTransformer or None, IJepaPredictor).
Analyses need attention probabilities, block outputs and the layout's masking semantics, which only these
classes provide, so arbitrary modules are refused with a message instead of being half-used.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from torch import nn

from ..errors import ModelBuildError
from .api import JepaModel
from .config import normalisation
from .hjepa import HJepaEncoder, HJepaNetwork, HJepaPredictor
from .ijepa import IJepaNetwork, IJepaPredictor
from .info import ModelInfo, Unsupported
from .layouts import make_model
from .normalise import normalise
from .vit import VisionTransformer


def import_factory(spec: str):
    """Return the callable named by 'module:callable'."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ModelBuildError(f"--model-factory must look like 'package.module:callable', not {spec!r}")
    try:
        target = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ModelBuildError(f"--model-factory {spec}: cannot import it ({exc})") from None
    if not callable(target):
        raise ModelBuildError(f"--model-factory {spec} is not callable")
    return target


def _as_network(result):
    """Turn what a factory returned into an HJepaNetwork / IJepaNetwork, or raise."""
    if isinstance(result, (HJepaNetwork, IJepaNetwork)):
        return result
    if isinstance(result, tuple) and len(result) in (3, 4):
        if isinstance(result[0], HJepaEncoder) and isinstance(result[2], HJepaPredictor):
            hierarchy = result[3] if len(result) == 4 else nn.ModuleList()
            return HJepaNetwork.from_parts(result[0], result[1], result[2], hierarchy)
        if isinstance(result[0], VisionTransformer) and isinstance(result[2], IJepaPredictor) and len(result) == 3:
            return IJepaNetwork.from_parts(*result)
    raise ModelBuildError(
        f"the model factory returned {type(result).__name__}; expected a JepaModel, an "
        "HJepaNetwork / IJepaNetwork, or a tuple of this package's modules (see models/factory.py)"
    )


def info_from_network(network, config: Mapping, label: str) -> ModelInfo:
    """Describe a network built by a factory from its modules (heads as the factory set them)."""
    hjepa = isinstance(network, HJepaNetwork)
    vit = network.context_encoder.vit if hjepa else network.encoder
    block = vit.blocks[0]
    pred = network.predictor
    pred_blocks = pred.blocks if hjepa else pred.predictor_blocks
    pred_width = pred.head.in_features if hjepa else pred.predictor_embed.out_features
    pred_heads = pred_blocks[0].attn.num_heads
    pred_mlp = (pred_blocks[0].mlp[0] if hjepa else pred_blocks[0].mlp.fc1).out_features / pred_width
    mean, std, source = normalisation(config)
    fpn = hjepa and network.uses_fpn
    return ModelInfo(
        layout="hjepa" if hjepa else "ijepa",
        checkpoint=label,
        embed_dim=vit.embed_dim,
        depth=len(vit.blocks),
        num_heads=vit.num_heads,
        heads_source="model factory",
        heads_guessed=False,
        patch_size=vit.patch_size,
        image_size=vit.grid[0] * vit.patch_size,
        grid=vit.grid,
        has_cls=bool(vit.num_prefix_tokens),
        mlp_ratio=block.mlp.fc1.out_features / vit.embed_dim,
        qkv_bias=block.attn.qkv.bias is not None,
        layer_scale=block.layer_scale,
        predictor_embed_dim=pred_width,
        predictor_depth=len(pred_blocks),
        predictor_heads=pred_heads,
        predictor_heads_source="model factory",
        predictor_mlp_ratio=pred_mlp,
        num_levels=len(network.hierarchy_projections) if hjepa else 1,
        fpn_dim=network.fpn_lateral_convs[0][0].out_features if fpn else None,
        fpn_fusion=("concat" if hasattr(network, "fpn_fusion_convs") else "add") if fpn else None,
        ema_target=network.target_encoder is not None,
        norm_mean=mean,
        norm_std=std,
        norm_source=source,
        preprocess="resize_crop" if hjepa else "square_resize",
        warnings=["network built by --model-factory"],
    )


def build_from_factory(spec: str, checkpoint: Mapping, config: Mapping, label: str, device) -> JepaModel:
    """Call the user's factory and wrap its result in a JepaModel."""
    factory = import_factory(spec)
    try:
        state_dict = normalise(checkpoint)[1]
    except ModelBuildError:
        state_dict = checkpoint
    result = factory(state_dict, dict(config))
    if isinstance(result, JepaModel):
        return result
    network = _as_network(result)
    info = info_from_network(network, config, label)
    if info.num_levels == 0:  # parts without hierarchy projections
        info.num_levels = 1
        info.unsupported.append(
            Unsupported("hierarchy", ("levels",), "the model factory returned no hierarchy projections")
        )
    return make_model(info.layout, network, info, device)
