"""The command line: parse options into ReportSettings, call the library, map errors to exit codes.

Errors the user can fix print one line on stderr and exit non-zero; nothing prints a traceback unless
HJEPA_REPORT_DEBUG=1 is set.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from . import __version__
from .errors import ExitCode, ReportError, StrictModeError
from .settings import DEVICES, ReportSettings
from .status import SectionStatus, Status, severity

# collect/layout.py LAYOUTS, written out so `--help` does not import the collector (tests/test_layout_vjepa.py
# keeps the two equal)
LAYOUT_CHOICES = ["hjepa", "ijepa", "vjepa", "vjepa2", "stable-pretraining", "generic"]


def default(name: str):
    """Return ReportSettings' default for the field `name`: the one place option defaults are defined."""
    field = next(f for f in dataclasses.fields(ReportSettings) if f.name == name)
    if field.default is dataclasses.MISSING:
        raise TypeError(f"ReportSettings.{name} has no plain default")
    return field.default


class ReportGroup(click.Group):
    """A group whose default command is `report`: `hjepa-report RUN_DIR` == `hjepa-report report RUN_DIR`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["report", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        """Run the command; Ctrl-C or SIGTERM at any moment (imports included) ends with its one line and status."""
        try:
            with _sigterm_unwinds():
                return super().invoke(ctx)
        except Terminated:
            click.echo("terminated (SIGTERM)", err=True)
            sys.exit(ExitCode.TERMINATED)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)


def _split_list(_ctx, _param, value):
    if not value:
        return None
    return [name.strip() for item in value for name in item.split(",") if name.strip()]


RUN_OPTIONS = [
    click.option("--sections", multiple=True, callback=_split_list, help="Only these sections (comma-separated)."),
    click.option("--skip", multiple=True, callback=_split_list, help="Leave out these sections (comma-separated)."),
    click.option("--layout", type=click.Choice(LAYOUT_CHOICES), help="Force the run layout."),
    click.option(
        "--minimal", is_flag=True, help="Quick feedback: skip the slow sections (t-SNE/UMAP, landscape, ...)."
    ),
    click.option(
        "--seed",
        type=int,
        default=default("seed"),
        show_default=True,
        help="Seed of every random choice in the report.",
    ),
    click.option(
        "--device",
        type=click.Choice(DEVICES),
        default=default("device"),
        show_default=True,
        help="Where the networks run; auto: a CUDA device when torch sees one, else the CPU.",
    ),
    click.option(
        "--max-images",
        type=click.IntRange(1, 4096),
        default=default("max_images"),
        show_default=True,
        help="Sample images passed through the networks.",
    ),
    click.option(
        "--probe-images",
        type=click.IntRange(0, 100_000),
        default=default("probe_images"),
        show_default=True,
        help="Labelled images for the kNN and linear-probe accuracies (target encoder only; includes the sample "
        "images).",
    ),
    click.option(
        "--thresholds",
        "thresholds_file",
        type=click.Path(path_type=Path),
        help="YAML/JSON file overriding health-check thresholds (names in the README).",
    ),
]


def run_options(command):
    """Add the options `report` and `many` share (RUN_OPTIONS, in that order in --help): one definition, so
    the two commands cannot drift apart in names, ranges, defaults or help."""
    for option in reversed(RUN_OPTIONS):
        command = option(command)
    return command


@click.group(cls=ReportGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hjepa-report")
def main():
    """Turn a JEPA training run into one self-contained HTML report (+ report.json).

    \b
    Usage:  hjepa-report RUN_DIR [OPTIONS]      (same as: hjepa-report report RUN_DIR)
            hjepa-report compare RUN_A RUN_B    (runs already reported)
            hjepa-report index DIR              (an index of every report below DIR)
            hjepa-report many --under DIR -j 2  (every run below DIR, then the sweep page)
    Help:   hjepa-report report --help
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwound like Ctrl-C (temporary files removed, workers stopped), exit status 143."""


@contextmanager
def _sigterm_unwinds():
    """While the command runs, turn SIGTERM (CI cancelling a job, `kill`) into an exception, so the run unwinds as
    on Ctrl-C; the previous handler is back afterwards (main() called in a notebook or a test leaves none behind).

    The default action would end the process at once, leaving the temporary siblings of a report being
    written (render/write.py) and figure-encoding workers behind. A handler someone else set is left alone.
    """
    import signal
    import threading

    def terminate(signum, frame):
        raise Terminated()

    # only the main thread may set a handler (a notebook or test may call main() from another one)
    ours = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    if ours:
        signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        if ours:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@main.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Report file (or folder for report.html). Default: ./reports/<run name>/report.html, with "
    "report.json beside it. Never inside RUN_DIR.",
)
@click.option("--config", type=click.Path(path_type=Path), help="Training config YAML, if not in RUN_DIR.")
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    help="Folder of sample images (sub-folder names are class labels). Default: RUN_DIR/images or samples.",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    help="Checkpoint for model-based sections. Default: the latest one in RUN_DIR.",
)
@run_options
@click.option(
    "--trust-checkpoints",
    is_flag=True,
    help="Allow full unpickling of checkpoints that need it. This can run code in the file: only for files you trust.",
)
@click.option("--strict", is_flag=True, help=f"Exit with status {ExitCode.SECTION_FAILED:d} when any section fails.")
@click.option(
    "--smoothing",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=default("smoothing"),
    show_default=True,
    help="Curve smoothing weight (TensorBoard's debiased EMA).",
)
@click.option("--encoder-heads", type=click.IntRange(1), help="Encoder attention heads, when the config does not say.")
@click.option(
    "--predictor-heads", type=click.IntRange(1), help="Predictor attention heads, when the config does not say."
)
@click.option(
    "--model-factory",
    metavar="MODULE:CALLABLE",
    help="Build the networks with your own constructor: called with (state_dict, config).",
)
@click.option(
    "--attention-encoder",
    type=click.Choice(["target", "context"]),
    default=default("attention_encoder"),
    show_default=True,
    help="Whose attention the attention section shows.",
)
@click.option(
    "--landscape-grid",
    type=click.IntRange(3, 101),
    default=default("landscape_grid"),
    show_default=True,
    help="Points per axis of the loss-landscape grid (shrunk to fit --landscape-tflop).",
)
@click.option(
    "--landscape-tflop",
    type=click.FloatRange(0),
    default=default("landscape_tflop"),
    show_default=True,
    help="FLOP budget of the loss landscape in TFLOP, from the model and batch (the same grid on any "
    "machine); the grid shrinks to fit it (0: no limit).",
)
@click.option(
    "--landscape-seconds",
    type=click.FloatRange(0),
    default=default("landscape_seconds"),
    help="Also limit the loss landscape to this many seconds, measured on this machine (the report "
    "says when it shrank the grid). Off by default.",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32"]),
    default=default("precision"),
    show_default=True,
    help="auto: run the large sweeps (loss-landscape grid, LiDAR views) in bfloat16 where the CPU or GPU has it "
    "natively, measuring and stating the error against float32; fp32: everything in float32.",
)
@click.option(
    "--json-only",
    is_flag=True,
    help="Compute every number and check but draw no figure: write report.json only (no HTML). "
    "--fail-on and --summary-md work as usual.",
)
@click.option(
    "--fail-on",
    type=click.Choice([Status.WARN.value, Status.FAIL.value]),
    help=f"Exit with status {ExitCode.VERDICT:d} when the verdict is this bad or worse (for CI).",
)
@click.option("--summary-md", type=click.Path(path_type=Path), help="Also write a short Markdown summary for a PR.")
@click.option("--max-report-mb", type=click.FloatRange(0.1), help="Downscale figures until the HTML fits this size.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def report_command(run_dir: Path, thresholds_file: Path | None, **options):
    """Build the report of the training run in RUN_DIR (read only; never modified)."""
    from .analysis.thresholds import load_thresholds
    from .pipeline import generate, stderr_progress

    options["sections"] = options["sections"] or None
    options["skip"] = options["skip"] or []
    thresholds = _guarded(lambda: load_thresholds(thresholds_file))
    settings = ReportSettings(**options, thresholds=thresholds, command_line=_command_line())
    report, html_path, json_path = _guarded(
        lambda: generate(run_dir, settings, None if settings.quiet else stderr_progress)
    )
    verdict = report.verdict()
    if not settings.quiet:
        click.echo(f"report: {html_path or '(none: --json-only)'}\njson:   {json_path}\nverdict: {verdict}", err=True)
    if settings.summary_md:
        _guarded(lambda: _write_summary(json_path, settings.summary_md, html_path.name if html_path else None))
    click.echo(str(html_path or json_path))
    if settings.strict:
        _guarded(lambda: _refuse_failed_sections(report))
    bar = severity(settings.fail_on) if settings.fail_on else None
    if bar is not None and severity(verdict) >= bar:
        reasons = [f"{c.name} ({c.status})" for _, c in report.checks() if c.status.severity >= bar]
        click.echo(f"verdict {verdict} (--fail-on {settings.fail_on}): {', '.join(reasons)}", err=True)
        sys.exit(ExitCode.VERDICT)


def _refuse_failed_sections(report) -> None:
    """Raise StrictModeError naming the sections that failed (--strict); the report is already written."""
    failed = [s.name for s in report.sections if s.status == SectionStatus.ERROR]
    if failed:
        raise StrictModeError(f"section(s) failed under --strict: {', '.join(failed)}")


@main.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    help="Run or report the others are compared with (default: the first).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("reports/compare.html"),
    show_default=True,
    help="Comparison page (compare.json is written beside it).",
)
@click.option("--labels", multiple=True, callback=_split_list, help="Names for the runs (comma-separated).")
def compare_command(runs, baseline, output, labels):
    """Compare reported runs: verdicts, metric deltas, overlaid curves, masking and attention side by side.

    RUNS are run directories already reported (their report at ./reports/<name>/report.json), report folders
    or report.json files.
    """
    from .compare import build_comparison

    sources = ([baseline] if baseline else []) + [r for r in runs if r != baseline]
    click.echo(str(_guarded(lambda: build_comparison(sources, output, labels=labels or None))))


@main.command("index")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Index page. Default: ROOT/index.html.")
def index_command(root, output):
    """Write an index page listing every report (report.json) below ROOT; re-running updates it."""
    from .render.index import write_index

    click.echo(str(_guarded(lambda: write_index(root, output))))


@main.command("many")
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--under",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Report every run folder below DIR (a folder holding checkpoints/, logs/, a checkpoint, event file "
    "or YAML config). Repeatable; adds to RUN_DIRS.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Folder of the reports: OUTPUT/<run name>/report.html. Default: ./reports (as `hjepa-report report`).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Worker processes; each gets cores // jobs threads (at most one worker per core).",
)
@click.option("--force", is_flag=True, help="Rebuild every report, even the up-to-date ones.")
@click.option(
    "--list",
    "list_file",
    type=click.Path(path_type=Path),
    help="Only write the run folders, one per line, to this file (for a Slurm job array), and exit.",
)
@click.option("--no-index", is_flag=True, help="Do not write OUTPUT/index.html at the end.")
@click.option("--json-only", is_flag=True, help="Write report.json only (no HTML, no figures).")
@run_options
@click.option("-q", "--quiet", is_flag=True, help="Only the summary of failed runs on stderr.")
def many_command(run_dirs, under, output, jobs, force, list_file, no_index, thresholds_file, quiet, **options):
    """Build the report of every run given (RUN_DIRS and/or --under DIR) with --jobs worker processes.

    A run whose report is up to date (same run files, by size and modification time, and same options) is
    skipped. One run's failure never stops the others; every failed run is listed with its reason, the
    exit status is then 5. Ends by writing OUTPUT/index.html, the sweep page.
    """
    from .analysis.thresholds import load_thresholds
    from .pipeline import stderr_progress
    from .sweep.discover import find_runs, report_dirs, write_run_list
    from .sweep.runner import run_many

    runs = list(run_dirs) + [r for folder in under for r in _guarded(lambda f=folder: find_runs(f))]
    runs = list(dict.fromkeys(runs))
    if not runs:
        click.echo("error: no run to report: give RUN_DIRS or --under DIR (which holds no run folder)", err=True)
        sys.exit(ExitCode.BAD_INPUT)
    if list_file:
        click.echo(str(_guarded(lambda: write_run_list(runs, list_file))))
        return
    out_root = output or Path.cwd() / "reports"
    options["sections"] = options["sections"] or None
    options["skip"] = options["skip"] or []
    thresholds = _guarded(lambda: load_thresholds(thresholds_file))
    settings = ReportSettings(**options, thresholds=thresholds, quiet=True, command_line=_command_line())
    say = None if quiet else stderr_progress
    result = _guarded(lambda: run_many(report_dirs(runs, out_root), settings, jobs=jobs, force=force, progress=say))
    if not quiet:
        click.echo(
            f"{result.count('built')} built, {result.count('skipped')} up to date, {result.count('failed')} failed "
            f"in {result.seconds:.1f} s ({result.jobs} worker(s) x {result.threads} thread(s))",
            err=True,
        )
    if not no_index:
        from .render.index import write_index

        click.echo(str(_guarded(lambda: write_index(out_root) if _made(out_root) else None)))
    failed = result.failed()
    if failed:
        click.echo(f"{len(failed)} run(s) failed:", err=True)
        for o in failed:
            click.echo(f"  {o.run}: {o.reason}", err=True)
        sys.exit(ExitCode.RUNS_FAILED)


def _made(folder: Path) -> bool:
    """Create `folder` (and its parents) when missing; an OSError becomes the one-line OutputError."""
    from .errors import OutputError

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    return True


@main.command("make-sample")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for data, model and training.")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override the number of epochs.")
@click.option("--quick", is_flag=True, help="A tiny model and data set (seconds): checks the set-up, learns little.")
@click.option("-q", "--quiet", is_flag=True)
def make_sample_command(out_dir: Path, seed: int, epochs: int | None, quick: bool, quiet: bool):
    """Train the small reference H-JEPA on generated shapes (about 4 minutes on 2 CPU cores) and write its run
    directory, in the public H-JEPA layout, to OUT_DIR (new or empty)."""
    from .sample import make_sample_run

    path = _guarded(lambda: make_sample_run(out_dir, seed=seed, epochs=epochs, quiet=quiet, quick=quick))
    click.echo(str(path))


def _write_summary(json_path: Path, out: Path, html_name: str) -> Path:
    import json

    from .render.summary import write_summary_md

    return write_summary_md(json.loads(json_path.read_text(encoding="utf-8")), out, html_name=html_name)


def _guarded(action):
    """Run `action`, turning known errors into one line on stderr and an exit status."""
    try:
        return action()
    except ReportError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Terminated:
        click.echo("terminated (SIGTERM)", err=True)
        sys.exit(ExitCode.TERMINATED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if os.environ.get("HJEPA_REPORT_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (set HJEPA_REPORT_DEBUG=1 for the traceback "
            "and please report it)",
            err=True,
        )
        sys.exit(ExitCode.INTERNAL)


def _command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["hjepa-report", *sys.argv[1:]])


if __name__ == "__main__":  # pragma: no cover
    main()
