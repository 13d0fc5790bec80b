"""`hjepa-report many`: the report of every run, built by worker processes, the up-to-date ones skipped.

Each worker is a spawned process that takes runs from a queue and calls the one pipeline
(`hjepa_report.pipeline.generate`) with the settings made here, so a report made by `many` is the report
`hjepa-report report RUN -o DIR/<name>/` makes. Threads: each of the N workers gets cores // N torch / OpenMP
threads (set before torch is imported there), so N x threads <= cores; N is at most the cores and the runs.

A run's failure (a bad run directory, an internal error, a worker that died) is recorded with its reason,
in the result and as `report.failed.json` in the run's report folder (the index lists it), and the other
runs go on. Ctrl-C or SIGTERM: the workers ignore SIGINT (the whole process group gets it; the parent
decides), the parent sends each one SIGTERM, which unwinds its report as `hjepa-report report` does on
SIGTERM (no partial file), waits for them, and re-raises, so the command line exits 130 or 143.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ReportError
from ..settings import ReportSettings
from . import fingerprint as fp

FAILED = fp.FAILED  # in the run's report folder: the latest attempt failed, and why
STOP_WAIT_S = 60.0  # how long an interrupted worker may take to unwind before it is killed
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass
class RunTask:
    """One run to report: where it is, where its report goes, with what, and its fingerprint now."""

    index: int
    run: Path
    report_dir: Path
    settings: ReportSettings
    fingerprint: fp.Fingerprint
    why: str  # why it is (re)built: fingerprint.why_stale's answer, or --force


@dataclass
class RunOutcome:
    """What happened to one run: built, skipped (up to date) or failed, and why."""

    run: Path
    report_dir: Path
    status: str  # built | skipped | failed
    reason: str = ""  # built: why it was (re)built; skipped: 'up to date'; failed: the error, one line
    seconds: float = 0.0
    verdict: str = ""
    exit_code: int = 0  # failed: the status `hjepa-report report` would have exited with
    failed_sections: list[str] = field(default_factory=list)


@dataclass
class ManyResult:
    """Every run's outcome, in the order the runs were given, and the wall time."""

    outcomes: list[RunOutcome]
    seconds: float
    jobs: int
    threads: int

    def failed(self) -> list[RunOutcome]:
        """Return the runs whose report could not be made."""
        return [o for o in self.outcomes if o.status == "failed"]

    def count(self, status: str) -> int:
        """Return how many runs ended with `status`."""
        return sum(o.status == status for o in self.outcomes)


