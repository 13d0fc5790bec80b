"""The "representations" section: the target encoder's embedding space - collapse measures against anchors,
projections, nearest neighbours, class accuracies, LiDAR - and how it changed over the checkpoints.

compute measures everything on the session's embeddings (sample images for the collapse measures, probe
images for the class probes) and applies the health checks; present only draws the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base import AnalysisPass, Animation, PassResult, Picture, Presentation
from ..context import ReportContext
from ..thresholds import threshold
from . import logged_probes, metrics
from .agreement import agreement as measure_agreement
from .captions import (
    ACCURACY_CAPTION,
    AGREEMENT_CAPTION,
    DENSE_CAPTION,
    HEALTH_CAPTION,
    LIDAR_CAPTION,
    LOGGED_LIMITS,
    checkpoint_caption,
    neighbours_caption,
    probe_phrase,
    projection_caption,
)
from .checkpoint_figures import IMAGE_UNITS, LOGGED_FAMILIES, Units, curves_figure, dense_figure, logged_figure
from .checkpoint_sweep import ANIMATION_IMAGES, Sweep, checkpoint_sweep
from .checkpoints import DEFAULT_CAP, agreeing_measures, animation_frame, best_checkpoint, best_rule
from .checks import class_structure_check, collapse_check, collapse_thresholds
from .embedding import POINT_CAP, Projection, label_accuracies, nearest_neighbours, pick_queries, projections
from .figures import health_figure, health_table_rows, neighbours_figure, projection_figure
from .lidar import lidar_score

VIDEO_LAYOUTS = ("vjepa", "vjepa2")  # their clips go through video_representations.py
TOKEN_CAP = 4096  # patch tokens used for the token-level health measures (seeded subsample above this)


@dataclass
class EmbeddingHealth:
    """Collapse measures of the sample images' embeddings ("tokens", "image", "cls" when there is a CLS
    token) and of anchors of the same shapes (a seeded isotropic Gaussian and a rank-1 matrix)."""

    tokens: np.ndarray  # the patch tokens measured (at most TOKEN_CAP, seeded subsample) [n, D]
    token_anchors: dict[str, np.ndarray]  # the anchors of the tokens' shape, by name
    health: dict[str, dict]  # metrics.embedding_health per space (None values and a reason when non-finite)
    anchor_health: dict[str, dict[str, dict]]  # per space, per anchor
    nonfinite: dict[str, str] = field(default_factory=dict)  # space -> why it holds NaN / inf (empty: finite)


@dataclass
class ClassProbes:
    """The probe images' embedding space: projections, nearest neighbours of a few queries, accuracies."""

    pictures: list[np.ndarray]  # the probe images as the network sees them (sample images first)
    labels: np.ndarray | None  # their labels, None without (at least two) classes
    projections: list[Projection]
    queries: np.ndarray  # rows of the query images
    neighbours: tuple[np.ndarray, np.ndarray] | None  # (indices [q, k], cosine [q, k])
    accuracy: dict | None  # per embedding ("image", "cls"): embedding.label_accuracies; None without labels
    sample: int  # how many of the probe images are sample images
    available: int  # images the run has
    nonfinite: str | None = None  # why the probe embeddings cannot be projected (NaN / inf), None when finite


@dataclass
class LoggedCollapse:
    """The collapse metrics the trainer logged, per family (LOGGED_FAMILIES), with the evaluated checkpoints."""

    found: dict[str, list[str]]  # family -> logged tags
    series: dict[str, tuple]  # tag -> (steps, values)
    checkpoint_steps: list[float]
    rank_cap: int | None  # min(batch size, 100): what the logged effective rank can reach


@dataclass
class RepresentationsResult(PassResult):
    """Everything the representations section shows."""

    seed: int
    embedding: EmbeddingHealth
    probes: ClassProbes
    lidar: dict  # lidar.lidar_score, or a reason
    sweep: Sweep
    best: str | None  # name of the best evaluated checkpoint (checkpoints.best_rule)
    agreement: dict  # agreement.agreement: each label-free measure against kNN accuracy ({} without labels)
    best_rule: str  # checkpoints.best_rule: how `best` was chosen
    animation_pictures: list[np.ndarray]  # the sample images of the PCA animation
    grid: tuple[int, int]
    logged: LoggedCollapse | None
    minimal: bool


