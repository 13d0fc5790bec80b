"""Starting worker processes safely: the figure encoder's workers (render/encoding.py) and the report workers of
`hjepa-report many` (sweep/runner.py) both start spawned processes inside these two context managers."""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager


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
