"""Figure encoding spread over the CPU cores, started while later sections still compute.

Encoding a report's figures (matplotlib's constrained layout, text layout and drawing; PIL's PNG, WebP and
GIF encoders) is pure CPU work that mostly holds the GIL, so threads would not run it in parallel: worker
processes do, each encoding a pickled copy of one figure. The bytes are the same as encoding in this process
(tests/test_render_encoding.py checks Figure, Picture and Animation), and the order of the report never
depends on which worker finished first.

The pipeline hands each finished section to `FigureEncoder.submit` while the next sections compute. The
sections use the cores unevenly (the sample run averages ~1.2 busy cores of 2), and the workers run at the
lowest CPU priority, so they encode in the cycles the sections leave idle. Measured on 2 cores: a ViT-B/16
run's sections are long, and 43 of its 46 figures are done when the last section is (render stage 3.3 s);
the sample run's are short, and its render stage finishes 20 of 47 (4.8-5.7 s), this process helping.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from ..analysis.base import Animation, Picture
from ..processes import WorkerPool
from .assets import figure_png, gif_bytes, picture_bytes

MAX_WORKERS = 4  # a report has ~40 figures: more workers would mostly cost memory (~100 MB each) and start-up
PROGRESS_EVERY_S = 1.0
WORKER_NICENESS = 19  # the lowest priority: encoding ahead only takes cycles nothing else wants


@dataclass(frozen=True)
class EncodedFigure:
    """The bytes of one figure, picture or animation as the report embeds them."""

    payload: bytes
    mime: str
    kind: str  # figure | picture | animation


def encode_content(content, scale: float = 1.0) -> EncodedFigure:
    """Encode a Figure, Picture or Animation in this process at `scale` times its normal size."""
    if isinstance(content, Animation):
        return EncodedFigure(
            gif_bytes(content.frames, content.duration_ms, content.loop, scale), "image/gif", "animation"
        )
    if isinstance(content, Picture):
        payload, mime = picture_bytes(content.array, scale)
        return EncodedFigure(payload, mime, "picture")
    return EncodedFigure(figure_png(content, scale), "image/png", "figure")


def _encode_in_worker(content, scale: float) -> EncodedFigure:
    """Worker side: `content` arrives unpickled; encode it exactly as this process would."""
    return encode_content(content, scale)


def default_workers() -> int:
    """Return how many encoding processes to use: one fewer than the cores this process may run on (the report's
    own passes keep one busy; on 2 cores a second worker added ~0.2 GB to the peak for figures one worker
    already finishes ahead), at least 1, at most MAX_WORKERS.

    One core gives 0: a worker would only add its start-up and the pickling to the same serial work.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cores < 2 else max(1, min(cores - 1, MAX_WORKERS))


