"""collect_run: read everything useful in a run directory (never writing to it) into one `Run`.

Each file below the run dir is sorted by its name into a reader (TensorBoard, CSV, JSON, config, checkpoint,
image); every file ends up in `Run.files` as read (what was taken) or skipped (why), and the layout
(hjepa | ijepa | generic) is detected from what was found. Readers never raise on bad content; only an
unusable run dir (missing, not a folder, unreadable, nothing usable in it) or a bad explicit argument raises.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CheckpointError, ConfigError, RunDirError
from . import checkpoints, vjepa
from .clips import AV_MISSING, AV_WARNING, clip_path, probe_video
from .config import ConfigRead, choose_config, describe_config, is_yaml, read_config
from .csvlogs import read_csv_log
from .duplicates import find_copies
from .foreground import is_foreground_file, read_foreground
from .images import image_folder_of, image_problem, image_refs, is_image, label_image
from .jsonlogs import read_json_log
from .layout import Evidence, check_layout_name, detect_layout
from .logread import LogRead
from .placeholders import drop_placeholders
from .run import CheckpointRef, ClipRef, FileRecord, Run
from .scalars import ScalarTable
from .stable_pretraining import StateFolder, as_hparams, is_hparams, is_state_file, read_state_file, run_status
from .tensorboard import describe_projector_config, is_event_file, read_event_file
from .walk import check_run_dir, display_name, list_files, relative_name
from .wandb_folders import describe_wandb_file, is_run_folder, wandb_folder_of
from .wandb_offline import WANDB_MISSING, drop_logged_elsewhere, is_history_file, read_wandb_history

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

_JSON_SUFFIXES = (".json", ".jsonl", ".log")
_ROLE_ORDER = {"epoch": 0, "other": 1, "latest": 2, "best": 3}  # originals before their latest/best copies
MAX_CONFIG_BYTES = 16 << 20  # no training config is near this; PyYAML's pure-Python parser takes minutes at 100 MB
MAX_CONFIG_VALUES = 100_000  # values of a parsed config, each alias counted every time it is used


class _Found:
    """What the walk has found so far: file records, scalar frames, configs, checkpoints, images."""

    def __init__(self, root: Path, images_folder: Path | None) -> None:
        self.root, self.images_folder = root, images_folder  # images_folder: given with --images
        self.records: list[FileRecord] = []
        self.logs: dict[str, LogRead] = {}
        self.configs: list[ConfigRead] = []
        self.given_config: ConfigRead | None = None
        self.checkpoints: list[Path] = []
        self.images: list[tuple[Path, tuple[str, ...]]] = []
        self.foreground: dict[Path, np.ndarray] = {}  # bool mask per resolved image path
        self.warnings: list[str] = []
        self.wandb_runs: dict[str, int] = {}  # W&B run folder -> files in it (collect/wandb_folders.py)
        self.clips: dict[tuple, list[Path]] = {}  # (label, clip name) -> its frames (collect/clips.py)
        self.videos: dict[tuple, Path] = {}  # (label, clip name) -> its video file (collect/clips.py)
        self.state_folders: dict[str, StateFolder] = {}  # stable-pretraining run folders (stable_pretraining.py)
        self.statuses: list = []  # RunStatus of each file that tells how the run stands

    def record(self, path: Path, kind: str, status: str, detail: str) -> None:
        try:
            size = path.stat().st_size if path.is_file() else 0
        except OSError:
            size = 0
        self.records.append(FileRecord(relative_name(self.root, path), kind, status, detail, size))

    def take(self, path: Path) -> None:
        """Send one file to the reader its name calls for, or record it as not recognised."""
        rel = relative_name(self.root, path)
        name = path.name.lower()
        wandb = wandb_folder_of(rel)
        if wandb is not None:  # before every reader: W&B's config.yaml is not the training config (wandb_folders)
            self.wandb_file(path, rel, wandb)
        elif is_state_file(path):
            self.record(path, "stable-pretraining", *read_state_file(path, rel, self.state_folders))
        elif is_event_file(path):
            self.log(path, read_event_file(path, rel))
        elif name == "projector_config.pbtxt":
            self.record(path, "tensorboard", "read", describe_projector_config(path))
        elif vjepa.eval_folder_of(rel) is not None or clip_path(rel) is not None:
            self.video_file(path, rel)  # V-JEPA frozen evals (CSV, probe checkpoint) and sample clips (frames)
        elif checkpoints.is_checkpoint(path):
            self.checkpoints.append(path)
        elif name.endswith(".csv"):
            self.log(path, vjepa.read_training_csv(path, rel) or read_csv_log(path, rel))
        elif name.endswith(_JSON_SUFFIXES):
            self.log(path, read_json_log(path, rel))
        elif is_yaml(path):
            read = read_config_bounded(path)
            self.configs.append(as_hparams(read) if is_hparams(path) else read)
        elif is_image(path):
            self.image(path, Path(rel))
        elif is_foreground_file(rel):
            self.foreground_masks(path, rel)
        else:
            self.record(path, "other", "skipped", "not a recognised log or checkpoint")

    def wandb_file(self, path: Path, rel: str, folder: str) -> None:
        """A file of a W&B folder: the history (run-<id>.wandb) is read (wandb_offline.py), the rest listed."""
        if is_history_file(rel):
            read = read_wandb_history(path, rel)
            self.log(path, read.log)
            self.statuses += [read.status] if read.status else []
        else:
            self.record(path, "wandb", "skipped", describe_wandb_file(rel))
        if is_run_folder(folder):
            self.wandb_runs[folder] = self.wandb_runs.get(folder, 0) + 1

    def video_file(self, path: Path, rel: str) -> None:
        """A file of a frozen-eval folder, or below clips/: a frame of a sample clip, or a video file that is
        listed (collect/vjepa.py)."""
        if vjepa.eval_folder_of(rel) is not None:
            self.video_eval(path, rel)
            return
        clip = clip_path(rel)
        of = f"sample clip '{clip.name}'" + (f" (class {clip.label})" if clip.label else "")
        if clip.kind == "frame":
            self.clips.setdefault((clip.label, clip.name), []).append(path)
            self.record(path, "clip", "read", f"frame of {of}")
        elif clip.kind == "video":
            problem = probe_video(path)
            if problem is None:
                self.videos[(clip.label, clip.name)] = path
                self.record(path, "clip", "read", f"video of {of}, decoded with PyAV when a section needs it")
            else:
                self.record(path, "clip", "skipped", problem)
                if problem == AV_MISSING and AV_WARNING not in self.warnings:
                    self.warnings.append(AV_WARNING)
        else:
            self.record(path, "clip", "skipped", "not a frame image or a video file")

    def video_eval(self, path: Path, rel: str) -> None:
        """A file below a V-JEPA {image,video}_classification_frozen/ folder (collect/vjepa.py)."""
        what, read = vjepa.eval_file(path, rel)
        if read is not None:
            self.log(path, read)
        elif what == "checkpoint":
            self.record(path, "checkpoint", "skipped", vjepa.EVAL_CHECKPOINT)
        else:
            self.record(path, "other", "skipped", "file of a frozen-eval folder, not a log")

    def log(self, path: Path, result: LogRead) -> None:
        self.logs[relative_name(self.root, path)] = result
        self.record(path, result.kind, "read" if result.ok else "skipped", result.detail)
        if result.ok and result.damaged:
            self.warnings.append(f"{relative_name(self.root, path)}: {result.detail}")

    def foreground_masks(self, path: Path, rel: str) -> None:
        """Take the sample images' foreground masks (this project's sample runs store them)."""
        read = read_foreground(path, self.root)
        self.foreground = read.masks
        self.record(path, "foreground", "read" if read.ok else "skipped", read.detail)
        if not read.ok:
            self.warnings.append(f"{rel}: {read.detail}")

    def image(self, path: Path, rel: Path) -> None:
        """Take a sample image from images/ or samples/ (or note why an image is not used)."""
        if self.images_folder is not None:
            used = self.images_folder in path.parents
            self.record(
                path,
                "image",
                "read" if used else "skipped",
                "sample image from the --images folder" if used else "not used: images come from the --images folder",
            )
            return
        folder = image_folder_of(rel)
        if folder is None:
            self.record(path, "image", "skipped", "image outside images/ or samples/, not used as a sample")
            return
        problem = image_problem(path)
        if problem:
            self.record(path, "image", "skipped", problem)
            return
        below = rel.parts[folder + 1 :]
        self.images.append((path, below))
        label, rule = label_image(below)
        self.record(path, "image", "read", f"label '{label}', {rule.removeprefix('label ')}" if label else rule)


def collect_run(
    root: Path | str,
    *,
    config: Path | str | None = None,
    images: Path | str | None = None,
    checkpoint: Path | str | None = None,
    layout: str | None = None,
    trust_checkpoints: bool = False,
) -> Run:
    """Read a run directory into a Run: scalars, checkpoints, config, images and the file inventory.

    `config`, `images`, `checkpoint` add inputs from outside the run dir (--config, --images, --checkpoint);
    `layout` forces hjepa | ijepa | generic; `trust_checkpoints` allows full unpickling (can run code). A checkpoint
    file as `root` is read as its folder holding that checkpoint alone (`hjepa-report CHECKPOINT.pth`).
    Raises RunDirError (missing / not a folder / unreadable / nothing usable), ConfigError or CheckpointError
    (an explicit argument that does not exist).
    """
    root = Path(root).expanduser().absolute()
    check_layout_name(layout)
    root, alone = _checkpoint_as_run(root)
    check_run_dir(root)
    listing = list_files(root)
    found = _Found(root, Path(images).expanduser().absolute() if images is not None else None)
    for path in listing.files:
        if alone is not None and path != alone and checkpoints.is_checkpoint(path):
            found.record(path, "checkpoint", "skipped", f"not {alone.name}, the checkpoint given to report on")
            continue
        found.take(path)
    found.records.extend(listing.skipped)
    found.warnings = listing.warnings + found.warnings
    _add_given(found, config, images, checkpoint)
    run = Run(root=root, name=display_name((alone or root).resolve().name), layout="generic", layout_reason="")
    drop_logged_elsewhere(found.logs, found.records)  # H-JEPA logs the same tags to TensorBoard and W&B
    run.scalars = ScalarTable.concat([r.frame for r in found.logs.values() if r.ok])
    run.scalars, run.placeholders = drop_placeholders(run.scalars)  # e.g. H-JEPA's eff_rank = -1 (not computed)
    run.checkpoints = _checkpoint_refs(found, trust_checkpoints)
    _use_config(found, run)
    run.images, _ = image_refs(found.images)
    run.foreground = found.foreground
    run.files = sorted(found.records, key=lambda r: r.path)
    run.warnings = found.warnings
    run.wandb_runs = dict(sorted(found.wandb_runs.items()))
    run.clips = _clip_refs(found)
    run.statuses = [s for f in found.state_folders.values() if (s := run_status(f))] + found.statuses
    if not (len(run.scalars) or run.checkpoints or run.config is not None or run.images):
        raise RunDirError(
            f"nothing usable in {root}: no logs, checkpoints, config or images among {len(listing.files)} files"
            + next((f" ({r.detail})" for r in found.records if r.detail == WANDB_MISSING), "")
        )
    run.layout, run.layout_reason = detect_layout(_evidence(found, run), layout)
    return run


def _checkpoint_as_run(root: Path) -> tuple[Path, Path | None]:
    """`hjepa-report CHECKPOINT.pth`, the seed toolkit's habit: a checkpoint file given as the run is read as its
    folder holding that checkpoint alone (other checkpoints there are listed as skipped). Return (run directory,
    the checkpoint or None)."""
    if root.is_file() and checkpoints.is_checkpoint(root):
        return root.parent, root
    return root, None


def read_config_bounded(path: Path) -> ConfigRead:
    """read_config, refusing a YAML too big to parse quickly or whose aliases expand it beyond MAX_CONFIG_VALUES.

    YAML aliases let a few lines stand for 10^9 strings ("billion laughs"): safe_load keeps them as shared
    references, but the report walks and writes the config out (overview, report.json), expanding every one.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        return ConfigRead(path, None, None, f"unreadable: {exc.strerror or exc}")
    if size > MAX_CONFIG_BYTES:
        return ConfigRead(
            path, None, None, f"YAML of {size / 1e6:.0f} MB (over {MAX_CONFIG_BYTES >> 20} MiB): not parsed"
        )
    read = read_config(path)
    if read.doc is not None and _values_over(read.doc, MAX_CONFIG_VALUES):
        return ConfigRead(
            path, None, None, f"YAML whose aliases expand it to over {MAX_CONFIG_VALUES} values: not used"
        )
    return read


