"""Write output files atomically, with the permissions a plain write would give them, and link between them.

A crash never leaves a half-written report or clobbers a good one: every file goes to a temporary sibling
first and is renamed into place only when all of them are complete; the renames hold a lock on the folder,
so two runs writing the same report at once end with one run's files, not a mix. The temporary file is created with mode
0666 and the process umask applied, exactly as `open(path, "w")` creates a file, so a report is as readable
as any other file its author writes (reports are meant to be attached, archived and served);
`tempfile.mkstemp` would make it 0600.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from urllib.parse import quote

from ..errors import OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, renames stay atomic one by one
    fcntl = None

NEW_FILE_MODE = 0o666  # what open(..., "w") asks for; the kernel applies the umask


def write_atomic(files: dict[Path, str]) -> None:
    """Write every file to a temporary sibling first, then rename them all into place.

    Raises OutputError (one line: which file, and the system's reason) when a folder cannot be made or a file
    cannot be written (not writable, a file where a folder should be, a full disk); nothing is left behind and
    the files already at the targets are untouched unless every new one was complete. Text is UTF-8; a file
    name that is not (undecodable bytes kept by Python as lone surrogates) is written with those bytes as
    backslash escapes rather than failing the whole report.
    """
    staged: list[tuple[Path, Path]] = []
    target = None
    try:
        for target, text in files.items():
            target = Path(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp, fd = _create_sibling(target)
            staged.append((tmp, target))
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(text)
        with _folders_locked({t.parent for _, t in staged}):
            for tmp, target in staged:
                os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write the report to {target}: {exc.strerror or exc}") from None
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()


@contextlib.contextmanager
def _folders_locked(folders):
    """Hold an exclusive flock on each folder while the files are renamed into place.

    Two reports written to the same place at once then end as one whole set (this one's HTML with this one's
    JSON), never one's HTML beside the other's JSON. Where flock is missing (not POSIX, some network file
    systems) the renames still happen, each atomic on its own.
    """
    fds = []
    try:
        for folder in sorted(folders):
            try:
                fd = os.open(folder, os.O_RDONLY)
            except OSError:
                continue
            fds.append(fd)
            with contextlib.suppress(OSError, AttributeError, NameError):
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # closing releases the lock


def _create_sibling(target: Path) -> tuple[Path, int]:
    """Create a new, empty temporary file next to `target` the way open() would; return its path and fd."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file next to {target}")


def relative_link(target: Path, start: Path) -> str:
    """Return a URL-quoted relative link from folder `start` to `target` (works when both move together)."""
    rel = os.path.relpath(Path(target).absolute(), Path(start).absolute())
    return quote(Path(rel).as_posix())
