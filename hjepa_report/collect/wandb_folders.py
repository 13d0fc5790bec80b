"""W&B run folders inside a run directory: recognised and listed, never taken for the training config.

H-JEPA's MetricsLogger calls `wandb.init(config=config, dir=log_dir)` (jonwiggins/H-JEPA @ eb995a0,
src/utils/logging.py), so a run that logged to Weights & Biases holds a `<log_dir>/wandb/` folder as the wandb
client lays it out:
    wandb/run-<YYYYMMDD_HHMMSS>-<id>/          (offline-run-... when it ran offline)
        run-<id>.wandb                          the history records (binary, LevelDB-log framing)
        files/config.yaml                       the run config in W&B's form: {key: {value: ...}}, plus _wandb
        files/wandb-summary.json                the last value of every logged key
        files/wandb-metadata.json, output.log, requirements.txt, media/...
        logs/debug.log, logs/debug-internal.log
    wandb/debug.log, wandb/debug-internal.log, wandb/latest-run   (links to the newest run's files / folder)
Its config.yaml has the training config's section names as top-level keys (model, data, masking, ...), each
wrapped in {value: ...}; read as the H-JEPA config it would make every lookup fall back to a default, so it is
never taken for the training config. An offline run (wandb 0.31, wandb-core) writes no config.yaml nor
wandb-summary.json at all: everything is in run-<id>.wandb until `wandb sync`. That history file is the one file
read (collect/wandb_offline.py): its logged scalars, and its exit record for the run's status; tags another log
of the run also has (H-JEPA logs the same ones to TensorBoard) are taken from that log.
"""

from __future__ import annotations

import re

RUN_FOLDER = re.compile(r"^(offline-)?run-\d{8}_\d{6}-[A-Za-z0-9]+$")
WANDB_DIR_FILES = frozenset({"debug.log", "debug-internal.log", "latest-run"})
_FILES = {  # file name (or suffix) -> what it is
    "config.yaml": "W&B's copy of the run config ({key: {value: ...}} form), not used as the training config",
    "wandb-summary.json": "W&B summary (last value of each logged key), not read",
    "wandb-metadata.json": "W&B system metadata, not read",
    "output.log": "console output captured by W&B, not read",
    ".wandb": "W&B records (binary), not a run-<id>.wandb history: not read",
}


def wandb_folder_of(rel: str) -> str | None:
    """The W&B folder a file (path relative to the run dir, POSIX) belongs to: 'logs/wandb/run-..-id' for a
    run folder's files, 'logs/wandb' for the wandb folder's own logs and links, None for any other file."""
    parts = rel.split("/")
    for i in range(len(parts) - 1):
        if parts[i] != "wandb":
            continue
        below = parts[i + 1]
        if RUN_FOLDER.match(below) and i + 2 < len(parts):
            return "/".join(parts[: i + 2])
        if below in WANDB_DIR_FILES and i + 2 == len(parts):
            return "/".join(parts[: i + 1])
    return None


def is_run_folder(folder: str) -> bool:
    """Tell whether a folder from wandb_folder_of is a W&B run folder (not the wandb/ folder itself)."""
    return bool(RUN_FOLDER.match(folder.rsplit("/", 1)[-1]))


def describe_wandb_file(rel: str) -> str:
    """Say what a file of a W&B folder is and that it is not read."""
    name = rel.rsplit("/", 1)[-1]
    what = _FILES.get(name) or next((v for k, v in _FILES.items() if k.startswith(".") and name.endswith(k)), None)
    return what or "W&B run file, not read"


def is_wandb_config(doc: dict) -> bool:
    """Tell whether a parsed YAML is a W&B config.yaml: a `_wandb` or `wandb_version` key, or every value a
    mapping with a `value` key and nothing but `value` / `desc` (wandb/sdk/lib/config_util.py writes
    {key: {desc, value}} under a `wandb_version: 1` line; wandb-core's runconfig writes {key: {value}})."""
    if "_wandb" in doc or "wandb_version" in doc:
        return True
    values = list(doc.values())
    return bool(values) and all(isinstance(v, dict) and "value" in v and set(v) <= {"value", "desc"} for v in values)
