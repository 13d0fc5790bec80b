"""collect -> analyze -> render: the library entry points the CLI and notebooks call."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .analysis.base import Section
from .analysis.context import ReportContext
from .analysis.registry import all_passes, pass_names
from .analysis.report import Report
from .collect import collect_run
from .errors import ReportError, RunDirError
from .memory import existing_objects_frozen, release_free_memory
from .render import notebook as _notebook  # noqa: F401 - shows Report and Section inline in Jupyter
from .settings import ReportSettings, device_to_use

Progress = Callable[[str], None]


def default_output(run_dir: Path) -> Path:
    """Return the default report path: ./reports/<run name>/report.html (never inside the run directory)."""
    return Path.cwd() / "reports" / Path(run_dir).resolve().name / "report.html"


def build_report(
    run_dir: str | Path, settings: ReportSettings | None = None, progress: Progress | None = None
) -> Report:
    """Collect a run and run every selected analysis pass; a failing pass becomes an error section."""
    settings = settings or ReportSettings()
    say = progress or (lambda msg: None)
    _check_section_names(settings)
    device = device_to_use(settings.device)  # once: every pass sees the same device, the report names it
    start = time.perf_counter()
    run = collect_run(
        run_dir,
        config=settings.config,
        images=settings.images,
        checkpoint=settings.checkpoint,
        layout=settings.layout,
        trust_checkpoints=settings.trust_checkpoints,
    )
    say(
        f"collected {run.root} ({run.layout}): {len(run.scalars.tags())} tags, {len(run.checkpoints)} checkpoints, "
        f"{len(run.images)} images ({time.perf_counter() - start:.1f} s)"
    )
    ctx = ReportContext(run, dataclasses.replace(settings, device=device), progress=lambda msg: say("  " + msg))
    selected = [p for p in all_passes() if settings.wants(p.name)]
    last_model_pass = max((i for i, p in enumerate(selected) if p.needs_model), default=-1)
    last_reader = max((i for i, p in enumerate(selected) if p.needs_model and p.reads_encodings), default=-1)
    sections = []
    encoder = _figure_encoder(settings)
    with existing_objects_frozen():  # each gc.collect() between sections walks only what was made since the last
        for i, analysis in enumerate(selected):
            if settings.minimal and not analysis.minimal:
                section = Section(
                    analysis.name,
                    analysis.title,
                    status="skipped",
                    message="Left out by --minimal (a slow section); run without it to include it.",
                )
            else:
                ctx.session.meter.section = analysis.name
                section = analysis.run(ctx, draw=not settings.json_only)
            if i == last_reader:
                ctx.session.drop_encodings()  # the later passes (gradient flow, landscape) evaluate their own losses
            if i == last_model_pass:
                ctx.session.release()  # no later pass needs the networks: give their memory back
            if analysis.needs_model:
                release_free_memory()  # the pass's activations and copies, not kept into the next section
            sections.append(section)
            if encoder is not None:
                encoder.submit(f.content for f in section.figures)  # encoded on the other cores from now on
            say(
                f"{analysis.title}: {section.status} ({section.seconds:.1f} s)"
                + (f" - {section.message}" if section.status != "ok" and section.message else "")
            )
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    return Report(
        run=run,
        settings=settings,
        sections=sections,
        created_at=created,
        version=__version__,
        seconds=time.perf_counter() - start,
        model_info=ctx.session.described(),
        device=device,
        figure_encoder=encoder,
        network_passes=ctx.session.meter.summary(),
    )


def _figure_encoder(settings: ReportSettings):
    """Return the encoder that encodes finished sections' figures while later ones compute (None: nothing drawn)."""
    from .render.encoding import FigureEncoder

    return None if settings.json_only else FigureEncoder()


def write_report(
    report: Report, output: str | Path | None = None, progress: Progress | None = None
) -> tuple[Path | None, Path]:
    """Write report.html, report.json (and the compare figures file) next to each other, atomically.

    Return the HTML's path (None under --json-only, which writes report.json alone) and report.json's.
    `progress` hears what the render stage is doing (figure encoding is most of it), as the sections do.
    """
    from .render.output import write_report_files

    html_path = Path(output) if output else default_output(report.run.root)
    if html_path.suffix.lower() not in (".html", ".htm"):
        html_path = html_path / "report.html"
    _refuse_inside_run(html_path, report.run.root)
    return write_report_files(report, html_path, progress)


def generate(
    run_dir: str | Path, settings: ReportSettings | None = None, progress: Progress | None = None
) -> tuple[Report, Path | None, Path]:
    """Build and write the report of one run: the whole `hjepa-report RUN_DIR` in one call.

    The render runs inside the build's frozen block (memory.existing_objects_frozen): once the block ended,
    the first full collection of the render (compiling the template makes enough objects to start one) walked
    every object the sections left alive, 0.8 s of the sample run's 1.4 s of HTML and JSON writing."""
    settings = settings or ReportSettings()
    with existing_objects_frozen():
        report = build_report(run_dir, settings, progress)
        html_path, json_path = write_report(report, settings.output, progress)
    return report, html_path, json_path


def stderr_progress(message: str) -> None:
    """Print a progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def _check_section_names(settings: ReportSettings) -> None:
    known = set(pass_names())
    unknown = [n for n in (settings.sections or []) + list(settings.skip) if n not in known]
    if unknown:
        raise ReportError(f"unknown section name(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def _refuse_inside_run(path: Path, run_root: Path) -> None:
    try:
        path.resolve().relative_to(Path(run_root).resolve())
    except ValueError:
        return
    raise RunDirError(
        f"refusing to write the report inside the run directory {run_root} (it is read-only to "
        "hjepa-report); choose another place with -o"
    )


__all__ = ["build_report", "write_report", "generate", "default_output"]
