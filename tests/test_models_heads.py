"""Head-count inference (models/heads.py): a run whose config names a custom encoder without its head count is
rebuilt with the heads it trained with, found from its own loss, and says how; where the run cannot tell (an
encoder attending uniformly), the guess stays and the evidence says why."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from hjepa_report.analysis.session import ModelSession
from hjepa_report.collect.collector import collect_run
from hjepa_report.models import load_model
from hjepa_report.models.heads import HeadsEvidence, candidates, knee, set_encoder_heads
from hjepa_report.settings import ReportSettings

SAMPLE_RUN = Path(__file__).parents[1] / "sample_runs" / "hjepa_shapes64"
HJEPA_RUN = Path(__file__).parent / "fixtures" / "hjepa_small"


def _session(run_dir: Path, drop_heads: bool) -> ModelSession:
    run = collect_run(run_dir)
    if drop_heads:  # the same run, as if its config named the custom encoder without its head count
        run.config = copy.deepcopy(run.config)
        del run.config["model"]["num_heads"]
    return ModelSession(run, ReportSettings(), rng=lambda p: np.random.default_rng(0), progress=lambda m: None)


def test_sample_run_without_a_head_count_is_rebuilt_with_its_four_heads():
    session = _session(SAMPLE_RUN, drop_heads=True)
    info = session.info()
    assert info.num_heads == 4 and not info.heads_guessed  # 64-dim guess would be 1 head
    assert info.heads_source.startswith("inferred from the run") and "4: " in info.heads_source
    assert not any("number of heads not recorded" in w for w in info.warnings)
    assert session.model().network.context_encoder.vit.blocks[0].attn.num_heads == 4


def test_an_encoder_attending_uniformly_keeps_the_guess_and_says_why():
    session = _session(HJEPA_RUN, drop_heads=False)  # 3 epochs: near-uniform attention under every split
    info = session.info()
    assert info.heads_guessed and info.num_heads == 1
    assert any("not inferred (" in w and "degenerate attention" in w for w in info.warnings)


def test_knee_takes_the_fewest_heads_on_the_plateau_and_needs_a_visible_jump():
    flat = {1: 0.9, 2: 0.8, 4: 0.73, 8: 0.728}
    entropies = dict.fromkeys(flat, 0.8)
    assert knee(HeadsEvidence(guess=1, losses=flat, entropies=entropies)) == 4
    no_jump = HeadsEvidence(guess=1, losses={1: 0.74, 2: 0.73, 4: 0.73}, entropies=dict.fromkeys((1, 2, 4), 0.8))
    assert knee(no_jump) is None and "no loss jump" in no_jump.rejected[1]
    uniform = HeadsEvidence(guess=1, losses=flat, entropies=dict.fromkeys(flat, 0.999))
    assert knee(uniform) is None and "degenerate" in uniform.rejected[4]


def test_candidates_and_resplitting_heads_in_place_round_trip():
    assert candidates(768, 12) == [6, 8, 12, 16, 24, 32, 48, 64, 96]
    assert candidates(64, 1) == [1, 2, 4, 8]
    model = load_model(SAMPLE_RUN / "checkpoints" / "checkpoint_latest.pth", SAMPLE_RUN / "config.yaml")
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        before = model.network.context_encoder(images)
        set_encoder_heads(model.network, 2)
        changed = model.network.context_encoder(images)
        set_encoder_heads(model.network, 4)
        after = model.network.context_encoder(images)
    assert torch.equal(before, after) and not torch.allclose(before, changed, atol=1e-4)
    attn = model.network.target_encoder.vit.blocks[1].attn
    assert (attn.num_heads, attn.head_dim, attn.scale) == (4, 16, pytest.approx(0.25))