class RepresentationsPass(AnalysisPass[RepresentationsResult]):
    """The target encoder's embedding space: health, projections, neighbours, accuracies, across checkpoints."""

    name = "representations"
    title = "Representations"
    needs_model = True

    def applies(self, ctx: ReportContext) -> str | None:
        if ctx.run.layout in VIDEO_LAYOUTS:  # clips through the rebuilt video networks: video_representations.py
            from .video_representations import video_representations_skip

            return video_representations_skip(ctx)
        reason = ctx.session.skip_reason()
        if reason is None and len(ctx.run.images) < 2:
            reason = "An embedding space needs at least 2 sample images; the run has 1."
        return reason

    def compute(self, ctx: ReportContext) -> RepresentationsResult:
        if ctx.run.layout in VIDEO_LAYOUTS:
            from .video_representations import video_representations

            return video_representations(ctx)
        session = ctx.session
        seed = int(ctx.rng("representations").integers(2**31))
        embedding = embedding_health(session.embeddings(), seed)
        probes = class_probes(ctx, seed)
        minimal = ctx.settings.minimal
        lidar = (
            {"lidar": None, "reason": "skipped under --minimal"}
            if minimal
            else lidar_score(session, int(ctx.rng("representations-lidar-views").integers(2**31)))
        )
        sweep = checkpoint_sweep(ctx, probes.labels, DEFAULT_CAP)
        evaluated = [r for r in sweep.rows if "error" not in r]
        agreement = measure_agreement(evaluated)
        measures = agreeing_measures(agreement)
        result = RepresentationsResult(
            seed=seed,
            embedding=embedding,
            probes=probes,
            lidar=lidar,
            sweep=sweep,
            best=best_checkpoint(evaluated, measures),
            agreement=agreement,
            best_rule=best_rule(measures),
            animation_pictures=session.sample_images().pictures[:ANIMATION_IMAGES],
            grid=tuple(session.info().grid),
            logged=logged_collapse(ctx, sweep.rows),
            minimal=minimal,
        )
        _fill_metrics(result)
        logged_probes.attach(ctx, result)  # a stable-pretraining run's logged kNN / probe / RankMe
        _add_notes(result)
        if embedding.nonfinite or probes.nonfinite:
            _nonfinite_findings(result, getattr(session.checkpoint, "name", None))
        else:
            collapse_check(result, embedding.health, embedding.anchor_health, collapse_thresholds(ctx))
        class_structure_check(result, probes.accuracy, int(threshold(ctx, "knn.min_images")))
        return result

    def present(self, result: RepresentationsResult) -> Presentation:
        from .video_representations import VideoRepresentationsResult, present_video_representations

        if isinstance(result, VideoRepresentationsResult):
            return present_video_representations(result)
        health = result.embedding.health
        used = probe_phrase(result.probes.sample, len(result.probes.pictures), result.probes.available, result.minimal)
        shown = Presentation(
            intro=(
                "What the target encoder's embedding space looks like: is it collapsed (all images alike, few "
                "directions used), does it separate the classes, and how did that change over the checkpoints. "
                f"Collapse measures use the sample images; projections, neighbours and class accuracies use {used}. "
                "Anchors of the same shape (a seeded isotropic Gaussian and a rank-1 matrix) show where healthy and "
                "collapsed lie on each scale."
                + (
                    " Projections and neighbours use the mean-pooled patch tokens; the CLS token's numbers are in the "
                    "tables."
                    if "cls" in health
                    else ""
                )
            )
        )
        if "tokens" not in result.embedding.nonfinite:  # compute's notes say why it is left out
            shown.add_figure(
                "health",
                "Embedding health (patch tokens)",
                HEALTH_CAPTION.format(n=health["tokens"]["n"], d=health["tokens"]["d"], seed=result.seed),
                health_figure(result.embedding.tokens, result.embedding.token_anchors, "patch tokens"),
            )
        titles = (("tokens", "patch tokens"), ("image", "mean-pooled image embeddings"), ("cls", "CLS"))
        add_health_tables(shown, health, result.embedding.anchor_health, titles)
        _present_space(shown, result.probes, used)
        logged_probes.present(shown, result)
        _present_lidar(shown, result.lidar)
        _present_checkpoints(shown, result)
        return shown