def _values_over(doc, limit: int) -> bool:
    """Tell whether the parsed YAML holds more than `limit` values, counting a shared (aliased) one each time."""
    stack, seen = [doc], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, set)):
            stack.extend(node)
    return False


def _add_given(found: _Found, config, images, checkpoint) -> None:
    """Add the inputs given from outside the run dir; a missing one is a one-line error."""
    if config is not None:
        path = Path(config).expanduser().absolute()
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        found.given_config = read_config_bounded(path)
        found.configs = [c for c in found.configs if c.path.resolve() != path.resolve()]  # listed once
    if images is not None:
        folder = Path(images).expanduser().absolute()
        if not folder.is_dir():
            raise RunDirError(f"images folder not found: {folder}")
        for path in list_files(folder).files:
            if is_image(path) and not image_problem(path):
                found.images.append((path, Path(display_name(path.relative_to(folder).as_posix())).parts))
        found.records.append(FileRecord(str(folder) + "/", "image", "read", image_refs(found.images)[1]))
    if checkpoint is not None:
        path = Path(checkpoint).expanduser().absolute()
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        if path.resolve() not in [p.resolve() for p in found.checkpoints]:
            found.checkpoints.append(path)


def _checkpoint_refs(found: _Found, trust: bool) -> list[CheckpointRef]:
    """Inspect each distinct checkpoint once; byte copies share the description of their original."""
    paths = sorted(found.checkpoints, key=lambda p: (_ROLE_ORDER[checkpoints.checkpoint_role(p.name)[0]], str(p)))
    copies = find_copies(paths)
    refs: dict[Path, CheckpointRef] = {}
    for path in paths:
        name = relative_name(found.root, path)
        original = copies.get(path)
        if original is None:
            refs[path] = checkpoints.inspect_checkpoint(path, name, trust=trust)
        else:
            refs[path] = dataclasses.replace(
                refs[original],
                path=path,
                name=name,
                role=checkpoints.checkpoint_role(path.name)[0],
                same_as=refs[original].name,
                note=f"byte copy of {refs[original].name}",
            )
        _record_checkpoint(found, refs[path])
    return sorted(refs.values(), key=_checkpoint_order)


