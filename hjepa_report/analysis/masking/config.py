"""Masking settings of a run, read from its training config.

Two families, because the two codebases configure masking differently:
- I-JEPA (facebookresearch/ijepa, src/train.py): a `mask:` section (enc_mask_scale, pred_mask_scale,
  aspect_ratio, num_enc_masks, num_pred_masks, allow_overlap, min_keep, patch_size) and `data.crop_size`.
  Without any masking config the paper's setting is used (Assran et al. 2023, Sec. 3: 4 targets of scale
  0.15-0.2, context 0.85-1.0, aspect 0.75-1.5 at 224 px / patch 16).
- H-JEPA (jonwiggins/H-JEPA @ eb995a0, scripts/train.py main, "Build Masking Strategy"): the trainer passes
  exactly three `masking:` keys to HierarchicalMaskGenerator, each with its own default when absent:
  `num_masks` (4), `mask_scale` ([0.05, 0.15]) and `aspect_ratio` ([0.75, 1.5]), plus `model.num_hierarchies`
  and `data.image_size`. Every other masking key (`num_target_masks`, `target_mask_scale`, `num_context_masks`,
  `context_scale`, ...) is ignored by the trainer; `ignored_keys` lists those the config has, and `source`
  says which keys came from the config and which are H-JEPA defaults. The patch size is NOT reliably in the
  config (scripts/train.py hard-codes 16 for the mask generator); it comes from an argument (the model's real
  patch size), else from the encoder name (vit_base_patch16_224 -> 16), else 16. `patch_source` says which.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from ...errors import ConfigError

DEFAULT_BATCH_SIZE = 128  # per-GPU batch of the I-JEPA ImageNet configs (configs/in1k_vith14_ep300.yaml)
# The masking keys H-JEPA's scripts/train.py passes to HierarchicalMaskGenerator and the defaults it gives them:
#   num_target_masks=config["masking"].get("num_masks", 4),
#   base_scale=tuple(config["masking"].get("mask_scale", [0.05, 0.15])),
#   aspect_ratio_range=tuple(config["masking"].get("aspect_ratio", [0.75, 1.5]))
# (not configs/default.yaml's values, nor src/utils/config.py's MaskingConfig, which train.py never uses).
HJEPA_TRAINER_DEFAULTS: dict[str, Any] = {"num_masks": 4, "mask_scale": (0.05, 0.15), "aspect_ratio": (0.75, 1.5)}


class _JsonSettings:
    """Shared by the settings dataclasses: their values as JSON-friendly data."""

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-friendly values (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class IJepaMaskSettings(_JsonSettings):
    """Arguments of I-JEPA's MaskCollator (src/masks/multiblock.py) plus where each came from."""

    grid: tuple[int, int]
    image_size: int
    patch_size: int
    enc_mask_scale: tuple[float, float] = (0.85, 1.0)
    pred_mask_scale: tuple[float, float] = (0.15, 0.2)
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    nenc: int = 1
    npred: int = 4
    allow_overlap: bool = False
    min_keep: int = 10
    batch_size: int = DEFAULT_BATCH_SIZE
    source: str = "I-JEPA paper default"
    patch_source: str = "config"
    batch_source: str = "config"
    family: str = "ijepa"


@dataclass(frozen=True)
class HJepaMaskSettings(_JsonSettings):
    """Arguments of H-JEPA's HierarchicalMaskGenerator (src/masks/hierarchical.py) as scripts/train.py sets them."""

    grid: tuple[int, int]
    image_size: int
    patch_size: int
    num_masks: int = HJEPA_TRAINER_DEFAULTS["num_masks"]
    mask_scale: tuple[float, float] = HJEPA_TRAINER_DEFAULTS["mask_scale"]
    aspect_ratio: tuple[float, float] = HJEPA_TRAINER_DEFAULTS["aspect_ratio"]
    num_hierarchies: int = 3
    max_attempts: int = 10  # generator default; scripts/train.py does not set it
    batch_size: int = DEFAULT_BATCH_SIZE
    source: str = "run config (masking section)"
    patch_source: str = "default 16"
    batch_source: str = "config"
    family: str = "hjepa"
    ignored_keys: tuple[str, ...] = ()  # masking keys of the config that scripts/train.py does not pass on


MaskSettings = IJepaMaskSettings | HJepaMaskSettings


def mask_settings(
    config: dict | None,
    *,
    layout: str | None = None,
    batch_size: int | None = None,
    grid: tuple[int, int] | None = None,
    patch_size: int | None = None,
) -> MaskSettings:
    """Read the masking settings of a run from its config (None: the I-JEPA paper setting)."""
    config = config or {}
    family = _family(config, layout)
    if family == "hjepa":
        return _hjepa_settings(config, batch_size, grid, patch_size)
    return _ijepa_settings(config, batch_size, grid, patch_size)


def _family(config: dict, layout: str | None) -> str:
    """Pick the masking family: the layout when it names one, else the config's masking section."""
    if layout in ("hjepa", "ijepa"):
        return layout
    if isinstance(config.get("masking"), dict):
        return "hjepa"
    return "ijepa"


def _section(config: dict, name: str) -> dict:
    """Return config[name] as a dict ({} when absent); a non-dict value is a config error."""
    value = config.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"config section '{name}' should be a mapping, got {type(value).__name__}")
    return value


