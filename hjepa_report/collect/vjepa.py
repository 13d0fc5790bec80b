"""Read what V-JEPA (facebookresearch/jepa) and V-JEPA 2 (facebookresearch/vjepa2) training writes.

Facts from the original code (jepa @ 51c59d5, vjepa2 @ c2963a4; measured on tests/fixtures/vjepa*_small, which
that code wrote):
- Config `params-pretrain.yaml`: app/main.py dumps the config dict (yaml.dump); V-JEPA 2's SLURM launcher
  (app/main_distributed.py launch_app_with_parsed_args) dumps the LIST of config dicts it launches, one per job.
  Both have app: vjepa, data.dataset_type VideoDataset, data.tubelet_size, a `mask` list of 3-D multi-block
  settings and I-JEPA's optimization.* keys. V-JEPA writes logging.folder / logging.write_tag and
  data.num_frames; V-JEPA 2 a top-level `folder` and data.dataset_fpcs (frames per clip, one per dataset).
- Training CSV, one per rank (src/utils/logging.py CSVLogger, opened in append mode, so a resumed run writes its
  header again mid-file): V-JEPA `{write_tag}_r{rank}.csv` with epoch,itr,loss,loss-jepa,reg-loss,
  enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms); V-JEPA 2 `log_r{rank}.csv` with epoch,itr,loss,
  iter-time(ms),gpu-time(ms),dataload-time(ms). epoch is 1-based, itr 0-based, one row per iteration.
  gpu-time(ms) is -1 where CUDA is absent (gpu_timer times with CUDA events only). V-JEPA's grad norms are the
  pre-clipping totals clip_grad_norm_ returns, computed only when `epoch > warmup and clip_grad` (0-based epoch):
  otherwise the row holds 0.0, which means "not measured". Each rank logs its own loss (not all-reduced).
- Frozen evaluations (evals/*_classification_frozen/eval.py) write below the pretraining folder, in
  `{image,video}_classification_frozen/{eval tag}/`: V-JEPA 2 `log_r{rank}.csv` + `latest.pt`, V-JEPA
  `{tag}_r{rank}.csv` + `{tag}-latest.pth.tar`. The image eval's header is `epoch,loss,acc` but every row is
  `epoch+1, train_acc, val_acc` (csv_logger.log(epoch + 1, train_acc, val_acc)); V-JEPA 2's video eval header
  says epoch,train_acc,val_acc. Accuracies are percentages. Their checkpoints hold the probe (classifiers),
  not the pretrained networks.
- V-JEPA 2.1 (vjepa2 @ 45d025f, app/vjepa_2_1; tests/fixtures/vjepa21_small) is layout vjepa2 with variant
  "2.1": its config says `app: vjepa_2_1` (app/scaffold.py imports app.{app}.train) and has V-JEPA 2's data
  keys plus model.lambda_value_vid / interpolate_rope / modality_embedding; it writes V-JEPA 2's CSV columns but
  `latest.pth.tar` and `e{epoch}.pth.tar` (0-based epoch, every meta.save_every_freq epochs), whose encoder
  has four per-level norms `norms_block.*` and no final norm (models/vjepa21_nets.py).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from .logread import LogRead, TagPoints, bounded_lines, count_phrase

VIDEO_LAYOUTS = ("vjepa", "vjepa2")
NAMES = {"vjepa": "V-JEPA", "vjepa2": "V-JEPA 2"}
VJEPA_COLUMNS = ("loss-jepa", "reg-loss", "enc-grad-norm", "pred-grad-norm")
VJEPA2_COLUMNS = ("epoch", "itr", "loss", "iter-time(ms)", "gpu-time(ms)", "dataload-time(ms)")
GRAD_COLUMNS = ("enc-grad-norm", "pred-grad-norm")
_EVAL_FOLDER = re.compile(r"(?:^|/)(image|video)_classification_frozen/(?:([^/]+)/)?[^/]+$")
_RANK = re.compile(r"_r(\d+)\.csv$")


# -- config ------------------------------------------------------------------------------------------------


def first_config(doc):
    """Return (the config dict, note) for a parsed params-pretrain.yaml: the dict itself, or the first dict of
    the list V-JEPA 2's distributed launcher writes; (None, "") when neither."""
    if isinstance(doc, dict):
        return doc, ""
    if isinstance(doc, list) and doc and all(isinstance(d, dict) for d in doc):
        more = f" ({len(doc)} configs launched together; the first one is used)" if len(doc) > 1 else ""
        return doc[0], f"a YAML list of config dicts, as V-JEPA 2's distributed launcher writes it{more}"
    return None, ""


