"""The command line: clear one-line errors and exit codes, never a traceback; sections fail independently."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import HJEPA_RUN
from hjepa_report.analysis.base import AnalysisPass
from hjepa_report.cli import main

FAST = ["--sections", "overview,log-health,training", "--quiet"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_help_lists_the_options_and_default_output():
    result = invoke("report", "--help")
    assert result.exit_code == 0
    for option in (
        "--output",
        "--config",
        "--images",
        "--checkpoint",
        "--sections",
        "--skip",
        "--layout",
        "--trust-checkpoints",
        "--strict",
        "--quiet",
    ):
        assert option in result.output
    assert "./reports/<run name>/report.html" in result.output


def test_missing_run_dir_is_one_clear_line(tmp_path):
    result = invoke(tmp_path / "nope")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_empty_run_dir_is_refused(tmp_path):
    result = invoke(tmp_path)
    assert result.exit_code == 2 and "error:" in result.output


def test_output_inside_the_run_dir_is_refused(tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(HJEPA_RUN, run, ignore=shutil.ignore_patterns("reference"))
    result = invoke(run, "-o", run / "report.html", *FAST)
    assert result.exit_code == 2 and "inside the run directory" in result.output
    assert not (run / "report.html").exists()


def test_unknown_section_name(tmp_path):
    result = invoke(HJEPA_RUN, "-o", tmp_path / "r.html", "--sections", "trainig", "--quiet")
    assert result.exit_code == 2 and "unknown section" in result.output and "training" in result.output


def test_bad_option_value_is_a_usage_error(tmp_path):
    result = invoke(HJEPA_RUN, "--smoothing", "1.5")
    assert result.exit_code == 2 and "Traceback" not in result.output


class Exploding(AnalysisPass):
    name, title = "exploding", "Exploding section"

    def compute(self, ctx):
        raise RuntimeError("boom in compute")


@pytest.fixture
def with_exploding_pass(monkeypatch):
    import hjepa_report.analysis.registry as registry

    real = registry.all_passes
    monkeypatch.setattr(registry, "all_passes", lambda: [Exploding(), *real()])
    import hjepa_report.pipeline as pipeline

    monkeypatch.setattr(pipeline, "all_passes", registry.all_passes)
    monkeypatch.setattr(pipeline, "pass_names", lambda: [p.name for p in registry.all_passes()])


def test_a_failing_section_becomes_an_error_card_and_the_rest_renders(tmp_path, with_exploding_pass):
    out = tmp_path / "r.html"
    result = invoke(HJEPA_RUN, "-o", out, "--quiet", "--sections", "exploding,training")
    assert result.exit_code == 0, result.output
    doc = json.loads(out.with_suffix(".json").read_text())
    sections = {s["name"]: s for s in doc["sections"]}
    assert sections["exploding"]["status"] == "error" and "boom in compute" in sections["exploding"]["message"]
    assert sections["training"]["status"] == "ok"
    html = out.read_text()
    assert "error-card" in html and "boom in compute" in html


def test_strict_turns_a_failing_section_into_exit_3(tmp_path, with_exploding_pass):
    result = invoke(HJEPA_RUN, "-o", tmp_path / "r.html", "--quiet", "--strict", "--sections", "exploding,training")
    assert result.exit_code == 3 and "exploding" in result.output
    assert (tmp_path / "r.json").exists()  # the report is still written


def test_progress_goes_to_stderr_with_timings(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, [str(HJEPA_RUN), "-o", str(tmp_path / "r.html"), "--sections", "training"])
    assert result.exit_code == 0
    assert "Training curves: ok (" in result.stderr
    assert result.stdout.strip().endswith("r.html")


def test_fail_on_sets_the_exit_code_from_the_verdict(tmp_path):
    import shutil

    import numpy as np
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "broken"
    writer = SummaryWriter(str(run / "logs"))
    for step, value in enumerate(np.concatenate([np.linspace(1, 0.2, 30), [np.nan], np.linspace(0.2, 2, 30)])):
        writer.add_scalar("train/loss", float(value), step)
    writer.close()
    common = ["-o", tmp_path / "out" / "report.html", "--quiet"]
    assert invoke(run, *common).exit_code == 0
    result = invoke(run, *common, "--fail-on", "fail")
    assert result.exit_code == 4
    assert "non-finite-values (fail)" in result.output and "divergence (fail)" in result.output
    shutil.rmtree(run)


def test_thresholds_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("divergence:\n  wran: 0.3\n")
    result = invoke(HJEPA_RUN, "-o", tmp_path / "r.html", "--thresholds", bad, "--quiet")
    assert result.exit_code == 2 and "unknown threshold(s)" in result.output and "divergence.wran" in result.output


@pytest.mark.slow  # re-encodes every figure until the report fits
def test_max_report_mb_downscales_and_says_so(tmp_path):
    out = tmp_path / "r.html"
    result = invoke(HJEPA_RUN, "-o", out, "--sections", "training", "--max-report-mb", "0.25", "--quiet")
    assert result.exit_code == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    assert "Figures were rendered at" in doc["render"]["trimmed"]
    assert "Figures were rendered at" in out.read_text()


@pytest.mark.slow  # runs the sample trainer
def test_make_sample_quick_writes_a_run_the_report_reads(tmp_path):
    out = tmp_path / "sample"
    result = invoke("make-sample", out, "--quick", "--quiet")
    assert result.exit_code == 0, result.output
    assert (out / "config.yaml").is_file() and (out / "checkpoints" / "checkpoint_latest.pth").is_file()
    report = invoke(out, "-o", tmp_path / "r" / "report.html", "--quiet", "--sections", "model,training")
    assert report.exit_code == 0, report.output
    again = invoke("make-sample", out, "--quick", "--quiet")  # never overwrites an existing run
    assert again.exit_code != 0 and "error:" in again.output


def test_minimal_lists_the_slow_sections_it_left_out(tmp_path):
    from conftest import IJEPA_RUN

    out = tmp_path / "r.html"
    result = invoke(IJEPA_RUN, "-o", out, "--quiet", "--minimal", "--sections", "training,attention")
    assert result.exit_code == 0, result.output
    sections = {s["name"]: s for s in json.loads(out.with_suffix(".json").read_text())["sections"]}
    assert sections["training"]["status"] == "ok"
    assert sections["attention"]["status"] == "skipped" and "--minimal" in sections["attention"]["message"]


@pytest.mark.slow  # the representations section: t-SNE, UMAP and its numba compilation
def test_probe_images_option_reaches_the_report(tmp_path):
    from conftest import IJEPA_RUN

    out = tmp_path / "r.html"
    result = invoke(
        IJEPA_RUN, "-o", out, "--quiet", "--sections", "representations", "--max-images", 3, "--probe-images", 6
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["settings"]["probe_images"] == 6
    metrics = doc["sections"][0]["metrics"]
    assert metrics["probe_images"] == {"total": 6, "sample": 3, "available": 8}
    assert metrics["accuracy"]["image"]["samples"] == 6
    assert "the 3 sample images and 3 further images" in out.read_text()


@pytest.mark.slow  # compares with the full report of the `reports` fixture
def test_json_only_writes_the_same_verdict_and_checks_without_html(reports, tmp_path):
    """--json-only computes every number and check but draws nothing: report.json alone, and sooner."""
    import jsonschema

    from conftest import IJEPA_RUN
    from hjepa_report.render.jsonreport import load_schema
    from hjepa_report.status import severity

    full = reports[IJEPA_RUN.name]
    assert full["result"].exit_code == 0, full["result"].output
    full_doc = json.loads(full["json"].read_text())
    out = tmp_path / "j" / "report.html"
    result = CliRunner().invoke(
        main,
        [
            str(full["run"]),
            "-o",
            str(out),
            "--quiet",
            "--json-only",
            "--fail-on",
            "warn",
            "--summary-md",
            str(tmp_path / "s.md"),
        ],
    )
    assert result.exit_code == (4 if severity(full_doc["health"]["verdict"]) >= 1 else 0), result.output
    assert result.stdout.strip() == str(out.with_name("report.json"))
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.json"]  # no report.html, no figures file
    doc = json.loads(out.with_name("report.json").read_text())
    assert doc["settings"]["json_only"] is True and doc["render"]["figures_file"] is None
    jsonschema.validate(doc, load_schema())
    assert doc["health"] == full_doc["health"]
    assert [(s["name"], s["status"], s["checks"]) for s in doc["sections"]] == [
        (s["name"], s["status"], s["checks"]) for s in full_doc["sections"]
    ]
    assert all(s["figures"] == [] for s in doc["sections"]) and any(s["figures"] for s in full_doc["sections"])
    assert "built with --json-only" in (tmp_path / "s.md").read_text()


def test_option_defaults_are_report_settings_defaults():
    """The CLI shows and uses ReportSettings' defaults: one place defines them."""
    import dataclasses

    from hjepa_report.cli import report_command
    from hjepa_report.settings import ReportSettings

    defaults = {f.name: f.default for f in dataclasses.fields(ReportSettings) if f.default is not dataclasses.MISSING}
    parsed = report_command.make_context("report", ["RUN"]).params  # every option left at its default
    shared = sorted(set(parsed) & set(defaults))
    assert len(shared) >= 20 and "smoothing" in shared and "probe_images" in shared
    assert {name: parsed[name] for name in shared} == {name: defaults[name] for name in shared}


