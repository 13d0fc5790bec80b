"""Issue 14 item 7 (a, b): the EMA checks of end-to-end runs are not applicable, and a target encoder that the
EMA never updated (H-JEPA under DistributedDataParallel: HJEPATrainer._update_target_encoder tests
hasattr(model, "target_encoder"), false on the wrapper, and returns) is caught.

The "EMA never ran" runs are the H-JEPA fixture with its target encoder put back to an initial state: every
LayerNorm weight 1 and bias 0 (nn.LayerNorm's initial values, which timm's ViT init keeps) and seeded random
weights elsewhere, the same in every checkpoint, as a run whose EMA step never ran would save it; the context
encoder is the fixture's own, trained one.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.dynamics.ema_updates import never_ran_evidence, snapshot
from hjepa_report.analysis.dynamics.schedules_section import SchedulesPass
from hjepa_report.collect import collect_run
from hjepa_report.collect.checkpoints import load_checkpoint
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures" / "hjepa_small"
NORM = re.compile(r"\.(norm\d*)\.(weight|bias)$")


def _initial_target(state: dict) -> dict:
    """The target encoder's tensors at a fresh initialisation (seeded): LayerNorms 1 / 0, the rest random."""
    gen = torch.Generator().manual_seed(0)
    out = {}
    for key in sorted(k for k in state if k.startswith("target_encoder.")):
        t = state[key]
        m = NORM.search(key)
        if m:
            out[key] = torch.ones_like(t) if m.group(2) == "weight" else torch.zeros_like(t)
        else:
            out[key] = torch.randn(t.shape, generator=gen, dtype=t.dtype) * 0.02
    return out


def _rewrite(run: Path, change) -> None:
    """Rewrite every checkpoint of the copied run with change(model_state_dict) -> new model_state_dict."""
    for path in sorted((run / "checkpoints").glob("*.pth")):
        ckpt = dict(load_checkpoint(path))
        ckpt["model_state_dict"] = change({k: v.clone() for k, v in ckpt["model_state_dict"].items()})
        path.unlink()
        torch.save(ckpt, path)


def _copy(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(FIX, run, ignore=shutil.ignore_patterns("reference"))
    return run


def _checks(run_dir: Path, config_change=None) -> tuple[dict, object]:
    run = collect_run(run_dir)
    if config_change:
        config_change(run.config)
    section = SchedulesPass().run(ReportContext(run, ReportSettings()))
    assert section.status == "ok", section.message
    return {c.name: c for c in section.checks}, section


@pytest.fixture(scope="module")
def frozen_target_run(tmp_path_factory) -> Path:
    run = _copy(tmp_path_factory.mktemp("frozen"))
    _rewrite(run, lambda sd: {**sd, **_initial_target(sd)})
    return run


def test_a_target_encoder_the_ema_never_moved_fails_with_the_evidence(frozen_target_run):
    checks, section = _checks(frozen_target_run)
    check = checks["ema-target-updated"]
    assert check.status == "fail"
    assert "exactly 1 / 0" in check.detail and "bit-identical in all 2 checkpoints" in check.detail
    assert "DistributedDataParallel" in check.detail
    assert section.metrics["ema_updates"]["never_ran"] is True
    assert any(n.startswith("EMA never ran") for n in section.notes)
    # the logged momentum still follows the config: that check alone would have passed this run
    assert checks["ema-schedule"].status == "pass"


def test_one_checkpoint_is_enough_when_its_layernorms_never_moved(frozen_target_run, tmp_path):
    run = tmp_path / "one"
    shutil.copytree(frozen_target_run, run)
    (run / "checkpoints" / "checkpoint_latest.pth").unlink()
    check = _checks(run)[0]["ema-target-updated"]
    assert check.status == "fail" and "exactly 1 / 0" in check.detail and "bit-identical" not in check.detail


def test_a_momentum_of_one_makes_the_frozen_target_a_warning(frozen_target_run):
    def momentum_one(config):
        config["training"]["ema_momentum_schedule"] = {"start": 1.0, "end": 1.0, "warmup_steps": 0}

    check = _checks(frozen_target_run, momentum_one)[0]["ema-target-updated"]
    assert check.status == "warn" and "momentum is 1 throughout" in check.detail


def test_the_fixtures_trained_target_passes():
    check = _checks(FIX)[0]["ema-target-updated"]
    assert check.status == "pass" and "changed between checkpoints" in check.detail


def test_end_to_end_by_config_marks_the_ema_checks_not_applicable():
    def end_to_end(config):
        config["model"]["use_target_encoder"] = False

    checks, _ = _checks(FIX, end_to_end)
    for name in ("ema-schedule", "ema-target-updated"):
        assert checks[name].status == "skip", name
        assert checks[name].detail.startswith("not applicable: model.use_target_encoder is false")
    assert checks["lr-schedule"].status == "pass"  # the other schedules are still checked


def test_end_to_end_by_checkpoint_marks_the_ema_schedule_not_applicable(tmp_path):
    run = _copy(tmp_path)
    _rewrite(run, lambda sd: {k: v for k, v in sd.items() if not k.startswith("target_encoder.")})
    checks, section = _checks(run)
    assert checks["ema-schedule"].status == "skip"
    assert "no target_encoder.* weights" in checks["ema-schedule"].detail
    assert checks["ema-target-updated"].status == "skip"


def test_evidence_rules_on_snapshots():
    def enc(ln_weight: float, w: float) -> dict:
        return {"blocks.0.norm1.weight": torch.full((4,), ln_weight), "blocks.0.norm1.bias": torch.zeros(4),
                "blocks.0.attn.qkv.bias": torch.full((12,), w)}  # fmt: skip

    frozen = [snapshot(f"c{i}", enc(1.0 + 0.1 * i, i), enc(1.0, 0.5)) for i in range(1, 3)]
    never, evidence = never_ran_evidence(frozen)
    assert never is True and len(evidence) == 2
    moving = [snapshot(f"c{i}", enc(1.0 + 0.1 * i, i), enc(1.0 + 0.05 * i, i / 2)) for i in range(1, 3)]
    assert never_ran_evidence(moving)[0] is False
    untrained = [snapshot("c0", enc(1.0, 0.5), enc(1.0, 0.5))]  # nothing moved anywhere: cannot tell
    assert never_ran_evidence(untrained)[0] is None
