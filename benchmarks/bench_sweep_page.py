"""How big is the sweep page (index.html) of 500 runs, and how long does it take to write and to open?

    python benchmarks/bench_sweep_page.py [--runs 500] [--out DIR] [--no-browser]

SYNTHETIC DATA, for page size and render time only: it writes --runs small report.json files that no run
produced (run names `synthetic-NNNN`, tool version `synthetic`, a placeholder report.html each). Each holds
the sample recipe's real config (hjepa_report.sample.recipe.hjepa_config, about 140 keys once flattened) with
the learning rate, mask scale, EMA start and weight decay drawn from a grid, and made-up key metrics (a
smooth function of those plus seeded noise) in the places report.json keeps them. Then it times
`write_index` (read every report.json, find the differing config values, render, write) and, when headless
Chromium is at /usr/bin/chromium, opening the page: load to the end of the plots' first drawing, and one
sort of the 500 rows, each the median of three fresh opens (on a busy machine these vary by 2x).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
MASK_UPPER = (0.15, 0.2, 0.25, 0.3)
EMA_STARTS = (0.99, 0.993, 0.996, 0.999)
WEIGHT_DECAYS = (0.01, 0.05, 0.1)
TIMED_OPEN = """
(async () => {
  const nav = performance.getEntriesByType("navigation")[0];
  const table = document.getElementById("reports");
  const button = Array.from(table.tHead.rows[0].cells).find(th => th.textContent.trim() === "loss end")
    .querySelector("button");
  const t0 = performance.now();
  button.click();
  const sort = performance.now() - t0;
  const t1 = performance.now();
  document.getElementById("sweep-metric").dispatchEvent(new Event("change"));
  const redraw = performance.now() - t1;
  const paint = performance.getEntriesByType("paint").find(p => p.name === "first-contentful-paint");
  return {load: nav.loadEventEnd, domContentLoaded: nav.domContentLoadedEventEnd, sort: sort, redraw: redraw,
          paint: paint ? paint.startTime : null,
          lines: document.querySelectorAll("#parallel polyline").length};
})()
"""


def synthetic_doc(i: int, setting: tuple, rng: np.random.Generator) -> dict:
    """Return one made-up report.json document (the fields the index reads, and the real sample config)."""
    from hjepa_report.sample.recipe import SampleRecipe, hjepa_config

    lr, upper, ema, wd = setting
    recipe = SampleRecipe.quick(name=f"synthetic-{i:04d}", lr=lr, mask_scale=(0.15, upper), ema_start=ema)
    config = hjepa_config(recipe.with_changes(weight_decay=wd), 10)
    quality = -((math.log10(lr) + 3) ** 2) - 4 * (upper - 0.2) ** 2 - 30 * (ema - 0.996) ** 2
    loss = float(0.4 - 0.05 * quality + rng.normal(0, 0.02))
    knn = float(min(1.0, max(0.0, 0.6 + 0.08 * quality + rng.normal(0, 0.03))))
    verdict = "fail" if loss > 0.6 else ("warn" if loss > 0.45 else "pass")
    return {
        "schema": "1.0",
        "tool": {"name": "hjepa-report", "version": "synthetic"},
        "created_at": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00",
        "command_line": "benchmarks/bench_sweep_page.py (synthetic)",
        "settings": {"json_only": False},
        "run": {"name": recipe.name, "layout": "hjepa", "config": config},
        "sections": [
            {"name": "log-health", "status": "ok", "metrics": {"loss_tag": "train/loss", "loss_end_median": loss}},
            {
                "name": "representations",
                "status": "ok",
                "metrics": {
                    "health": {"tokens": {"rankme": float(20 + 10 * knn)}, "image": {"mean_pairwise_cosine": 0.3}},
                    "accuracy": {"image": {"knn_accuracy": knn}},
                    "best_checkpoint": "checkpoints/checkpoint_epoch_0009.pth",
                },
            },
        ],
        "health": {"verdict": verdict, "checks": [{"name": "synthetic", "status": verdict}]},
    }


def write_reports(root: Path, runs: int, seed: int = 0) -> None:
    """Write `runs` synthetic report folders below root (report.json + a placeholder report.html)."""
    rng = np.random.default_rng(seed)
    grid = itertools.cycle(itertools.product(LRS, MASK_UPPER, EMA_STARTS, WEIGHT_DECAYS))
    for i in range(runs):
        folder = root / f"synthetic-{i:04d}"
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps(synthetic_doc(i, next(grid), rng)))
        (folder / "report.html").write_text("<!DOCTYPE html><title>synthetic</title><p>synthetic report</p>")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--out", type=Path, help="folder for the synthetic reports (default: a temporary one)")
    parser.add_argument("--no-browser", action="store_true", help="do not time opening the page in Chromium")
    args = parser.parse_args(argv)
    from hjepa_report.render.index import write_index

    root = args.out or Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    write_reports(root, args.runs)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        page = write_index(root)
        times.append(time.perf_counter() - start)
    size = page.stat().st_size
    print(f"{args.runs} synthetic reports in {root}")
    print(f"index.html: {size / 1e6:.2f} MB; write_index (read, render, write): best {min(times):.2f} s of 3")
    if args.no_browser:
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from browser_driver import CHROMIUM, inspect_page

    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM}: opening the page not timed")
        return
    opened = [inspect_page(page, script=TIMED_OPEN).script_result for _ in range(3)]
    med = {k: float(np.median([o[k] for o in opened if o[k] is not None] or [math.nan])) for k in opened[0]}
    print(
        f"in Chromium (median of 3 fresh opens): first paint {med['paint']:.0f} ms, DOMContentLoaded "
        f"{med['domContentLoaded']:.0f} ms, load {med['load']:.0f} ms; sort {args.runs} rows {med['sort']:.0f} ms, "
        f"redraw the plots {med['redraw']:.0f} ms ({med['lines']:.0f} lines)"
    )


if __name__ == "__main__":
    main()
