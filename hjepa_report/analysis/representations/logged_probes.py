"""The run's own logged probe numbers beside the report's: kNN, linear probe, RankMe and LiDAR, each named with
its method and data, never one presented as the other.

stable-pretraining's evaluation callbacks (galilai-group/stable-pretraining @ d15ec96, stable_pretraining/callbacks/)
log, during training, on the run's validation stream:
- OnlineKNN `eval/{name}_{metric}`: weighted kNN vote (k, temperature and distance are callback arguments, not in
  the run's files; defaults k = 5, temperature 0.07, euclidean) of each validation embedding against a queue of
  training-step embeddings (callbacks/knn.py);
- OnlineProbe `eval/{name}_{metric}`: a linear classifier trained online on detached training embeddings, scored on
  the validation batches (callbacks/probe.py); `_epoch` is the validation epoch's value, `_step` one batch;
- RankMe `{name}`: exp entropy of the singular values (+1e-5) of the queued embeddings (a queue filled on training
  steps, callbacks/queue.py), at the first validation batch (callbacks/rankme.py; Garrido et al. 2023); LiDAR
  `{name}` likewise (callbacks/lidar.py; Thilak et al. 2024).
The report's own numbers come from its images (--images) through the rebuilt encoder (representations section).
The logged values are the last points of the run's metrics.csv, which stable-pretraining's RegistryLogger also
accumulates into summary.json (the same numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...collect.stable_pretraining import EVALUATIONS

SUB_METRICS = ("entropy", "top_singular_value", "condition_number")  # RankMe's verbose extras, not the measure
ACCURACY_WORDS = ("top1", "acc")
METHODS = {word: method for word, method, _ in EVALUATIONS}
DATA_LOGGED = {  # what each callback measured on (its queue is filled from training steps: callbacks/queue.py)
    "knn": "the run's validation images, each voted on by the queued training-step embeddings",
    "probe": "the run's validation images, the probe trained online on training-step embeddings",
    "rankme": "the queued training-step embeddings, at the first validation batch",
    "lidar": "the queued embeddings of augmented views, at the first validation batch",
}


@dataclass
class LoggedBeside:
    """One measure: the run's last logged value (tag, step, method, data) and the report's own (value, method,
    data); either side None when absent."""

    measure: str
    logged_tag: str | None
    logged_value: float | None
    logged_step: float | None
    logged_method: str
    logged_data: str
    report_value: float | None
    report_method: str
    report_data: str

    def as_dict(self) -> dict:
        """report.json's form: the two sides kept apart."""
        return {
            "measure": self.measure,
            "logged": {
                "tag": self.logged_tag,
                "value": self.logged_value,
                "step": self.logged_step,
                "method": self.logged_method,
                "data": self.logged_data,
            },
            "report": {"value": self.report_value, "method": self.report_method, "data": self.report_data},
        }


def _preference(tag: str) -> tuple:
    """Order candidate tags: a validation epoch's value first, then an unsuffixed tag, then one batch's."""
    leaf = tag.rsplit("/", 1)[-1]
    return (0 if leaf.endswith("_epoch") else 2 if leaf.endswith("_step") else 1, len(tag), tag)


def logged_tag(tags: list[str], word: str) -> str | None:
    """The tag the run logged for an evaluation word ('knn', 'probe', 'rankme', 'lidar'), or None."""
    found = []
    for tag in tags:
        low, leaf = tag.lower(), tag.lower().rsplit("/", 1)[-1]
        if word not in low or "loss" in leaf or leaf.startswith("lr") or low.startswith("hparams/"):
            continue
        if word == "probe" and "knn" in low:
            continue
        if word in ("knn", "probe") and not any(w in leaf for w in ACCURACY_WORDS):
            continue
        if word in ("rankme", "lidar") and any(leaf.startswith(s) for s in SUB_METRICS):
            continue
        found.append(tag)
    return min(found, key=_preference) if found else None


def _queue_phrase(queues: dict[str, int]) -> str:
    if not queues:
        return "queue length not recorded in the run's files"
    return "queue in the checkpoint: " + ", ".join(f"{k} {n} embeddings" for k, n in sorted(queues.items()))


MEASURES = (("knn", "kNN accuracy"), ("probe", "linear-probe accuracy"), ("rankme", "RankMe"), ("lidar", "LiDAR"))