def video_flavour(doc: dict) -> str | None:
    """Return 'vjepa2' / 'vjepa' when the config is a V-JEPA (2) pretraining config, else None.

    Video evidence: app vjepa, data.dataset_type videodataset, data.tubelet_size, data.num_frames or
    data.dataset_fpcs. V-JEPA 2 is told apart by data.dataset_fpcs or a top-level `folder`; V-JEPA by
    data.num_frames or logging.write_tag."""
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    clues = [
        str(doc.get("app", "")).startswith("vjepa"),
        str(data.get("dataset_type", "")).lower() == "videodataset",
        "tubelet_size" in data,
        "num_frames" in data or "dataset_fpcs" in data,
    ]
    if sum(clues) < 2:
        return None
    if "dataset_fpcs" in data or "folder" in doc:
        return "vjepa2"
    return "vjepa"


def video_variant(doc: dict | None) -> str | None:
    """'2.1' for a V-JEPA 2.1 config (app vjepa_2_1), else None."""
    return "2.1" if isinstance(doc, dict) and str(doc.get("app", "")) == "vjepa_2_1" else None


def describe_video_config(doc: dict, flavour: str) -> str:
    """A few words on what the video config sets: frames, tubelet, crop, patch, model."""
    data, model = doc.get("data") or {}, doc.get("model") or {}
    name = "V-JEPA 2.1" if video_variant(doc) else NAMES[flavour]
    frames = data.get("num_frames", data.get("dataset_fpcs"))
    parts = [
        f"frames {frames}",
        f"tubelet {data.get('tubelet_size')}",
        f"crop {data.get('crop_size')}",
        f"patch {data.get('patch_size')}",
        f"model {model.get('model_name')}",
    ]
    if model.get("use_rope"):
        parts.append("RoPE")
    if video_variant(doc):
        parts.append("app vjepa_2_1: multi-level targets")
    return f"{name} config ({', '.join(parts)})"


# -- training CSV logs --------------------------------------------------------------------------------------


def csv_flavour(columns: list[str]) -> str | None:
    """Tell a V-JEPA or V-JEPA 2 training CSV from its header (columns by name), else None."""
    lowered = [c.strip().lower() for c in columns]
    if lowered[:2] != ["epoch", "itr"]:
        return None
    if all(c in lowered for c in VJEPA_COLUMNS):
        return "vjepa"
    if tuple(lowered) == VJEPA2_COLUMNS:
        return "vjepa2"
    return None


def rank_of(name: str) -> int | None:
    """The rank in a per-rank CSV name (`log_r3.csv` -> 3), or None."""
    found = _RANK.search(name)
    return int(found.group(1)) if found else None


