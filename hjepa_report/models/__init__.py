"""Rebuild a run's own networks from a checkpoint: context encoder, EMA target encoder, predictor, hierarchy.

Trainable modules (exact state-dict key names of the original code, so checkpoints load strictly):
- ``vit.VisionTransformer(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio=4.0, qkv_bias=True,
  class_token=True, pos_embed="learned"|"sincos", norm_eps=1e-6, scale_first=True, layer_scale=None)``:
  timm keys. ``forward(images, hidden_mask=None, keep_indices=None) -> [B, T, D]``;
  ``forward_features(images, *, hidden_mask, keep_indices, attention_layers=(), return_blocks=False)
  -> VitOutput(tokens [B, T, D], attentions {block: [B, H, T, T]}, blocks {block: [B, T, D]})``.
  Attention probabilities are formed (explicit softmax) only for the blocks in ``attention_layers``; the
  other blocks use ``F.scaled_dot_product_attention``.
- ``hjepa.HJepaNetwork(encoder_kwargs, predictor_depth, predictor_heads, predictor_mlp_ratio=4.0,
  num_levels=3)``: keys ``context_encoder.vit.*``, ``target_encoder.vit.*``, ``predictor.*``,
  ``hierarchy_projections.N.*``. ``forward(images [B,3,S,S], mask [B,N] bool, True = hidden)`` -> dict of
  predictions / targets / masks_valid (lists over levels, [B, K_l, D] / [B, K_l]), mask_indices [B, K],
  context_features / target_features [B, 1+N, D]. ``update_target_encoder(momentum)`` is the EMA step.
- ``ijepa.IJepaNetwork(encoder_kwargs, predictor_embed_dim, predictor_depth, predictor_heads=None)``: keys
  ``encoder.*``, ``target_encoder.*``, ``predictor.*`` (the checkpoint's sub-dicts without ``module.``).

Loading and analysis API: see ``loading.load_model`` and ``api.JepaModel`` (re-exported here lazily so that
importing this package does not import torch).
"""

from __future__ import annotations

_LAZY = {
    "load_model": ("loading", "load_model"),
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
