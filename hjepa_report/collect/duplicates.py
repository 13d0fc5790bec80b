"""Find byte-identical files (H-JEPA's checkpoint_latest.pth / checkpoint_best.pth are copies of an epoch file).

Cheap first: files of different sizes differ; same-size files are compared by a hash of their first and last
MiB; only when those agree is the whole file hashed, so distinct multi-GB checkpoints cost two 1 MiB reads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_EDGE = 2**20
_CHUNK = 8 * 2**20


def find_copies(paths: list[Path]) -> dict[Path, Path]:
    """Map each file that is a byte copy of an earlier one in `paths` to that earlier file."""
    copies: dict[Path, Path] = {}
    hashes: dict[tuple[str, Path], str] = {}
    by_size: dict[int, list[Path]] = {}
    for path in paths:
        try:
            by_size.setdefault(path.stat().st_size, []).append(path)
        except OSError:
            continue
    for group in by_size.values():
        originals: list[Path] = []
        for path in group:
            match = next((o for o in originals if _same(o, path, hashes)), None)
            if match is None:
                originals.append(path)
            else:
                copies[path] = match
    return copies


def _same(a: Path, b: Path, hashes: dict[tuple[str, Path], str]) -> bool:
    """Tell whether two same-size files are byte-identical (edge hashes first, whole-file hashes if needed)."""
    try:
        for how, digest in (("edge", _edge_hash), ("full", _full_hash)):
            for p in (a, b):
                if (how, p) not in hashes:
                    hashes[how, p] = digest(p)
            if hashes[how, a] != hashes[how, b]:
                return False
    except OSError:
        return False
    return True


def _edge_hash(path: Path) -> str:
    """Hash the first and last MiB of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(_EDGE))
        size = fh.seek(0, 2)
        fh.seek(max(size - _EDGE, 0))
        h.update(fh.read(_EDGE))
    return h.hexdigest()


def _full_hash(path: Path) -> str:
    """Hash a whole file in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
