"""Produce a sample run end to end: data, training, checkpoints, logs, images, config and README."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..errors import ReportError
from .data import make_shape_set
from .knn import fresh_image_knn, fresh_sets
from .readme import write_readme
from .recipe import SampleRecipe, hjepa_config
from .train import Splits, Trainer, build_network
from .write import RunWriter

# Seeds of the data sets, derived from the run seed (so a seed fixes everything) and kept apart by purpose.
TRAIN_SEED, VAL_SEED = 11, 12


def data_seed(seed: int, purpose: int) -> int:
    """Return the data-set seed for (run seed, purpose): distinct, deterministic streams."""
    return int(np.random.SeedSequence([seed, purpose]).generate_state(1)[0])


def train_sample(recipe: SampleRecipe, out_dir: Path, log=print) -> dict:
    """Train `recipe` into `out_dir` (which must be empty or absent); return a summary of what happened."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ReportError(f"{out_dir} is not empty; make-sample writes a new run into an empty directory")
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        return _train(recipe, out_dir, log)
    finally:
        torch.set_num_threads(threads)


def _train(recipe: SampleRecipe, out_dir: Path, log) -> dict:
    started = time.perf_counter()
    shapes = recipe.shape_settings()
    splits = Splits(
        make_shape_set(recipe.train_per_class, data_seed(recipe.seed, TRAIN_SEED), **shapes),
        make_shape_set(recipe.val_per_class, data_seed(recipe.seed, VAL_SEED), **shapes),
    )
    writer = RunWriter(out_dir)
    trainer = Trainer(recipe, splits, writer)
    writer.write_config(hjepa_config(recipe, trainer.steps_per_epoch))
    writer.write_images(
        splits.val.images, splits.val.foreground, splits.val.labels, splits.val.class_names, recipe.images_per_class
    )
    init_knn = trainer.online_knn()
    best, history = float("inf"), []
    train_started, train_cpu_started = time.perf_counter(), time.process_time()
    for epoch in range(recipe.epochs):
        means = trainer.train_epoch()
        writer.scalars({"loss": trainer.last_loss}, trainer.global_step, "train/")
        writer.scalars(means, trainer.global_step, "train_epoch/")
        val_loss = trainer.validate()
        writer.scalars({"loss": val_loss}, trainer.global_step, "val/")
        saved = (epoch + 1) % recipe.save_every == 0 or epoch == recipe.epochs - 1
        is_best = saved and val_loss < best
        best = val_loss if is_best else best
        if saved:
            writer.save_checkpoint(epoch, trainer.checkpoint_state(val_loss, best, epoch), is_best)
        knn = trainer.online_knn()
        writer.scalars({"knn_accuracy": knn}, trainer.global_step, "online_eval/")
        history.append(
            {
                "epoch": epoch,
                "train_loss": means["loss"],
                "val_loss": float(val_loss),
                "knn": knn,
                "saved": saved,
                "target_std": means.get("target_std"),
            }
        )
        log(
            f"epoch {epoch}: train loss {means['loss']:.4f}  val loss {float(val_loss):.4f}  "
            f"k-NN {knn:.1f}%  ({time.perf_counter() - train_started:.0f} s)"
        )
    writer.close()
    train_seconds, train_cpu = time.perf_counter() - train_started, time.process_time() - train_cpu_started
    sets = fresh_sets(recipe, recipe.eval_per_class)
    summary = {
        "recipe": recipe,
        "history": history,
        "init_knn": init_knn,
        "fresh_knn": {
            "trained": fresh_image_knn(trainer.network.eval(), recipe, sets=sets),
            "random_init": fresh_image_knn(build_network(recipe).eval(), recipe, sets=sets),
            "chance": 100.0 / len(splits.train.class_names),
        },
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu,
        "total_seconds": time.perf_counter() - started,
        "threads": recipe.threads,
        "parameters": parameter_counts(trainer.network),
    }
    write_readme(out_dir, summary)
    return summary


def parameter_counts(network) -> dict:
    """Number of values per sub-model of the saved state dict (both encoders, predictor, hierarchy heads)."""
    counts: dict[str, int] = {}
    for key, tensor in network.state_dict().items():
        part = key.split(".")[0]
        counts[part] = counts.get(part, 0) + tensor.numel()
    counts["total"] = sum(counts.values())
    return counts
