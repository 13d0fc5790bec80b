"""Every figure of the seed toolkit's 26 functions, made here with hjepa-report's public calls, for one run.

    python examples/visualization_example.py OUT_DIR [--run sample_runs/hjepa_shapes64] [--images 8] [--seed 0]

writes OUT_DIR/<seed function name>.png (or .gif / .npz / .csv) for each of the seed's functions
(../shared/seed-visualization-summary.md), so a seed user can see what replaced `visualize_attention_rollout
(model, image)` and friends. Unlike the seed's examples script, nothing here is synthetic: the figures are of
the run's own rebuilt model, its own masking and its own logs. The README's "Coming from the H-JEPA
visualization toolkit" table names the same calls; tests/test_examples.py runs this script.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from hjepa_report import collect_run
from hjepa_report.analysis.attention import (
    attention_rollout,
    cls_attention_maps,
    describe_rollout,
    query_patch_attention,
    rollout_patch_map,
)
from hjepa_report.analysis.attention.figures import (
    all_heads_figure,
    depth_comparison_figure,
    layer_head_maps_figure,
    query_attention_figure,
    rollout_figure,
)
from hjepa_report.analysis.curves import draw_curve
from hjepa_report.analysis.dynamics.batch import training_masks
from hjepa_report.analysis.dynamics.figures import (
    gradient_layers_figure,
    hierarchy_levels_figure,
    landscape_contour,
    schedules_figure,
)
from hjepa_report.analysis.dynamics.gradients import gradient_flow
from hjepa_report.analysis.dynamics.hierarchy import hierarchy_losses
from hjepa_report.analysis.dynamics.landscape import loss_surface, trainable_parameters
from hjepa_report.analysis.dynamics.schedules import config_schedule, steps_per_epoch_from_logs
from hjepa_report.analysis.masking.gifs import masking_process
from hjepa_report.analysis.representations.checkpoint_figures import curves_figure
from hjepa_report.analysis.representations.embedding import nearest_neighbours, projections
from hjepa_report.analysis.representations.figures import health_figure, neighbours_figure, projection_figure
from hjepa_report.analysis.representations.metrics import (
    alpha_req,
    chance_accuracy,
    knn_accuracy,
    rankme,
    reference_embeddings,
)
from hjepa_report.analysis.representations.prediction_figures import cosine_histogram_figure, prediction_maps_figure
from hjepa_report.analysis.representations.predictions import measure_levels
from hjepa_report.masking import (
    mask_stats,
    plot_draw_grid,
    plot_masking_instance,
    plot_original_mask_masked,
    plot_region_overlays,
    plot_spatial_statistics,
    plot_strategy_comparison,
    sample_masks,
)
from hjepa_report.models import load, load_images
from hjepa_report.plotting import new_figure

SAMPLE_RUN = Path(__file__).resolve().parent.parent / "sample_runs" / "hjepa_shapes64"


@dataclass
class Demo:
    """What every example needs: the run, its rebuilt model, a few images through it, and the run's masks."""

    run: object  # hjepa_report.collect.run.Run
    model: object  # hjepa_report.models.JepaModel
    images: object  # torch.Tensor [B, 3, S, S], normalised as the run trained
    pictures: list[np.ndarray]  # the same images as uint8 [S, S, 3]
    labels: list[str]
    attentions: dict[int, np.ndarray]  # block -> [B, H, T, T] of the target encoder
    draws: object  # hjepa_report.analysis.masking.MaskDraws, one draw per image
    seed: int
    landscape_grid: int = 7  # loss evaluations: grid x grid

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.model.info.grid)

    def hidden(self) -> np.ndarray:
        """[B, N] bool: H-JEPA hides the union of the level-0 target blocks (True = hidden)."""
        return self.draws.targets.any(axis=1)


def prepare(run_dir: Path = SAMPLE_RUN, n_images: int = 16, seed: int = 0) -> Demo:
    """Read the run, rebuild its latest checkpoint and pass `n_images` of its images (one per class first)."""
    import torch

    run = collect_run(run_dir)
    model = load(run.latest_checkpoint().path, run.config)
    by_class: dict[str, list] = {}
    for ref in run.images:
        by_class.setdefault(ref.label, []).append(ref)
    chosen = [refs[i] for i in range(max(map(len, by_class.values()))) for refs in by_class.values() if i < len(refs)]
    chosen = chosen[:n_images]
    info = model.info
    images, pictures = load_images(
        [r.path for r in chosen], info.image_size, info.norm_mean, info.norm_std, method=info.preprocess
    )
    with torch.inference_mode():
        out = model.encode(images, attention_layers=list(range(info.depth)))
    attentions = {block: a.numpy() for block, a in out.attentions.items()}
    draws = sample_masks(run.config, n=len(chosen), seed=seed, grid=info.grid, patch_size=info.patch_size)
    return Demo(run, model, images, list(pictures), [r.label for r in chosen], attentions, draws, seed)