@pytest.mark.slow  # two reports of the drawing-heavy sections
def test_json_only_takes_less_cpu_than_drawing(tmp_path):
    """Without present and encoding, the same sections cost less: CPU time, which other processes on the
    machine do not inflate the way they inflate wall time (a full report draws 2-3x the CPU of --json-only)."""
    import time

    from conftest import IJEPA_RUN
    from hjepa_report.pipeline import generate
    from hjepa_report.settings import ReportSettings

    cpu = {}
    for json_only in (False, True, False, True):  # the first pass also warms imports and caches
        start = time.process_time()
        settings = ReportSettings(
            output=tmp_path / str(json_only) / "report.html",
            quiet=True,
            json_only=json_only,
            sections=["training", "masking", "attention"],
        )
        generate(IJEPA_RUN, settings)
        cpu[json_only] = time.process_time() - start
    assert cpu[True] < cpu[False], cpu


def test_the_sigterm_handler_is_the_commands_only_while_it_runs(tmp_path, monkeypatch):
    # main() turns SIGTERM into an unwinding exception; called in-process (a notebook, this test suite) it must
    # not leave that handler behind, or a later SIGTERM to the host process (CI cancelling pytest) raises ours.
    import signal

    import hjepa_report.pipeline as pipeline

    seen = []

    class Spy(AnalysisPass):
        name, title = "training", "Training curves"

        def compute(self, ctx):
            seen.append(signal.getsignal(signal.SIGTERM))

    monkeypatch.setattr(pipeline, "all_passes", lambda: [Spy()])
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    result = invoke(HJEPA_RUN, "-o", tmp_path / "r.html", *FAST)
    assert result.exit_code == 0, result.output
    assert seen and seen[0] not in (signal.SIG_DFL, signal.SIG_IGN)  # the command's own handler, while it ran
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