def _record_checkpoint(found: _Found, ref: CheckpointRef) -> None:
    """Add the file record of a checkpoint (and a warning when it could not be read)."""
    if not ref.readable:
        found.record(ref.path, "checkpoint", "skipped", ref.note)
        found.warnings.append(ref.note)
        return
    if ref.same_as:
        found.record(ref.path, "checkpoint", "read", ref.note)
        return
    parts = [f"{ref.format} checkpoint"]
    parts += [f"epoch {ref.epoch}"] if ref.epoch is not None else []
    parts += [f"step {ref.step}"] if ref.step is not None else []
    parts += [f"{sum(ref.param_counts.values()):,} model values"]
    detail = ", ".join(parts) + (f"; {ref.note}" if ref.note else "")
    found.record(ref.path, "checkpoint", "read", detail)


def _checkpoint_order(ref: CheckpointRef):
    return (ref.epoch is None, ref.epoch or 0, ref.step or 0, _ROLE_ORDER.get(ref.role, 1), ref.name)


def _use_config(found: _Found, run: Run) -> None:
    """Choose the run's config (the given one if it parses) and record every YAML read."""
    given = found.given_config
    chosen = given if given is not None and given.doc is not None else choose_config(found.configs)
    if chosen is not None:
        run.config, run.config_path = chosen.doc, chosen.path
    for c in ([given] if given is not None else []) + found.configs:
        if c is chosen:
            found.record(c.path, "config", "read", describe_config(c) + "; used as the run's config")
        elif c.error:
            found.record(c.path, "config", "skipped", c.error)
            found.warnings.append(f"{relative_name(found.root, c.path)}: {c.error}")
        elif c.flavour and chosen is not None:
            found.record(
                c.path,
                "config",
                "skipped",
                f"{describe_config(c)}; not used: {relative_name(found.root, chosen.path)} was chosen",
            )
        else:
            found.record(c.path, "config", "skipped", "YAML without training-config sections")


