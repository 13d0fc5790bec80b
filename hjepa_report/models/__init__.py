"""Rebuild a run's own networks from a checkpoint: context encoder, EMA target encoder, predictor, hierarchy.

Loading (loading.py, builders.py, normalise.py, arch.py; config readers in config.py, the layout's JepaModel
class in layouts.py):
  ``load_model(checkpoint, config=None, *, layout=None, encoder_heads=None, predictor_heads=None,
  device="cpu", trust=False, model_factory=None) -> JepaModel``. checkpoint: path (.pth/.pth.tar/.pt/.ckpt/
  .safetensors) or loaded dict; config: dict, YAML path or None. Layouts: H-JEPA (model_state_dict), I-JEPA
  (encoder / target_encoder / predictor sub-dicts), bare or Lightning state dicts; DDP ``module.`` stripped.
  Sizes come from tensor shapes; heads from: override > config field > model name > 64-dim heads (guess,
  flagged). Strict keys and shapes: anything unmatched raises errors.ModelBuildError naming it.
  LayerScale and H-JEPA's feature pyramid (FPN) are rebuilt exactly. A RoPE flag in an H-JEPA config is
  rebuilt as training ran it, i.e. without RoPE (the public code never applies it), with a warning. Options
  that cannot be rebuilt go to ``info.unsupported`` and the outputs they affect are refused.

JepaModel (api.py; HJepaModel / IJepaModel), B images, N patches (row-major), D width, H heads:
  ``.info`` (ModelInfo: layout, sizes, heads and their source, grid, CLS, levels, normalisation,
  preprocess, param_counts, unsupported, warnings; ``.as_dict()``), ``.context_encoder``,
  ``.target_encoder``, ``.predictor``, ``.hierarchy`` (H-JEPA projections, else None), ``.network``.
  ``encode(images [B,3,S,S], *, encoder="target"|"context", context_mask=None [B,N] bool True=hidden,
  attention_layers=None, return_blocks=False) -> EncoderOutput(tokens [B,T,D], patch_tokens [B,P,D],
  patch_indices [B,P], valid [B,P], attentions {block: [B,H,T,T]}, blocks {block: [B,T,D]})``.
  H-JEPA zeroes hidden tokens (T = 1+N, CLS first); I-JEPA drops them (T = visible count, per sample).
  ``predict(images | context EncoderOutput, context_mask, targets=None, *, target=None) -> Prediction(
  predicted [B,K,D], target [B,K,D], indices [B,K], valid [B,K], block [B,K], target_kind)``.
  ``levels(tokens [B,K,D], valid=None, levels=None) -> [(tokens_l [B,K//2^l,D], valid_l)]``;
  ``features(images, level=0, *, encoder="target") -> [B, N_l, D]``;
  ``loss(images, masks, settings, *, targets=None) -> Loss(total, levels, ...)``: the run's training loss
  (loss.py), with ``loss_settings(config)``, ``loss_targets(images, masks, settings)`` (the target side, once)
  and ``loss_flops(masks)`` (its cost, flops.py); ``pooled_features(batches)``: pooled embeddings only.
  Attention probabilities are formed only for the requested blocks; on CUDA the methods run without TF32.

Token helpers (gather, pool, index, pad) that the networks, the models, the cache and the loss share are in
tokens.py. Also: ``load_images(paths, image_size, mean, std, method) -> (batch [B,3,S,S], uint8 [S,S,3] arrays)``
(images.py), ``FeatureCache`` (cache.py: each image through each network once per report),
``model_card(model) -> dict`` (info.py: parameter counts, what was rebuilt, unsupported options, EMA gap
per block), and the ``model_factory="module:callable"`` escape hatch (factory.py).

Trainable modules with the original state-dict keys (the sample trainer uses them):
``vit.VisionTransformer(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio=4.0, qkv_bias=True,
class_token=True, pos_embed="learned"|"sincos", norm_eps=1e-6, scale_first=True, layer_scale=None)``,
``hjepa.HJepaNetwork(encoder_kwargs, predictor_depth, predictor_heads, predictor_mlp_ratio=4.0,
num_levels=3, ...)`` (``forward(images, mask)`` as HJEPA.forward; ``update_target_encoder(momentum)``) and
``ijepa.IJepaNetwork(encoder_kwargs, predictor_embed_dim, predictor_depth, predictor_heads=None, ...)``.
Importing this package does not import torch; the names above load on first use.
"""

from __future__ import annotations

_LAZY = {
    "load_model": ("loading", "load_model"),
    "load": ("loading", "load_model"),  # the short name the issue and README use
    "JepaModel": ("api", "JepaModel"),
    "EncoderOutput": ("api", "EncoderOutput"),
    "Prediction": ("api", "Prediction"),
    "ModelInfo": ("info", "ModelInfo"),
    "FeatureCache": ("cache", "FeatureCache"),
    "load_images": ("images", "load_images"),
    "model_card": ("info", "model_card"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    """Import the public names on first use (torch is heavy)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'hjepa_report.models' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
