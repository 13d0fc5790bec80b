"""load_model: checkpoint (+ the run's config) -> JepaModel, strictly, or a clear ModelBuildError.

Steps: read the file safely (collect.checkpoints.load_checkpoint: weights-only, memory-mapped), normalise the
keys of the layout (normalise.py), read the architecture from tensor shapes (arch.py) and the options from
the config (H-JEPA ``model.*`` / ``data.image_size``; I-JEPA ``meta.*`` / ``data.crop_size``), build our modules
and load the weights with strict key and shape matching: a missing, unexpected or mis-shaped key raises
ModelBuildError naming up to 10 of them, so no network ever runs with random weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ModelBuildError
from .info import IMAGENET_MEAN, IMAGENET_STD, ModelInfo
from .normalise import normalise


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


def resolve_device(device: str | None):
    """Return a torch.device; 'cuda' only when torch sees a CUDA device, else a clear error."""
    import torch

    name = (device or "cpu").lower()
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelBuildError(f"--device {device} was asked for, but torch sees no CUDA device here")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ModelBuildError(f"unknown device {device!r} (use cpu or cuda)") from None


def read_checkpoint(checkpoint, trust: bool = False) -> tuple[Mapping, str]:
    """Return (loaded checkpoint, label) for a path or an already-loaded dict."""
    if isinstance(checkpoint, (str, Path)):
        from ..collect.checkpoints import load_checkpoint

        return load_checkpoint(checkpoint, trust=trust), str(checkpoint)
    if isinstance(checkpoint, Mapping):
        return checkpoint, f"<in-memory checkpoint {id(checkpoint):x}>"
    raise ModelBuildError(f"a checkpoint must be a path or a dict, not {type(checkpoint).__name__}")


def read_config(config) -> dict:
    """Accept a dict, a YAML path or None."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    import yaml

    from ..errors import ConfigError

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


def load_strict(network, state_dict: Mapping) -> None:
    """Load weights with exact keys and shapes; raise ModelBuildError naming what does not match."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)]
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)):
        if items:
            more = f" (+{len(items) - 10} more)" if len(items) > 10 else ""
            problems.append(f"{len(items)} {label}: {', '.join(items[:10])}{more}")
    if problems:
        raise ModelBuildError("the checkpoint does not match the rebuilt network exactly; " + "; ".join(problems))
    network.load_state_dict(dict(state_dict), strict=True)


def load_model(checkpoint, config=None, *, layout: str | None = None, encoder_heads: int | None = None,
               predictor_heads: int | None = None, device: str = "cpu", trust: bool = False,
               model_factory: str | None = None):
    """Rebuild a run's networks from a checkpoint (path or loaded dict) and its config (dict, path or None).

    layout: 'hjepa' | 'ijepa' (None: detect). encoder_heads / predictor_heads: overrides (the weights do not
    record heads). model_factory: 'module:callable' escape hatch (see factory.py). Returns a JepaModel
    (HJepaModel or IJepaModel) in eval mode on `device`, with `.info` saying how every number was found.
    """
    dev = resolve_device(device)
    cfg = read_config(config)
    raw, label = read_checkpoint(checkpoint, trust)
    if model_factory:
        from .factory import build_from_factory

        return build_from_factory(model_factory, raw, cfg, label, dev)
    layout, state_dict = normalise(raw, layout)
    import torch

    from .builders import BUILDERS

    with torch.device("meta"):  # no time spent on random init: strict loading overwrites every tensor
        network, info, state_dict = BUILDERS[layout](state_dict, cfg, encoder_heads, predictor_heads)
    network = network.to_empty(device="cpu")
    load_strict(network, state_dict)
    info.checkpoint = label
    info.checkpoint_dtypes = sorted({str(v.dtype).removeprefix("torch.") for v in state_dict.values()})
    if info.checkpoint_dtypes != ["float32"]:
        info.warnings.append(f"checkpoint tensors are {', '.join(info.checkpoint_dtypes)}; rebuilt in float32")
    return make_model(layout, network, info, dev)


def make_model(layout: str, network, info: ModelInfo, device):
    """Wrap a network in the layout's JepaModel and fill the parameter counts."""
    if layout == "hjepa":
        from .hjepa_model import HJepaModel as cls
    else:
        from .ijepa_model import IJepaModel as cls
    model = cls(network, info, device)
    info.param_counts = model.parameter_counts()
    return model


def image_size_from(config: Mapping, fields: tuple[str, ...], grid: tuple[int, int], patch: int,
                    warnings: list[str]) -> int:
    """Return the model's input size: the config's when it agrees with the weights, else grid * patch."""
    size, name = first(config, *fields)
    from_weights = grid[0] * patch
    if size is not None and int(size) != from_weights:
        warnings.append(f"config {name} = {size} but the position table holds a {grid[0]}x{grid[1]} grid of "
                        f"{patch}-pixel patches; using {from_weights}")
    return from_weights

