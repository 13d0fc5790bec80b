"""`hjepa-report many` (sweep/): every run reported by worker processes, up-to-date ones skipped, failures listed.

The sweep is three copies of the H-JEPA fixture run with different learning rates and one broken run
(tests/sweepfixtures.py); reports are kept short (overview and log-health, --minimal).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import default_sigint
from hjepa_report.cli import main
from hjepa_report.errors import ExitCode
from hjepa_report.settings import ReportSettings
from hjepa_report.sweep import fingerprint as fp
from hjepa_report.sweep.discover import find_runs, looks_like_run, report_dirs
from hjepa_report.sweep.runner import FAILED, plan_jobs, run_many
from sweepfixtures import BROKEN, QUICK, make_runs

REPO = Path(__file__).resolve().parents[1]


def _many(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["many", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sweep reported once with --jobs 2, then a second time: (root, reports, first call, second call)."""
    root = tmp_path_factory.mktemp("sweep")
    make_runs(root / "runs")
    reports = root / "reports"
    first = _many("--under", root / "runs", "-o", reports, "--jobs", 2, *QUICK)
    stamps = {p: p.stat().st_mtime_ns for p in reports.rglob("report.*")}
    second = _many("--under", root / "runs", "-o", reports, "--jobs", 2, *QUICK)
    return root, reports, first, second, stamps


def test_every_good_run_is_reported_and_the_broken_one_listed_with_its_reason(swept):
    root, reports, (code, out, err), _, _ = swept
    assert code == ExitCode.RUNS_FAILED, err
    good = sorted(p.name for p in (root / "runs").iterdir() if p.name != BROKEN)
    for name in good:
        doc = json.loads((reports / name / "report.json").read_text())
        assert doc["run"]["name"] == name and (reports / name / "report.html").is_file()
        assert (reports / name / fp.SIDECAR).is_file() and not (reports / name / FAILED).exists()
    assert "3 built, 0 up to date, 1 failed" in err
    broken_line = [line for line in err.splitlines() if line.startswith(f"  {root / 'runs' / BROKEN}:")]
    assert len(broken_line) == 1 and "nothing usable" in broken_line[0], err
    failed = json.loads((reports / BROKEN / FAILED).read_text())
    assert failed["exit_code"] == ExitCode.BAD_INPUT and "nothing usable" in failed["reason"]
    assert out.strip().endswith(str(reports / "index.html"))


def test_the_index_lists_the_reports_and_the_failed_run(swept):
    _, reports, _, _, _ = swept
    html = (reports / "index.html").read_text()
    assert html.count('<input type="checkbox" class="pick"') == 3
    failed = html.split('id="failed-runs"', 1)[1].split("</section>", 1)[0]
    assert BROKEN in failed and "nothing usable" in failed
    assert '<button type="button">training.lr</button>' in html  # the swept value is a column


def test_a_second_invocation_skips_every_up_to_date_run(swept):
    _, reports, _, (code, _, err), stamps = swept
    assert code == ExitCode.RUNS_FAILED  # the broken run is retried, and fails again
    assert "0 built, 3 up to date, 1 failed" in err
    assert err.count("(up to date)") == 3
    for path, stamp in stamps.items():  # nothing of an up-to-date report was rewritten
        if path.parent.name != BROKEN:
            assert path.stat().st_mtime_ns == stamp, path


def test_the_fingerprint_notices_a_changed_file_and_changed_options(tmp_path):
    (run,) = make_runs(tmp_path / "runs", lrs=(0.05,), broken=False)
    settings = ReportSettings(sections=["log-health"], json_only=True)
    report = tmp_path / "rep"
    report.mkdir()
    (report / "report.json").write_text("{}")
    now = fp.fingerprint(run, settings)
    assert fp.why_stale(report, now, json_only=True) == f"no fingerprint ({fp.SIDECAR}) beside the report"
    fp.save(report, now)
    assert fp.why_stale(report, fp.fingerprint(run, settings), json_only=True) == ""
    assert fp.fingerprint(run, ReportSettings(sections=["log-health"], json_only=True, quiet=True)) == now
    other = fp.fingerprint(run, ReportSettings(sections=["log-health"], json_only=True, seed=1))
    assert fp.why_stale(report, other, json_only=True) == "report options or hjepa-report version changed"
    (events,) = (run / "logs" / "tensorboard").glob("events.*")
    os.utime(events, ns=(events.stat().st_atime_ns, events.stat().st_mtime_ns + 1_000_000))
    assert fp.why_stale(report, fp.fingerprint(run, settings), json_only=True) == "run files changed"
    (run / "notes.txt").write_text("a new file")
    assert fp.fingerprint(run, settings).file_count == now.file_count + 1
    assert fp.why_stale(report, now, json_only=False) == "report.html missing"


