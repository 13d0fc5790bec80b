"""Overview section: the run's config, its checkpoints and every file the collector read or skipped."""

from __future__ import annotations

from typing import Any

from .base import AnalysisPass, ReportContext, Section


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


class OverviewPass(AnalysisPass):
    """What the run holds: config, checkpoints, data sources."""

    name = "overview"
    title = "Overview"

    def compute(self, ctx: ReportContext) -> dict:
        run = ctx.run
        return {"config": run.config, "checkpoints": run.checkpoints, "files": run.files}

    def present(self, result: dict, ctx: ReportContext, section: Section) -> None:
        run = ctx.run
        section.intro = (f"Layout: {run.layout} ({run.layout_reason}). {len(run.files)} files found, "
                         f"{sum(f.status == 'read' for f in run.files)} read; {len(run.scalars.tags())} scalar "
                         f"tags, {len(run.checkpoints)} checkpoints, {len(run.images)} sample images.")
        self._config_tables(result["config"], ctx, section)
        self._checkpoint_table(ctx, section)
        self._files_table(ctx, section)
        section.notes.extend(run.warnings)

    def _config_tables(self, config: dict | None, ctx: ReportContext, section: Section) -> None:
        if not config:
            section.notes.append("No training config was found in the run directory (pass one with --config).")
            return
        source = ctx.run.config_path.name if ctx.run.config_path else "config"
        rows, previous = [], None
        for key, value in flatten_config(config):
            top, _, rest = key.partition(".")
            group = top if rest else "(top level)"
            rows.append([group if group != previous else "", rest or top, value])
            previous = group
        section.add_table("config", f"Training config ({source})", ["section", "key", "value"],
                          rows, caption=f"Every key of {source}, nested keys joined with dots.", collapsed=True)
        section.metrics["config_file"] = str(ctx.run.config_path) if ctx.run.config_path else None

    def _checkpoint_table(self, ctx: ReportContext, section: Section) -> None:
        checkpoints = ctx.run.checkpoints
        if not checkpoints:
            section.notes.append("The run has no checkpoints: model-based sections are skipped.")
            return
        rows = []
        for c in checkpoints:
            counts = ", ".join(f"{k} {v:,}" for k, v in c.param_counts.items()) or "-"
            rows.append([c.name, format_bytes(c.size), c.epoch, c.step, c.role, counts, ", ".join(c.dtypes) or "-",
                         ", ".join(c.top_level_keys[:8]) + (" ..." if len(c.top_level_keys) > 8 else ""),
                         (f"same bytes as {c.same_as}. " if c.same_as else "") + c.note])
        section.add_table(
            "checkpoints", "Checkpoints",
            ["file", "size", "epoch", "step", "role", "values per sub-model", "dtypes", "top-level keys", "note"],
            rows, caption="Epoch as stored in the file (H-JEPA: 0-based; I-JEPA's -ep{N} files hold epoch N-1). "
                          "Parameter counts are numbers of values, read without loading the tensors into memory.")

    def _files_table(self, ctx: ReportContext, section: Section) -> None:
        rows = [[f.path, f.kind, f.status, format_bytes(f.size), f.detail] for f in ctx.run.files]
        section.add_table("files", "Data sources", ["file", "kind", "status", "size", "what was taken / why skipped"],
                          rows, caption="Every file below the run directory, and what the collector did with it.",
                          collapsed=len(rows) > 25)