class FigureEncoder:
    """Encode figures in worker processes, ahead of the render when the pipeline submits finished sections.

    `workers=0` encodes everything in this process (the serial reference). A figure that cannot be pickled,
    or a worker pool that breaks, falls back to encoding in this process, so the report's bytes never depend
    on whether the pool ran.
    """

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else workers
        self._pool: WorkerPool | None = None
        self._jobs: dict[tuple[int, float], tuple[object, Future]] = {}  # keeps each content alive: ids stay unique
        self.encoded_here = 0  # figures encoded in this process (no workers, or a worker could not take them)

    def __reduce__(self):
        # A pickled or copied Report carries no processes and no half-done work: a fresh encoder instead.
        return (FigureEncoder, (self.workers,))

    def submit(self, contents: Iterable, scale: float = 1.0) -> None:
        """Start encoding these figure contents in the workers (no-op without workers or when already started)."""
        if self.workers <= 0:
            return
        for content in contents:
            key = (id(content), scale)
            if key in self._jobs:
                continue
            try:
                future = self._workers().submit(_encode_in_worker, content, scale)  # workers start on the first
            except RuntimeError:  # the pool broke or was shut down: encode here instead (see results)
                return
            self._jobs[key] = (content, future)

    def finished(self, scale: float = 1.0) -> int:
        """Return how many figures are already encoded at `scale`."""
        return sum(1 for (_, at), (_, future) in self._jobs.items() if at == scale and future.done())

    def results(
        self, contents: list, scale: float = 1.0, progress: Callable[[str], None] | None = None
    ) -> list[EncodedFigure]:
        """Return the encoded bytes of `contents`, in their order; say every ~second how many are done.

        This process helps: while the workers take the queue from its front, it takes figures no worker has
        started from its back, at normal priority (the workers' lowest priority must not make the render wait
        for other programs on a busy machine).
        """
        self.submit(contents, scale)
        futures = [self._jobs[(id(c), scale)][1] if (id(c), scale) in self._jobs else None for c in contents]
        out: list[EncodedFigure | None] = [None] * len(contents)
        start = last = time.perf_counter()

        def tick() -> None:
            nonlocal last
            now = time.perf_counter()
            if progress and now - last >= PROGRESS_EVERY_S:
                done = sum(1 for o, f in zip(out, futures, strict=True) if o is not None or (f and f.done()))
                progress(f"encoded {done}/{len(contents)} figures ({now - start:.0f} s)")
                last = now

        for i in reversed(range(len(contents))):  # stops at the first one a worker already has
            if futures[i] is not None and not futures[i].cancel():
                break
            out[i] = self._encode_here(contents[i], scale)
            tick()
        for i, (content, future) in enumerate(zip(contents, futures, strict=True)):
            if out[i] is None:
                out[i] = self._result(content, future, scale, tick)
                tick()
        return out

    def _result(self, content, future: Future | None, scale: float, tick: Callable[[], None]) -> EncodedFigure:
        """Return a worker's result, or encode in this process when there was no worker or it failed to run it.

        An error of the figure itself is raised again by the in-process encoding, with its own traceback. Here
        too a copy is drawn (where it pickles), as in a worker: drawing a Figure changes it (constrained layout
        starts from the last layout), so its second drawing, e.g. for --max-report-mb, would differ by a
        pixel from the first and the report's bytes would depend on the number of cores.
        """
        while future is not None:
            try:
                return future.result(timeout=PROGRESS_EVERY_S)
            except FutureTimeout:
                tick()
            except Exception:  # noqa: BLE001 - pickling, a broken pool or the figure: retried here, see docstring
                break
        return self._encode_here(content, scale)

    def _encode_here(self, content, scale: float) -> EncodedFigure:
        self.encoded_here += 1
        encoded = encode_content(_undrawn_copy(content), scale)
        if (id(content), scale) in self._jobs:  # its worker job was cancelled: keep the bytes in its place
            done: Future = Future()
            done.set_result(encoded)
            self._jobs[(id(content), scale)] = (content, done)
        return encoded

    def forget(self, scale: float) -> None:
        """Drop the results kept for `scale` (a figure's bytes are held until the report is written)."""
        self._jobs = {k: v for k, v in self._jobs.items() if k[1] != scale}

    def close(self) -> None:
        """Stop the worker processes; results already returned stay valid."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._jobs.clear()

    def _workers(self) -> WorkerPool:
        if self._pool is None:
            # spawned, not forked (processes.WorkerPool): a spawned worker imports only numpy, PIL and
            # matplotlib (about a second, while the sections compute).
            self._pool = WorkerPool(self.workers, initializer=_yield_to_compute)
        return self._pool


def _yield_to_compute() -> None:
    """Worker start: run at the lowest CPU priority, so encoding ahead uses the cycles the sections leave idle.

    The sections' torch threads use both cores in bursts; an encoder at the same priority takes cycles from
    them and makes torch's threads wait for each other at their barriers. At the render nothing else of the
    report runs, so the workers still get the whole machine (unless other programs keep it busy: then the
    render waits for them, as measured on the shared 2-core machine).
    """
    try:
        os.nice(WORKER_NICENESS)
    except (AttributeError, OSError):  # Windows has no nice: workers run at normal priority there
        pass
    # Ctrl-C (or a notebook kernel's interrupt / shutdown) reaches the whole process group: the parent decides
    # and shuts the pool down; a worker that took the signal too would only print a traceback. The worker
    # started with SIGINT ignored (processes.interrupts_held); it stays so.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _undrawn_copy(content):
    """Return a copy of a matplotlib Figure as pickled before any drawing (the content itself if it cannot be)."""
    if isinstance(content, (Animation, Picture)):
        return content  # encoding them changes nothing
    try:
        return pickle.loads(pickle.dumps(content))
    except Exception:  # noqa: BLE001 - e.g. a lambda formatter: draw the figure itself
        return content
