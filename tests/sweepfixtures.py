"""A tiny sweep for the `many`, sweep-page and Slurm tests: copies of the H-JEPA fixture run whose configs differ
in the learning rate (and one in the mask scale), plus one broken run (a truncated config.yaml and nothing else,
as a run that died while it began writing leaves it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reportfixtures import HJEPA_RUN

LRS = (0.05, 0.01, 0.002)
BROKEN = "run9_broken"
# the quickest reports that still hold the log-health metrics (loss end) and an HTML page to link
QUICK = ("--sections", "overview,log-health", "--minimal")


def make_runs(root: Path, lrs=LRS, broken: bool = True) -> list[Path]:
    """Write one fixture copy per learning rate into root/run<i>_lr<lr> (run1 also gets another mask scale)."""
    root.mkdir(parents=True, exist_ok=True)
    runs = []
    for i, lr in enumerate(lrs):
        run = root / f"run{i}_lr{lr:g}"
        shutil.copytree(HJEPA_RUN, run, ignore=shutil.ignore_patterns("reference", "PROVENANCE.md"))
        config = (run / "config.yaml").read_text()
        assert "  lr: 0.05\n" in config and "mask_scale: [0.15, 0.2]" in config
        config = config.replace("  lr: 0.05\n", f"  lr: {lr}\n")
        if i == 1:
            config = config.replace("mask_scale: [0.15, 0.2]", "mask_scale: [0.15, 0.3]")
        (run / "config.yaml").write_text(config)
        runs.append(run)
    if broken:
        (root / BROKEN).mkdir()
        (root / BROKEN / "config.yaml").write_text("model:\n  embed_dim: [32,\n")
        runs.append(root / BROKEN)
    return runs


def fake_report_copies(report_json: Path, root: Path, configs: list[dict], losses: list[float]) -> list[Path]:
    """Copy one real report (json + html) into root/r<i>/, with run.config and the loss end replaced."""
    doc = json.loads(report_json.read_text())
    out = []
    for i, (config, loss) in enumerate(zip(configs, losses, strict=True)):
        doc["run"]["config"], doc["run"]["name"] = config, f"r{i}"
        next(s for s in doc["sections"] if s["name"] == "log-health")["metrics"]["loss_end_median"] = loss
        folder = root / f"r{i}"
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps(doc))
        shutil.copy(report_json.with_name("report.html"), folder / "report.html")
        out.append(folder / "report.json")
    return out