def _pair(value, name: str) -> tuple[float, float]:
    """Read a [low, high] range."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"masking setting '{name}' should be a [low, high] pair, got {value!r}") from None
    if low > high:
        raise ConfigError(f"masking setting '{name}' has low > high: {value!r}")
    return low, high


def _batch(config: dict, batch_size: int | None) -> tuple[int, str]:
    """Batch size from the argument, else data.batch_size, else the I-JEPA per-GPU default."""
    if batch_size is not None:
        return int(batch_size), "argument"
    from_config = _section(config, "data").get("batch_size")
    if from_config:
        return int(from_config), "config data.batch_size"
    return DEFAULT_BATCH_SIZE, "assumed: no data.batch_size in the config; I-JEPA's per-GPU ImageNet batch"


def _ijepa_settings(config, batch_size, grid, patch_size) -> IJepaMaskSettings:
    """Settings of I-JEPA's MaskCollator from the `mask:` section (train.py passes these keys)."""
    mask = _section(config, "mask")
    image = int(_section(config, "data").get("crop_size") or 224)
    if patch_size:
        patch, patch_source = int(patch_size), "argument"
    elif mask.get("patch_size"):
        patch, patch_source = int(mask["patch_size"]), "config mask.patch_size"
    else:
        patch, patch_source = 16, "I-JEPA paper default 16"
    defaults = IJepaMaskSettings(grid=(0, 0), image_size=image, patch_size=patch)
    bs, bs_source = _batch(config, batch_size)
    return IJepaMaskSettings(
        grid=_grid(grid, image, patch),
        image_size=image,
        patch_size=patch,
        enc_mask_scale=_pair(mask.get("enc_mask_scale", defaults.enc_mask_scale), "enc_mask_scale"),
        pred_mask_scale=_pair(mask.get("pred_mask_scale", defaults.pred_mask_scale), "pred_mask_scale"),
        aspect_ratio=_pair(mask.get("aspect_ratio", defaults.aspect_ratio), "aspect_ratio"),
        nenc=int(mask.get("num_enc_masks", defaults.nenc)),
        npred=int(mask.get("num_pred_masks", defaults.npred)),
        allow_overlap=bool(mask.get("allow_overlap", defaults.allow_overlap)),
        min_keep=int(mask.get("min_keep", defaults.min_keep)),
        batch_size=bs,
        source="run config (mask section)" if mask else "I-JEPA paper default (the run has no masking config)",
        patch_source="argument (grid)" if grid else patch_source,
        batch_source=bs_source,
    )


def encoder_patch_size(encoder_type: str | None) -> int | None:
    """Patch size named in a timm-style encoder name (vit_base_patch16_224 -> 16), else None."""
    match = re.search(r"patch(\d+)", encoder_type or "")
    return int(match.group(1)) if match else None


def _hjepa_settings(config, batch_size, grid, patch_size) -> HJepaMaskSettings:
    """Settings of H-JEPA's HierarchicalMaskGenerator as scripts/train.py builds it."""
    masking, model = _section(config, "masking"), _section(config, "model")
    image = int(_section(config, "data").get("image_size") or 224)
    from_name = encoder_patch_size(model.get("encoder_type"))
    if patch_size:
        patch, patch_source = int(patch_size), "model (checkpoint)"
    elif from_name:
        patch, patch_source = from_name, f"encoder name {model.get('encoder_type')!r}"
    else:
        patch, patch_source = 16, "default 16 (as scripts/train.py hard-codes it)"
    bs, bs_source = _batch(config, batch_size)
    read = {key: masking.get(key, default) for key, default in HJEPA_TRAINER_DEFAULTS.items()}
    return HJepaMaskSettings(
        grid=_grid(grid, image, patch),
        image_size=image,
        patch_size=patch,
        num_masks=int(read["num_masks"]),
        mask_scale=_pair(read["mask_scale"], "mask_scale"),
        aspect_ratio=_pair(read["aspect_ratio"], "aspect_ratio"),
        num_hierarchies=int(model.get("num_hierarchies", 3)),
        batch_size=bs,
        source=hjepa_sources(masking),
        patch_source="argument (grid)" if grid else patch_source,
        batch_source=bs_source,
        ignored_keys=tuple(str(k) for k in masking if k not in HJEPA_TRAINER_DEFAULTS),
    )


def hjepa_sources(masking: dict) -> str:
    """Say which of the trainer's masking keys came from the config and which are H-JEPA's defaults."""
    given = [k for k in HJEPA_TRAINER_DEFAULTS if k in masking]
    if len(given) == len(HJEPA_TRAINER_DEFAULTS):
        return "run config (masking section)"
    defaults = ", ".join(f"{k} {_show(v)}" for k, v in HJEPA_TRAINER_DEFAULTS.items() if k not in masking)
    parts = [f"run config (masking section) for {', '.join(given)}"] if given else []
    return "; ".join(parts + [f"H-JEPA default (scripts/train.py) for {defaults}"])


def _show(value) -> str:
    """A default as the config would write it: [0.05, 0.15], 4."""
    return f"[{', '.join(map(str, value))}]" if isinstance(value, tuple) else str(value)


def _grid(grid, image: int, patch: int) -> tuple[int, int]:
    """Patch grid (rows, cols): the argument, else image // patch (as both codebases compute it)."""
    if grid is not None:
        rows, cols = (int(g) for g in grid)
    else:
        if patch <= 0 or image < patch:
            raise ConfigError(f"image size {image} and patch size {patch} give no patch grid")
        rows = cols = image // patch
    if rows < 2 or cols < 2:
        raise ConfigError(f"a patch grid of {rows}x{cols} is too small to mask")
    return rows, cols
