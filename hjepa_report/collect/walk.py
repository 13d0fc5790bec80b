"""List the files below a run directory, read-only, with limits.

Hidden folders (`.git`, `.venv`, ...) and `__pycache__` are not searched, folders that are symbolic links are
not followed (no loops), nor are links that lead out of the run directory (the report would show a file from
elsewhere) or to something other than a regular file (a device or a named pipe could block the read), and
the walk stops after MAX_FILES files or below MAX_DEPTH levels, saying so: a run dir that holds a dataset
must not make the report take forever. Whatever is not searched is still listed, as one skipped entry per
folder, so every file of the run is accounted for.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RunDirError
from .run import FileRecord

MAX_FILES = 20_000
MAX_DEPTH = 10
_SKIP_DIRS = {"__pycache__", "node_modules"}


@dataclass
class Listing:
    """What the walk found: files to look at (sorted) and entries it did not look into."""

    files: list[Path] = field(default_factory=list)
    skipped: list[FileRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_run_dir(root: Path) -> None:
    """Raise RunDirError with one line when `root` is missing, not a folder or unreadable."""
    if not root.exists():
        raise RunDirError(f"run directory not found: {root}")
    if not root.is_dir():
        raise RunDirError(f"not a directory: {root}")
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise RunDirError(f"cannot read run directory {root}: {exc.strerror or exc}") from None


def list_files(root: Path, max_files: int = MAX_FILES, max_depth: int = MAX_DEPTH) -> Listing:
    """Walk `root` breadth-first in sorted order and return the files found and what was left out."""
    out = Listing()
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    stop = f"not searched: listing stopped at {max_files} files"
    while queue:
        folder, depth = queue.popleft()
        if len(out.files) >= max_files:
            out.skipped.append(_skip(root, folder, "folder", stop))
            continue
        entries = _entries(root, folder, out)
        for i, entry in enumerate(entries):
            if len(out.files) >= max_files:
                out.skipped.append(_skip(root, folder, "folder", f"{len(entries) - i} entries not looked at: {stop}"))
                break
            _add_entry(root, entry, depth, max_depth, out, queue)
    if any(stop in r.detail for r in out.skipped):
        out.warnings.append(f"stopped listing the run dir after {max_files} files; some folders were not searched")
    return out


def _add_entry(root: Path, entry: os.DirEntry, depth: int, max_depth: int, out: Listing, queue: deque) -> None:
    """File an entry: a file to look at, a folder to search, or a skipped entry with the reason."""
    path = Path(entry.path)
    try:
        if entry.is_symlink():
            _add_link(root, path, out)
        elif entry.is_dir(follow_symlinks=False):
            reason = _dir_skip_reason(entry.name, depth + 1, max_depth)
            if reason:
                out.skipped.append(_skip(root, path, "folder", reason))
            else:
                queue.append((path, depth + 1))
        elif entry.is_file(follow_symlinks=False):
            out.files.append(path)
        else:
            out.skipped.append(_skip(root, path, "other", "not a regular file"))
    except OSError as exc:  # the entry vanished or cannot be looked at while we list
        out.skipped.append(_skip(root, path, "other", f"cannot look at it: {exc.strerror or exc}"))


def _add_link(root: Path, path: Path, out: Listing) -> None:
    """File a symbolic link: only a link to a regular file inside the run directory is read.

    A link out of the run directory is not followed: it could make the report embed a file the run's author
    never meant to share (a key, another run's config); links to folders are not followed (no loops).
    """
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        out.skipped.append(_skip(root, path, "other", "broken symbolic link"))
        return
    except (OSError, RuntimeError):  # a loop of links
        out.skipped.append(_skip(root, path, "other", "looping symbolic link, not followed"))
        return
    if target.is_dir():
        out.skipped.append(_skip(root, path, "folder", "symbolic link to a folder, not followed"))
    elif not target.is_relative_to(root.resolve()):
        out.skipped.append(_skip(root, path, "other", "symbolic link out of the run directory, not followed"))
    elif target.is_file():
        out.files.append(path)
    else:
        out.skipped.append(_skip(root, path, "other", "symbolic link to something that is not a regular file"))


def _entries(root: Path, folder: Path, out: Listing) -> list[os.DirEntry]:
    """Return the sorted entries of a folder, recording an unreadable folder as skipped."""
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        out.skipped.append(_skip(root, folder, "folder", f"unreadable folder: {exc.strerror or exc}"))
        return []


def _dir_skip_reason(name: str, depth: int, max_depth: int) -> str:
    """Say why a sub-folder is not searched, or return '' to search it."""
    if name.startswith("."):
        return "hidden folder, not searched"
    if name in _SKIP_DIRS:
        return f"{name} folder, not searched"
    if depth > max_depth:
        return f"not searched: deeper than {max_depth} levels"
    return ""


def _skip(root: Path, path: Path, kind: str, detail: str) -> FileRecord:
    rel = relative_name(root, path) + ("/" if kind == "folder" else "")
    return FileRecord(path=rel, kind="other", status="skipped", detail=detail)


def relative_name(root: Path, path: Path) -> str:
    """Return `path` relative to the run dir as a POSIX string, or absolute when it lies outside.

    The name is for people (inventory, tags, labels, the HTML): bytes of a file name that are not UTF-8 are
    shown as backslash escapes (`log_\\xff.csv`) instead of the lone surrogates Python keeps them as, which
    no UTF-8 file (report.html, report.json) can hold.
    """
    try:
        name = path.relative_to(root).as_posix()
    except ValueError:
        name = str(path)
    return display_name(name)


def display_name(name: str) -> str:
    """Return a file name as valid Unicode text: undecodable bytes (lone surrogates) as backslash escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")
