"""Worker processes, started and stopped safely: the figure encoder's pool (WorkerPool, render/encoding.py) and the
report workers of `hjepa-report many` (sweep/runner.py) both start spawned processes inside these two context
managers."""

from __future__ import annotations

import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass


@contextmanager
def interrupts_held():
    """Ignore SIGINT in this process while workers are started: a spawned worker inherits the ignored signal
    through exec, so a Ctrl-C to the process group cannot hit it while its Python is still starting (a 'Fatal
    Python error' with a traceback; a blocked mask is not enough: the spawn resets it). The window is the
    workers' start, milliseconds; outside the main thread (no signal handlers there) this is a no-op."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def main_script_hidden():
    """Start spawned workers without running the user's script again in each of them.

    spawn imports the parent's __main__ script in every worker, so a script that calls
    `hjepa_report.generate(...)` without an `if __name__ == "__main__":` guard would build the whole report
    again there (and fail to start its own workers). The workers need only this module (numpy, PIL,
    matplotlib): while a worker starts, __main__ shows no file or spec, so multiprocessing leaves it out.
    """
    main = sys.modules.get("__main__")
    saved = {name: main.__dict__[name] for name in ("__file__", "__spec__") if main and name in main.__dict__}
    try:
        for name in saved:
            if name == "__file__":
                del main.__file__
            else:
                main.__spec__ = None
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


class WorkerPool:
    """A few spawned worker processes, each running one job at a time; the queue of jobs stays in this process.

    Why not concurrent.futures.ProcessPoolExecutor: when one of its workers dies (the whole process group gets
    SIGTERM, the OOM killer) after a queued future was cancelled, CPython before 3.12 crashes its manager thread
    (InvalidStateError in terminate_broken) before closing the queue's pipe, and the interpreter then hangs at
    exit joining the queue's feeder thread (seen as a CI job that never ended). Here a job is only handed to an
    idle worker (so a cancelled job never left this process), a dead worker fails the futures it held and the
    pool with them, and `close` stops the processes without waiting on any queue.

    `fn` and its arguments are pickled to the worker; the result comes back pickled. A job that raises in the
    worker fails its future with WorkerFailed (the caller may run it again here to see the real error).
    """

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None):
        self._count = workers
        self._initializer = initializer
        self._jobs: deque = deque()  # (future, fn, args) not yet handed to a worker
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._broken: str | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._wake_reader = self._wake_writer = None

    def submit(self, fn: Callable, *args) -> Future:
        """Queue `fn(*args)` for the next idle worker (processes start on the first call); RuntimeError once the
        pool is closed or broken."""
        if self._thread is None and not self._closed:
            self._start()
        future: Future = Future()
        with self._lock:  # _break takes it too: a job is either queued before the pool broke or refused
            if self._closed or self._broken:
                raise RuntimeError(self._broken or "the worker pool is closed")
            self._jobs.append((future, fn, args))
        self._wake()
        return future

    def close(self) -> None:
        """Stop the workers: idle ones are asked to exit, busy ones (a job nobody will wait for) are killed.

        Queued jobs are cancelled. Takes no lock and joins nothing without a timeout, so it is safe in the
        unwinding after Ctrl-C or SIGTERM.
        """
        self._closed = True
        for future, _, _ in list(self._jobs):
            future.cancel()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_S)
        for worker in self._workers:
            worker.stop()
        self._workers = []

    def _start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # a fork of a process running torch threads may deadlock
        self._wake_reader, self._wake_writer = context.Pipe(duplex=False)
        with main_script_hidden(), interrupts_held():
            self._workers = [_Worker.start(context, self._initializer) for _ in range(self._count)]
        self._thread = threading.Thread(target=self._dispatch, name="hjepa-report worker pool", daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        if self._wake_writer is not None:
            try:
                self._wake_writer.send_bytes(b"")
            except OSError:  # the pool is closing
                pass

    def _drain_wakeups(self) -> None:
        while self._wake_reader.poll():
            self._wake_reader.recv_bytes()

    def _dispatch(self) -> None:
        """The pool's thread: hand queued jobs to idle workers, take their results, notice a worker that died."""
        try:
            self._run_jobs()
        except BaseException as error:  # noqa: BLE001 - never leave a future waiting on a thread that is gone
            self._break(f"the worker pool's thread failed: {error!r}")
            for worker in self._workers:
                worker.fail_job(self._broken)

    def _run_jobs(self) -> None:
        from multiprocessing.connection import wait

        while not self._closed:
            if not self._broken:
                for worker in self._workers:
                    if worker.job is None:
                        self._hand_job(worker)
            busy = [w for w in self._workers if w.job is not None]
            if self._broken and not busy:
                return
            ready = wait(
                [self._wake_reader, *(w.connection for w in busy), *(w.process.sentinel for w in self._workers)]
            )
            self._drain_wakeups()
            for worker in list(self._workers):
                died = worker.process.sentinel in ready
                if worker.job is not None and (died or worker.connection in ready):
                    worker.take_result()  # a dead worker's last result is still read; else its job fails
                if died:
                    worker.process.join(timeout=0)
                    self._workers.remove(worker)
                    worker.connection.close()
                    if not self._closed:
                        self._break(f"a worker process ended (exit code {worker.process.exitcode})")

    def _hand_job(self, worker: _Worker) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    return
                future, fn, args = self._jobs.popleft()
            if future.set_running_or_notify_cancel():  # False: cancelled while queued, never sent
                worker.give(future, fn, args)
                return

    def _break(self, why: str) -> None:
        """A worker died: fail every queued job (the caller runs them itself) and stop taking new ones; the jobs
        other workers are running still finish."""
        with self._lock:
            self._broken = why
            jobs, self._jobs = list(self._jobs), deque()
        for future, _, _ in jobs:
            if future.set_running_or_notify_cancel():
                future.set_exception(WorkerFailed(why))


