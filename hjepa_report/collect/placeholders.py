"""Logged values that stand for "not computed": taken out of the scalar table and counted, never read as numbers.

- H-JEPA (jonwiggins/H-JEPA @ eb995a0, src/trainers/trainer.py _compute_collapse_metrics) logs
  `context_eff_rank = target_eff_rank = -1` when the device cannot run an SVD (DeviceManager.supports_svd,
  false on MPS). An effective rank is exp(entropy) >= 1, so -1 is never a measured value; its epoch means
  (train_epoch/*_eff_rank) are -1 too when every batch was. Plotted as a value, it would draw a collapse that
  never happened.
"""

from __future__ import annotations

from .scalars import ScalarTable

PLACEHOLDERS = {"_eff_rank": -1.0}  # tag leaf suffix -> the value that means "not computed"


def placeholder_value(tag: str) -> float | None:
    """The placeholder value of a tag (None: the tag has none)."""
    leaf = tag.rsplit("/", 1)[-1]
    return next((value for suffix, value in PLACEHOLDERS.items() if leaf.endswith(suffix)), None)


def drop_placeholders(table: ScalarTable) -> tuple[ScalarTable, dict[str, int]]:
    """Return the table without placeholder points, and how many each tag had ({} when none)."""
    frame = table.frame
    marked = {t: v for t in frame["tag"].unique() if (v := placeholder_value(str(t))) is not None}
    if not marked:
        return table, {}
    hit = frame["tag"].map(marked).eq(frame["value"])  # tags without a placeholder map to NaN: never equal
    if not hit.any():
        return table, {}
    counts = frame.loc[hit, "tag"].value_counts()
    return ScalarTable(frame.loc[~hit].reset_index(drop=True)), {str(t): int(n) for t, n in sorted(counts.items())}
