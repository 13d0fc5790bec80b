"""Turn a loaded checkpoint of any supported layout into one flat state dict with our module's key names.

One pure function per layout (the idea of timm's checkpoint_filter_fn): no I/O, no torch import, so every
rule is visible in one place and testable on plain dicts.
- H-JEPA (jonwiggins/H-JEPA): ``model_state_dict`` -> keys ``context_encoder.vit.*``, ``target_encoder.vit.*``,
  ``predictor.*``, ``hierarchy_projections.*`` (and ``fpn_*`` when FPN was on).
- I-JEPA (facebookresearch/ijepa): sub-dicts ``encoder`` / ``target_encoder`` / ``predictor`` -> keys
  ``encoder.*``, ``target_encoder.*``, ``predictor.*``.
- A bare state dict, or a Lightning checkpoint (``state_dict`` with a ``model.`` prefix), of either layout.
- stable-pretraining (galilai-group/stable-pretraining): a Lightning ``state_dict`` with the method under ``model.``
  and the callbacks under ``callbacks_modules.`` (the Manager also stamps ``spt_run_dir``), kept as saved.
Wrapper prefixes are removed everywhere: DDP ``module.`` and torch.compile ``_orig_mod.``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ModelBuildError
from .vjepa import normalise_video, video_refusal

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
IJEPA_PARTS = ("encoder", "target_encoder", "predictor")
HJEPA_ROOTS = ("context_encoder.", "target_encoder.", "predictor.", "hierarchy_projections.")


def strip_wrappers(key: str) -> str:
    """Remove DDP / torch.compile prefixes at the start of a key or of any dotted component run."""
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
        for prefix in WRAPPER_PREFIXES:
            key = key.replace("." + prefix, ".")
    return key


def _is_tensor_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(hasattr(v, "shape") for v in obj.values())


def _clean(sd: Mapping, drop_prefix: str = "") -> dict:
    out = {}
    for key, value in sd.items():
        key = strip_wrappers(key)
        if drop_prefix and key.startswith(drop_prefix):
            key = key[len(drop_prefix) :]
        out[key] = value
    return out


def model_state_dict(checkpoint: Mapping) -> dict:
    """Return the flat model state dict of an H-JEPA / Lightning / bare checkpoint (wrappers stripped)."""
    if _is_tensor_dict(checkpoint.get("model_state_dict", None)):
        return _clean(checkpoint["model_state_dict"])
    if _is_tensor_dict(checkpoint.get("state_dict", None)):
        sd = _clean(checkpoint["state_dict"])
        if all(k.startswith("model.") for k in sd):  # Lightning module holding the network as self.model
            sd = {k[len("model.") :]: v for k, v in sd.items()}
        return sd
    if _is_tensor_dict(checkpoint.get("model", None)):
        return _clean(checkpoint["model"])
    tensors = {k: v for k, v in checkpoint.items() if hasattr(v, "shape")}
    if tensors:
        return _clean(tensors)
    raise ModelBuildError(
        "no model weights found in the checkpoint (looked for model_state_dict, state_dict, model, "
        f"encoder/predictor sub-dicts or bare tensors); top-level keys: {_names(checkpoint)}"
    )


def detect_layout(checkpoint: Mapping) -> str:
    """Return 'ijepa' or 'hjepa' from the checkpoint's structure, or raise ModelBuildError (also for a V-JEPA
    video checkpoint, whose top-level keys are I-JEPA's: models/vjepa.py)."""
    video = video_refusal(checkpoint)
    if video:
        raise ModelBuildError(video)
    if is_stable_pretraining(checkpoint):
        return "stable-pretraining"
    if all(_is_tensor_dict(checkpoint.get(p)) for p in ("encoder", "predictor")):
        return "ijepa"
    keys = list(model_state_dict(checkpoint))
    if any(k.startswith(("context_encoder.", "hierarchy_projections.")) for k in keys):
        return "hjepa"
    if any(k.startswith("encoder.") for k in keys) and any(k.startswith("predictor.") for k in keys):
        return "ijepa"
    raise ModelBuildError(
        "cannot tell the checkpoint's layout: expected H-JEPA keys (context_encoder.vit.*, predictor.*) or "
        f"I-JEPA sub-dicts (encoder, predictor, target_encoder); first keys: {_names(keys)}"
    )


def normalise_hjepa(checkpoint: Mapping) -> dict:
    """Return the H-JEPA state dict (context_encoder.vit.*, target_encoder.vit.*, predictor.*, ...)."""
    return model_state_dict(checkpoint)


def normalise_ijepa(checkpoint: Mapping) -> dict:
    """Return the I-JEPA state dict with keys encoder.*, target_encoder.*, predictor.* (module. stripped)."""
    if all(_is_tensor_dict(checkpoint.get(p)) for p in ("encoder", "predictor")):
        out = {}
        for part in IJEPA_PARTS:
            if _is_tensor_dict(checkpoint.get(part)):
                out.update({f"{part}.{k}": v for k, v in _clean(checkpoint[part]).items()})
        return out
    return model_state_dict(checkpoint)  # bare or Lightning dict already holding encoder.* / predictor.*


def is_stable_pretraining(checkpoint: Mapping) -> bool:
    """Tell a stable-pretraining Lightning checkpoint: its Manager's `spt_run_dir` stamp, or a Lightning
    `state_dict` with the method under `model.` beside the callbacks' `callbacks_modules.` (its Module's names)."""
    sd = checkpoint.get("state_dict")
    if not _is_tensor_dict(sd):
        return False
    return "spt_run_dir" in checkpoint or (
        any(str(k).startswith("model.") for k in sd) and any(str(k).startswith("callbacks_modules.") for k in sd)
    )


def normalise_stable_pretraining(checkpoint: Mapping) -> dict:
    """Return a stable-pretraining checkpoint's flat state dict as saved (model.*, callbacks_modules.*; wrappers
    stripped): models/stable_pretraining_model.py finds the backbone in it."""
    return (
        _clean(checkpoint["state_dict"])
        if _is_tensor_dict(checkpoint.get("state_dict"))
        else model_state_dict(checkpoint)
    )


NORMALISERS = {
    "hjepa": normalise_hjepa,
    "ijepa": normalise_ijepa,
    "vjepa": normalise_video,
    "vjepa2": normalise_video,
    "stable-pretraining": normalise_stable_pretraining,
}


def normalise(checkpoint: Mapping, layout: str | None = None) -> tuple[str, dict]:
    """Return (layout, flat state dict); layout None means detect it."""
    if not isinstance(checkpoint, Mapping):
        raise ModelBuildError(f"the checkpoint holds a {type(checkpoint).__name__}, not a dict of weights")
    layout = layout or detect_layout(checkpoint)
    if layout not in NORMALISERS:
        raise ModelBuildError(f"unknown layout {layout!r}; use one of {sorted(NORMALISERS)}")
    return layout, NORMALISERS[layout](checkpoint)


def _names(keys, limit: int = 10) -> str:
    keys = list(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(map(str, keys[:limit])) + more
