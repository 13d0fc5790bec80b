"""Training section: every logged scalar tag as a curve, grouped by prefix, train and val overlaid."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..plotting import PALETTE, new_figure
from .base import AnalysisPass, PassResult, Presentation
from .context import ReportContext
from .curves import MIN_POINTS_TO_SMOOTH, draw_curve

PANELS_PER_FIGURE = 12
COLUMNS = 3


def tag_group(tag: str) -> str:
    """Return the group a tag is drawn in: its prefix before the first '/', else 'other'."""
    return tag.split("/", 1)[0] if "/" in tag else "other"


def figure_id_for_tag(all_tags: list[str], tag: str) -> str:
    """Return the '#'-prefixed id of the training figure that draws `tag` (for checks of other sections)."""
    group = tag_group(tag)
    members = [t for t in sorted(all_tags) if tag_group(t) == group]
    part = members.index(tag) // PANELS_PER_FIGURE if tag in members else 0
    return f"#training-group-{_slug(group)}-{part}"


def train_val_pairs(tags: list[str]) -> list[tuple[str, str]]:
    """Find (train, val) tag pairs that name the same quantity: train/x & val/x, train_x & val_x, ..."""
    tagset, pairs = set(tags), []
    for tag in tags:
        for train_prefix, val_prefix in (
            ("train/", "val/"),
            ("train_", "val_"),
            ("train_epoch/", "val/"),
            ("train/", "valid/"),
            ("training/", "validation/"),
        ):
            if tag.startswith(train_prefix):
                partner = val_prefix + tag[len(train_prefix) :]
                if partner in tagset and (tag, partner) not in pairs:
                    pairs.append((tag, partner))
    # one pair per val tag, preferring epoch-level train means when both exist
    best: dict[str, tuple[str, str]] = {}
    for train, val in pairs:
        if val not in best or train.startswith("train_epoch/"):
            best[val] = (train, val)
    return sorted(best.values(), key=lambda p: p[1])


@dataclass
class TrainingResult(PassResult):
    """Every logged tag: its group, its (steps, values) arrays, its summary; train/val pairs; the smoothing."""

    groups: dict[str, list[str]]
    pairs: list[tuple[str, str]]
    summaries: dict[str, dict]
    series: dict[str, tuple[np.ndarray, np.ndarray]]
    smoothing: float


class TrainingPass(AnalysisPass[TrainingResult]):
    """Every scalar the run logged, as raw + smoothed curves."""

    name = "training"
    title = "Training curves"

    def applies(self, ctx: ReportContext) -> str | None:
        if len(ctx.run.scalars) == 0:
            return "The run has no scalar logs (no TensorBoard events, CSV or JSON metrics were found)."
        return None

    def compute(self, ctx: ReportContext) -> TrainingResult:
        table = ctx.run.scalars
        groups: dict[str, list[str]] = defaultdict(list)
        for tag in table.tags():
            groups[tag_group(tag)].append(tag)
        summaries = {tag: table.summary(tag) for tag in table.tags()}
        result = TrainingResult(
            dict(groups),
            train_val_pairs(table.tags()),
            summaries,
            {tag: table.arrays(tag) for tag in table.tags()},
            ctx.settings.smoothing,
        )
        result.metrics["tags"] = summaries
        bad = {t: s for t, s in summaries.items() if s["nan"] or s["inf"]}
        if bad:
            result.notes.append(
                "Non-finite values were logged in: "
                + ", ".join(f"{t} ({s['nan']} NaN, {s['inf']} inf)" for t, s in bad.items())
                + ". They are marked with red x."
            )
        return result

    def present(self, result: TrainingResult) -> Presentation:
        weight = result.smoothing
        total = sum(len(t) for t in result.groups.values())
        shown = Presentation(
            intro=(
                f"{total} scalar tags in {len(result.groups)} groups. Faint line: raw values; bold line: "
                f"TensorBoard's debiased exponential smoothing (weight {weight:g}, --smoothing), computed "
                "at full resolution before thinning long logs for drawing."
            )
        )
        if result.pairs:
            _pairs_figure(result, shown)
        for group, tags in result.groups.items():
            for part, start in enumerate(range(0, len(tags), PANELS_PER_FIGURE)):
                chunk = tags[start : start + PANELS_PER_FIGURE]
                suffix = f" ({part + 1})" if len(tags) > PANELS_PER_FIGURE else ""
                shown.add_figure(
                    f"group-{_slug(group)}-{part}",
                    f"{group}{suffix}",
                    _group_caption(group, chunk, weight),
                    _grid_figure(result, chunk),
                )
        shown.add_table(
            "tags",
            f"Logged scalars ({total} tags)",
            ["tag", "points", "first step", "last step", "first", "last", "min", "max", "NaN", "inf", "source"],
            [
                [
                    t,
                    s["count"],
                    s["first_step"],
                    s["last_step"],
                    s["first"],
                    s["last"],
                    s["min"],
                    s["max"],
                    s["nan"],
                    s["inf"],
                    ", ".join(s["sources"]),
                ]
                for t, s in result.summaries.items()
            ],
            caption="One row per tag, from the tidy scalar table (min/max over finite values).",
            collapsed=total > 15,
        )
        return shown


def _grid_figure(result: TrainingResult, tags: list[str]):
    rows = math.ceil(len(tags) / COLUMNS)
    cols = min(COLUMNS, len(tags))
    fig, axes = new_figure(2.6 * cols + 0.4, 2.1 * rows + 0.2, rows, cols)
    axes = np.atleast_1d(axes).ravel()
    for ax, tag in zip(axes, tags, strict=False):
        steps, values = result.series[tag]
        counts = draw_curve(ax, steps, values, weight=result.smoothing, tag=tag, color=PALETTE[0])
        title = tag if not (counts["nan"] or counts["inf"]) else f"{tag}  [{counts['nan'] + counts['inf']} non-finite]"
        ax.set_title(title, fontsize=8.5, loc="left")
        ax.set_xlabel("step", fontsize=8)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 5))
    for ax in axes[len(tags) :]:
        ax.set_visible(False)
    return fig


def _pairs_figure(result: TrainingResult, shown: Presentation) -> None:
    n = len(result.pairs)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = new_figure(3.0 * cols + 0.4, 2.4 * rows + 0.3, rows, cols)
    axes = np.atleast_1d(axes).ravel()
    for ax, (train, val) in zip(axes, result.pairs, strict=False):
        for tag, colour in ((train, PALETTE[0]), (val, PALETTE[1])):
            steps, values = result.series[tag]
            draw_curve(ax, steps, values, weight=result.smoothing, tag=tag, label=tag, color=colour)
        ax.set_title(val.split("/", 1)[-1].replace("val_", ""), fontsize=9, loc="left")
        ax.set_xlabel("step", fontsize=8)
        ax.legend(loc="best", frameon=False)
    for ax in axes[n:]:
        ax.set_visible(False)
    shown.add_figure(
        "train-vs-val",
        "Train vs validation",
        "Training (blue) and validation (orange) values of the same quantity on one step axis, smoothed as "
        "in the panels below (short series are drawn raw, with dots). Healthy: both fall together; a validation "
        "curve that rises while training keeps falling means over-fitting, one far above training from the "
        "start can mean a different preprocessing or masking at validation time.",
        fig,
    )


def _group_caption(group: str, tags: list[str], weight: float) -> str:
    hints = {
        "train": "Losses should fall quickly and then flatten; a loss that climbs back up or turns flat at a high "
        "value is worth a look. Standard deviations and effective ranks that shrink towards zero warn of "
        "representation collapse.",
        "val": "Validation values are logged less often: each point is shown. They should follow the training loss.",
        "train_epoch": "Epoch means of the training metrics: one point per epoch.",
        "predictions": "Prediction diagnostics logged during training (e.g. mask ratio, per-level similarity).",
        "online_eval": "Online evaluation during training (e.g. k-NN accuracy): higher is better.",
    }
    return (
        f"Tags under '{group}' ({len(tags)} panels), one panel each with its own y-axis; a panel switches to a "
        f"log axis when a positive tag spans more than two decades. Bold: smoothed (weight {weight:g}); faint: "
        f"raw. Schedules (lr, momentum, ...) and tags with fewer than {MIN_POINTS_TO_SMOOTH} points are drawn "
        "unsmoothed, with dots at the logged points. Red x at the top edge: NaN or +inf, at the bottom: -inf. "
        + hints.get(group, "Read each panel for trends rather than single values.")
    )


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-") or "other"
