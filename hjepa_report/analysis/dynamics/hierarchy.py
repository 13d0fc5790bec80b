"""Hierarchical losses from the logs: per-level curves, their weighted sum against the logged total, shares.

H-JEPA's loss (src/losses/hjepa_loss.py, HJEPALoss.forward) is  L = sum_l w_l * L_l  with the weights
`loss.hierarchy_weights`; the trainer logs L as `train/loss` and each L_l as `train/loss_h{l}`, every
`log_frequency * 5` batches. Recomputing the sum from the logged levels and comparing it with the logged
total tells whether the config we read is the one that trained the run (and, for losses with extra terms such
as VICReg, how big those terms are).

Level tags are found by name (documented patterns, any prefix such as `train/`, `val/`, `train/hierarchy/`):
    loss_h<N>            H-JEPA HJEPALoss keys, as logged by the trainer
    loss_level_<N>       the key MetricsLogger.log_hierarchical_losses looks for
    level_<N>_loss       what MetricsLogger.log_hierarchical_losses writes

Regularised losses (jonwiggins/H-JEPA @ eb995a0 src/losses/combined.py, create_loss_from_config: `loss.type`,
default "combined") log the JEPA part as `jepa_loss` (= sum_l w_l loss_h<l>) and the regulariser next to it:
    combined                      loss = jepa_loss + vicreg_loss                     (CombinedLoss.forward)
        vicreg_loss = loss.vicreg_weight (default 0.1) * vicreg_encoder, logged already weighted, with its terms
        vicreg_invariance / vicreg_variance / vicreg_covariance
    hjepa_sigreg, sigreg_combined loss = jepa_loss + loss.sigreg_loss_weight (default 1.0) * sigreg_loss
        (HJEPASIGRegLoss.forward; loss.sigreg_weight only weighs SIGRegLoss's own total, which this sum never
        uses), with sigreg_invariance logged beside it but not added
    hjepa, jepa, smoothl1, mse    loss = sum_l w_l loss_h<l>: no regulariser             (HJEPALoss.forward)
`loss_formula` reads which one from the config and `regulariser_terms` checks it at every logged step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

LEVEL_PATTERNS = (
    re.compile(r"^(?P<prefix>(?:.*/)?)loss_h(?P<level>\d+)$"),
    re.compile(r"^(?P<prefix>(?:.*/)?)loss_level_(?P<level>\d+)$"),
    re.compile(r"^(?P<prefix>(?:.*/)?)level_(?P<level>\d+)_loss$"),
)
TOTAL_NAMES = ("jepa_loss", "loss")  # jepa_loss first: a combined loss logs the JEPA part separately

# Residual tolerance: TensorBoard stores float32, so a sum of three logged float32 numbers can differ from the
# logged float32 total by a few ulp (~1e-7 relative). 1e-4 leaves room for that and nothing else. The same
# tolerance holds for total = jepa_loss + w * regulariser (two float32 terms and a float32 total).
RESIDUAL_TOLERANCE = 1e-4
REGULARISER_TAG_STARTS = ("vicreg_", "sigreg_")  # the regulariser's logged components (CombinedLoss, HJEPASIGRegLoss)

# Stall rule (see `stalled_levels`): a level "stops improving" when its median loss over the last third of the
# logged steps is less than STALL_BELOW lower than over the middle third, while some other level improves by
# more than OTHERS_ABOVE over the same span. Medians make it robust to the step-to-step noise of small batches.
# The report reads both from analysis.thresholds (hierarchy.stall_improvement, hierarchy.others_improvement).
STALL_BELOW = 0.02
OTHERS_ABOVE = 0.10
MIN_POINTS_FOR_STALL = 9


@dataclass
class LevelTags:
    """The tags of one group of per-level losses (same prefix and naming) and the total they add up to."""

    prefix: str
    levels: dict[int, str]  # level -> tag
    total: str | None  # logged total of the same prefix, if any


@dataclass
class HierarchyLosses:
    """Per-level losses aligned on the steps where every level was logged, with derived views."""

    tags: LevelTags
    steps: np.ndarray  # [T] steps where all levels were logged
    levels: np.ndarray  # [L, T] per-level loss
    weights: list[float] | None  # hierarchy weights from the config (None when the config has none)
    weights_source: str
    total_steps: np.ndarray | None = None  # steps where levels and the total were both logged
    total: np.ndarray | None = None  # logged total at total_steps
    weighted_sum: np.ndarray | None = None  # sum_l w_l L_l at total_steps
    improvement: list[float | None] = field(default_factory=list)  # per level, middle third -> last third

    @property
    def residual(self) -> np.ndarray | None:
        """Logged total minus the weighted sum of the logged levels."""
        if self.total is None or self.weighted_sum is None:
            return None
        return self.total - self.weighted_sum

    def max_relative_residual(self) -> float | None:
        """max_t |total - sum_l w_l L_l| / |total|; None when there is nothing to compare."""
        res = self.residual
        if res is None or not len(res):
            return None
        denom = np.maximum(np.abs(self.total), 1e-12)
        rel = np.abs(res) / denom
        rel = rel[np.isfinite(rel)]
        return float(rel.max()) if len(rel) else None

    def shares(self) -> np.ndarray | None:
        """Each level's share w_l L_l / sum_k w_k L_k of the weighted total at every step ([L, T])."""
        if self.weights is None:
            return None
        weighted = np.asarray(self.weights)[:, None] * self.levels
        return weighted / np.where(weighted.sum(0) == 0, np.nan, weighted.sum(0))


