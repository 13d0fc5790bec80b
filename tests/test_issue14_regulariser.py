"""Issue 14 item 3: the hierarchical-losses section shows a combined / SIGReg loss's regulariser and checks that
the logged total is the JEPA part plus the weighted regulariser.

The logs are built the way H-JEPA's trainer writes them (jonwiggins/H-JEPA @ eb995a0): the loss dict of
CombinedLoss / HJEPASIGRegLoss logged under train/ every few batches, float32 as TensorBoard stores it, and the
epoch's mean loss logged as train/loss again at the epoch's last global step (HJEPATrainer.train). Totals:
    combined:       loss = jepa_loss + vicreg_loss (vicreg_loss already = vicreg_weight * vicreg_encoder)
    hjepa_sigreg:   loss = jepa_loss + sigreg_loss_weight * sigreg_loss (sigreg_weight plays no part)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.dynamics import hierarchy
from hjepa_report.analysis.dynamics.hierarchy_section import HierarchyLossPass
from hjepa_report.collect import Run, ScalarTable
from hjepa_report.settings import ReportSettings

WEIGHTS = [1.0, 0.5, 0.25]
STEPS = np.arange(1, 200, 5, dtype=float)  # batch logs every 5 steps; the epoch ends at step 196


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(float)


def _table(points: dict[str, tuple[np.ndarray, np.ndarray]]) -> ScalarTable:
    frames = [
        pd.DataFrame({"source": "events", "tag": tag, "step": s, "value": v, "wall_time": np.nan})
        for tag, (s, v) in points.items()
    ]
    return ScalarTable.concat(frames)


def _logs(regulariser: str, weight: float, seed: int = 0) -> ScalarTable:
    """Per-batch loss dicts as the trainer logs them, plus the epoch-mean train/loss at a batch's step."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, len(STEPS))
    levels = [1.5 * np.exp(-2 * t) + 0.1 * rng.random(len(t)) + 0.2 * k for k in range(3)]
    levels32 = [np.asarray(v, np.float32) for v in levels]
    jepa = sum(np.float32(w) * v for w, v in zip(WEIGHTS, levels32, strict=True))  # float32, as in HJEPALoss
    pts = {f"train/loss_h{k}": (STEPS, v.astype(float)) for k, v in enumerate(levels32)}
    pts["train/jepa_loss"] = (STEPS, jepa.astype(float))
    if regulariser == "vicreg":
        inv, var, cov = (np.asarray(0.5 + 0.2 * rng.random(len(t)), np.float32) for _ in range(3))
        encoder = np.float32(25.0) * inv + np.float32(25.0) * var + cov
        reg = np.float32(weight) * encoder
        pts.update(
            {
                "train/vicreg_loss": (STEPS, reg.astype(float)),
                "train/vicreg_encoder": (STEPS, encoder.astype(float)),
                "train/vicreg_invariance": (STEPS, inv.astype(float)),
                "train/vicreg_variance": (STEPS, var.astype(float)),
                "train/vicreg_covariance": (STEPS, cov.astype(float)),
            }
        )
        total = jepa + reg
    else:
        reg = np.asarray(0.3 * np.exp(-t) + 0.01, np.float32)
        pts["train/sigreg_loss"] = (STEPS, reg.astype(float))
        pts["train/sigreg_invariance"] = (STEPS, _f32(0.2 + 0.1 * rng.random(len(t))))
        total = jepa + np.float32(weight) * reg
    # the epoch mean, logged after the batch's own train/loss at the same global step
    total_steps = np.concatenate([STEPS, [STEPS[-1]]])
    pts["train/loss"] = (total_steps, np.concatenate([total.astype(float), [float(total.mean())]]))
    return _table(pts)


def _section(scalars: ScalarTable, config: dict):
    run = Run(root=".", name="synthetic", layout="hjepa", layout_reason="test", config=config, scalars=scalars)
    return HierarchyLossPass().run(ReportContext(run, ReportSettings()))


