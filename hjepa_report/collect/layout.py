"""Decide which training code wrote a run (hjepa | ijepa | vjepa | vjepa2 | stable-pretraining | generic).

The reason is said in one line.

The evidence is what the original code writes (see DESIGN.md): H-JEPA's `checkpoint_epoch_NNNN.pth` /
`checkpoint_latest.pth` / `checkpoint_best.pth` names, TensorBoard logs in `logs/tensorboard/` and a config
with model/data/masking/training sections; I-JEPA's `params-*.yaml`, `{tag}_r{rank}.csv` with an epoch,itr
header and `{tag}-latest.pth.tar` / `{tag}-ep{N}.pth.tar`. The layout with more kinds of evidence wins; with
none (or a tie) the run is generic.

V-JEPA (facebookresearch/jepa) and V-JEPA 2 (facebookresearch/vjepa2) write the same kinds of files as
I-JEPA (`params-pretrain.yaml`, an epoch,itr CSV, V-JEPA's `{tag}-latest.pth.tar`), so those prove nothing
between them. The video layouts are told by their own evidence (collect/vjepa.py): a video config
(app vjepa, dataset_type VideoDataset, tubelet_size, num_frames / dataset_fpcs), the CSV columns
(V-JEPA: loss-jepa, reg-loss, enc-grad-norm, pred-grad-norm; V-JEPA 2: iter-time(ms), gpu-time(ms),
dataload-time(ms)) and the checkpoint names I-JEPA never writes (V-JEPA `{tag}-e{E}.pth.tar`, V-JEPA 2
`latest.pt` / `e{E}.pt`, V-JEPA 2.1 `latest.pth.tar` / `e{E}.pth.tar`, which only corroborate: a video
config or CSV must be there). Such evidence makes the run a video run, checked before the other layouts:
then the I-JEPA-looking files are counted as the video code's, not as I-JEPA clues; V-JEPA against V-JEPA 2
is decided by more evidence, then by the config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ReportError

LAYOUTS = ("hjepa", "ijepa", "vjepa", "vjepa2", "stable-pretraining", "generic")
_HJEPA_CHECKPOINT = re.compile(r"^checkpoint_(epoch_\d+|latest|best)\.pth$")
_IJEPA_CHECKPOINT = re.compile(r"-(latest|ep\d+)\.pth\.tar$")
_VJEPA_CHECKPOINT = re.compile(r"-e\d+\.pth\.tar$")  # I-JEPA's are -ep{N}
_VJEPA2_CHECKPOINT = re.compile(r"^(latest|e\d+)\.pt$")
_VJEPA21_CHECKPOINT = re.compile(r"^(latest|e\d+)\.pth\.tar$")  # V-JEPA 2.1 (app/vjepa_2_1/train.py)


@dataclass
class Evidence:
    """Facts about the run that point at one training code or the other."""

    checkpoint_names: list[str] = field(default_factory=list)
    config_flavour: str | None = None
    event_file_paths: list[str] = field(default_factory=list)  # relative to the run dir
    ijepa_csv: bool = False
    video_csvs: list[str] = field(default_factory=list)  # flavours (vjepa | vjepa2) of the training CSVs read
    spt_state: list[str] = field(default_factory=list)  # stable-pretraining state files read (sidecar.json, ...)
    lightning_csv: bool = False  # a Lightning metrics.csv was read


def detect_layout(ev: Evidence, forced: str | None = None) -> tuple[str, str]:
    """Return (layout, one-line reason); `forced` overrides the detection but the reason keeps what was seen."""
    video = _video_layout(ev)
    if video is not None:
        return video if forced is None else _forced(forced, *video)
    clues = {
        "hjepa": _hjepa_clues(ev),
        "ijepa": _ijepa_clues(ev),
        "stable-pretraining": _spt_clues(ev),
    }
    found = {name: c for name, c in clues.items() if c}
    most = max((len(c) for c in found.values()), default=0)
    top = [name for name, c in found.items() if len(c) == most]
    if len(top) == 1:
        detected = top[0]
        reason = ", ".join(found[detected])
    else:
        detected = "generic"
        names = {"hjepa": "H-JEPA", "ijepa": "I-JEPA"}
        reason = (
            "no H-JEPA or I-JEPA file names or config"
            if not found
            else (" and ".join(names.get(n, n) for n in top) + " clues tie")
        )
    if forced is None:
        return detected, reason
    return _forced(forced, detected, reason)


def _forced(forced: str, detected: str, reason: str) -> tuple[str, str]:
    check_layout_name(forced)
    return forced, f"forced with --layout (detected {detected}: {reason})"


def _video_layout(ev: Evidence) -> tuple[str, str] | None:
    """(vjepa | vjepa2, reason) when any V-JEPA evidence is there, else None (see the module docstring)."""
    if not (ev.config_flavour in ("vjepa", "vjepa2") or ev.video_csvs):
        return None  # checkpoint names alone do not decide: latest.pt / e{E}.pt are common names elsewhere
    clues = {"vjepa": _vjepa_clues(ev, "vjepa"), "vjepa2": _vjepa_clues(ev, "vjepa2")}
    n1, n2 = len(clues["vjepa"]), len(clues["vjepa2"])
    if n1 != n2:
        detected = "vjepa" if n1 > n2 else "vjepa2"
    else:  # a tie: the config decides, else V-JEPA 2 (the maintained code base)
        detected = ev.config_flavour if ev.config_flavour in clues else "vjepa2"
    shared = _shared_with_ijepa(ev)
    reason = ", ".join(clues[detected])
    if shared:
        reason += f" (its {' and '.join(shared)} are also what I-JEPA writes: not I-JEPA evidence here)"
    return detected, reason


def _vjepa_clues(ev: Evidence, flavour: str) -> list[str]:
    name = "V-JEPA 2" if flavour == "vjepa2" else "V-JEPA"
    clues = []
    if ev.config_flavour == flavour:
        app = "app vjepa or vjepa_2_1" if flavour == "vjepa2" else "app vjepa"
        clues.append(f"{name} video config ({app}, VideoDataset, tubelet_size, frames per clip)")
    if flavour in ev.video_csvs:
        columns = "iter-time/gpu-time/dataload-time" if flavour == "vjepa2" else "loss-jepa/reg-loss/grad-norm"
        clues.append(f"{name} training CSV ({columns} columns)")
    if flavour == "vjepa2":
        pattern, names = _VJEPA2_CHECKPOINT, "latest.pt / e{E}.pt"
    else:
        pattern, names = _VJEPA_CHECKPOINT, "{tag}-e{E}.pth.tar"
    if any(pattern.search(n) for n in ev.checkpoint_names):
        clues.append(f"{name} checkpoint names ({names})")
    if flavour == "vjepa2" and any(_VJEPA21_CHECKPOINT.search(n) for n in ev.checkpoint_names):
        clues.append("V-JEPA 2.1 checkpoint names (latest.pth.tar / e{E}.pth.tar)")
    return clues


def _shared_with_ijepa(ev: Evidence) -> list[str]:
    """The files of a video run that would pass for I-JEPA evidence."""
    shared = []
    if ev.config_flavour in ("vjepa", "vjepa2"):
        shared.append("params-*.yaml")
    if ev.video_csvs:
        shared.append("epoch,itr CSV")
    if any(n.endswith("-latest.pth.tar") for n in ev.checkpoint_names):
        shared.append("{tag}-latest.pth.tar")
    return shared


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


def _spt_clues(ev: Evidence) -> list[str]:
    """stable-pretraining's RegistryLogger state files (stable_pretraining.py), its hparams.yaml beside them, and
    Lightning's metrics.csv; a Lightning CSV alone is any Lightning run, so it counts only beside a state file."""
    clues = []
    if ev.spt_state:
        clues.append(f"stable-pretraining run files ({', '.join(ev.spt_state)})")
        if ev.config_flavour == "stable-pretraining":
            clues.append("its hparams.yaml")
        if ev.lightning_csv:
            clues.append("Lightning metrics.csv")
    return clues