STOP_WAIT_S = 5.0  # how long close() gives the pool's thread and an idle worker to end before killing it


class WorkerFailed(RuntimeError):
    """A job could not run in a worker: it raised there, could not be pickled, or its worker died."""


@dataclass
class _Worker:
    """One spawned process, the parent's end of its pipe, and the job it is running (None: idle)."""

    process: object
    connection: object
    job: Future | None = None

    @classmethod
    def start(cls, context, initializer) -> _Worker:
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs, initializer), daemon=True)
        process.start()
        theirs.close()  # only the worker holds its end: its death reads as end-of-file here
        return cls(process, ours)

    def give(self, future: Future, fn: Callable, args: tuple) -> None:
        try:
            self.connection.send((fn, args))  # pickles first: an unpicklable job sends nothing
        except Exception as error:  # noqa: BLE001 - pickling, or the worker already died
            future.set_exception(WorkerFailed(f"could not send the job: {error!r}"))
            return
        self.job = future

    def take_result(self) -> None:
        future, self.job = self.job, None
        try:
            ok, value = self.connection.recv()
        except (EOFError, OSError):
            future.set_exception(WorkerFailed(f"its worker process ended (exit code {self.process.exitcode})"))
            return
        except Exception as error:  # noqa: BLE001 - a result that does not unpickle here
            future.set_exception(WorkerFailed(f"could not read the result: {error!r}"))
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(WorkerFailed(value))

    def stop(self) -> None:
        if self.job is None and self.process.is_alive():
            try:
                self.connection.send(None)  # a small message: the idle worker reads it and returns
            except OSError:
                pass
            self.process.join(timeout=STOP_WAIT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=STOP_WAIT_S)
        self.connection.close()
        self.fail_job("the pool was closed")

    def fail_job(self, why: str) -> None:
        future, self.job = self.job, None
        if future is not None and not future.done():
            future.set_exception(WorkerFailed(why))


def _serve(connection, initializer) -> None:
    """Worker side: run jobs until told to stop (None) or until the parent is gone (end of file)."""
    if initializer is not None:
        initializer()
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        except Exception as error:  # noqa: BLE001 - a job that does not unpickle here
            connection.send((False, f"could not read the job: {error!r}"))
            continue
        if job is None:
            return
        fn, args = job
        try:
            result = (True, fn(*args))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which may run the job itself
            result = (False, f"{type(error).__name__}: {error}")
        try:
            connection.send(result)
        except Exception as error:  # noqa: BLE001 - a result that does not pickle
            connection.send((False, f"could not send the result: {error!r}"))