def plan_jobs(asked: int, runs: int) -> tuple[int, int]:
    """Return (workers, threads per worker): at most the cores and the runs, and workers x threads <= cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = max(1, min(asked, cores, max(runs, 1)))
    return workers, max(1, cores // workers)


def run_many(
    runs: dict[Path, Path],
    settings: ReportSettings,
    jobs: int = 1,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ManyResult:
    """Report every run of `runs` (run dir -> report folder) with `settings`, in `jobs` worker processes.

    A run whose report folder holds an up-to-date report (fingerprint.why_stale) is skipped unless `force`.
    """
    say = progress or (lambda msg: None)
    start = time.perf_counter()
    outcomes: dict[int, RunOutcome] = {}
    tasks = []
    for i, (run, report_dir) in enumerate(runs.items()):
        task_settings = dataclasses.replace(settings, output=Path(report_dir) / "report.html", quiet=True)
        try:
            now = fp.fingerprint(run, task_settings)
        except ReportError as exc:
            outcomes[i] = _failure(run, report_dir, str(exc), exc.exit_code)
            continue
        stale = "forced (--force)" if force else fp.why_stale(report_dir, now, settings.json_only)
        if not stale:
            outcomes[i] = RunOutcome(Path(run), Path(report_dir), "skipped", "up to date")
            say(f"skipped {run} (up to date)")
            continue
        tasks.append(RunTask(i, Path(run), Path(report_dir), task_settings, now, stale))
    workers, threads = plan_jobs(jobs, len(tasks))
    if tasks:
        say(f"{len(tasks)} report(s) to build, {len(outcomes)} not: {workers} worker(s) x {threads} thread(s)")
        for index, outcome in _WorkerPool(workers, threads).run(tasks, say):
            outcomes[index] = outcome
    for outcome in outcomes.values():
        if outcome.status == "failed":
            _record_failure(outcome)
    ordered = [outcomes[i] for i in range(len(runs))]
    return ManyResult(ordered, time.perf_counter() - start, workers, threads)


class _WorkerPool:
    """N spawned worker processes fed from one queue; a worker that dies is replaced, its run marked failed."""

    def __init__(self, workers: int, threads: int):
        import multiprocessing

        self.context = multiprocessing.get_context("spawn")
        self.workers, self.threads = workers, threads
        self.tasks = self.context.Queue()
        self.results = self.context.Queue()
        self.processes: list = []

    def run(self, tasks: list[RunTask], say):
        """Yield (task index, outcome) for each task as it finishes."""
        by_index = {t.index: t for t in tasks}
        running: dict[int, int] = {}  # worker pid -> task index
        done = 0
        try:
            for task in tasks:
                self.tasks.put(task)
            for _ in range(self.workers):
                self.tasks.put(None)  # one stop sign per worker
            self.processes = [self._start() for _ in range(self.workers)]
            while len(by_index) > 0:
                try:
                    kind, index, payload = self.results.get(timeout=0.5)
                except queue.Empty:
                    for index, outcome in self._reap(by_index, running):
                        done += 1
                        say(f"[{done}/{len(tasks)}] {_outcome_line(outcome)}")
                        yield index, outcome
                    continue
                if kind == "start":
                    running[payload] = index
                    say(f"building {by_index[index].run}")
                    continue
                running = {pid: i for pid, i in running.items() if i != index}
                by_index.pop(index, None)
                done += 1
                say(f"[{done}/{len(tasks)}] {_outcome_line(payload)}")
                yield index, payload
            for _ in self.processes:
                self.tasks.put(None)  # a replaced worker may lack its stop sign (its predecessor took it)
            for process in self.processes:
                process.join()
        except KeyboardInterrupt:
            say(f"stopping {sum(p.is_alive() for p in self.processes)} worker(s)")
            self.stop()
            raise

    def _start(self):
        from ..processes import interrupts_held, main_script_hidden

        process = self.context.Process(target=_worker, args=(self.tasks, self.results, self.threads), daemon=False)
        with interrupts_held(), main_script_hidden():  # as the figure encoder starts its workers
            process.start()
        return process

    def _reap(self, by_index: dict, running: dict) -> list[tuple[int, RunOutcome]]:
        """Replace workers that died; return their runs as failed."""
        lost = []
        for k, process in enumerate(self.processes):
            if process.is_alive() or process.exitcode == 0:
                continue
            index = running.pop(process.pid, None)
            self.processes[k] = self._start()  # takes the stop sign the dead worker never took
            if index is not None and index in by_index:
                task = by_index.pop(index)
                code = process.exitcode
                how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                lost.append((index, _failure(task.run, task.report_dir, f"the worker process died ({how})", 1)))
        return lost

    def stop(self) -> None:
        """SIGTERM every live worker, wait for it to unwind, kill it if it does not in STOP_WAIT_S."""
        self.tasks.cancel_join_thread()  # runs never started stay queued: do not wait to hand them over at exit
        for process in self.processes:
            if process.is_alive():
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_WAIT_S
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


class _Stop(KeyboardInterrupt):
    """SIGTERM in a worker: unwind the report being built (temporary files removed), then exit."""


def _worker(tasks, results, threads: int) -> None:
    """Worker process: build reports from the queue until its stop sign (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def stop(signum, frame):
        raise _Stop()

    signal.signal(signal.SIGTERM, stop)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
        while (task := tasks.get()) is not None:
            results.put(("start", task.index, os.getpid()))
            results.put(("done", task.index, build_one(task)))
    except _Stop:
        sys.exit(143)


def build_one(task: RunTask) -> RunOutcome:
    """Build one run's report with the pipeline; return its outcome (a failure is an outcome, not an error)."""
    from ..pipeline import generate

    start = time.perf_counter()
    try:
        report, _html, json_path = generate(task.run, task.settings)
    except ReportError as exc:
        return _failure(task.run, task.report_dir, str(exc), int(exc.exit_code), time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - one run's bug must not stop the others; the reason is kept
        reason = f"internal error: {type(exc).__name__}: {exc}"
        return _failure(task.run, task.report_dir, reason, 1, time.perf_counter() - start)
    fp.save(json_path.parent, task.fingerprint)
    (json_path.parent / FAILED).unlink(missing_ok=True)
    errors = [s.name for s in report.sections if s.status == "error"]
    return RunOutcome(
        task.run,
        task.report_dir,
        "built",
        task.why,
        time.perf_counter() - start,
        verdict=str(report.verdict()),
        failed_sections=errors,
    )


def _failure(run, report_dir, reason: str, code: int, seconds: float = 0.0) -> RunOutcome:
    line = reason.splitlines()[0] if reason else ""
    return RunOutcome(Path(run), Path(report_dir), "failed", line, seconds, "", code)


def _record_failure(outcome: RunOutcome) -> None:
    """Write report.failed.json in the run's report folder, so that the index lists the run with its reason."""
    from ..render.write import write_atomic

    doc = {
        "kind": "hjepa-report failed run",
        "run": str(Path(outcome.run).resolve()),
        "name": Path(outcome.run).resolve().name,
        "reason": outcome.reason,
        "exit_code": outcome.exit_code,
        "at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }
    try:
        write_atomic({Path(outcome.report_dir) / FAILED: json.dumps(doc, indent=1) + "\n"})
    except ReportError:
        pass  # the report folder itself cannot be written: the failure is still in the command's summary


def _outcome_line(o: RunOutcome) -> str:
    if o.status == "failed":
        return f"failed {o.run}: {o.reason}"
    extra = f", section(s) failed: {', '.join(o.failed_sections)}" if o.failed_sections else ""
    return f"built {o.run} ({o.seconds:.1f} s, verdict {o.verdict}{extra})"
