"""The two passes: "predictions" (predictor output against targets, per level, with a baseline) and
"representations" (embedding health, projections, neighbours, accuracies, and all of it across checkpoints).
"""

from __future__ import annotations

import numpy as np

from .. import model_access as ma
from ..thresholds import threshold
from ..base import AnalysisPass, Animation, Picture, ReportContext, Section
from . import compute as C
from . import metrics as M
from .captions import (ACCURACY_CAPTION, HEALTH_CAPTION, LIDAR_CAPTION, LOGGED_LIMITS, MAPS_CAPTION, best_rule_text,
                       checkpoint_caption, neighbours_caption, probe_phrase, projection_caption)
from .checkpoint_figures import LOGGED_FAMILIES, curves_figure, logged_figure
from .checkpoints import DEFAULT_CAP, animation_frame, best_checkpoint
from .embedding import POINT_CAP, nearest_neighbours, pick_queries, projections, label_accuracies
from .figures import health_figure, health_table_rows, neighbours_figure, projection_figure
from .prediction_figures import cosine_histogram_figure, prediction_maps_figure

TOKEN_CAP = 4096  # patch tokens used for the token-level health measures (seeded subsample above this)


class PredictionsPass(AnalysisPass):
    """Predicted vs target tokens at the hidden patches of the sample images, per hierarchy level."""

    name = "predictions"
    title = "Predictions vs targets"

    def applies(self, ctx: ReportContext) -> str | None:
        reason = ma.model_skip_reason(ctx)
        if reason:
            return reason
        refusal = ma.model_for(ctx).info.refusal("predictor")
        return f"The predictor cannot be run for this checkpoint: {refusal}" if refusal else None

    def compute(self, ctx: ReportContext):
        return C.predict_levels(ctx)

    def present(self, result: C.PredictionResult, ctx: ReportContext, section: Section) -> None:
        images = ma.sample_images(ctx)
        model = ma.model_for(ctx)
        m = result.masks
        section.intro = ("The context encoder sees the visible patches, the predictor predicts the target encoder's "
                         "tokens at the hidden ones. Each predicted token is compared with its target by cosine "
                         "similarity and L2 distance, at every hierarchy level (after that level's projection and "
                         "pooling), and against a baseline that predicts the mean target token for every position.")
        section.add_figure("maps", "Prediction error per patch", MAPS_CAPTION.format(
            strategy=m.strategy, seed=m.seed, kind=result.target_kind),
            prediction_maps_figure(result.levels, images.pictures, m.hidden, model.info.grid))
        section.add_figure("cosine", "Distribution of per-token cosine similarity",
                           "Per level, the histogram of cosine(prediction, target) over all predicted tokens of "
                           "the sample images (blue) and the same for the mean-target-token baseline (orange "
                           "outline); dashed lines mark the means. Healthy: the blue mass sits to the right of the "
                           "orange one at every level.", cosine_histogram_figure(result.levels))
        section.add_table("levels", "Prediction quality per level",
                          ["level", "tokens", "mean cosine", "baseline cosine", "mean L2", "baseline L2", "beats baseline"],
                          [[r["level"], r["tokens"], round(r["cosine_mean"], 4), round(r["baseline_cosine_mean"], 4),
                            round(r["l2_mean"], 4), round(r["baseline_l2_mean"], 4), r["beats_baseline"]]
                           for r in result.summary],
                          caption="Means over the predicted tokens of the sample images; the baseline predicts "
                                  "the mean of the level's target tokens in this batch for every token.")
        section.notes.append(_reconstruction_note(ma.chosen_checkpoint(ctx)))
        if result.empty_levels:
            section.notes.append(f"Level(s) {result.empty_levels} have no token for these masks (fewer hidden "
                                 "patches than one pooling window), so they are not shown.")
        section.metrics.update({"levels": result.summary, "mask_strategy": m.strategy, "mask_seed": m.seed,
                                "images": len(images.labels), "target_kind": result.target_kind,
                                "seconds_predict": round(result.seconds, 3)})
        _prediction_check(result.summary, threshold(ctx, "prediction.baseline_margin"), section)


def _prediction_check(summary: list[dict], margin_needed: float, section: Section) -> None:
    """Warn when a level's predictor does not beat the mean-target-token baseline in mean cosine by more than
    `margin_needed` (threshold prediction.baseline_margin)."""
    losing = [r["level"] for r in summary if r["cosine_mean"] - r["baseline_cosine_mean"] <= margin_needed]
    margin = min(r["cosine_mean"] - r["baseline_cosine_mean"] for r in summary)
    if losing:
        section.add_check("prediction-vs-baseline", "warn",
                          f"the predictor's mean cosine does not beat predicting the mean target token at level(s) "
                          f"{losing} (smallest margin {margin:+.3f})", figure_id="cosine", value=margin)
    else:
        section.add_check("prediction-vs-baseline", "pass",
                          f"the predictor beats the mean-target-token baseline at every level (smallest margin "
                          f"{margin:+.3f} in mean cosine)", figure_id="cosine", value=margin)


def _reconstruction_note(ref) -> str:
    """One line on pixel reconstruction: JEPA checkpoints normally hold no pixel decoder."""
    decoders = sorted(k for k in (ref.param_counts if ref else {}) if "decoder" in k.lower())
    if decoders:
        return (f"The checkpoint holds {', '.join(decoders)}, but rebuilding a pixel decoder is not supported, "
                "so no reconstruction is shown.")
    return "No pixel decoder in the checkpoint (JEPA predicts features, not pixels): no reconstruction is shown."


class RepresentationsPass(AnalysisPass):
    """The target encoder's embedding space: health, projections, neighbours, accuracies, across checkpoints."""

    name = "representations"
    title = "Representations"

    def applies(self, ctx: ReportContext) -> str | None:
        reason = ma.model_skip_reason(ctx)
        if reason is None and len(ctx.run.images) < 2:
            reason = "An embedding space needs at least 2 sample images; the run has 1."
        return reason

    def compute(self, ctx: ReportContext) -> dict:
        probe = ma.probe_images(ctx)
        emb = C.image_embeddings(ctx)
        seed = int(ctx.rng("representations").integers(2**31))
        labels = np.asarray(probe.labels) if probe.has_labels else None
        probe_emb = C.probe_embeddings(ctx)
        tokens = emb["patch_tokens"].reshape(-1, emb["patch_tokens"].shape[-1])
        if len(tokens) > TOKEN_CAP:
            tokens = tokens[np.sort(np.random.default_rng(seed).choice(len(tokens), TOKEN_CAP, replace=False))]
        spaces = {"image": emb["mean_pooled"], "tokens": tokens}
        if emb["cls"] is not None:
            spaces["cls"] = emb["cls"]
        out = {"seed": seed, "labels": labels, "emb": emb, "spaces": spaces,
               "health": {k: M.embedding_health(z) for k, z in spaces.items()},
               "anchors": {k: M.reference_embeddings(*z.shape, seed=seed) for k, z in spaces.items()}}
        out["anchor_health"] = {k: {a: M.embedding_health(r) for a, r in refs.items()}
                                for k, refs in out["anchors"].items()}
        out["projections"] = projections(probe_emb["image"], seed, POINT_CAP, ctx.settings.minimal)
        queries = pick_queries(len(probe.labels), labels, 4, np.random.default_rng(seed))
        out["queries"] = queries
        out["neighbours"] = nearest_neighbours(probe_emb["image"], queries, 5) if len(queries) else None
        out["accuracy"] = {k: label_accuracies(z, labels, seed)
                           for k, z in probe_emb.items() if z is not None} if labels is not None else None
        out["lidar"] = ({"lidar": None, "reason": "skipped under --minimal"} if ctx.settings.minimal
                        else C.lidar_score(ctx))
        out["sweep"] = C.checkpoint_sweep(ctx, DEFAULT_CAP)
        out["best"] = best_checkpoint([r for r in out["sweep"].rows if "error" not in r])
        return out

    def present(self, r: dict, ctx: ReportContext, section: Section) -> None:
        images = ma.sample_images(ctx)
        h, ah = r["health"], r["anchor_health"]
        probe = ma.probe_images(ctx)
        used = probe_phrase(probe.first_extra, len(probe.labels), len(ctx.run.images), ctx.settings.minimal)
        section.intro = ("What the target encoder's embedding space looks like: is it collapsed (all images alike, "
                         "few directions used), does it separate the classes, and how did that change over the "
                         "checkpoints. Collapse measures use the sample images; projections, neighbours and class "
                         f"accuracies use {used}. Anchors of the same shape (a seeded isotropic Gaussian and a "
                         "rank-1 matrix) show where healthy and collapsed lie on each scale."
                         + (" Projections and neighbours use the mean-pooled patch tokens; the CLS token's numbers "
                            "are in the tables." if "cls" in h else ""))
        section.add_figure("health", "Embedding health (patch tokens)", HEALTH_CAPTION.format(
            n=h["tokens"]["n"], d=h["tokens"]["d"], seed=r["seed"]),
            health_figure(r["spaces"]["tokens"], r["anchors"]["tokens"], "patch tokens"))
        for key, title in (("tokens", "patch tokens"), ("image", "mean-pooled image embeddings"), ("cls", "CLS")):
            if key in h:
                section.add_table(f"metrics-{key}", f"Collapse measures: {title} (n={h[key]['n']}, d={h[key]['d']})",
                                  ["measure", "this run", "isotropic anchor", "collapsed anchor", "healthy"],
                                  health_table_rows(h[key], ah[key]),
                                  caption="Anchors: seeded matrices of the same shape (n, d); see the health figure.")
        self._present_space(r, probe, used, section)
        self._present_checkpoints(r, ctx, images, section)
        section.metrics.update({"seed": r["seed"], "health": h, "anchors": ah, "lidar": r["lidar"],
                                "accuracy": r["accuracy"], "point_cap": POINT_CAP, "token_cap": TOKEN_CAP,
                                "probe_images": {"total": len(probe.labels), "sample": probe.first_extra,
                                                 "available": len(ctx.run.images)}})
        _collapse_check(h, ah, ctx, section)
        _class_structure_check(r["accuracy"], ctx, section)

    def _present_space(self, r: dict, probe, used: str, section: Section) -> None:
        """Projections, neighbours, accuracies, LiDAR."""
        projs = r["projections"]
        section.add_figure("projections", "Embedding space: PCA, t-SNE, UMAP",
                           projection_caption(projs, r["labels"] is not None, POINT_CAP, used),
                           projection_figure(projs, r["labels"]))
        section.notes.extend(p.note for p in projs if p.note)
        section.metrics["projection_seconds"] = {p.method: round(p.seconds, 3) for p in projs}
        if r["neighbours"] is not None:
            idx, sim = r["neighbours"]
            section.add_figure("neighbours", "Nearest neighbours (cosine)",
                               neighbours_caption(r["labels"] is not None, used),
                               neighbours_figure(probe.pictures, r["queries"], idx, sim, r["labels"]))
        if r["accuracy"] is None:
            section.notes.append("The images have no class labels (or one class): no kNN or probe accuracy.")
        else:
            section.add_table("accuracy", "Class structure of the embeddings", ACCURACY_COLUMNS,
                              [_accuracy_row(name, acc) for name, acc in r["accuracy"].items()],
                              caption=f"Measured on {used}. " + ACCURACY_CAPTION)
            reasons = {(acc.get("probe") or {}).get("reason") for acc in r["accuracy"].values()} - {"", None}
            section.notes.extend(f"Linear probe not computed: {why}." for why in sorted(reasons))
            alone = r["accuracy"]["image"]["alone"]
            if alone:
                section.notes.append(f"{alone} image(s) alone in their class are left out of the kNN and the probe: "
                                     "no other image can share their label.")
        lid = r["lidar"]
        if lid.get("lidar") is None:
            section.notes.append(f"LiDAR not computed: {lid.get('reason')}.")
        else:
            section.add_table("lidar", "LiDAR (augmented views as classes)", ["LiDAR", "upper bound", "images",
                              "views per image", "seed", "seconds"],
                              [[round(lid["lidar"], 3), lid["max"], lid["images"], lid["views"], lid["seed"],
                                lid["seconds"]]], caption=LIDAR_CAPTION)

    def _present_checkpoints(self, r: dict, ctx: ReportContext, images, section: Section) -> None:
        """Curves across checkpoints, the logged collapse metrics and the PCA animation."""
        sweep, best = r["sweep"], r["best"]
        rows = sweep.rows
        refs = {"rankme_isotropic": r["anchor_health"]["image"]["isotropic"]["rankme"],
                "rankme_tokens_isotropic": r["anchor_health"]["tokens"]["isotropic"]["rankme"],
                "chance": (r["accuracy"] or {}).get("image", {}).get("chance")}
        section.add_figure("checkpoints", "Measures across checkpoints", checkpoint_caption(sweep, best),
                           curves_figure(rows, best, refs))
        section.metrics.update({"checkpoints": rows, "checkpoints_total": sweep.total, "checkpoint_cap": sweep.cap,
                                "best_checkpoint": best, "best_rule": best_rule_text()})
        ok = [x for x in rows if "error" not in x]
        if len(ok) >= 2:
            section.metrics["rankme_change"] = ok[-1]["rankme_tokens"] - ok[0]["rankme_tokens"]
        for row in rows:
            if "error" in row:
                section.notes.append(f"Checkpoint {row['name']} was not evaluated: {row['error']}")
        self._present_logged(ctx, rows, section)
        if sweep.rgb:
            pics = images.pictures[:C.ANIMATION_IMAGES]
            grid = ma.model_for(ctx).info.grid
            frames = [animation_frame(pics, rgb, grid, f"{rows[i]['name']}  epoch {rows[i]['epoch']}")
                      for rgb, i in zip(sweep.rgb, sweep.rgb_rows)]
            content = Animation(frames, duration_ms=900) if len(frames) > 1 else Picture(frames[0])
            section.add_figure("pca-animation", "How the patch features formed (PCA of patch tokens as RGB)",
                               "Top: sample images; bottom: the first three principal components of the target "
                               "encoder's patch tokens as red, green and blue, one patch per square (nearest-"
                               "neighbour upscaling), one frame per evaluated checkpoint. Each frame is fitted on "
                               "its own checkpoint's tokens of these images and its components are matched to the "
                               "previous frame's (order and sign), so colours stay comparable. Healthy: colours "
                               "that follow object parts and stay stable late in training; one flat colour means "
                               "the tokens barely vary.", content)

    def _present_logged(self, ctx: ReportContext, rows: list[dict], section: Section) -> None:
        """Plot the collapse metrics the trainer logged, with their known limits."""
        scalars = ctx.run.scalars
        found = {k: [t for t in tags if scalars.has(t)] for k, tags in LOGGED_FAMILIES.items()}
        if not any(found.values()):
            section.notes.append("The run logged no collapse metrics (e.g. train/context_std, train/target_eff_rank).")
            return
        batch = _batch_size(ctx.run.config)
        cap = min(batch, 100) if batch else None
        steps = [float(x["step"]) for x in rows if x.get("step") is not None]
        section.add_figure("logged-collapse", "Collapse metrics logged during training",
                           LOGGED_LIMITS.format(cap=cap if cap else "min(batch size, 100)"),
                           logged_figure(scalars, found, steps, cap))
        section.metrics["logged_tags"] = [t for tags in found.values() for t in tags]
        section.metrics["logged_eff_rank_cap"] = cap


ACCURACY_COLUMNS = ["embedding", "images", "classes", "kNN accuracy", "kNN 95% interval", "k", "linear probe",
                    "probe folds", "chance"]


def _accuracy_row(name: str, acc: dict) -> list:
    """One row of the accuracy table (None where a measure could not be computed)."""
    probe = acc.get("probe") or {}
    rnd = lambda v: None if v is None else round(v, 3)  # noqa: E731
    interval = acc.get("knn_interval")
    return [{"image": "mean-pooled tokens", "cls": "CLS token"}[name], acc["samples"], acc["classes"],
            rnd(acc["knn_accuracy"]), f"{interval[0]:.3f} - {interval[1]:.3f}" if interval else None, acc["knn_k"],
            rnd(probe.get("accuracy")), probe.get("folds") or None, rnd(acc["chance"])]


def _class_structure_check(accuracy: dict | None, ctx: ReportContext, section: Section) -> None:
    """Pass when the lower end of the kNN accuracy's 95 % interval is above chance, warn when it is not; skip
    without labels or with fewer probe images than threshold knn.min_images (the interval would be too wide
    to tell a weak encoder from a poor one)."""
    acc = (accuracy or {}).get("image") or {}
    if acc.get("knn_accuracy") is None:
        section.add_check("class-structure", "skip", "no class labels on the images: no kNN accuracy")
        return
    n, value, (low, high), chance = acc["samples"], acc["knn_accuracy"], acc["knn_interval"], acc["chance"]
    detail = (f"kNN accuracy {value:.1%} (95% interval {low:.1%}-{high:.1%}, {n} images, {acc['classes']} "
              f"classes) vs chance {chance:.1%}")
    needed = int(threshold(ctx, "knn.min_images"))
    if n < needed:
        section.add_check("class-structure", "skip", f"{detail}: fewer than {needed} labelled images, too few to "
                          "tell (add images or raise --probe-images)", figure_id="checkpoints", value=value)
    elif low > chance:
        section.add_check("class-structure", "pass", detail + ": above chance", figure_id="checkpoints", value=value)
    else:
        section.add_check("class-structure", "warn", detail + ": not above chance, the embeddings do not separate "
                          "the classes", figure_id="checkpoints", value=value)


def _batch_size(config) -> int | None:
    """Return the training batch size from an H-JEPA (data.batch_size) or I-JEPA config, if present."""
    for section in ("data", "training", "optimization"):
        value = ((config or {}).get(section) or {}).get("batch_size")
        if isinstance(value, int):
            return value
    return None


def _collapse_check(h: dict, ah: dict, ctx: ReportContext, section: Section) -> None:
    """Fail / warn when patch-token RankMe is far below the isotropic anchor, the normalised per-dimension std is
    far below 1/sqrt(D), or image embeddings all point alike (thresholds: analysis/thresholds.py)."""
    t = {name: threshold(ctx, f"collapse.{name}") for name in (
        "rankme_fraction.warn", "rankme_fraction.fail", "std_fraction.fail", "mean_cosine.warn", "mean_cosine.fail")}
    ratio = h["tokens"]["rankme"] / max(ah["tokens"]["isotropic"]["rankme"], 1e-12)
    std_ratio = h["tokens"]["normalised_std_mean"] / h["tokens"]["isotropic_std"]
    cos = h["image"]["mean_pairwise_cosine"]
    detail = (f"patch-token RankMe {h['tokens']['rankme']:.1f} = {ratio:.0%} of the isotropic anchor "
              f"({ah['tokens']['isotropic']['rankme']:.1f}); normalised per-dimension std {std_ratio:.0%} of "
              f"1/sqrt(D); mean pairwise cosine of image embeddings {cos:.3f}")
    if ratio < t["rankme_fraction.fail"] or std_ratio < t["std_fraction.fail"] or cos > t["mean_cosine.fail"]:
        status = "fail"
    elif ratio < t["rankme_fraction.warn"] or cos > t["mean_cosine.warn"]:
        status = "warn"
    else:
        status = "pass"
    section.add_check("collapse", status, detail + {"fail": ": collapsed", "warn": ": partly collapsed",
                                                    "pass": ""}[status], figure_id="health", value=ratio)
