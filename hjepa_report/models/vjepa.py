"""V-JEPA / V-JEPA 2 checkpoints: recognised, and refused in one line by the image-ViT loader (load_model).

facebookresearch/jepa and facebookresearch/vjepa2 save {encoder, predictor, target_encoder, opt, scaler, epoch,
loss, batch_size, world_size, lr}; each network's keys carry DistributedDataParallel's `module.` and the
MultiMaskWrapper / MultiSeqWrapper's `backbone.` prefix, and the encoder's patch embedding is a Conv3d over
tubelets (weight [D, C, tubelet, patch, patch]; src/models/utils/patch_embed.py PatchEmbed3D). The top-level
keys are I-JEPA's, so without this check such a checkpoint would be built as an I-JEPA image ViT and fail on its
first tensor. The video networks are rebuilt by vjepa_nets.py, which the attention and predictions sections
use (and the representations section, through video_model.py). No torch import: the checkpoint is already loaded.
"""

from __future__ import annotations

from collections.abc import Mapping

VIDEO_PREFIX = "module.backbone."
NOT_REBUILT = "V-JEPA video networks are run only by the attention, predictions and representations sections"


def video_refusal(checkpoint: Mapping) -> str | None:
    """The one-line reason a V-JEPA (2) checkpoint's networks are not rebuilt, or None for any other checkpoint."""
    encoder = checkpoint.get("encoder") if isinstance(checkpoint, Mapping) else None
    if not isinstance(encoder, Mapping):
        return None
    proj = next((v for k, v in encoder.items() if str(k).endswith("patch_embed.proj.weight")), None)
    shape = tuple(getattr(proj, "shape", ()))
    if len(shape) != 5:
        return None
    rope = "" if any(str(k).endswith("pos_embed") for k in encoder) else ", rotary positions (no pos_embed)"
    return (
        f"{NOT_REBUILT}: the encoder embeds {shape[2]}-frame tubelets of {shape[3]}x{shape[4]} patches with a Conv3d "
        f"(weight {list(shape)}){rope}, and this section works on image ViTs only (models/vjepa_nets.py rebuilds it)"
    )


def network_state(checkpoint: Mapping, part: str) -> dict:
    """One network's state dict (part: encoder | target_encoder | predictor) with the DDP `module.` and the
    wrapper's `backbone.` prefixes removed: the keys of the original VisionTransformer / VisionTransformerPredictor
    (src/models/vision_transformer.py, src/models/predictor.py)."""
    sd = checkpoint.get(part)
    if not isinstance(sd, Mapping):
        return {}
    out = {}
    for key, value in sd.items():
        name = str(key).removeprefix("module.")
        out[name.removeprefix("backbone.")] = value
    return out


def normalise_video(checkpoint: Mapping) -> dict:
    """The flat state dict of a V-JEPA (2) checkpoint: encoder.*, target_encoder.*, predictor.* (prefixes
    stripped), for what needs only the weights (the EMA drift between the target and context encoders)."""
    return {f"{part}.{k}": v for part in VIDEO_PARTS for k, v in network_state(checkpoint, part).items()}


VIDEO_PARTS = ("encoder", "target_encoder", "predictor")