def test_list_writes_the_run_folders_and_builds_nothing(tmp_path):
    runs = make_runs(tmp_path / "runs")
    code, out, _ = _many("--under", tmp_path / "runs", "--list", tmp_path / "runs.txt", "-o", tmp_path / "rep")
    assert code == 0 and out.strip() == str(tmp_path / "runs.txt")
    assert (tmp_path / "runs.txt").read_text().splitlines() == [str(r.resolve()) for r in sorted(runs)]
    assert not (tmp_path / "rep").exists()


def test_runs_are_found_by_what_they_hold_and_not_inside_each_other(tmp_path):
    (tmp_path / "a" / "checkpoints").mkdir(parents=True)
    (tmp_path / "a" / "logs" / "sub").mkdir(parents=True)  # a run's own folders are not runs
    (tmp_path / "a" / "logs" / "sub" / "config.yaml").write_text("x: 1")
    (tmp_path / "group" / "b").mkdir(parents=True)
    (tmp_path / "group" / "b" / "events.out.tfevents.1.host").write_bytes(b"")
    (tmp_path / "group" / "notes").mkdir()
    (tmp_path / "group" / "notes" / "readme.md").write_text("not a run")
    (tmp_path / ".hidden" / "c").mkdir(parents=True)
    (tmp_path / ".hidden" / "c" / "model.pth").write_bytes(b"")
    assert find_runs(tmp_path) == [tmp_path / "a", tmp_path / "group" / "b"]
    assert not looks_like_run(tmp_path / "group" / "notes")
    code, _, err = _many("--under", tmp_path / "group" / "notes")
    assert code == ExitCode.BAD_INPUT and "no run to report" in err


def test_report_folders_are_named_after_the_runs_and_never_collide(tmp_path):
    dirs = report_dirs([tmp_path / "x" / "r1", tmp_path / "x" / "r2"], tmp_path / "out")
    assert list(dirs.values()) == [tmp_path / "out" / "r1", tmp_path / "out" / "r2"]
    dirs = report_dirs([tmp_path / "a" / "run", tmp_path / "b" / "run"], tmp_path / "out")
    assert list(dirs.values()) == [tmp_path / "out" / "a" / "run", tmp_path / "out" / "b" / "run"]


def test_workers_times_threads_never_exceed_the_cores():
    cores = len(os.sched_getaffinity(0))
    for asked in (1, 2, 3, 8, 64):
        for runs in (1, 5, 100):
            workers, threads = plan_jobs(asked, runs)
            assert 1 <= workers <= min(asked, runs) and workers * threads <= max(cores, 1)
    assert plan_jobs(1, 10) == (1, cores)


def test_a_worker_that_dies_fails_its_run_only(tmp_path):
    """A run whose report kills its worker process (here: a model factory calling os._exit) is failed with
    that reason; a fresh worker takes the other runs."""
    runs = make_runs(tmp_path / "runs", lrs=(0.05, 0.01), broken=False)
    settings = ReportSettings(sections=["model"], json_only=True, model_factory="sweep_dying_factory:build")
    result = run_many(report_dirs(runs, tmp_path / "rep"), settings, jobs=1)
    by_run = {o.run.name: o for o in result.outcomes}
    dead = by_run[runs[1].name]  # lr 0.01: the factory exits there
    assert dead.status == "failed" and dead.reason == "the worker process died (exit status 3)"
    assert by_run[runs[0].name].status == "built"
    assert (tmp_path / "rep" / runs[1].name / FAILED).is_file()


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGTERM, ExitCode.TERMINATED)])
def test_ctrl_c_stops_every_worker_and_leaves_no_partial_file(tmp_path, sig, code):
    # eight runs, so that the sweep is still building when the signal comes 1 s after it starts (three runs
    # were all built in 1.8 s on a fast 2-core machine, before the signal)
    make_runs(tmp_path / "runs", lrs=tuple(0.01 * (i + 1) for i in range(8)), broken=False)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "hjepa_report", "many", "--under", str(tmp_path / "runs"), "-o"]
    process = subprocess.Popen(
        [*command, str(tmp_path / "rep"), "--jobs", "2", *QUICK],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
        preexec_fn=default_sigint,
    )
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("building"):
            break
    time.sleep(1.0)
    # Ctrl-C reaches the whole foreground group; SIGTERM (kill, CI) only the command itself
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == code, "".join(lines) + rest
    assert "stopping" in rest and "Traceback" not in rest, rest
    deadline = time.monotonic() + 10
    while _group_pids(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_pids(process.pid) == []  # no worker (or figure encoder) left running
    leftovers = [p for p in (tmp_path / "rep").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []
