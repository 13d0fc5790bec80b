"""Write a sweep of sample-sized H-JEPA runs for `hjepa-report many` and the sweep page.

    python benchmarks/make_sweep.py OUT_DIR [--runs 12] [--full]

Each run is the shipped sample recipe (hjepa_report/sample, `hjepa-report make-sample --quick` unless --full)
trained into OUT_DIR/<name>, with one setting of a grid over the learning rate (3e-4, 1e-3, 3e-3), the mask
scale of the target blocks ((0.1, 0.15), (0.15, 0.2)) and the EMA start (0.99, 0.996); the grid is walked in
order until --runs - 1 runs are trained. The last run is deliberately broken: a run whose training died
right after it began writing its config, so its folder holds only a truncated config.yaml (no logs, no
checkpoints): `hjepa-report many` lists it as failed, with the reason, and reports the others.

To measure `many` (the issue's "--jobs 2 in about half the sequential time"):
    hjepa-report many --under OUT_DIR -o R1 --jobs 1 --minimal
    hjepa-report many --under OUT_DIR -o R2 --jobs 2 --minimal
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

LRS = (3e-4, 1e-3, 3e-3)
MASK_SCALES = ((0.1, 0.15), (0.15, 0.2))
EMA_STARTS = (0.99, 0.996)
BROKEN_CONFIG = (
    "experiment: {name: crashed, seed: 0}\nmodel:\n  encoder_type: vit_micro_patch8_64\n  embed_dim: [32, \n"
)


def settings_grid(count: int) -> list[dict]:
    """Return the first `count` settings of the grid (lr, mask scale, EMA start), in grid order."""
    grid = itertools.product(LRS, MASK_SCALES, EMA_STARTS)
    return [dict(lr=lr, mask_scale=ms, ema_start=ema) for lr, ms, ema in itertools.islice(grid, count)]


def run_name(i: int, s: dict) -> str:
    """Return a folder name that states the run's settings, e.g. run03_lr1e-03_ms0.20_ema0.990."""
    return f"run{i:02d}_lr{s['lr']:.0e}_ms{s['mask_scale'][1]:.2f}_ema{s['ema_start']:.3f}"


def make_sweep(out: Path, runs: int = 12, full: bool = False) -> list[Path]:
    """Train runs - 1 sample runs into `out` and add the broken one; return the run folders."""
    from hjepa_report.sample.make import train_sample
    from hjepa_report.sample.recipe import SampleRecipe

    out.mkdir(parents=True, exist_ok=True)
    made = []
    for i, s in enumerate(settings_grid(runs - 1)):
        name = run_name(i, s)
        recipe = (SampleRecipe(name=name, **s) if full else SampleRecipe.quick(name=name, **s)).with_changes(threads=1)
        started = time.perf_counter()
        train_sample(recipe, out / name, log=lambda msg: None)
        print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)
        made.append(out / name)
    broken = out / f"run{runs - 1:02d}_broken"
    broken.mkdir(exist_ok=True)
    (broken / "config.yaml").write_text(BROKEN_CONFIG)
    print(f"{broken.name}: broken on purpose (a truncated config.yaml, nothing else)")
    return [*made, broken]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=int, default=12, help="runs in all, the broken one included (2-13)")
    parser.add_argument("--full", action="store_true", help="the full sample recipe (~4 min a run) instead of --quick")
    args = parser.parse_args(argv)
    if not 2 <= args.runs <= len(LRS) * len(MASK_SCALES) * len(EMA_STARTS) + 1:
        parser.error("--runs must be between 2 and 13")
    make_sweep(args.out, args.runs, args.full)


if __name__ == "__main__":
    main()