def embedding_health(embeddings, seed: int) -> EmbeddingHealth:
    """Measure collapse on the sample images' patch tokens (at most TOKEN_CAP, seeded), mean-pooled and CLS
    embeddings (session.ImageEmbeddings), and on anchors of the same shapes."""
    tokens = embeddings.patch_tokens.reshape(-1, embeddings.patch_tokens.shape[-1])
    if len(tokens) > TOKEN_CAP:
        tokens = tokens[np.sort(np.random.default_rng(seed).choice(len(tokens), TOKEN_CAP, replace=False))]
    spaces = {"image": embeddings.mean_pooled, "tokens": tokens}
    if embeddings.cls is not None:
        spaces["cls"] = embeddings.cls
    anchors = {k: metrics.reference_embeddings(*z.shape, seed=seed) for k, z in spaces.items()}
    nonfinite = {k: why for k, z in spaces.items() if (why := metrics.nonfinite_reason(z, f"the {SPACE_WORDS[k]}"))}
    return EmbeddingHealth(
        tokens=tokens,
        token_anchors=anchors["tokens"],
        health={
            k: _not_computed(z, nonfinite[k]) if k in nonfinite else metrics.embedding_health(z)
            for k, z in spaces.items()
        },
        anchor_health={k: {a: metrics.embedding_health(r) for a, r in refs.items()} for k, refs in anchors.items()},
        nonfinite=nonfinite,
    )


SPACE_WORDS = {"tokens": "patch tokens", "image": "mean-pooled image embeddings", "cls": "CLS embeddings"}


def _not_computed(z: np.ndarray, reason: str) -> dict:
    """Return embedding_health's dict for embeddings holding NaN / inf: the shape, None measures, the reason."""
    keys = ("rankme", "alpha_req", "vicreg_variance", "vicreg_covariance", "mean_pairwise_cosine")
    return {
        "n": int(z.shape[0]),
        "d": int(z.shape[1]),
        **dict.fromkeys(keys),
        "normalised_std_mean": None,
        "isotropic_std": float(1.0 / np.sqrt(z.shape[1])),
        "norm_mean": None,
        "reason": f"not computed: {reason}",
    }


def _nonfinite_findings(result: RepresentationsResult, checkpoint: str | None) -> None:
    """Say in one note and a failing check 'embeddings-finite' which embeddings hold NaN / inf; the collapse check
    is skipped, since none of its measures could be computed."""
    of = f" of checkpoint {checkpoint}" if checkpoint else ""
    found = [f"sample images: {why}" for why in result.embedding.nonfinite.values()]
    if result.probes.nonfinite:
        found.append(f"probe images: {result.probes.nonfinite}")
    result.notes.append(
        f"Not computed (collapse measures, projections or accuracies that need them): the target encoder's "
        f"embeddings{of} hold NaN or inf: {'; '.join(found)}."
    )
    result.add_check(
        "embeddings-finite",
        "fail",
        f"the target encoder's embeddings{of} hold NaN or inf ({'; '.join(found)}): the weights or the input "
        "overflowed, so no measure of them means anything",
    )
    result.add_check("collapse", "skip", "not computed: the embeddings hold NaN or inf (see embeddings-finite)")


def class_probes(ctx: ReportContext, seed: int) -> ClassProbes:
    """Project, query and classify the probe images' embeddings of the chosen checkpoint."""
    probe = ctx.session.probe_images()
    embeddings = ctx.session.probe_embeddings()
    labels = np.asarray(probe.labels) if probe.has_labels else None
    queries = pick_queries(len(probe.labels), labels, 4, np.random.default_rng(seed))
    spaces = {"image": embeddings.image, "cls": embeddings.cls}
    nonfinite = metrics.nonfinite_reason(embeddings.image, "the mean-pooled image embeddings")
    return ClassProbes(
        pictures=probe.pictures,
        labels=labels,
        projections=[] if nonfinite else projections(embeddings.image, seed, POINT_CAP, ctx.settings.minimal),
        queries=queries,
        neighbours=nearest_neighbours(embeddings.image, queries, 5) if len(queries) and not nonfinite else None,
        accuracy=(
            {k: label_accuracies(z, labels, seed) for k, z in spaces.items() if z is not None}
            if labels is not None
            else None
        ),
        sample=probe.first_extra,
        available=len(ctx.run.images),
        nonfinite=nonfinite,
    )


def logged_collapse(ctx: ReportContext, rows: list[dict]) -> LoggedCollapse | None:
    """The collapse metrics the run logged (None when it logged none), with the sweep's checkpoint steps."""
    scalars = ctx.run.scalars
    found = {k: [t for t in tags if scalars.has(t)] for k, tags in LOGGED_FAMILIES.items()}
    if not any(found.values()):
        return None
    batch = _batch_size(ctx.run.config)
    return LoggedCollapse(
        found=found,
        series={t: scalars.arrays(t) for tags in found.values() for t in tags},
        checkpoint_steps=[float(x["step"]) for x in rows if x.get("step") is not None],
        rank_cap=min(batch, 100) if batch else None,
    )


def _batch_size(config) -> int | None:
    """Return the training batch size from an H-JEPA (data.batch_size) or I-JEPA config, if present."""
    for section in ("data", "training", "optimization"):
        value = ((config or {}).get(section) or {}).get("batch_size")
        if isinstance(value, int):
            return value
    return None


