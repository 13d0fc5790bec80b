"""stable-pretraining run folders: the run's state files, its hparams and the evaluations its callbacks log.

galilai-group/stable-pretraining (@ d15ec96) trains through Lightning; its Manager adds a `RegistryLogger`
(stable_pretraining/registry/logger.py, a CSVLogger subclass) that writes, in the run directory
(`{cache_dir}/runs/{YYYYMMDD}/{HHMMSS}/{run_id}/`, or Lightning's default_root_dir):
    metrics.csv     Lightning's CSV metrics: one column per logged key, sparse rows (read by csvlogs.py)
    hparams.yaml    Lightning's hyper-parameters of the module (taken as the run's config here)
    sidecar.json    run_id, status (running | completed | failed; the registry scanner adds orphaned),
                    created_at / updated_at / ended_at (Unix seconds), hparams (flattened), summary (last values),
                    tags, notes, checkpoint_path; rewritten atomically on every flush and at finalize
    summary.json    step, epoch, and last / min / max / count per metric
    heartbeat       an empty file whose mtime is touched at every log_metrics call
    media.jsonl     one line per image / video logged: step, tag, type, path (under media/), caption
    run_meta.json   run_dir and run_id (the Manager's stamp), checkpoints/last.ckpt (Lightning's checkpoint)
A run is "alive" while its heartbeat is younger than 180 s unless its status is terminal
(registry/_sidecar.py, DEFAULT_HEARTBEAT_TIMEOUT_S, is_alive); a sidecar that still says running with an older
heartbeat is a run whose process died without Lightning's finalize (killed, pre-empted, out of memory).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .config import ConfigRead
from .run import RunStatus

SIDECAR, SUMMARY, HEARTBEAT, RUN_META, MEDIA = (
    "sidecar.json",
    "summary.json",
    "heartbeat",
    "run_meta.json",
    "media.jsonl",
)
RESUME_FILES = ("wandb_resume.json", "trackio_resume.json", "swanlab_resume.json")  # logger ids for a requeue
STATE_FILES = (SIDECAR, SUMMARY, HEARTBEAT, RUN_META, MEDIA, *RESUME_FILES)
HPARAMS = "hparams.yaml"
HEARTBEAT_TIMEOUT_S = 180.0  # stable_pretraining/registry/_sidecar.py DEFAULT_HEARTBEAT_TIMEOUT_S
TERMINAL = ("completed", "failed", "orphaned")
MAX_STATE_BYTES = 64 << 20  # a sidecar / summary is a few kB; media.jsonl one line per logged image

# Where the report's own numbers are for each evaluation stable-pretraining's callbacks log. The tag names are
# the callbacks' (callbacks/probe.py `eval/{name}_{metric}`, knn.py, rankme.py `{name}`, lidar.py `{name}`),
# with the names the library's examples give them (linear_probe, knn_probe, rankme, lidar).
EVALUATIONS = (
    ("knn", "online kNN classifier on a queue of embeddings (stable-pretraining OnlineKNN)", "kNN accuracy"),
    ("probe", "linear probe trained online on detached embeddings (stable-pretraining OnlineProbe)", "linear probe"),
    ("rankme", "RankMe, exp entropy of the singular values (Garrido et al. 2023; stable-pretraining RankMe)", "RankMe"),
    (
        "lidar",
        "LiDAR, rank of the LDA matrix of augmented views (Thilak et al. 2024; stable-pretraining LiDAR)",
        "LiDAR",
    ),
)


def is_state_file(path: Path) -> bool:
    """Tell whether a file is one of a stable-pretraining run's state files: its name, in a folder with a sidecar
    or the Manager's run_meta.json (a lone summary.json or media.jsonl elsewhere is an ordinary log)."""
    if path.name not in STATE_FILES:
        return False
    return path.name in (SIDECAR, RUN_META) or any((path.parent / n).is_file() for n in (SIDECAR, RUN_META))


def is_hparams(path: Path) -> bool:
    """Tell whether a YAML is the hparams.yaml of a stable-pretraining run (beside its sidecar or run_meta)."""
    return path.name == HPARAMS and any((path.parent / n).is_file() for n in (SIDECAR, RUN_META))


def as_hparams(read: ConfigRead) -> ConfigRead:
    """Mark a parsed hparams.yaml as the run's config (flavour 'stable-pretraining'); a broken one stays as read."""
    return dataclasses.replace(read, flavour="stable-pretraining") if read.doc is not None else read


@dataclass
class StateFolder:
    """What one stable-pretraining run folder's state files said."""

    folder: str  # relative to the run dir ('' for the run dir itself)
    sidecar: dict | None = None
    summary: dict | None = None
    heartbeat: float | None = None  # mtime, seconds since the epoch
    media: Counter = field(default_factory=Counter)  # (type, tag) -> events


def read_state_file(path: Path, rel: str, folders: dict[str, StateFolder]) -> tuple[str, str]:
    """Read one state file into its folder's StateFolder; return (read | skipped, what was taken or why)."""
    folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
    state = folders.setdefault(folder, StateFolder(folder))
    try:
        if path.name == HEARTBEAT:
            state.heartbeat = path.stat().st_mtime
            return "read", f"stable-pretraining heartbeat, last touched {_when(state.heartbeat)} (its mtime)"
        if path.stat().st_size > MAX_STATE_BYTES:
            return "skipped", f"over {MAX_STATE_BYTES >> 20} MiB: not a stable-pretraining state file"
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return "skipped", f"unreadable: {exc.strerror or exc}"
    if path.name == MEDIA:
        return _media(text, state)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return "skipped", "not JSON (a half-written file?)"
    if not isinstance(doc, dict):
        return "skipped", "JSON without the stable-pretraining fields"
    return _state_doc(path.name, doc, state)


def _state_doc(name: str, doc: dict, state: StateFolder) -> tuple[str, str]:
    """Take a sidecar.json / summary.json / run_meta.json / *_resume.json document."""
    if name == SIDECAR:
        if "run_id" not in doc or "status" not in doc:
            return "skipped", "no run_id / status: not a stable-pretraining sidecar"
        state.sidecar = doc
        summary = doc.get("summary")
        return "read", (
            f"stable-pretraining sidecar: run {doc.get('run_id')}, status '{doc.get('status')}', "
            f"{len(summary) if isinstance(summary, dict) else 0} last values, "
            f"checkpoint {doc.get('checkpoint_path') or 'none'}"
        )
    if name == SUMMARY:
        if not isinstance(doc.get("metrics"), dict):
            return "skipped", "no metrics: not a stable-pretraining summary.json"
        state.summary = doc
        return "read", (
            f"stable-pretraining summary: step {doc.get('step')}, epoch {doc.get('epoch')}, last/min/max/count "
            f"of {len(doc['metrics'])} metrics (the curves come from metrics.csv)"
        )
    if name == RUN_META:
        return "read", f"stable-pretraining Manager's stamp: run {doc.get('run_id')}"
    return "read", f"id of the run's {name.split('_')[0]} logger, kept for a resume; nothing else in it"


def _media(text: str, state: StateFolder) -> tuple[str, str]:
    """Count media.jsonl's events by type and tag (the files are under media/; not shown as samples)."""
    bad = 0
    for line in text.splitlines():
        try:
            event = json.loads(line) if line.strip() else None
        except (ValueError, RecursionError):
            event = None
        if isinstance(event, dict):
            state.media[(str(event.get("type")), str(event.get("tag")))] += 1
        elif line.strip():
            bad += 1
    if not state.media:
        return "skipped", "no media events"
    parts = ", ".join(f"{n} {kind} under '{tag}'" for (kind, tag), n in sorted(state.media.items()))
    return "read", f"stable-pretraining media index: {parts}" + (f"; {bad} broken lines skipped" if bad else "")


