"""Does the sample run's attention rollout look at the shapes? Trained checkpoint vs the same network untrained.

Usage: python benchmarks/attention_foreground.py [RUN_DIR]   (default sample_runs/hjepa_shapes64)

For every sample image with a stored foreground mask: the CLS rollout (Abnar & Zuidema 2020; mean head fusion,
discard 0.9) of the target encoder, its mass on foreground patches, and the foreground's share of the image.
The untrained reference is the sample trainer's own seeded initialisation (three seeds): a model that looks
everywhere equally puts mass equal to the area share; image contrast alone already pulls it up a little.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from hjepa_report.analysis.attention.foreground import image_foreground, patch_coverage
from hjepa_report.analysis.attention.rollout import attention_rollout, rollout_cls_map
from hjepa_report.collect import collect_run
from hjepa_report.models import load, load_images
from hjepa_report.sample.recipe import recipe_from_config
from hjepa_report.sample.train import build_network


def foreground_share(model, images, coverages) -> tuple[float, float]:
    """Return (mean rollout mass on the foreground, mean foreground area share) over the images."""
    with torch.inference_mode():
        out = model.encode(images, encoder="target", attention_layers=list(range(model.info.depth)))
    rollout = attention_rollout([out.attentions[k].numpy() for k in sorted(out.attentions)], "mean", 0.9, True)
    maps = rollout_cls_map(rollout)
    mass = [float((m.reshape(-1) * c).sum()) for m, c in zip(maps, coverages, strict=True)]
    return float(np.mean(mass)), float(np.mean([c.mean() for c in coverages]))


def main(run_dir: Path) -> None:
    run = collect_run(run_dir)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    model = load(run.latest_checkpoint().path, config)
    info = model.info
    masks = image_foreground(run.foreground, [i.path for i in run.images])
    keep = [k for k, m in enumerate(masks) if m is not None]
    images, _ = load_images(
        [run.images[k].path for k in keep], info.image_size, info.norm_mean, info.norm_std, method=info.preprocess
    )
    coverages = [patch_coverage(masks[k], info.image_size, info.preprocess, info.grid) for k in keep]
    trained, area = foreground_share(model, images, coverages)
    print(f"{len(keep)} images; foreground area share {area:.1%}")
    print(f"trained ({run.latest_checkpoint().name}): rollout mass on foreground {trained:.1%}")
    recipe = recipe_from_config(config)
    for seed in (0, 1, 2):
        untrained = build_network(recipe.with_changes(seed=seed))
        state = {"model_state_dict": untrained.state_dict()}
        fresh = load(state, config)
        mass = foreground_share(fresh, images, coverages)[0]
        print(f"untrained (init seed {seed}): rollout mass on foreground {mass:.1%}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "sample_runs/hjepa_shapes64"))
