"""load_model: checkpoint (+ the run's config) -> JepaModel, strictly, or a clear ModelBuildError.

Steps: read the file safely (collect.checkpoints.load_checkpoint: weights-only, memory-mapped), normalise the
keys of the layout (normalise.py), read the architecture from tensor shapes (arch.py) and the options from
the config (builders.py, config.py: H-JEPA ``model.*`` / ``data.image_size``; I-JEPA ``meta.*`` /
``data.crop_size``), build our modules
and load the weights with strict key and shape matching: a missing, unexpected or mis-shaped key raises
ModelBuildError naming up to 10 of them, so no network ever runs with random weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import ModelBuildError
from .config import read_config
from .layouts import make_model
from .normalise import normalise
from .vjepa import video_refusal


def resolve_device(device: str | None):
    """Return the torch.device to run on: 'auto' (or None) is a CUDA device when torch sees one, else the CPU;
    'cuda' without one, or an unknown name, is a clear ModelBuildError (exit status 2 on the command line)."""
    import torch

    name = (device or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelBuildError(f"--device {device} was asked for, but torch sees no CUDA device here (use auto or cpu)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ModelBuildError(f"unknown device {device!r} (use auto, cpu or cuda)") from None


def read_checkpoint(checkpoint, trust: bool = False) -> tuple[Mapping, str]:
    """Return (loaded checkpoint, label) for a path or an already-loaded dict."""
    if isinstance(checkpoint, (str, Path)):
        from ..collect.checkpoints import load_checkpoint

        return load_checkpoint(checkpoint, trust=trust), str(checkpoint)
    if isinstance(checkpoint, Mapping):
        return checkpoint, f"<in-memory checkpoint {id(checkpoint):x}>"
    raise ModelBuildError(f"a checkpoint must be a path or a dict, not {type(checkpoint).__name__}")


def check_strict(expected: Mapping, state_dict: Mapping) -> None:
    """Raise ModelBuildError naming up to 10 missing, unexpected or mis-shaped keys of `state_dict` against the
    rebuilt network's `expected` state dict (meta tensors will do: only names and shapes are read)."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)):
        if items:
            more = f" (+{len(items) - 10} more)" if len(items) > 10 else ""
            problems.append(f"{len(items)} {label}: {', '.join(items[:10])}{more}")
    if problems:
        raise ModelBuildError("the checkpoint does not match the rebuilt network exactly; " + "; ".join(problems))


def materialise(network, state_dict: Mapping, *, from_file: bool):
    """Give a network built on the meta device the checkpoint's weights, strictly (check_strict), and return it.

    When the checkpoint was read from a file here (`from_file`: nobody else holds its tensors) and every tensor
    is a float32 CPU tensor (what training saves), the checkpoint's own tensors become the
    parameters (load_state_dict(assign=True)): with a memory-mapped checkpoint nothing is copied, the weights
    stay file-backed pages the kernel can drop, and a load takes a fraction of a second (a ViT-B/16 H-JEPA run:
    ~0.9 GB less memory and ~2 s less per load than allocating and copying). The mapping is private
    (copy-on-write), so a pass that writes weights in place (the loss landscape) never changes the file. Other
    dtypes, and dicts a caller passed in (a notebook's own tensors must not become the report's), are copied into
    float32 parameters.
    """
    import torch

    check_strict(network.state_dict(), state_dict)
    if from_file and all(v.dtype == torch.float32 and v.device.type == "cpu" for v in state_dict.values()):
        network.load_state_dict(dict(state_dict), strict=True, assign=True)
        return network
    network = network.to_empty(device="cpu")
    network.load_state_dict(dict(state_dict), strict=True)
    return network


def load_model(
    checkpoint,
    config=None,
    *,
    layout: str | None = None,
    encoder_heads: int | None = None,
    predictor_heads: int | None = None,
    device: str = "cpu",
    trust: bool = False,
    model_factory: str | None = None,
):
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

    if layout not in BUILDERS:  # V-JEPA's weights normalise (for the EMA drift) but no video network is built
        raise ModelBuildError(video_refusal(raw) or f"no network builder for the {layout} layout")
    with torch.device("meta"):  # no time spent on random init: strict loading overwrites every tensor
        network, info, state_dict = BUILDERS[layout](state_dict, cfg, encoder_heads, predictor_heads)
    network = materialise(network, state_dict, from_file=isinstance(checkpoint, (str, Path)))
    info.checkpoint = label
    info.checkpoint_dtypes = sorted({str(v.dtype).removeprefix("torch.") for v in state_dict.values()})
    if info.checkpoint_dtypes != ["float32"]:
        info.warnings.append(f"checkpoint tensors are {', '.join(info.checkpoint_dtypes)}; rebuilt in float32")
    return make_model(layout, network, info, dev)