def run_status(state: StateFolder, now: float | None = None) -> RunStatus | None:
    """The run's state from its sidecar and heartbeat (None without a sidecar): terminal statuses win; a
    'running' sidecar whose heartbeat (else updated_at) is over HEARTBEAT_TIMEOUT_S old is stale."""
    if state.sidecar is None:
        return None
    source = f"{state.folder}/{SIDECAR}".lstrip("/")
    status = str(state.sidecar.get("status"))
    where = _progress(state)
    if status in TERMINAL:
        ended = state.sidecar.get("ended_at")
        at = f", ended {_when(ended)}" if isinstance(ended, (int, float)) else ""
        return RunStatus(status, f"stable-pretraining: {status}{at}{where} ({source})", source)
    if status != "running":
        return RunStatus("unknown", f"stable-pretraining: status '{status}' in {source}, not one it writes", source)
    beat, what = state.heartbeat, "heartbeat"
    if beat is None:
        beat, what = state.sidecar.get("updated_at"), "sidecar's updated_at (no heartbeat file)"
    if not isinstance(beat, (int, float)):
        return RunStatus("running", f"stable-pretraining: running{where} (no heartbeat to tell if alive)", source)
    age = (time.time() if now is None else now) - beat
    if age > HEARTBEAT_TIMEOUT_S:
        return RunStatus(
            "stale",
            f"stable-pretraining: {source} says running{where}, but its {what} is {_age(age)} old (over "
            f"{HEARTBEAT_TIMEOUT_S:.0f} s, stable-pretraining's own timeout): stale heartbeat, the process most "
            "likely died without finishing (killed, pre-empted or out of memory)",
            source,
        )
    return RunStatus("running", f"stable-pretraining: running{where}, {what} {_age(age)} ago ({source})", source)


def logged_evaluations(scalars) -> list[tuple[str, str, str, float]]:
    """(tag, method with reference, the report's name for it, last value) for each tag an evaluation callback
    logged (its losses and learning rates left out)."""
    out = []
    for tag in scalars.tags():
        leaf = tag.lower().rsplit("/", 1)[-1]
        if "loss" in leaf or leaf.startswith("lr"):
            continue
        for word, method, ours in EVALUATIONS:
            if word in tag.lower():
                out.append((tag, method, ours, float(scalars.arrays(tag)[1][-1])))
                break
    return out


def _progress(state: StateFolder) -> str:
    summary = state.summary or {}
    if summary.get("step") is None:
        return ""
    return f" at step {summary.get('step')}, epoch {summary.get('epoch')}"


def _when(seconds) -> str:
    try:
        return datetime.fromtimestamp(float(seconds), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"at {seconds!r} (not a time)"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def lejepa_terms(scalars) -> str | None:
    """One line on LeJEPA's loss components when the run logged `{stage}/loss`, `/inv` and `/sigreg`: the loss is
    inv + lambda * SIGReg (stable_pretraining/methods/lejepa.py, _compute_loss; Balestriero & LeCun 2025), so
    lambda is recovered from every logged step where SIGReg is non-zero, and said to hold or not."""
    import numpy as np

    for tag in scalars.tags():
        prefix, _, leaf = tag.rpartition("/")
        suffix = leaf[len("sigreg") :] if leaf.startswith("sigreg") else None
        if suffix not in ("", "_step"):
            continue
        loss, inv = f"{prefix}/loss{suffix}", f"{prefix}/inv{suffix}"
        if not (scalars.has(loss) and scalars.has(inv)):
            continue
        frames = [
            scalars.series(t).drop_duplicates("step", keep="last").set_index("step")["value"] for t in (loss, inv, tag)
        ]
        total, invariance, sigreg = (np.asarray(f, dtype=float) for f in _aligned(frames))
        use = np.isfinite(total) & np.isfinite(invariance) & np.isfinite(sigreg) & (sigreg != 0)
        if not use.any():
            continue
        lam = (total[use] - invariance[use]) / sigreg[use]
        centre, spread = float(np.median(lam)), float(np.max(np.abs(lam - np.median(lam))))
        holds = spread <= 1e-4 * max(abs(centre), 1e-12)
        what = f"{loss} = {inv} + lambda * {tag}"
        if holds:
            return (
                f"LeJEPA loss components (Balestriero & LeCun 2025: invariance to the global views' mean + lambda x "
                f"sliced Epps-Pulley SIGReg): {what} with lambda = {centre:.6g} at all {int(use.sum())} logged steps "
                "(their curves are in Training curves)"
            )
        return f"LeJEPA loss components: {what} does not hold for one lambda (from {lam.min():.4g} to {lam.max():.4g})"
    return None


def _aligned(series: list):
    """The values of several step-indexed series at the steps they all have."""
    common = series[0].index
    for s in series[1:]:
        common = common.intersection(s.index)
    return [s.loc[common] for s in series]