def _report_side(word: str, acc: dict, health: dict, lidar: dict, embedding: str) -> tuple:
    """(value, method, data) of the report's own number of the kind `word`."""
    probe = acc.get("probe") or {}
    images = f"the report's own {acc.get('samples')} labelled images ({embedding})"
    if word == "knn":
        return acc.get("knn_accuracy"), f"leave-one-out kNN, cosine, majority vote, k = {acc.get('knn_k')}", images
    if word == "probe":
        folds = probe.get("folds") or 0
        return probe.get("accuracy"), f"logistic regression, {folds}-fold cross-validated, standardised", images
    if word == "rankme":
        data = f"the report's {health.get('n')} sample images ({embedding})"
        return health.get("rankme"), "RankMe (Garrido et al. 2023, eps 1e-7)", data
    data = f"the report's {lidar.get('images')} sample images (mean-pooled patch tokens)"
    return lidar.get("lidar"), "LiDAR (Thilak et al. 2024), augmented views as classes", data


def logged_beside(
    scalars, accuracy: dict | None, health: dict, lidar: dict, queues: dict[str, int]
) -> list[LoggedBeside]:
    """Rows for each evaluation the run logged: its last logged value beside the report's own number of the same
    kind. accuracy / health / lidar: the representations section's (embedding.label_accuracies per space,
    metrics.embedding_health per space, lidar.lidar_score); queues: callback queue name -> rows, from the
    checkpoint."""
    tags = list(scalars.tags())
    space = "cls" if "cls" in health else "image"
    # the callbacks see the method's `embedding`: for LeJEPA the timm backbone's pooled output, the CLS token
    embedding = "CLS token" if space == "cls" else "mean-pooled patch tokens"
    acc = (accuracy or {}).get(space) or {}
    rows = []
    for word, measure in MEASURES:
        tag = logged_tag(tags, word)
        if tag is None:
            continue
        steps, values = scalars.arrays(tag)
        method = METHODS[word]
        if word in ("knn", "rankme"):
            method += f"; {_queue_phrase(queues)}"
        if word == "knn":
            method += "; k and temperature not recorded in the run (OnlineKNN defaults: k = 5, temperature 0.07)"
        value, ours, data = _report_side(word, acc, health.get(space) or {}, lidar, embedding)
        rows.append(
            LoggedBeside(
                measure=measure,
                logged_tag=tag,
                logged_value=float(values[-1]),
                logged_step=float(steps[-1]),
                logged_method=method,
                logged_data=DATA_LOGGED[word] + ", as the callback computed it during training",
                report_value=None if value is None else float(value),
                report_method=ours,
                report_data=data,
            )
        )
    return rows


def attach(ctx, result) -> None:
    """Put the logged-beside-report rows of a stable-pretraining run into the representations result's metrics
    (report.json `logged_beside`), or a note when the run logged none; other layouts are left alone."""
    if ctx.run.layout != "stable-pretraining":
        return
    queues = getattr(ctx.session.model().network, "callback_queues", {})
    rows = logged_beside(ctx.run.scalars, result.probes.accuracy, result.embedding.health, result.lidar, queues)
    if rows:
        result.metrics["logged_beside"] = [r.as_dict() for r in rows]
    else:
        result.notes.append("The run logged no kNN, linear-probe, RankMe or LiDAR numbers to set beside the report's.")


def present(shown, result) -> None:
    """The table of logged and report numbers, when attach found any."""
    rows = result.metrics.get("logged_beside")
    if rows:
        shown.add_table("logged-probes", "The run's logged evaluations beside the report's", TABLE_COLUMNS,
                        table_rows(rows), caption=TABLE_CAPTION)  # fmt: skip


def table_rows(rows: list[dict]) -> list[list]:
    """One line per measure and side, so a logged value never sits in the report's line."""
    out = []
    for r in rows:
        logged, ours = r["logged"], r["report"]
        out.append([r["measure"], "logged by the run", logged["tag"], _fmt(logged["value"]), logged["method"],
                    f"{logged['data']} (last at step {logged['step']:g})"])  # fmt: skip
        out.append([r["measure"], "this report", "", _fmt(ours["value"]), ours["method"], ours["data"]])
    return out


def _fmt(value: float | None):
    return None if value is None else round(value, 4)


TABLE_COLUMNS = ["measure", "source", "tag", "value", "method", "data"]
TABLE_CAPTION = (
    "The run's own evaluation callbacks (stable-pretraining) logged these numbers during training, on its "
    "validation stream; the report measured its own on the images it was given. They differ in data, protocol "
    "and often in the embedding, so compare their direction, not their digits. Logged: the last point of "
    "metrics.csv (the same value summary.json keeps), with its step."
)
