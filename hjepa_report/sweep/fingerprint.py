"""Is a run's report up to date? A fingerprint of what the report was built from, kept beside the report.

The fingerprint has two parts, each a SHA-256 of canonical JSON:
- files: for every file the collector's own walk lists below the run directory (collect/walk.py, so the same
  hidden folders, links and limits), its path relative to the run, its size and its modification time in
  nanoseconds; the entries the walk skips are included by path and reason; a file given from outside the run
  (--config, --images, --checkpoint) is included the same way; --thresholds enters
  as its values, with the options. File contents are not hashed:
  reading every checkpoint of a 40-run sweep to decide that nothing changed would cost as much as the
  reports. A file rewritten with the same size inside the same nanosecond is not noticed.
- options: every ReportSettings field that changes what the report holds (all but the output path, quiet and
  the command line), and the hjepa-report version.
It is written as `report.fingerprint.json` beside report.json after a report was written, and a report is up to
date when that file matches the fingerprint computed now and the report files are still there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from .. import __version__
from ..settings import ReportSettings

SIDECAR = "report.fingerprint.json"
FAILED = "report.failed.json"  # written instead by `many` when the latest attempt failed (sweep/runner.py)
# Settings that do not change what a report holds: where it goes and how much the command prints.
_NOT_CONTENT = {"output", "quiet", "command_line"}


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """The two hashes (run files, report options) and how many files went into the first."""

    files: str
    options: str
    file_count: int

    def as_dict(self) -> dict:
        """Return the sidecar's content."""
        return {"kind": "hjepa-report fingerprint", **dataclasses.asdict(self)}


def fingerprint(run_dir: Path, settings: ReportSettings) -> Fingerprint:
    """Return the fingerprint of `run_dir` as the collector would read it, with `settings`."""
    from ..collect.walk import list_files

    root = Path(run_dir)
    listing = list_files(root)
    entries = [_stat_entry(root, path) for path in listing.files]
    entries += [["skipped", r.path, r.detail] for r in listing.skipped]
    for name in ("config", "images", "checkpoint"):
        outside = getattr(settings, name)
        if outside is not None:
            entries += _outside_entries(name, Path(outside))
    return Fingerprint(_digest(entries), _digest(options_of(settings)), len(listing.files))


def options_of(settings: ReportSettings) -> dict:
    """Return the settings that change a report's content, as JSON-able values, plus the tool version."""
    out = {"version": __version__}
    for f in dataclasses.fields(settings):
        if f.name not in _NOT_CONTENT:
            value = getattr(settings, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
    return out


def stored(report_dir: Path) -> Fingerprint | None:
    """Return the fingerprint stored beside a report, or None when there is none or it cannot be read."""
    try:
        doc = json.loads((Path(report_dir) / SIDECAR).read_text(encoding="utf-8"))
        return Fingerprint(str(doc["files"]), str(doc["options"]), int(doc["file_count"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def why_stale(report_dir: Path, now: Fingerprint, json_only: bool) -> str:
    """Return why the report in `report_dir` must be (re)built, or '' when it is up to date."""
    folder = Path(report_dir)
    if not (folder / "report.json").is_file():
        return "no report yet"
    if not json_only and not (folder / "report.html").is_file():
        return "report.html missing"
    old = stored(folder)
    if old is None:
        return f"no fingerprint ({SIDECAR}) beside the report"
    if old.options != now.options:
        return "report options or hjepa-report version changed"
    if old.files != now.files:
        return "run files changed"
    return ""


def save(report_dir: Path, fp: Fingerprint) -> None:
    """Write the fingerprint beside the report (atomically, like the report itself)."""
    from ..render.write import write_atomic

    write_atomic({Path(report_dir) / SIDECAR: json.dumps(fp.as_dict(), indent=1) + "\n"})


def _stat_entry(root: Path, path: Path) -> list:
    try:
        st = path.stat()
    except OSError as exc:  # vanished or unreadable since the walk: the collector would not read it either
        return [path.relative_to(root).as_posix(), "unreadable", exc.strerror or str(exc)]
    return [path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns]


def _outside_entries(name: str, path: Path) -> list[list]:
    """Stat a file given from outside the run (or every file of a folder, e.g. --images)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    out = []
    for p in files:
        try:
            st = p.stat()
            out.append([name, str(p.resolve()), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([name, str(p), "missing"])
    return out


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).hexdigest()


def sidecar_path(report_dir: Path) -> Path:
    """Return where the fingerprint of the report in `report_dir` is kept."""
    return Path(report_dir) / SIDECAR