def read_video_csv(path: Path, source: str) -> LogRead | None:
    """Read a V-JEPA / V-JEPA 2 training CSV, or None when its header is not one (the caller reads it then).

    step = (epoch - 1) * iterations_per_epoch + itr, iterations per epoch the largest itr + 1 seen. Columns
    are read by name. Repeated headers (a resumed run) and malformed rows are skipped and counted; gpu-time(ms)
    = -1 (no CUDA) and V-JEPA's 0.0 grad norms where train.py did not clip (both norms 0.00000 on the row)
    are not measurements and are left out, counted in the detail."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            rows = csv.reader(bounded_lines(fh))
            header = next((r for r in rows if any(c.strip() for c in r)), None)
            flavour = csv_flavour(header) if header else None
            if flavour is None:
                return None
            columns = [c.strip() for c in header]
            parsed, headers, garbage = _parse_rows(rows, header, len(columns))
    except (OSError, csv.Error) as exc:
        return LogRead("csv", None, f"unreadable: {getattr(exc, 'strerror', None) or exc}")
    name = NAMES[flavour]
    if not parsed:
        return LogRead("csv", None, f"{name} CSV without data rows", flavour)
    per_epoch = int(max(r[1] for r in parsed)) + 1
    points, dropped = _points(parsed, columns, per_epoch)
    detail = (
        f"{name} training CSV: {count_phrase(len(points.tags()), len(points))}; step = (epoch-1)*{per_epoch} + itr "
        f"({per_epoch} iterations per epoch, the largest itr+1 seen)"
    )
    detail += "".join(f"; {d}" for d in dropped)
    if headers:
        detail += f"; {headers} repeated header line{'s' if headers != 1 else ''} skipped (a resumed run appends)"
    if garbage:
        detail += f"; {garbage} malformed row{'s' if garbage != 1 else ''} skipped"
    return LogRead("csv", points.frame(source), detail, flavour=flavour)


def _parse_rows(rows, header: list[str], n: int) -> tuple[list[list[float]], int, int]:
    """The numeric rows (epoch >= 1, itr >= 0), and the counts of repeated headers and malformed rows."""
    parsed, headers, garbage = [], 0, 0
    for row in rows:
        if [c.strip() for c in row] == [c.strip() for c in header]:
            headers += 1
            continue
        values = _floats(row, n)
        if values is None or not (values[0] >= 1 and values[1] >= 0):
            garbage += int(any(c.strip() for c in row))
            continue
        parsed.append(values)
    return parsed, headers, garbage


def _points(parsed: list[list[float]], columns: list[str], per_epoch: int) -> tuple[TagPoints, list[str]]:
    """Every measured value of the rows as points; the sentences saying what was left out."""
    points, dropped = TagPoints(), []
    lowered = [c.lower() for c in columns]
    grads = [lowered.index(c) for c in GRAD_COLUMNS if c in lowered]
    gpu = lowered.index("gpu-time(ms)") if "gpu-time(ms)" in lowered else None
    unclipped = gpu_missing = 0
    for row in parsed:
        step = (row[0] - 1) * per_epoch + row[1]
        no_grads = bool(grads) and all(row[j] == 0.0 for j in grads)
        unclipped += int(no_grads)
        gpu_missing += int(gpu is not None and row[gpu] == -1)
        for j in range(2, len(columns)):
            if (no_grads and j in grads) or (j == gpu and row[j] == -1):
                continue
            points.add(columns[j], step, row[j])
    if unclipped:
        dropped.append(
            f"enc-grad-norm / pred-grad-norm are 0 on {unclipped} rows: train.py measures them only where it "
            "clips (epoch > warmup and clip_grad set), so those zeros are not norms and are left out"
        )
    if gpu_missing:
        dropped.append(f"gpu-time(ms) is -1 on {gpu_missing} rows (no CUDA timer): left out")
    return points, dropped


def _floats(row: list[str], n: int) -> list[float] | None:
    if len(row) != n:
        return None
    try:
        return [float(c) for c in row]
    except ValueError:
        return None


# -- frozen evaluations --------------------------------------------------------------------------------------


def eval_folder_of(rel: str) -> tuple[str, str] | None:
    """(image | video, eval tag) when `rel` lies in a frozen-eval folder of the run, else None."""
    found = _EVAL_FOLDER.search(rel)
    return (found.group(1), found.group(2) or "") if found else None


def read_eval_csv(path: Path, source: str, kind: str, tag: str) -> LogRead:
    """Read a frozen-eval CSV: epoch, then train and val accuracy (%), whatever the header says.

    evals/image_classification_frozen/eval.py writes the header epoch,loss,acc but logs epoch+1, train_acc,
    val_acc on every row; the video eval's header names them. Tags: frozen_eval/{kind}:{tag}/train_acc and
    .../val_acc, step = the eval's epoch (1-based), not a training step."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            rows = [r for r in csv.reader(bounded_lines(fh)) if any(c.strip() for c in r)]
    except (OSError, csv.Error) as exc:
        return LogRead("csv", None, f"unreadable: {getattr(exc, 'strerror', None) or exc}")
    if not rows or [c.strip().lower() for c in rows[0]][:1] != ["epoch"] or len(rows[0]) != 3:
        return LogRead("csv", None, "CSV in a frozen-eval folder without the eval's epoch,...,... header")
    header = [c.strip() for c in rows[0]]
    points, skipped = TagPoints(), 0
    prefix = f"frozen_eval/{kind}:{tag or 'eval'}"
    for row in rows[1:]:
        values = None if [c.strip() for c in row] == header else _floats(row, 3)
        if values is None:
            skipped += 1
            continue
        points.add(f"{prefix}/train_acc", values[0], values[1])
        points.add(f"{prefix}/val_acc", values[0], values[2])
    if not len(points):
        return LogRead("csv", None, "frozen-eval CSV without data rows")
    said = ",".join(header)
    mismatch = (
        f"; its header says {said} but the rows hold epoch, train_acc, val_acc (the eval script logs "
        "epoch+1, train_acc, val_acc): read as the rows hold them"
        if header[1:] != ["train_acc", "val_acc"]
        else ""
    )
    detail = f"{kind} frozen-eval CSV ({tag or 'untagged'}): {len(rows) - 1 - skipped} epochs of accuracy (%)"
    detail += mismatch + (f"; {skipped} other rows skipped" if skipped else "")
    return LogRead("csv", points.frame(source), detail, flavour="frozen_eval")


EVAL_CHECKPOINT = "frozen-eval probe checkpoint (the classifier heads), not the pretrained networks: not loaded"


def read_training_csv(path: Path, rel: str) -> LogRead | None:
    """Read a V-JEPA (2) training CSV of rank 0; a higher rank's is listed as not read (each rank logs the loss
    of its own batches, the same columns again); None when the file is not a V-JEPA CSV."""
    read = read_video_csv(path, rel)
    rank = rank_of(path.name)
    if read is None or not rank:
        return read
    return LogRead("csv", None, f"{NAMES[read.flavour]} training CSV of rank {rank}: not read, the report reads rank 0")


def eval_file(path: Path, rel: str) -> tuple[str, LogRead | None]:
    """What a file of a frozen-eval folder is: ("log", its LogRead) for a CSV, ("checkpoint", None) for a probe
    checkpoint, ("other", None) otherwise. Call only when eval_folder_of(rel) is not None."""
    kind, tag = eval_folder_of(rel) or ("", "")
    name = path.name.lower()
    if name.endswith(".csv"):
        return "log", read_eval_csv(path, rel, kind, tag)
    if name.endswith((".pt", ".pth", ".pth.tar", ".tar", ".ckpt")):
        return "checkpoint", None
    return "other", None
