"""Decide which training code wrote a run (hjepa | ijepa | generic) and say why in one line.

The evidence is what the original code writes (see DESIGN.md): H-JEPA's `checkpoint_epoch_NNNN.pth` /
`checkpoint_latest.pth` / `checkpoint_best.pth` names, TensorBoard logs in `logs/tensorboard/` and a config
with model/data/masking/training sections; I-JEPA's `params-*.yaml`, `{tag}_r{rank}.csv` with an epoch,itr
header and `{tag}-latest.pth.tar` / `{tag}-ep{N}.pth.tar`. The layout with more kinds of evidence wins; with
none (or a tie) the run is generic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ReportError

LAYOUTS = ("hjepa", "ijepa", "generic")
_HJEPA_CHECKPOINT = re.compile(r"^checkpoint_(epoch_\d+|latest|best)\.pth$")
_IJEPA_CHECKPOINT = re.compile(r"-(latest|ep\d+)\.pth\.tar$")


@dataclass
class Evidence:
    """Facts about the run that point at one training code or the other."""

    checkpoint_names: list[str] = field(default_factory=list)
    config_flavour: str | None = None
    event_file_paths: list[str] = field(default_factory=list)  # relative to the run dir
    ijepa_csv: bool = False


def detect_layout(ev: Evidence, forced: str | None = None) -> tuple[str, str]:
    """Return (layout, one-line reason); `forced` overrides the detection but the reason keeps what was seen."""
    clues = {
        "hjepa": _hjepa_clues(ev),
        "ijepa": _ijepa_clues(ev),
    }
    found = {name: c for name, c in clues.items() if c}
    if len(found) == 1 or (found and len(clues["hjepa"]) != len(clues["ijepa"])):
        detected = max(found, key=lambda name: len(found[name]))
        reason = ", ".join(found[detected])
    else:
        detected = "generic"
        reason = "no H-JEPA or I-JEPA file names or config" if not found else "H-JEPA and I-JEPA clues tie"
    if forced is None:
        return detected, reason
    check_layout_name(forced)
    return forced, f"forced with --layout (detected {detected}: {reason})"


def check_layout_name(name: str | None) -> None:
    """Raise a one-line error for a --layout value that is not a known layout."""
    if name is not None and name not in LAYOUTS:
        raise ReportError(f"unknown layout '{name}': choose one of {', '.join(LAYOUTS)}")


def _hjepa_clues(ev: Evidence) -> list[str]:
    clues = []
    if any(_HJEPA_CHECKPOINT.match(n) for n in ev.checkpoint_names):
        clues.append("H-JEPA checkpoint names (checkpoint_epoch_NNNN / latest / best .pth)")
    if ev.config_flavour == "hjepa":
        clues.append("H-JEPA config sections (model, data, masking, training)")
    if any("logs/tensorboard/" in p for p in ev.event_file_paths):
        clues.append("TensorBoard logs in logs/tensorboard/")
    return clues


def _ijepa_clues(ev: Evidence) -> list[str]:
    clues = []
    if any(_IJEPA_CHECKPOINT.search(n) for n in ev.checkpoint_names):
        clues.append("I-JEPA checkpoint names ({tag}-latest / -epN .pth.tar)")
    if ev.config_flavour == "ijepa":
        clues.append("I-JEPA params-*.yaml")
    if ev.ijepa_csv:
        clues.append("I-JEPA CSV log (epoch,itr,...)")
    return clues