def _evidence(found: _Found, run: Run) -> Evidence:
    """Gather the layout clues from what was found."""
    configs = found.configs + ([found.given_config] if found.given_config else [])
    chosen = next((c for c in configs if c.path == run.config_path), None)
    return Evidence(
        checkpoint_names=[r.path.name for r in run.checkpoints],
        config_flavour=chosen.flavour if chosen else None,
        event_file_paths=[rel for rel, r in found.logs.items() if r.kind == "tensorboard"],
        ijepa_csv=any(r.flavour == "ijepa" and r.ok for r in found.logs.values()),
        video_csvs=sorted({r.flavour for r in found.logs.values() if r.ok and r.flavour in vjepa.VIDEO_LAYOUTS}),
        spt_state=sorted(
            {Path(r.path).name for r in found.records if r.kind == "stable-pretraining" and r.status == "read"}
        ),
        lightning_csv=any(r.flavour == "lightning" and r.ok for r in found.logs.values()),
    )


def _clip_refs(found) -> list[ClipRef]:
    """The sample clips, frame folders and video files together, sorted by class label and name (a frame folder
    and a video of the same name are two clips)."""
    refs = [ClipRef(name, sorted(frames), label) for (label, name), frames in found.clips.items()]
    refs += [ClipRef(name, [], label, video=path) for (label, name), path in found.videos.items()]
    return sorted(refs, key=lambda c: (c.label or "", c.name, c.video is not None))