@dataclass
class LossFormula:
    """How the run's logged total is made of its logged parts, as the config's `loss.type` says."""

    loss_type: str
    regulariser: str | None  # the logged leaf tag of the regulariser (vicreg_loss | sigreg_loss), None: plain JEPA
    weight: float  # the regulariser's multiplier in the total
    text: str  # the formula in words, with where each number came from


@dataclass
class RegulariserTerms:
    """The logged total, JEPA part and regulariser on the steps all three were logged, and every logged
    regulariser component of the same prefix (for the figure)."""

    formula: LossFormula
    tags: dict[str, str]  # role (total | jepa | regulariser) -> tag
    components: dict[str, tuple[np.ndarray, np.ndarray]]  # tag -> (steps, values)
    steps: np.ndarray
    total: np.ndarray
    jepa: np.ndarray
    regulariser: np.ndarray  # as logged (before the formula's weight)

    @property
    def recomputed(self) -> np.ndarray:
        """jepa_loss + weight * regulariser: the formula's own sum (src/losses/combined.py, see loss_formula)."""
        return self.jepa + self.formula.weight * self.regulariser

    def max_relative_residual(self) -> float | None:
        """max_t |total - (jepa + w * regulariser)| / |total|; None without a common step."""
        if not len(self.steps):
            return None
        rel = np.abs(self.total - self.recomputed) / np.maximum(np.abs(self.total), 1e-12)
        rel = rel[np.isfinite(rel)]
        return float(rel.max()) if len(rel) else None


def loss_formula(config: dict | None) -> LossFormula | None:
    """Read the total-loss formula of an H-JEPA run from its config (None: no loss section or unknown type)."""
    loss = (config or {}).get("loss")
    if not isinstance(loss, dict):
        return None
    from ...models.loss_settings import DEFAULT_TYPE, JEPA_TYPES, SIGREG_TYPES, VICREG_TYPES

    given = loss.get("type")
    kind = str(given if given is not None else DEFAULT_TYPE).lower()
    named = f"loss.type {kind}" if given is not None else "loss.type absent: H-JEPA's default combined"
    if kind in VICREG_TYPES:
        w = loss.get("vicreg_weight", 0.1)
        return LossFormula(
            kind,
            "vicreg_loss",
            1.0,
            f"loss = jepa_loss + vicreg_loss ({named}; vicreg_loss is logged already weighted by "
            f"loss.vicreg_weight = {w}{'' if 'vicreg_weight' in loss else ', H-JEPA default'}: "
            "src/losses/combined.py CombinedLoss)",
        )
    if kind in SIGREG_TYPES:
        w = loss.get("sigreg_loss_weight", 1.0)
        return LossFormula(
            kind,
            "sigreg_loss",
            float(w),
            f"loss = jepa_loss + loss.sigreg_loss_weight x sigreg_loss = jepa_loss + {w} x sigreg_loss ({named}"
            f"{'' if 'sigreg_loss_weight' in loss else '; sigreg_loss_weight absent: H-JEPA default 1.0'}; not "
            "loss.sigreg_weight: src/losses/combined.py HJEPASIGRegLoss)",
        )
    if kind in JEPA_TYPES:
        return LossFormula(kind, None, 0.0, f"loss = sum_l w_l loss_h<l> ({named}: no regulariser, HJEPALoss)")
    return None


def regulariser_terms(scalars, config: dict | None, prefix: str) -> RegulariserTerms | None:
    """Line up total, jepa_loss and the weighted regulariser of `prefix` (None: no regularised formula or tags).

    The total is taken as the first value logged at each step: H-JEPA's trainer also logs the epoch's mean loss
    as `train/loss` at the global step of the epoch's end (HJEPATrainer.train), after the batch's own values.
    """
    formula = loss_formula(config)
    if formula is None or formula.regulariser is None:
        return None
    tags = {"total": prefix + "loss", "jepa": prefix + "jepa_loss", "regulariser": prefix + formula.regulariser}
    if not all(scalars.has(t) for t in tags.values()):
        return None
    ts, total = _first_per_step(*scalars.arrays(tags["total"]))
    js, jepa = _last_per_step(*scalars.arrays(tags["jepa"]))
    rs, reg = _last_per_step(*scalars.arrays(tags["regulariser"]))
    steps = np.intersect1d(np.intersect1d(ts, js), rs)
    components = {t: scalars.arrays(t) for t in regulariser_tags(scalars.tags(), prefix)}
    return RegulariserTerms(
        formula=formula,
        tags=tags,
        components=components,
        steps=steps,
        total=total[np.searchsorted(ts, steps)],
        jepa=jepa[np.searchsorted(js, steps)],
        regulariser=reg[np.searchsorted(rs, steps)],
    )