def _fill_metrics(result: RepresentationsResult) -> None:
    """Put the section's numbers into report.json's metrics (in the order the report always wrote them)."""
    sweep, probes, embedding = result.sweep, result.probes, result.embedding
    m = result.metrics
    m["projection_seconds"] = {p.method: round(p.seconds, 3) for p in probes.projections}
    m.update(
        {
            "checkpoints": sweep.rows,
            "checkpoints_total": sweep.total,
            "checkpoint_cap": sweep.cap,
            "best_checkpoint": result.best,
            "best_rule": result.best_rule,
            "agreement": result.agreement,
        }
    )
    ok = [x for x in sweep.rows if "error" not in x]
    if len(ok) >= 2:
        m["rankme_change"] = ok[-1]["rankme_tokens"] - ok[0]["rankme_tokens"]
    if result.logged is not None:
        m["logged_tags"] = [t for tags in result.logged.found.values() for t in tags]
        m["logged_eff_rank_cap"] = result.logged.rank_cap
    m.update(
        {
            "seed": result.seed,
            "health": embedding.health,
            "anchors": embedding.anchor_health,
            "lidar": result.lidar,
            "accuracy": probes.accuracy,
            "point_cap": POINT_CAP,
            "token_cap": TOKEN_CAP,
            "probe_images": {"total": len(probes.pictures), "sample": probes.sample, "available": probes.available},
        }
    )


def _add_notes(result: RepresentationsResult) -> None:
    """The section's one-line notes: missing projections and probes, LiDAR, failed checkpoints, logged metrics."""
    notes, accuracy = result.notes, result.probes.accuracy
    notes.extend(p.note for p in result.probes.projections if p.note)
    if result.agreement and all(a["rho"] is None for a in result.agreement.values()):
        notes.append(
            "No agreement of the label-free measures with kNN accuracy: a rank correlation needs at least 3 "
            "evaluated checkpoints with differing values."
        )
    if accuracy is None:
        notes.append("The images have no class labels (or one class): no kNN or probe accuracy.")
    else:
        reasons = {(acc.get("probe") or {}).get("reason") for acc in accuracy.values()} - {"", None}
        notes.extend(f"Linear probe not computed: {why}." for why in sorted(reasons))
        if accuracy["image"]["alone"]:
            notes.append(
                f"{accuracy['image']['alone']} image(s) alone in their class are left out of the kNN and "
                "the probe: no other image can share their label."
            )
    if result.lidar.get("lidar") is None:
        notes.append(f"LiDAR not computed: {result.lidar.get('reason')}.")
    notes.extend(
        f"Checkpoint {row['name']} was not evaluated: {row['error']}" for row in result.sweep.rows if "error" in row
    )
    if result.logged is None:
        notes.append("The run logged no collapse metrics (e.g. train/context_std, train/target_eff_rank).")


ACCURACY_COLUMNS = [
    "embedding",
    "images",
    "classes",
    "kNN accuracy",
    "kNN 95% interval",
    "k",
    "linear probe",
    "probe folds",
    "chance",
]


def _present_space(shown: Presentation, probes: ClassProbes, used: str) -> None:
    """Projections, neighbours and the accuracy table."""
    has_labels = probes.labels is not None
    if probes.projections:  # none when the embeddings hold NaN / inf (compute's notes say so)
        shown.add_figure(
            "projections",
            "Embedding space: PCA, t-SNE, UMAP",
            projection_caption(probes.projections, has_labels, POINT_CAP, used),
            projection_figure(probes.projections, probes.labels),
        )
    if probes.neighbours is not None:
        idx, sim = probes.neighbours
        shown.add_figure(
            "neighbours",
            "Nearest neighbours (cosine)",
            neighbours_caption(has_labels, used),
            neighbours_figure(probes.pictures, probes.queries, idx, sim, probes.labels),
        )
    if probes.accuracy is not None:
        shown.add_table(
            "accuracy",
            "Class structure of the embeddings",
            ACCURACY_COLUMNS,
            [_accuracy_row(name, acc) for name, acc in probes.accuracy.items()],
            caption=f"Measured on {used}. " + ACCURACY_CAPTION,
        )


def _accuracy_row(name: str, acc: dict) -> list:
    """One row of the accuracy table (None where a measure could not be computed)."""
    probe = acc.get("probe") or {}
    interval = acc.get("knn_interval")
    return [
        {"image": "mean-pooled tokens", "cls": "CLS token"}[name],
        acc["samples"],
        acc["classes"],
        _round3(acc["knn_accuracy"]),
        f"{interval[0]:.3f} - {interval[1]:.3f}" if interval else None,
        acc["knn_k"],
        _round3(probe.get("accuracy")),
        probe.get("folds") or None,
        _round3(acc["chance"]),
    ]


