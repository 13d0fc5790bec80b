"""processes.WorkerPool: jobs run in spawned workers, and a worker that dies or a pool closed mid-job never leaves
a future waiting or the interpreter hanging at exit (the ProcessPoolExecutor it replaced did, on CPython < 3.12,
when a worker died after queued jobs had been cancelled: a CI job that never ended)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hjepa_report.processes import WorkerFailed, WorkerPool

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def pool():
    workers = WorkerPool(2)
    yield workers
    workers.close()


def _fails(value):
    raise ValueError(f"bad {value}")


def test_jobs_run_in_other_processes_and_return_their_results(pool):
    futures = [pool.submit(pow, n, 2) for n in range(8)] + [pool.submit(os.getpid) for _ in range(4)]
    assert [f.result(timeout=60) for f in futures[:8]] == [n * n for n in range(8)]
    assert os.getpid() not in {f.result(timeout=60) for f in futures[8:]}


def test_a_job_that_raises_or_does_not_pickle_fails_its_future_and_the_pool_goes_on(pool):
    raised = pool.submit(_fails, 3)
    unpicklable = pool.submit(len, lambda: None)  # a lambda does not pickle: never sent
    with pytest.raises(WorkerFailed, match="ValueError: bad 3"):
        raised.result(timeout=60)
    with pytest.raises(WorkerFailed, match="could not send"):
        unpicklable.result(timeout=60)
    assert pool.submit(pow, 3, 3).result(timeout=60) == 27


def test_a_cancelled_job_is_never_run(pool):
    blockers = [pool.submit(time.sleep, 1.0) for _ in range(2)]  # both workers busy for a second
    later = pool.submit(os.getpid)
    assert later.cancel()
    assert [b.result(timeout=60) for b in blockers] == [None, None]
    assert later.cancelled()


def test_close_stops_a_busy_worker_at_once():
    workers = WorkerPool(1)
    job = workers.submit(time.sleep, 60)
    time.sleep(2)  # the worker has started and is asleep in the job
    start = time.monotonic()
    workers.close()
    assert time.monotonic() - start < 10
    with pytest.raises(WorkerFailed, match="closed"):
        job.result(timeout=1)
    with pytest.raises(RuntimeError, match="closed"):
        workers.submit(pow, 2, 2)


def test_a_worker_killed_after_queued_jobs_were_cancelled_fails_the_rest_and_the_interpreter_exits():
    # The sequence that hung CI with ProcessPoolExecutor: one worker busy, large jobs queued behind it (more bytes
    # than a pipe holds), the later ones cancelled (the render takes them back), then the worker is killed (the
    # process group got SIGTERM) and the pool closed. Run in its own interpreter: the hang was at its exit.
    script = textwrap.dedent(
        """
        import os, signal, time
        import numpy as np
        from hjepa_report.processes import WorkerFailed, WorkerPool

        pool = WorkerPool(1)
        pid = pool.submit(os.getpid).result(timeout=60)
        busy = pool.submit(time.sleep, 60)
        queued = [pool.submit(len, np.zeros(2**21)) for _ in range(6)]  # 16 MB each
        time.sleep(1)
        assert all(job.cancel() for job in queued[2:])
        os.kill(pid, signal.SIGKILL)
        for job in [busy, *queued[:2]]:
            try:
                job.result(timeout=30)
            except WorkerFailed as failed:
                print("failed:", failed)
        try:
            pool.submit(pow, 2, 2)
        except RuntimeError as refused:
            print("refused:", refused)
        pool.close()
        print("closed")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("failed: its worker process ended")  # the job it was running
    assert lines[1:3] == ["failed: a worker process ended (exit code -9)"] * 2  # queued, not cancelled
    assert lines[3] == "refused: a worker process ended (exit code -9)"
    assert lines[4] == "closed"
