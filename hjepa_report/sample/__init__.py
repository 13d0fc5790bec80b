"""The sample run: a small H-JEPA trained on procedural shapes, written in the public H-JEPA layout.

`make_sample_run(out_dir)` generates the labelled shape images (data.py), trains the network of
hjepa_report.models.hjepa on two CPU cores in a few minutes (train.py) and writes checkpoints, TensorBoard
scalars, config.yaml, sample images with foreground masks and a README (write.py, readme.py). The committed
sample_runs/hjepa_shapes64 is its output for seed 0.
"""

from __future__ import annotations

from pathlib import Path


def make_sample_run(
    out_dir, *, seed: int = 0, epochs: int | None = None, quiet: bool = False, quick: bool = False
) -> Path:
    """Train the sample H-JEPA into `out_dir` (created; must be empty) and return its path.

    seed fixes data, initialisation, masks, augmentation and batch order; epochs overrides the recipe's
    epoch count; quiet silences the per-epoch progress lines (stderr); quick uses a tiny model and data set
    (seconds; for tests), with the same code path and file layout.
    """
    import sys

    from .make import train_sample
    from .recipe import SampleRecipe

    recipe = SampleRecipe.quick() if quick else SampleRecipe()
    recipe = recipe.with_changes(seed=seed, epochs=epochs)

    def log(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    train_sample(recipe, Path(out_dir), log)
    return Path(out_dir)
