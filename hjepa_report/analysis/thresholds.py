"""Health-check thresholds: one documented table, overridable with `--thresholds FILE` (YAML or JSON).

Each entry is (default, meaning). Passes read them with `threshold(ctx, name)`; the README lists them all
(generated from this table by `thresholds_markdown`, so the docs cannot drift from the code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError

DEFAULTS: dict[str, tuple[float, str]] = {
    "divergence.warn": (0.25, "warn when the smoothed training loss ends this fraction above its minimum"),
    "divergence.fail": (1.0, "fail when the smoothed training loss ends this fraction above its minimum"),
    "collapse.rankme_fraction.warn": (
        0.25,
        "warn when RankMe < this fraction of the isotropic Gaussian reference of the same shape",
    ),
    "collapse.rankme_fraction.fail": (0.05, "fail when RankMe < this fraction of the isotropic reference"),
    "collapse.std_fraction.fail": (
        0.1,
        "fail when the mean per-dimension std of L2-normalised embeddings < this "
        "fraction of 1/sqrt(D) (the isotropic value)",
    ),
    "collapse.mean_cosine.warn": (0.8, "warn when the mean pairwise cosine similarity of embeddings exceeds this"),
    "collapse.mean_cosine.fail": (0.95, "fail when the mean pairwise cosine similarity exceeds this"),
    "hierarchy.stall_improvement": (
        0.02,
        "a level 'stops improving' when its loss fell by less than this fraction over the last third of training",
    ),
    "hierarchy.others_improvement": (0.1, "... while another level fell by more than this fraction"),
    "schedule.rel_tolerance": (
        1e-3,
        "a logged lr / EMA point mismatches the config when |logged - implied| > tol * |implied| + tol / 10 * peak",
    ),
    "gradients.vanishing": (1e-7, "a layer's gradients vanish when every |g| is below this"),
    "gradients.exploding": (1e3, "a layer's gradient norm explodes above this"),
    "masks.never_sampled.warn": (1, "warn when at least this many patches are never a target or never context"),
    "masks.fallback.warn": (
        0.1,
        "warn when more than this share of H-JEPA's level-0 target blocks come from the generator's unchecked fallback",
    ),
    "masks.collation.warn": (0.2, "warn when I-JEPA's batch collation cuts more than this mean share of a context"),
    "masks.log_z": (4.5, "the run's logged mask sizes disagree with its config's masking when |z| exceeds this"),
    "knn.min_images": (
        100,
        "the kNN-above-chance check needs at least this many labelled images (fewer: skipped; "
        "it passes when the 95 % interval's lower end is above chance)",
    ),
    "prediction.baseline_margin": (
        0.0,
        "predictions must beat the mean-target-token baseline's cosine by more than this",
    ),
}


def load_thresholds(path: str | Path | None) -> dict[str, float]:
    """Read a thresholds file (flat `name: value` YAML/JSON); unknown names are an error naming the known ones."""
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read thresholds file {path}: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError(f"thresholds file {path} must map names to numbers")
    data = _flatten(data)
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown threshold(s) in {path}: {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    bad = [k for k, v in data.items() if not isinstance(v, (int, float)) or isinstance(v, bool)]
    if bad:
        raise ConfigError(f"thresholds must be numbers: {', '.join(bad)}")
    return {k: float(v) for k, v in data.items()}


def threshold(ctx, name: str) -> float:
    """Return the threshold `name` for this report: the user's override, else the default."""
    overrides = getattr(ctx.settings, "thresholds", None) or {}
    if name not in DEFAULTS:
        raise KeyError(f"unknown threshold {name!r}")
    return float(overrides.get(name, DEFAULTS[name][0]))


def thresholds_markdown() -> str:
    """Return the thresholds table as Markdown (for the README)."""
    rows = ["| name | default | meaning |", "|---|---|---|"]
    rows += [f"| `{k}` | {v:g} | {meaning} |" for k, (v, meaning) in DEFAULTS.items()]
    return "\n".join(rows)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out
