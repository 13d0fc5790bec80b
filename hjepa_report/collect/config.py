"""Find and parse the training config YAML of a run.

- H-JEPA: the YAML passed to scripts/train.py (configs/default.yaml schema: model / data / masking / training /
  loss / logging sections); it may live in the run dir or be given with `--config`.
- I-JEPA: `params-ijepa.yaml` (any `params-*.yaml`) that src/train.py dumps into the log folder
  (data / logging / mask / meta / optimization sections).
A YAML that does not parse is reported as a skipped file with the error in one line; the report renders anyway.
A W&B config.yaml (`{key: {value: ...}}`, collect/wandb_folders.py) has the same section names but is never a
training config: it is skipped with that reason, also when given with `--config`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .vjepa import VIDEO_LAYOUTS, describe_video_config, first_config, video_flavour
from .wandb_folders import is_wandb_config

HJEPA_SECTIONS = frozenset({"model", "data", "masking", "training"})
IJEPA_SECTIONS = frozenset({"data", "logging", "mask", "meta", "optimization"})
YAML_SUFFIXES = (".yaml", ".yml")
_IJEPA_NAME = re.compile(r"^params-.+\.ya?ml$")
WANDB_CONFIG = "a W&B config.yaml ({key: {value: ...}} form), not a training config: pass the run's own YAML"


@dataclass
class ConfigRead:
    """A parsed YAML file: its flavour (hjepa | ijepa | None when not a training config) or the parse error."""

    path: Path
    doc: dict[str, Any] | None
    flavour: str | None
    error: str = ""
    note: str = ""  # how the dict was found, when the YAML is not one dict (a list of them)


def is_yaml(path: Path) -> bool:
    return path.suffix.lower() in YAML_SUFFIXES


def read_config(path: Path) -> ConfigRead:
    """Parse one YAML file and tell whether it is an H-JEPA or I-JEPA training config."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return ConfigRead(path, None, None, f"unreadable: {exc.strerror or exc}")
    except yaml.YAMLError as exc:
        return ConfigRead(path, None, None, f"YAML error: {_yaml_error_line(exc)}")
    doc, note = first_config(doc)  # V-JEPA 2's launcher writes a list of config dicts (collect/vjepa.py)
    if doc is None:
        return ConfigRead(path, None, None)
    if note:
        return ConfigRead(path, doc, config_flavour(path.name, doc), note=note)
    if is_wandb_config(doc):
        return ConfigRead(path, None, None, WANDB_CONFIG)
    return ConfigRead(path, doc, config_flavour(path.name, doc))


def config_flavour(file_name: str, doc: dict) -> str | None:
    """Return 'ijepa' / 'hjepa' when the sections (or an I-JEPA params-*.yaml name) say so, else None."""
    video = video_flavour(doc)  # V-JEPA / V-JEPA 2 also write params-*.yaml with I-JEPA's sections
    if video:
        return video
    keys = set(map(str, doc))
    if _IJEPA_NAME.match(file_name) or len(keys & IJEPA_SECTIONS) >= 4:
        return "ijepa"
    if len(keys & HJEPA_SECTIONS) >= 3:
        return "hjepa"
    return None


def choose_config(candidates: list[ConfigRead]) -> ConfigRead | None:
    """Pick the run's config among parsed training configs: an I-JEPA params file, then config.yaml, then A-Z."""
    usable = [c for c in candidates if c.doc is not None and c.flavour]
    if not usable:
        return None

    def rank(c: ConfigRead):
        params = c.flavour in ("ijepa", "vjepa", "vjepa2") and _IJEPA_NAME.match(c.path.name)
        return (not params, c.path.stem != "config", str(c.path))

    return min(usable, key=rank)


def describe_config(c: ConfigRead) -> str:
    """Say in a few words what kind of config it is and what it holds."""
    if c.flavour in VIDEO_LAYOUTS:
        return describe_video_config(c.doc or {}, c.flavour) + (f"; {c.note}" if c.note else "")
    name = {"hjepa": "H-JEPA config", "ijepa": "I-JEPA config"}.get(c.flavour or "", "YAML")
    sections = ", ".join(str(k) for k in list(c.doc or {})[:8])
    return f"{name} ({len(c.doc or {})} sections: {sections})" + (f"; {c.note}" if c.note else "")


def _yaml_error_line(exc: Exception) -> str:
    """Return a YAML error as one line: problem and position."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem
