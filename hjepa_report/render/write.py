"""Write output files atomically, with the permissions a plain write would give them, and link between them.

A crash never leaves a half-written report or clobbers a good one: every file goes to a temporary sibling
first and is renamed into place only when all of them are complete. The temporary file is created with mode
0666 and the process umask applied, exactly as `open(path, "w")` creates a file, so a report is as readable
as any other file its author writes (reports are meant to be attached, archived and served);
`tempfile.mkstemp` would make it 0600.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

NEW_FILE_MODE = 0o666  # what open(..., "w") asks for; the kernel applies the umask


def write_atomic(files: dict[Path, str]) -> None:
    """Write every file to a temporary sibling first, then rename them all into place."""
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in files.items():
            target = Path(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp, fd = _create_sibling(target)
            staged.append((tmp, target))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()


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
