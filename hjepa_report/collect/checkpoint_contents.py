"""Describe what a loaded checkpoint holds: epoch/step, keys, values per sub-model, dtypes, small metadata.

Works from shapes and dtypes only (never touches tensor data, so memory-mapped files stay unread).
Sub-models are recognised by the first key component that names one, after the container key:
- H-JEPA `model_state_dict` keys `context_encoder.*`, `target_encoder.*`, `predictor.*`,
  `hierarchy_projections.*` / `fpn_*` (hierarchy heads);
- I-JEPA top-level `encoder` (the context encoder), `target_encoder`, `predictor` state dicts (`module.` keys);
- Lightning `state_dict` keys such as `model.context_encoder.*`; anything else is "other".
Optimizer, scaler, scheduler and trainer-loop state is not counted: those tensors are not parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .run import CheckpointRef

SUBMODELS = ("context encoder", "target encoder", "predictor", "hierarchy heads", "other")
_SUBMODEL_OF = {  # key component -> sub-model
    "target_encoder": "target encoder",
    "teacher": "target encoder",
    "momentum_encoder": "target encoder",
    "ema_encoder": "target encoder",
    "context_encoder": "context encoder",
    "encoder": "context encoder",
    "student": "context encoder",
    "predictor": "predictor",
}
_HIERARCHY = re.compile(r"^(hierarchy|fpn)")
_NOT_PARAMETERS = re.compile(r"^(opt|optimizer.*|.*_optimizer|.*scaler.*|.*sched.*|callbacks|loops)$")
_STEP_KEYS = ("global_step", "step", "iteration")
_MAX_META_DICT = 32  # nested dicts larger than this are not metadata
_SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}


def describe_contents(ref: CheckpointRef, obj: Any) -> None:
    """Fill `ref` (keys, epoch, step, value counts, dtypes, metadata) from a loaded checkpoint."""
    if hasattr(obj, "shapes"):  # a lazy safetensors mapping: shapes come from the header
        tensors = {
            k: (math.prod(shape), _SAFETENSORS_DTYPES.get(dt, dt.lower())) for k, (shape, dt) in obj.shapes().items()
        }
        ref.top_level_keys = _top_keys(obj.keys())
        _count(ref, tensors)
        return
    if not isinstance(obj, Mapping):
        ref.note = f"holds a {type(obj).__name__}, not a dict"
        return
    ref.top_level_keys = [str(k) for k in obj.keys()]
    ref.epoch = _as_int(obj.get("epoch"))
    ref.step = next((_as_int(obj[k]) for k in _STEP_KEYS if _as_int(obj.get(k)) is not None), None)
    tensors: dict[str, tuple[int, str]] = {}
    for key, value in obj.items():
        if not _NOT_PARAMETERS.match(str(key)):
            _collect_tensors(value, str(key), tensors, depth=0)
    _count(ref, tensors)
    ref.metadata = _metadata(obj)


def _top_keys(keys) -> list[str]:
    """Return the distinct first components of flat tensor names (safetensors), in order."""
    return list(dict.fromkeys(str(k).split(".")[0] for k in keys))


def _collect_tensors(value: Any, path: str, out: dict, depth: int) -> None:
    """Record path -> (number of values, dtype) for every tensor below `value` (nested mappings only)."""
    if _is_tensor(value):
        out[path] = (value.numel(), str(value.dtype).removeprefix("torch."))
    elif isinstance(value, Mapping) and depth < 4:
        for k, v in value.items():
            _collect_tensors(v, f"{path}.{k}" if path else str(k), out, depth + 1)


def _count(ref: CheckpointRef, tensors: dict[str, tuple[int, str]]) -> None:
    """Sum values per sub-model and list the dtypes."""
    counts = dict.fromkeys(SUBMODELS, 0)
    for path, (n, _) in tensors.items():
        counts[submodel_of(path)] += n
    ref.param_counts = {k: v for k, v in counts.items() if v}
    ref.dtypes = sorted({dt for _, dt in tensors.values()})


def submodel_of(key: str) -> str:
    """Name the sub-model a dotted tensor key belongs to (first component that names one)."""
    for part in key.split("."):
        part = part.lower()
        if part in _SUBMODEL_OF:
            return _SUBMODEL_OF[part]
        if _HIERARCHY.match(part):
            return "hierarchy heads"
    return "other"


def _metadata(obj: Mapping) -> dict[str, Any]:
    """Return the small scalars: top-level ones and those of small nested dicts ('metrics/val_loss')."""
    meta: dict[str, Any] = {}
    for key, value in obj.items():
        key = str(key)
        if key == "epoch" or key in _STEP_KEYS or key.startswith("_"):
            continue
        if isinstance(value, Mapping):
            if len(value) > _MAX_META_DICT or any(_is_tensor(v) for v in value.values()):
                continue
            for sub, v in value.items():
                scalar = json_scalar(v)
                if scalar is not None and not str(sub).startswith("_"):
                    meta[f"{key}/{sub}"] = scalar
        else:
            scalar = json_scalar(value)
            if scalar is not None:
                meta[key] = scalar
    return meta


def json_scalar(value: Any) -> Any:
    """Return a JSON-friendly scalar (bool, int, float, 'inf'/'-inf', short str) or None if not a scalar.

    numpy scalars and 0-d tensors become Python numbers; NaN becomes None, as everywhere in report.json.
    """
    if isinstance(value, str):
        return value if len(value) <= 80 else None
    if _is_tensor(value) or hasattr(value, "dtype"):  # 0-d tensors and numpy scalars
        if getattr(value, "ndim", 1) != 0:
            return None
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    return None


def _as_int(value: Any) -> int | None:
    """Return an integral scalar as int (2.0 -> 2), else None."""
    value = json_scalar(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if float(value).is_integer() else None


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "numel") and hasattr(value, "dtype") and hasattr(value, "shape")