def test_combined_loss_total_is_jepa_plus_the_logged_vicreg_loss():
    config = {"loss": {"type": "combined", "hierarchy_weights": WEIGHTS, "vicreg_weight": 0.1}}
    section = _section(_logs("vicreg", 0.1), config)
    checks = {c.name: c for c in section.checks}
    assert checks["hierarchy-total-with-regulariser"].status == "pass"
    assert checks["hierarchy-total-with-regulariser"].value <= hierarchy.RESIDUAL_TOLERANCE
    assert checks["hierarchy-weighted-sum"].status == "pass"  # jepa_loss = sum_l w_l loss_h<l>
    m = section.metrics["regulariser"]
    assert m["tags"] == {"total": "train/loss", "jepa": "train/jepa_loss", "regulariser": "train/vicreg_loss"}
    assert m["compared_steps"] == len(STEPS) and m["weight"] == 1.0
    assert m["components"] == [
        "train/vicreg_covariance",
        "train/vicreg_encoder",
        "train/vicreg_invariance",
        "train/vicreg_loss",
        "train/vicreg_variance",
    ]
    assert "loss = jepa_loss + vicreg_loss" in section.metrics["loss_formula"]
    ids = [f.id for f in section.figures]
    assert "hierarchy-losses-regulariser" in ids and "hierarchy-losses-regulariser-components" in ids


def test_absent_loss_type_is_hjepas_default_combined():
    formula = hierarchy.loss_formula({"loss": {"hierarchy_weights": WEIGHTS}})
    assert formula.loss_type == "combined" and formula.regulariser == "vicreg_loss"
    assert "H-JEPA's default combined" in formula.text and "0.1, H-JEPA default" in formula.text


def test_sigreg_total_uses_sigreg_loss_weight_not_sigreg_weight():
    logs = _logs("sigreg", 0.5)
    right = {"loss": {"type": "hjepa_sigreg", "hierarchy_weights": WEIGHTS, "sigreg_loss_weight": 0.5}}
    section = _section(logs, right)
    check = {c.name: c for c in section.checks}["hierarchy-total-with-regulariser"]
    assert check.status == "pass" and "0.5 x sigreg_loss" in check.detail
    # loss.sigreg_weight (SIGRegLoss's own weight) is not the total's: the default sigreg_loss_weight 1.0 applies
    wrong = {"loss": {"type": "sigreg_combined", "hierarchy_weights": WEIGHTS, "sigreg_weight": 0.5}}
    assert hierarchy.loss_formula(wrong).weight == 1.0
    check = {c.name: c for c in _section(logs, wrong).checks}["hierarchy-total-with-regulariser"]
    assert check.status == "warn" and check.value > 0.01


def test_the_epoch_mean_at_a_batch_step_does_not_count_as_the_batch_total():
    terms = hierarchy.regulariser_terms(_logs("vicreg", 0.1), {"loss": {"type": "combined"}}, "train/")
    assert terms.max_relative_residual() == pytest.approx(0.0, abs=hierarchy.RESIDUAL_TOLERANCE)
    assert len(terms.steps) == len(STEPS)


def test_plain_jepa_losses_have_no_regulariser_check():
    config = {"loss": {"type": "mse", "hierarchy_weights": WEIGHTS}}
    section = _section(_logs("vicreg", 0.1), config)
    assert "hierarchy-total-with-regulariser" not in {c.name for c in section.checks}
    assert any("regulariser tags" in n and "loss.type mse" in n for n in section.notes)
    assert hierarchy.loss_formula(config).regulariser is None


def test_plain_losses_weighted_sum_ignores_the_epoch_mean_at_a_batch_step():
    logs = _logs("sigreg", 1.0)
    steps, levels = logs.arrays("train/jepa_loss")  # a plain run's total is this sum, logged as train/loss
    plain = _table(
        {
            **{f"train/loss_h{k}": logs.arrays(f"train/loss_h{k}") for k in range(3)},
            "train/loss": (np.append(steps, steps[-1]), np.append(levels, levels.mean())),  # + the epoch mean
        }
    )
    check = {c.name: c for c in _section(plain, {"loss": {"type": "mse", "hierarchy_weights": WEIGHTS}}).checks}
    assert check["hierarchy-weighted-sum"].status == "pass", check["hierarchy-weighted-sum"].detail