def _round3(value):
    """Round a table value to 3 decimals, keeping None (not measured) as None."""
    return None if value is None else round(value, 3)


def _present_lidar(shown: Presentation, lidar: dict) -> None:
    """The LiDAR table, when it was computed."""
    if lidar.get("lidar") is not None:
        shown.add_table(
            "lidar",
            "LiDAR (augmented views as classes)",
            ["LiDAR", "upper bound", "images", "views per image", "seed", "seconds"],
            [
                [
                    round(lidar["lidar"], 3),
                    lidar["max"],
                    lidar["images"],
                    lidar["views"],
                    lidar["seed"],
                    lidar["seconds"],
                ]
            ],
            caption=f"{LIDAR_CAPTION} The views' arithmetic: {lidar['precision_text']}.",
        )


def _present_checkpoints(shown: Presentation, result: RepresentationsResult, units: Units = IMAGE_UNITS) -> None:
    """Curves across checkpoints, the logged collapse metrics and the PCA animation; `units` names a sample and
    a token in the figures (images and patches, or clips and tubelets)."""
    sweep, rows, anchors = result.sweep, result.sweep.rows, result.embedding.anchor_health
    references = {
        "rankme_isotropic": anchors["image"]["isotropic"]["rankme"],
        "rankme_tokens_isotropic": anchors["tokens"]["isotropic"]["rankme"],
        "chance": (result.probes.accuracy or {}).get("image", {}).get("chance"),
    }
    shown.add_figure(
        "checkpoints",
        "Measures across checkpoints",
        checkpoint_caption(sweep, result.best, result.best_rule),
        curves_figure(rows, result.best, references, units),
    )
    dense = dense_figure(rows, units)
    shown.add_figure("dense", "Isotropy and dense features across checkpoints", DENSE_CAPTION, dense)
    if any(a["rho"] is not None for a in result.agreement.values()):
        shown.add_table(
            "agreement",
            "Do the label-free measures agree with kNN accuracy on this run?",
            ["measure", "Spearman rho with kNN accuracy (oriented: + = agrees)", "checkpoints", "agrees"],
            [
                [m, "n/a (constant)" if a["rho"] is None else f"{a['rho']:+.2f}", a["checkpoints"], a["agrees"]]
                for m, a in result.agreement.items()
            ],
            caption=AGREEMENT_CAPTION,
        )
    logged = result.logged
    if logged is not None:
        shown.add_figure(
            "logged-collapse",
            "Collapse metrics logged during training",
            LOGGED_LIMITS.format(cap=logged.rank_cap if logged.rank_cap else "min(batch size, 100)"),
            logged_figure(logged.series, logged.found, logged.checkpoint_steps, logged.rank_cap),
        )
    if sweep.rgb:
        frames = [
            animation_frame(result.animation_pictures, rgb, result.grid, f"{rows[i]['name']}  epoch {rows[i]['epoch']}")
            for rgb, i in zip(sweep.rgb, sweep.rgb_rows, strict=True)
        ]
        content = Animation(frames, duration_ms=900) if len(frames) > 1 else Picture(frames[0])
        shown.add_figure(
            "pca-animation",
            "How the patch features formed (PCA of patch tokens as RGB)",
            "Top: sample images; bottom: the first three principal components of the target "
            "encoder's patch tokens as red, green and blue, one patch per square (nearest-neighbour "
            "upscaling), one frame per evaluated checkpoint. Each frame is fitted on its own "
            "checkpoint's tokens of these images and its components are matched to the previous "
            "frame's (order and sign), so colours stay comparable. Healthy: colours that follow "
            "object parts and stay stable late in training; one flat colour means the tokens barely "
            "vary.",
            content,
        )


def add_health_tables(shown: Presentation, health: dict, anchor_health: dict, titles) -> None:
    """One table of collapse measures per embedding kind of `titles` ((key, title) pairs) that `health` holds,
    beside the isotropic and collapsed anchors of the same shape."""
    for key, title in titles:
        if key in health:
            shown.add_table(
                f"metrics-{key}",
                f"Collapse measures: {title} (n={health[key]['n']}, d={health[key]['d']})",
                ["measure", "this run", "isotropic anchor", "collapsed anchor", "healthy"],
                health_table_rows(health[key], anchor_health[key]),
                caption="Anchors: seeded matrices of the same shape (n, d); see the health figure.",
            )
