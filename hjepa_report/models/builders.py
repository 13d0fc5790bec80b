"""Per-layout builders: normalised state dict + config -> (network, ModelInfo, state dict to load).

Every option found in the weights (LayerScale, feature pyramid, projection norm, end-to-end runs without a
target encoder) is rebuilt exactly; config options that the original training code ignores, or that the
weights contradict, become warnings in ModelInfo. (Options that cannot be rebuilt would go to
ModelInfo.unsupported, whose outputs JepaModel.check refuses.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..errors import ModelBuildError
from .arch import VitShape, choose_heads, count_indexed, infer_vit, token_grid
from .config import first, get, loss_target_norm, normalisation
from .info import ModelInfo

HJEPA_PREDICTOR_DEFAULT_HEADS = 12  # H-JEPA create_hjepa_from_config: model.predictor.num_heads default


def _encoder_kwargs(shape: VitShape, grid: tuple[int, int], heads: int) -> dict:
    return dict(
        img_size=(grid[0] * shape.patch_size, grid[1] * shape.patch_size),
        patch_size=shape.patch_size,
        embed_dim=shape.embed_dim,
        depth=shape.depth,
        num_heads=heads,
        mlp_ratio=shape.mlp_ratio,
        qkv_bias=shape.qkv_bias,
    )


def _check_rgb(shape: VitShape) -> None:
    if shape.in_chans != 3:
        raise ModelBuildError(f"the patch embedding takes {shape.in_chans} input channels; only RGB (3) is supported")


def image_size_from(
    config: Mapping, fields: tuple[str, ...], grid: tuple[int, int], patch: int, warnings: list[str]
) -> int:
    """Return the model's input size: the config's when it agrees with the weights, else grid * patch."""
    size, name = first(config, *fields)
    from_weights = grid[0] * patch
    if size is not None and int(size) != from_weights:
        warnings.append(
            f"config {name} = {size} but the position table holds a {grid[0]}x{grid[1]} grid of "
            f"{patch}-pixel patches; using {from_weights}"
        )
    return from_weights


def hjepa_config_warnings(state_dict: dict, config: Mapping) -> list[str]:
    """Return notes on config options that the training code ignores or that the weights contradict."""
    warnings = []
    rope, field = first(config, "model.rope.use_rope", "model.use_rope")
    if rope:  # H-JEPA: no commit of src/models/hjepa.py or scripts/train.py passes use_rope to the encoders
        warnings.append(
            f"config {field} is true, but H-JEPA's training code never applies it "
            "(create_hjepa_from_config does not pass it to the encoders, in every public commit up to "
            "eb995a0), so the run trained without RoPE and is rebuilt without it; if your own fork "
            "applied RoPE, every output of this rebuild is wrong"
        )
    has_fpn = any(k.startswith("fpn_lateral_convs.") for k in state_dict)
    if get(config, "model.fpn.use_fpn") and not has_fpn:
        warnings.append(
            "config model.fpn.use_fpn is true but the checkpoint has no fpn_* weights; hierarchy "
            "levels rebuilt without the pyramid, as the weights show"
        )
    layerscale, field = first(config, "model.layerscale.use_layerscale", "model.use_layerscale")
    has_gamma = any(".ls_attn.gamma" in k or ".ls1.gamma" in k for k in state_dict)
    if layerscale and not has_gamma:
        warnings.append(
            f"config {field} is true but the checkpoint has no LayerScale weights; rebuilt "
            "without LayerScale, as the weights show"
        )
    return warnings


def _projection_norm(state_dict: dict) -> str:
    if "hierarchy_projections.0.1.bn.weight" in state_dict:
        return "batchnorm"
    return "layernorm" if "hierarchy_projections.0.1.weight" in state_dict else "none"


def _hjepa_predictor_heads(width: int, override, config: Mapping):
    value = get(config, "model.predictor.num_heads")
    if override or value:
        return choose_heads(width, override=override, config_value=value, config_field="model.predictor.num_heads")
    if get(config, "model") is not None and width % HJEPA_PREDICTOR_DEFAULT_HEADS == 0:
        choice = choose_heads(width, config_value=HJEPA_PREDICTOR_DEFAULT_HEADS)
        return replace(choice, source="H-JEPA default (model.predictor.num_heads absent from the config)")
    return choose_heads(width)


def build_hjepa(state_dict: dict, config: Mapping, encoder_heads=None, predictor_heads=None):
    """Build an HJepaNetwork matching an H-JEPA state dict."""
    from .hjepa import HJepaNetwork

    warnings = hjepa_config_warnings(state_dict, config)
    shape = infer_vit(state_dict, "context_encoder.vit.")
    _check_rgb(shape)
    size, _ = first(config, "data.image_size", "data.crop_size")
    grid = token_grid(shape.num_patches, shape.patch_size, size)
    heads_value, heads_field = first(config, "model.num_heads", "model.encoder.num_heads")
    heads = choose_heads(
        shape.embed_dim,
        override=encoder_heads,
        config_value=heads_value,
        config_field=heads_field,
        model_name=get(config, "model.encoder_type"),
    )
    pred_depth = count_indexed(state_dict, "predictor.blocks.")
    if pred_depth == 0 or "predictor.blocks.0.mlp.0.weight" not in state_dict:
        raise ModelBuildError("no predictor blocks (predictor.blocks.N.mlp.0.weight) in the checkpoint")
    pred_mlp = int(state_dict["predictor.blocks.0.mlp.0.weight"].shape[0]) / shape.embed_dim
    pred_heads = _hjepa_predictor_heads(shape.embed_dim, predictor_heads, config)
    levels = count_indexed(state_dict, "hierarchy_projections.")
    proj_in = state_dict.get("hierarchy_projections.0.0.weight")
    ema_target = any(k.startswith("target_encoder.") for k in state_dict)
    if not ema_target:
        warnings.append("no target encoder in the checkpoint (end-to-end run): targets come from the context encoder")
    kwargs = _encoder_kwargs(shape, grid, heads.heads)
    kwargs.update(layer_scale=shape.layer_scale, class_token=shape.has_cls)
    fpn = state_dict.get("fpn_lateral_convs.0.0.weight")
    fusion = "concat" if any(k.startswith("fpn_fusion_convs.") for k in state_dict) else "add"
    network = HJepaNetwork(
        kwargs,
        pred_depth,
        pred_heads.heads,
        pred_mlp,
        levels,
        _projection_norm(state_dict),
        None if proj_in is None else int(proj_in.shape[1]),
        ema_target,
        None if fpn is None else int(fpn.shape[0]),
        fusion,
    )
    mean, std, norm_source = normalisation(config)
    info = ModelInfo(
        layout="hjepa",
        checkpoint="",
        embed_dim=shape.embed_dim,
        depth=shape.depth,
        num_heads=heads.heads,
        heads_source=heads.source,
        heads_guessed=heads.guessed,
        patch_size=shape.patch_size,
        image_size=image_size_from(config, ("data.image_size", "data.crop_size"), grid, shape.patch_size, warnings),
        grid=grid,
        has_cls=shape.has_cls,
        mlp_ratio=shape.mlp_ratio,
        qkv_bias=shape.qkv_bias,
        layer_scale=shape.layer_scale,
        predictor_embed_dim=shape.embed_dim,
        predictor_depth=pred_depth,
        predictor_heads=pred_heads.heads,
        predictor_heads_source=pred_heads.source,
        predictor_mlp_ratio=pred_mlp,
        num_levels=levels,
        projection_norm=_projection_norm(state_dict),
        ema_target=ema_target,
        fpn_dim=None if fpn is None else int(fpn.shape[0]),
        fpn_fusion=None if fpn is None else fusion,
        norm_mean=mean,
        norm_std=std,
        norm_source=norm_source,
        preprocess="resize_crop",
        target_norm=loss_target_norm(config),
        warnings=warnings + [h.warning for h in (heads, pred_heads) if h.warning],
    )
    return network, info, state_dict


def build_ijepa(state_dict: dict, config: Mapping, encoder_heads=None, predictor_heads=None):
    """Build an IJepaNetwork matching an I-JEPA state dict (encoder.*, target_encoder.*, predictor.*)."""
    from .ijepa import IJepaNetwork

    warnings: list[str] = []
    shape = infer_vit(state_dict, "encoder.")
    _check_rgb(shape)
    if shape.has_cls or shape.layer_scale:
        raise ModelBuildError("an I-JEPA encoder with a CLS token or LayerScale is not a known I-JEPA layout")
    grid = token_grid(shape.num_patches, shape.patch_size, get(config, "data.crop_size"))
    heads = choose_heads(
        shape.embed_dim,
        override=encoder_heads,
        config_value=get(config, "meta.model_kwargs.num_heads"),
        config_field="meta.model_kwargs.num_heads",
        model_name=get(config, "meta.model_name"),
    )
    embed = state_dict.get("predictor.predictor_embed.weight")
    fc1 = state_dict.get("predictor.predictor_blocks.0.mlp.fc1.weight")
    if embed is None or fc1 is None:
        raise ModelBuildError("no I-JEPA predictor (predictor.predictor_embed / predictor_blocks) in the checkpoint")
    width = int(embed.shape[0])
    if predictor_heads:
        pred_heads = choose_heads(width, override=predictor_heads)
    else:  # vit_predictor(num_heads=encoder.num_heads) in I-JEPA src/helper.py init_model
        pred_heads = replace(
            choose_heads(width, config_value=heads.heads),
            source="encoder heads (I-JEPA init_model)",
            guessed=heads.guessed,
        )
    ema_target = any(k.startswith("target_encoder.") for k in state_dict)
    if not ema_target:
        warnings.append("no target_encoder in the checkpoint: targets come from the context encoder")
    network = IJepaNetwork(
        _encoder_kwargs(shape, grid, heads.heads),
        width,
        count_indexed(state_dict, "predictor.predictor_blocks."),
        pred_heads.heads,
        int(fc1.shape[0]) / width,
        "predictor.predictor_blocks.0.attn.qkv.bias" in state_dict,
    )
    if not ema_target:
        network.target_encoder = None
    mean, std, norm_source = normalisation(config)
    info = ModelInfo(
        layout="ijepa",
        checkpoint="",
        embed_dim=shape.embed_dim,
        depth=shape.depth,
        num_heads=heads.heads,
        heads_source=heads.source,
        heads_guessed=heads.guessed,
        patch_size=shape.patch_size,
        image_size=image_size_from(config, ("data.crop_size", "data.image_size"), grid, shape.patch_size, warnings),
        grid=grid,
        has_cls=False,
        mlp_ratio=shape.mlp_ratio,
        qkv_bias=shape.qkv_bias,
        predictor_embed_dim=width,
        predictor_depth=count_indexed(state_dict, "predictor.predictor_blocks."),
        predictor_heads=pred_heads.heads,
        predictor_heads_source=pred_heads.source,
        predictor_mlp_ratio=int(fc1.shape[0]) / width,
        num_levels=1,
        ema_target=ema_target,
        norm_mean=mean,
        norm_std=std,
        norm_source=norm_source,
        preprocess="square_resize",
        warnings=warnings + [h.warning for h in (heads, pred_heads) if h.warning],
    )
    return network, info, state_dict


def build_stable_pretraining(state_dict: dict, config: Mapping, encoder_heads=None, predictor_heads=None):
    """Build the one timm ViT backbone of a stable-pretraining checkpoint (models/stable_pretraining_model.py)."""
    from .stable_pretraining_model import build_stable_pretraining as build

    return build(state_dict, config, encoder_heads, predictor_heads)


BUILDERS = {"hjepa": build_hjepa, "ijepa": build_ijepa, "stable-pretraining": build_stable_pretraining}