# --- masking (the run's own masking, hjepa_report.masking) -------------------------------------------------


def visualize_masking_strategy(d: Demo) -> Figure:
    return plot_masking_instance(d.pictures[0], d.draws.targets[0], d.draws.context[0], d.grid)


def visualize_masked_image(d: Demo) -> Figure:
    return plot_original_mask_masked(d.pictures[0], d.draws.targets[0], d.draws.context[0], d.grid)


def visualize_context_target_regions(d: Demo) -> Figure:
    return plot_region_overlays(d.pictures[0], d.draws.targets[0], d.draws.context[0], d.grid)


def compare_masking_strategies(d: Demo) -> Figure:
    from hjepa_report.analysis.masking import central_block_masks, random_patch_masks

    hidden = d.hidden()[:1].sum(axis=1)
    rng = np.random.default_rng(d.seed)
    strategies = [("the run's masking", d.draws.targets[0], d.draws.context[0])]
    for name, other in (
        ("random patches, same count", random_patch_masks(d.grid, hidden, rng)),
        ("one central block, same area", central_block_masks(d.grid, hidden)),
    ):
        strategies.append((name, other.targets[0], other.context[0]))
    return plot_strategy_comparison(d.pictures[0], strategies, d.grid)


def animate_masking_process(d: Demo):
    return masking_process(d.pictures[0], d.draws.targets[0], d.draws.context[0], d.grid)


def visualize_multi_block_masking(d: Demo) -> Figure:
    k = min(9, len(d.pictures))
    return plot_draw_grid(d.pictures[:k], d.draws.targets[:k], d.draws.context[:k], d.grid)


def plot_masking_statistics(d: Demo) -> Figure:
    many = sample_masks(d.run.config, n=1000, seed=d.seed, grid=d.grid, patch_size=d.model.info.patch_size)
    s = mask_stats(many.targets, many.context, many.grid)
    return plot_spatial_statistics(
        s.target_frequency, s.context_frequency, s.context_sizes, s.block_sizes, s.union_sizes, s.aspect_ratios
    )


# --- attention (the target encoder's softmax probabilities, captured inside its blocks) --------------------


def extract_attention_maps(d: Demo) -> dict[str, np.ndarray]:
    return {f"block_{block}": a for block, a in d.attentions.items()}  # each [B, H, T, T]


def _cls_maps(d: Demo, block: int) -> np.ndarray:
    return cls_attention_maps(d.attentions[block], d.grid)  # [B, H, rows, cols]


def visualize_attention_maps(d: Demo) -> Figure:
    layers = sorted(d.attentions)
    heads = list(range(d.model.info.num_heads))
    maps = np.stack([_cls_maps(d, layer)[0] for layer in layers])  # [L, H, rows, cols]
    return layer_head_maps_figure(d.pictures[0], maps, layers, heads)


def visualize_multihead_attention(d: Demo) -> Figure:
    last = max(d.attentions)
    return all_heads_figure(d.pictures[0], _cls_maps(d, last)[0], last)


def visualize_attention_rollout(d: Demo) -> Figure:
    has_cls = d.model.info.has_cls
    rollout = attention_rollout([d.attentions[b] for b in sorted(d.attentions)], "mean", 0.9, has_cls=has_cls)
    maps = rollout_patch_map(rollout, has_cls).reshape(-1, *d.grid)
    return rollout_figure(d.pictures[:4], maps[:4], describe_rollout("mean", 0.9, has_cls))


def visualize_hierarchical_attention(d: Demo) -> Figure:
    blocks = sorted(d.attentions)
    layers = [blocks[0], blocks[len(blocks) // 2], blocks[-1]]
    maps = np.stack([_cls_maps(d, layer).mean(axis=1) for layer in layers], axis=1)  # [B, 3, rows, cols]
    return depth_comparison_figure(d.pictures[:3], maps[:3], layers)


def visualize_patch_to_patch_attention(d: Demo) -> Figure:
    rows, cols = d.grid
    queries = [("centre", (rows // 2) * cols + cols // 2), ("top left", 0)]
    layers = sorted(d.attentions)
    has_cls = d.model.info.has_cls
    maps = np.array(
        [
            [query_patch_attention(d.attentions[b], q, d.grid, has_cls)[0].mean(axis=0) for b in layers]
            for _, q in queries
        ]
    )
    return query_attention_figure(d.pictures[0], maps, queries, layers, d.grid)


# --- predictions and representations ---------------------------------------------------------------------


def _prediction_errors(d: Demo, model=None):
    """Predicted vs target tokens at the hidden patches, per hierarchy level (predictions.PredictionErrors)."""
    import torch

    model = model or d.model
    hidden = d.hidden()
    with torch.inference_mode():
        prediction = model.predict(d.images, torch.from_numpy(hidden))
    return measure_levels(model, prediction), hidden


def visualize_predictions(d: Demo) -> Figure:
    errors, hidden = _prediction_errors(d)
    return prediction_maps_figure(errors.levels, d.pictures, hidden, d.grid)


def visualize_hierarchical_predictions(d: Demo) -> Figure:
    errors, _ = _prediction_errors(d)
    return cosine_histogram_figure(errors.levels)


def _patch_tokens(d: Demo, model=None) -> np.ndarray:
    """The target encoder's patch tokens [B, N, D] of the images."""
    import torch

    with torch.inference_mode():
        return (model or d.model).encode(d.images).patch_tokens.double().numpy()


def _embeddings(d: Demo, model=None) -> np.ndarray:
    """Mean-pooled target-encoder patch tokens [B, D] (the report's image embedding)."""
    return _patch_tokens(d, model).mean(axis=1)


def visualize_feature_space(d: Demo) -> Figure:
    return projection_figure(projections(_embeddings(d), seed=d.seed, minimal=True), d.labels)


def visualize_nearest_neighbors(d: Demo) -> Figure:
    queries = np.arange(min(3, len(d.pictures)))
    found, scores = nearest_neighbours(_embeddings(d), queries, k=min(4, len(d.pictures) - 1))
    return neighbours_figure(d.pictures, queries, found, scores, d.labels)


def visualize_reconstruction(d: Demo) -> Figure:
    """H-JEPA has no decoder: the report's answer is the nearest real patches to each prediction, in place."""
    from hjepa_report import ReportSettings, build_report

    settings = ReportSettings(sections=["predicted-patches"], max_images=len(d.pictures), seed=d.seed)
    section = build_report(d.run.root, settings).section("predicted-patches")
    return section.figures[0].content


def visualize_embedding_distribution(d: Demo) -> Figure:
    z = _embeddings(d)
    return health_figure(z, reference_embeddings(*z.shape, seed=d.seed))


def plot_collapse_metrics(d: Demo) -> Figure:
    """RankMe, alpha-ReQ and kNN accuracy of the same images at every distinct checkpoint of the run."""
    rows = []
    for ref in sorted(d.run.unique_checkpoints(), key=lambda c: c.epoch or 0):
        model = load(ref.path, d.run.config)
        tokens = _patch_tokens(d, model)
        z = tokens.mean(axis=1)
        level0 = _prediction_errors(d, model)[0].summary[0]
        rows.append(
            {"name": ref.name, "epoch": ref.epoch, "rankme": rankme(z)}
            | {"alpha_req": alpha_req(tokens.reshape(-1, tokens.shape[-1]))}
            | {"knn_accuracy": knn_accuracy(z, d.labels, k=1)}  # k = 1: two images per class
            | {"prediction_cosine": level0["cosine_mean"], "baseline_cosine": level0["baseline_cosine_mean"]}
        )
    return curves_figure(rows, best=None, references={"chance": chance_accuracy(d.labels)})


# --- training dynamics --------------------------------------------------------------------------------------


def load_training_logs(d: Demo):
    return d.run.scalars.frame  # pandas: source, tag, step, value, wall_time (TensorBoard, CSV, JSON logs)


def plot_training_curves(d: Demo) -> Figure:
    tags = ["train/loss", "val/loss", "train/lr"]
    fig, axes = new_figure(9.0, 2.8, 1, len(tags))
    for ax, tag in zip(axes, tags, strict=True):
        steps, values = d.run.scalars.arrays(tag)
        draw_curve(ax, steps, values, weight=0.6, tag=tag)  # raw faint, TensorBoard's debiased EMA bold
        ax.set(title=tag, xlabel="step")
    return fig


def plot_hierarchical_losses(d: Demo) -> Figure:
    return hierarchy_levels_figure(hierarchy_losses(d.run.scalars, d.run.config), weight=0.6)


def plot_ema_momentum(d: Demo) -> Figure:
    steps_per_epoch, _ = steps_per_epoch_from_logs(d.run.scalars, "hjepa", d.run.config)
    implied = config_schedule(d.run.config, "hjepa", steps_per_epoch)
    logged = {"ema_momentum": d.run.scalars.arrays("train/ema_momentum"), "lr": d.run.scalars.arrays("train/lr")}
    return schedules_figure(implied, logged, ["lr", "ema_momentum"])


def _loss_closure(d: Demo):
    """The run's own training loss on the images, under one seeded draw of its training masks."""
    info = d.model.info
    masks = training_masks(d.run.config, info.layout, len(d.images), d.seed, info.grid, info.patch_size)
    masks = d.model.loss_masks(masks, len(d.images))
    settings = d.model.loss_settings(d.run.config, d.seed)
    targets = d.model.loss_targets(d.images, masks, settings)  # the EMA target side, once: gradients never move it
    return lambda: d.model.loss(d.images, masks, settings, targets=targets)


def visualize_gradient_flow(d: Demo) -> Figure:
    return gradient_layers_figure(gradient_flow(d.model.network, _loss_closure(d), d.model.backward), 1e-7)


def visualize_loss_landscape(d: Demo) -> Figure:
    import torch

    closure = _loss_closure(d)

    def loss() -> float:
        with torch.inference_mode():
            return float(closure().total)

    params = trainable_parameters(d.model.network)
    surface = loss_surface(loss, params, (d.seed, d.seed + 1), np.linspace(-1.0, 1.0, d.landscape_grid))
    return landscape_contour(surface)


SEED_FUNCTIONS = {  # the seed's 26 functions, in its summary's order
    f.__name__: f
    for f in (
        extract_attention_maps,
        visualize_attention_maps,
        visualize_multihead_attention,
        visualize_attention_rollout,
        visualize_hierarchical_attention,
        visualize_patch_to_patch_attention,
        visualize_masking_strategy,
        visualize_masked_image,
        visualize_context_target_regions,
        compare_masking_strategies,
        animate_masking_process,
        visualize_multi_block_masking,
        plot_masking_statistics,
        visualize_predictions,
        visualize_hierarchical_predictions,
        visualize_feature_space,
        visualize_nearest_neighbors,
        visualize_reconstruction,
        visualize_embedding_distribution,
        plot_training_curves,
        plot_hierarchical_losses,
        visualize_loss_landscape,
        visualize_gradient_flow,
        plot_collapse_metrics,
        plot_ema_momentum,
        load_training_logs,
    )
}


def save(result, path: Path) -> Path:
    """Write one example's result: a Figure as PNG, an Animation as GIF, arrays as .npz, a table as .csv."""
    from hjepa_report.analysis.base import Animation

    if isinstance(result, Figure):
        out = path.with_suffix(".png")
        result.savefig(out, dpi=100, bbox_inches="tight")
    elif isinstance(result, Animation):
        from PIL import Image

        out = path.with_suffix(".gif")
        frames = [Image.fromarray(f) for f in result.frames]
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=result.duration_ms, loop=result.loop)
    elif isinstance(result, dict):
        out = path.with_suffix(".npz")
        np.savez_compressed(out, **result)
    else:
        out = path.with_suffix(".csv")
        result.to_csv(out, index=False)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder to write the figures into (created if missing)")
    parser.add_argument("--run", type=Path, default=SAMPLE_RUN, help="run directory (default: the sample run)")
    parser.add_argument("--images", type=int, default=16, help="images through the networks (default 16: 2 a class)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--landscape-grid", type=int, default=7, help="loss-landscape grid size (default 7)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    demo = prepare(args.run, args.images, args.seed)
    demo.landscape_grid = args.landscape_grid
    for name, example in SEED_FUNCTIONS.items():
        print(save(example(demo), args.out_dir / name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
