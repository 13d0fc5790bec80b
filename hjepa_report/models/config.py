"""Readers of a run's training config that the model layer needs: dotted lookups, the image normalisation and
how the loss formed its targets. A leaf module (it imports nothing else of models/), so the loader, the
builders, the model factory and the loss can all read the config without importing each other.

Config fields are those of the two training codes: H-JEPA ``model.*`` / ``data.*`` / ``loss.*``
(github.com/jonwiggins/H-JEPA configs/*.yaml) and I-JEPA ``meta.*`` / ``data.*``
(github.com/facebookresearch/ijepa configs/*.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelBuildError
from .info import IMAGENET_MEAN, IMAGENET_STD


def get(config: Mapping | None, dotted: str, default=None):
    """Read 'a.b.c' from nested dicts; `default` when any level is missing."""
    node: Any = config or {}
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def first(config: Mapping | None, *fields: str) -> tuple[Any, str]:
    """Return (value, field) of the first field that is set in the config, else (None, "")."""
    for name in fields:
        value = get(config, name)
        if value is not None:
            return value, name
    return None, ""


def read_config(config) -> dict:
    """Accept a dict, a YAML path or None."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    import yaml

    try:
        loaded = yaml.safe_load(Path(config).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {config}: {str(exc).splitlines()[0]}") from None
    return loaded if isinstance(loaded, dict) else {}


def normalisation(config: Mapping) -> tuple[tuple, tuple, str]:
    """Return (mean, std, source): a config field when present, else ImageNet's (both codebases hard-code it)."""
    for base in ("data", "data.normalization", "data.normalize", "data.transforms"):
        mean, std = get(config, f"{base}.mean"), get(config, f"{base}.std")
        if mean is not None and std is not None and len(mean) == 3 and len(std) == 3:
            return tuple(map(float, mean)), tuple(map(float, std)), f"config {base}.mean/std"
    return IMAGENET_MEAN, IMAGENET_STD, "ImageNet default (hard-coded by H-JEPA and I-JEPA)"


def loss_target_norm(config: Mapping | None) -> str:
    """How an H-JEPA-layout run formed its loss targets: "projected" (H-JEPA's HJEPALoss: the level's learned
    projection of the target tokens, then pooling) unless the config's loss section says `target_norm:
    layernorm` (the target tokens layer-normed without parameters, as I-JEPA's src/train.py does, then pooled
    like the level: what hjepa-report's own sample run trains with; H-JEPA configs have no such key)."""
    value = str(get(config, "loss.target_norm", "projected")).lower()
    if value not in ("projected", "layernorm"):
        raise ModelBuildError(f"loss.target_norm must be 'projected' or 'layernorm', not {value!r}")
    return value
