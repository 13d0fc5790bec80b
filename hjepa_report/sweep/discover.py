"""Which folders are runs, where each run's report goes, and the run list a Slurm job array reads.

A folder is taken for a run when it directly holds what a training run leaves behind: a `checkpoints/` or
`logs/` folder, a checkpoint file (.pt .pth .pth.tar .ckpt .safetensors), a TensorBoard event file, or a
YAML config (H-JEPA's config, I-JEPA's params-*.yaml). Folders below a run are not searched (a run's own
sub-folders are not runs), nor are hidden folders, `__pycache__` and `node_modules` (as collect/walk.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ReportError, RunDirError

_RUN_FOLDERS = {"checkpoints", "logs"}
_RUN_SUFFIXES = (".pt", ".pth", ".pth.tar", ".ckpt", ".safetensors", ".yaml", ".yml")
_NOT_SEARCHED = {"__pycache__", "node_modules"}


def looks_like_run(folder: Path) -> bool:
    """Tell whether `folder` directly holds a run's checkpoints, logs or config (the rule above)."""
    try:
        with os.scandir(folder) as it:
            for entry in it:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    if name in _RUN_FOLDERS:
                        return True
                elif name.endswith(_RUN_SUFFIXES) or name.startswith("events.out.tfevents."):
                    return True
    except OSError:
        return False
    return False


def find_runs(under: Path) -> list[Path]:
    """Return every run folder below `under` (itself included when it is one), sorted by path."""
    under = Path(under)
    if not under.is_dir():
        raise RunDirError(f"--under {under}: not a folder")
    found = []
    for folder, dirs, _files in os.walk(under):
        path = Path(folder)
        if looks_like_run(path):
            found.append(path)
            dirs[:] = []  # a run's own sub-folders are not runs
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SEARCHED)
    return sorted(found)


def report_dirs(runs: list[Path], out_root: Path) -> dict[Path, Path]:
    """Return the report folder of each run: out_root/<run folder name>, as `hjepa-report report` names it.

    When two runs share a folder name (sweep/a/run1, sweep/b/run1), their reports go to their paths relative to
    the runs' common parent instead (out_root/a/run1, out_root/b/run1), so no report overwrites another.
    """
    names = [Path(r).resolve().name for r in runs]
    if len(set(names)) == len(names):
        return {r: Path(out_root) / n for r, n in zip(runs, names, strict=True)}
    resolved = [Path(r).resolve() for r in runs]
    common = Path(os.path.commonpath(resolved))
    if common in resolved:  # one run holds the others? (not found by find_runs, but given by hand)
        common = common.parent
    return {r: Path(out_root) / p.relative_to(common) for r, p in zip(runs, resolved, strict=True)}


def write_run_list(runs: list[Path], out: Path) -> Path:
    """Write the run folders, absolute, one per line (line i is Slurm array task i, counting from 1)."""
    text = "".join(f"{Path(r).resolve()}\n" for r in runs)
    if any("\n" in str(r) for r in runs):
        raise ReportError("a run folder's name holds a line break: it cannot go into a run list")
    from ..render.write import write_atomic

    write_atomic({Path(out): text})
    return Path(out)
