"""Overview section: the run's config, its checkpoints and every file the collector read or skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..collect.run import CheckpointRef, FileRecord
from ..collect.stable_pretraining import lejepa_terms, logged_evaluations
from .base import AnalysisPass, PassResult, Presentation
from .context import ReportContext


def flatten_config(config: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten a nested config into (dotted key, value) pairs, lists of scalars kept as one value."""
    rows: list[tuple[str, Any]] = []
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flatten_config(value, path + "."))
        else:
            rows.append((path, value))
    return rows


def format_bytes(n: int) -> str:
    """Return a human size: 2.75 MB, 31.2 kB, 224 B (decimal units)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


@dataclass
class OverviewResult(PassResult):
    """What the run holds, as the overview shows it."""

    layout: str
    layout_reason: str
    config: dict | None
    config_name: str | None
    files: list[FileRecord]
    checkpoints: list[CheckpointRef]
    tag_count: int
    image_count: int
    evaluations: list = field(default_factory=list)  # (tag, method, the report's measure, last) the trainer logged


class OverviewPass(AnalysisPass[OverviewResult]):
    """What the run holds: config, checkpoints, data sources."""

    name = "overview"
    title = "Overview"

    def compute(self, ctx: ReportContext) -> OverviewResult:
        run = ctx.run
        result = OverviewResult(
            layout=run.layout,
            layout_reason=run.layout_reason,
            config=run.config,
            config_name=run.config_path.name if run.config_path else None,
            files=run.files,
            checkpoints=run.checkpoints,
            tag_count=len(run.scalars.tags()),
            image_count=len(run.images),
        )
        if run.config:
            result.metrics["config_file"] = str(run.config_path) if run.config_path else None
        else:
            result.notes.append("No training config was found in the run directory (pass one with --config).")
        if not run.checkpoints:
            result.notes.append("The run has no checkpoints: model-based sections are skipped.")
        if run.wandb_runs:
            result.metrics["wandb_runs"] = dict(run.wandb_runs)
            result.notes.append(_wandb_note(run.wandb_runs, run))
        if run.statuses:  # how the run stands: stable-pretraining's sidecar and heartbeat, W&B's exit record
            result.metrics["status"] = [{"state": s.state, "source": s.source, "line": s.line} for s in run.statuses]
            result.notes.append("Run status: " + "; ".join(s.line for s in run.statuses) + ".")
        if run.layout == "stable-pretraining":  # its callbacks' tag names; other trainers name their own
            result.evaluations = logged_evaluations(run.scalars)
            terms = lejepa_terms(run.scalars)
            result.notes += [terms + "."] if terms else []
        result.notes.extend(run.warnings)
        return result

    def present(self, result: OverviewResult) -> Presentation:
        shown = Presentation(
            intro=(
                f"Layout: {result.layout} ({result.layout_reason}). {len(result.files)} files found, "
                f"{sum(f.status == 'read' for f in result.files)} read; {result.tag_count} scalar tags, "
                f"{len(result.checkpoints)} checkpoints, {result.image_count} sample images."
            )
        )
        if result.config:
            _config_table(result.config, result.config_name or "config", shown)
        if result.checkpoints:
            _checkpoint_table(result.checkpoints, shown)
        if result.evaluations:
            _evaluations_table(result.evaluations, shown)
        _files_table(result.files, shown)
        return shown


def _wandb_note(folders: dict[str, int], run) -> str:
    """One line on the W&B run folders found (collect/wandb_folders.py) and what was read of them."""
    names = ", ".join(f"{k} ({n} files)" for k, n in folders.items())
    history = [f for f in run.files if f.kind == "wandb" and f.path.endswith(".wandb")]
    unread = [f"{f.path}: {f.detail}" for f in history if f.status != "read"]
    if not history:
        said = "It holds no history file (run-*.wandb)."
    else:
        said = "Its history (run-*.wandb) is read as a log (see Data sources)." if not unread else "; ".join(unread)
    if any(f.kind == "wandb" and f.path.endswith("/files/config.yaml") for f in run.files):
        said += " Its config.yaml is W&B's copy ({key: {value: ...}}), never taken for the training config."
    return f"W&B run folder{'s' if len(folders) > 1 else ''} found: {names}. {said}"


def _evaluations_table(evaluations: list, shown: Presentation) -> None:
    rows = [[tag, f"{last:.4g}", method, ours] for tag, method, ours, last in evaluations]
    shown.add_table(
        "evaluations",
        "Evaluations the trainer logged",
        ["tag", "last value", "method (as the trainer's callback computes it)", "the report's own measure"],
        rows,
        caption="Online evaluations logged during training (their curves are in Training curves). Where the "
        "report can rebuild the encoder (see the Model section), it computes its own kNN accuracy, linear probe, "
        "RankMe and LiDAR on the sample images (Representations sections); the logged values use the trainer's "
        "data, queue and classifier, so the two agree in trend, not in value.",
    )


def _config_table(config: dict, source: str, shown: Presentation) -> None:
    rows, previous = [], None
    for key, value in flatten_config(config):
        top, _, rest = key.partition(".")
        group = top if rest else "(top level)"
        rows.append([group if group != previous else "", rest or top, value])
        previous = group
    shown.add_table(
        "config",
        f"Training config ({source})",
        ["section", "key", "value"],
        rows,
        caption=f"Every key of {source}, nested keys joined with dots.",
        collapsed=True,
    )


def _checkpoint_table(checkpoints: list[CheckpointRef], shown: Presentation) -> None:
    rows = []
    for c in checkpoints:
        counts = ", ".join(f"{k} {v:,}" for k, v in c.param_counts.items()) or "-"
        rows.append(
            [
                c.name,
                format_bytes(c.size),
                c.epoch,
                c.step,
                c.role,
                counts,
                ", ".join(c.dtypes) or "-",
                ", ".join(c.top_level_keys[:8]) + (" ..." if len(c.top_level_keys) > 8 else ""),
                (f"same bytes as {c.same_as}. " if c.same_as else "") + c.note,
            ]
        )
    shown.add_table(
        "checkpoints",
        "Checkpoints",
        ["file", "size", "epoch", "step", "role", "values per sub-model", "dtypes", "top-level keys", "note"],
        rows,
        caption="Epoch as stored in the file (H-JEPA: 0-based; I-JEPA's -ep{N} files hold epoch N-1). "
        "Parameter counts are numbers of values, read without loading the tensors into memory.",
    )


def _files_table(files: list[FileRecord], shown: Presentation) -> None:
    rows = [[f.path, f.kind, f.status, format_bytes(f.size), f.detail] for f in files]
    shown.add_table(
        "files",
        "Data sources",
        ["file", "kind", "status", "size", "what was taken / why skipped"],
        rows,
        caption="Every file below the run directory, and what the collector did with it.",
        collapsed=len(rows) > 25,
    )