def regulariser_tags(tags: list[str], prefix: str) -> list[str]:
    """The logged regulariser components of one prefix: train/vicreg_*, train/sigreg_* (sorted as given)."""
    return [t for t in tags if t.startswith(prefix) and t[len(prefix) :].startswith(REGULARISER_TAG_STARTS)]


def find_level_tags(tags: list[str], scalars=None) -> LevelTags | None:
    """Return the group of per-level loss tags with the most points (ties: a `train/` prefix wins).

    `scalars` (a ScalarTable) is only used to count points; without it the group with most levels wins.
    """
    groups: dict[tuple[str, int], dict[int, str]] = {}
    for tag in tags:
        for k, pattern in enumerate(LEVEL_PATTERNS):
            m = pattern.match(tag)
            if m:
                groups.setdefault((m["prefix"], k), {})[int(m["level"])] = tag
                break
    if not groups:
        return None

    def weight(key):
        lv = groups[key]
        points = sum(len(scalars.series(t)) for t in lv.values()) if scalars is not None else 0
        return (len(lv) > 1, points, key[0].startswith("train/"), len(lv))

    best = max(groups, key=weight)
    prefix, levels = best[0], dict(sorted(groups[best].items()))
    tagset = set(tags)
    total = next((prefix + name for name in TOTAL_NAMES if prefix + name in tagset), None)
    return LevelTags(prefix=prefix, levels=levels, total=total)


def config_hierarchy_weights(config: dict | None, num_levels: int) -> tuple[list[float] | None, str]:
    """Return the hierarchy weights the run trained with, and where they came from.

    H-JEPA (src/losses/combined.py, _build_jepa; src/losses/hjepa_loss.py): `loss.hierarchy_weights`, a list or
    one float for every level, default 1.0 when the key is absent.
    """
    loss = (config or {}).get("loss")
    if not isinstance(loss, dict):
        return None, "the config has no loss section"
    w = loss.get("hierarchy_weights", 1.0)
    if isinstance(w, (int, float)):
        return [float(w)] * num_levels, f"loss.hierarchy_weights = {w} for every level"
    if isinstance(w, (list, tuple)) and len(w) == num_levels:
        return [float(x) for x in w], "loss.hierarchy_weights"
    return None, f"loss.hierarchy_weights has {len(w)} entries but the logs have {num_levels} levels"


def hierarchy_losses(scalars, config: dict | None) -> HierarchyLosses | None:
    """Align the per-level losses on common steps and compare their weighted sum with the logged total."""
    tags = find_level_tags(scalars.tags(), scalars)
    if tags is None:
        return None
    per_level = [_last_per_step(*scalars.arrays(t)) for t in tags.levels.values()]
    steps = per_level[0][0]
    for s, _ in per_level[1:]:
        steps = np.intersect1d(steps, s)
    levels = (
        np.stack([v[np.searchsorted(s, steps)] for s, v in per_level]) if len(steps) else np.zeros((len(per_level), 0))
    )
    weights, source = config_hierarchy_weights(config, len(tags.levels))
    result = HierarchyLosses(tags=tags, steps=steps, levels=levels, weights=weights, weights_source=source)
    if tags.total and weights is not None and len(steps):
        # the batch's total, not the epoch mean HJEPATrainer.train logs as train/loss at the same step after it
        ts, tv = _first_per_step(*scalars.arrays(tags.total))
        common = np.intersect1d(ts, steps)
        result.total_steps = common
        result.total = tv[np.searchsorted(ts, common)]
        # H-JEPA HJEPALoss.forward: total = sum_l w_l * L_l
        result.weighted_sum = np.asarray(weights) @ levels[:, np.searchsorted(steps, common)]
    result.improvement = [relative_improvement(row) for row in levels]
    return result


def relative_improvement(values: np.ndarray) -> float | None:
    """Return 1 - median(last third) / median(middle third) of a loss curve (None with < 9 finite points)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < MIN_POINTS_FOR_STALL:
        return None
    third = len(v) // 3
    middle, last = np.median(v[third : 2 * third]), np.median(v[len(v) - third :])
    if middle == 0:
        return None
    return float(1.0 - last / middle)


def stalled_levels(
    improvement: list[float | None], below: float = STALL_BELOW, above: float = OTHERS_ABOVE
) -> list[int]:
    """Return the levels whose improvement is < `below` while another level improves > `above`."""
    stalled = []
    for level, imp in enumerate(improvement):
        others = [x for k, x in enumerate(improvement) if k != level and x is not None]
        if imp is not None and imp < below and any(x > above for x in others):
            stalled.append(level)
    return stalled


def _first_per_step(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep one value per step (the first logged), sorted by step."""
    unique, index = np.unique(steps, return_index=True)
    return unique, values[index]


def _last_per_step(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep one value per step (the last logged), sorted by step."""
    if not len(steps):
        return steps, values
    rev_unique, rev_index = np.unique(steps[::-1], return_index=True)
    return rev_unique, values[::-1][rev_index]
