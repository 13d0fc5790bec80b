"""Interrupted and concurrent runs, with real child processes (issue 19, item 3).

SIGINT (to the process, or to its whole process group as Ctrl-C sends it, figure-encoding workers included)
or SIGTERM at each stage of a run leaves the previous report whole, no temporary file, one line on stderr and
the documented exit status (130 / 143). Two runs writing the same report at once end with one run's complete
set of files; the index reads a report while it is being rewritten. The stages are found from the run's own
progress lines on stderr, so the signal lands at the same stage on a fast or a slow machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import HJEPA_RUN, default_sigint

REPO = Path(__file__).resolve().parents[1]
PREVIOUS = {"report.html": "<html>previous report</html>\n", "report.json": '{"previous": true}\n'}
OPTIONS = ["--sections", "overview,training,masking", "--encoder-heads", "2"]


def _copy_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(HJEPA_RUN, run, ignore=shutil.ignore_patterns("reference", "checkpoint_epoch_0001.pth"))
    return run


def _start(run: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "HJEPA_REPORT_DEBUG"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [sys.executable, "-m", "hjepa_report", str(run), "-o", str(out / "report.html"), *OPTIONS, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: killpg reaches it and its workers, not pytest
        preexec_fn=default_sigint,
    )


def _interrupt_when(child: subprocess.Popen, stage: str | None, send) -> list[str]:
    """Read the child's stderr until a line starts with `stage` (None: at once), then `send` the signal."""
    lines = []
    if stage is not None:
        for line in child.stderr:
            lines.append(line)
            if line.startswith(stage):
                break
    send(child)
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.extend(child.stderr.readlines()), daemon=True)
    reader.start()
    reader.join(timeout=120)  # the child and every process it started close stderr by then, or this fails
    if reader.is_alive():
        ps = ["ps", "-o", "pid,stat,etime,args", "-g", str(child.pid)]
        group = subprocess.run(ps, capture_output=True, text=True)
        os.killpg(child.pid, signal.SIGKILL)
        pytest.fail(f"still running 120 s after the signal:\n{group.stdout}\n{''.join(lines)}")
    child.wait(timeout=30)
    return lines + rest


def _to_process(sig):
    return lambda child: os.kill(child.pid, sig)


def _to_group(sig):
    return lambda child: os.killpg(child.pid, sig)


@pytest.mark.parametrize(
    ("stage", "send", "status", "said"),
    [
        (None, _to_process(signal.SIGINT), 130, "interrupted"),  # while it starts (imports)
        ("collected", _to_process(signal.SIGINT), 130, "interrupted"),  # collect done, sections starting
        ("Training curves", _to_group(signal.SIGINT), 130, "interrupted"),  # Ctrl-C, workers encoding figures
        ("rendering", _to_process(signal.SIGINT), 130, "interrupted"),  # the render and write stage
        ("collected", _to_process(signal.SIGTERM), 143, "terminated (SIGTERM)"),
        ("rendering", _to_group(signal.SIGTERM), 143, "terminated (SIGTERM)"),
    ],
    ids=[
        "sigint-start",
        "sigint-sections",
        "ctrl-c-group-encoding",
        "sigint-render",
        "sigterm-sections",
        "sigterm-group-render",
    ],
)
def test_a_signal_leaves_the_previous_report_whole(tmp_path, stage, send, status, said):
    run, out = _copy_run(tmp_path), tmp_path / "out"
    out.mkdir()
    for name, text in PREVIOUS.items():
        (out / name).write_text(text, encoding="utf-8")
    child = _start(run, out)
    lines = _interrupt_when(child, stage, send)
    stderr = "".join(lines)
    if child.returncode == 0:  # the run finished before the signal: then the new report is whole
        pytest.fail(f"the run ended before the signal at {stage!r}: choose an earlier stage\n{stderr}")
    assert "Traceback" not in stderr, stderr
    if stage is None and child.returncode == -(status - 128):
        pass  # the signal came before Python set up its handlers: killed by it, which a shell reports as `status`
    else:
        assert child.returncode == status, stderr
        assert stderr.strip().splitlines()[-1] == said, stderr
    assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()} == PREVIOUS  # and nothing else


def test_two_runs_writing_the_same_report_end_with_one_whole_set(tmp_path):
    """Seeds 1 and 2 write the same -o at once: the HTML and the JSON left are both complete and from one run."""
    run, out = _copy_run(tmp_path), tmp_path / "out"
    children = [_start(run, out, "--seed", str(seed), "--quiet") for seed in (1, 2)]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    html = (out / "report.html").read_text(encoding="utf-8")
    seed = doc["settings"]["seed"]
    assert html.rstrip().endswith("</html>")
    assert f"--seed {seed}" in html and f"--seed {3 - seed}" not in html
    figures = json.loads((out / "report.figures.json").read_text(encoding="utf-8"))
    assert figures  # complete JSON
    assert sorted(p.name for p in out.iterdir()) == ["report.figures.json", "report.html", "report.json"]


def test_the_index_reads_a_report_while_it_is_rewritten(tmp_path):
    """A writer rewrites report.json (atomically) in a loop while the index is built again and again."""
    from hjepa_report.render.index import build_index
    from hjepa_report.render.write import write_atomic

    run, out = _copy_run(tmp_path), tmp_path / "reports" / "run"
    done = subprocess.run(
        [sys.executable, "-m", "hjepa_report", str(run), "-o", str(out / "report.html"), "--json-only", "-q"]
        + ["--sections", "overview"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    text = (out / "report.json").read_text(encoding="utf-8")
    stop = threading.Event()

    def rewrite():
        while not stop.is_set():
            write_atomic({out / "report.json": text})

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        views = [build_index(tmp_path / "reports", tmp_path / "reports") for _ in range(40)]
    finally:
        stop.set()
        writer.join()
    assert all(len(v.rows) == 1 and not v.notes for v in views), [v.notes for v in views if v.notes][:1]
