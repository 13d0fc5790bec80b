"""The V-JEPA / V-JEPA 2 networks rebuilt from the fixtures' checkpoints reproduce the original modules'
outputs (reference/reference.npz, computed by facebookresearch/jepa and facebookresearch/vjepa2 on the same
clips and masks: see the fixtures' PROVENANCE.md) within 1e-4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hjepa_report.collect import load_checkpoint
from hjepa_report.errors import ModelBuildError
from hjepa_report.models.video_networks import build_video_networks

FIXTURES = Path(__file__).parent / "fixtures"
RUNS = {  # fixture -> (layout, checkpoint, encoder heads of its vit_fixture size, predictor mask_index per mask)
    "vjepa_small": ("vjepa", "jepa-latest.pth.tar", 2, (0, 1)),
    "vjepa2_small": ("vjepa2", "latest.pt", 2, (0, 0)),
}
TOL = 1e-4


def _networks(name):
    layout, ckpt, heads, _ = RUNS[name]
    config = yaml.safe_load((FIXTURES / name / "params-pretrain.yaml").read_text())
    return build_video_networks(load_checkpoint(FIXTURES / name / ckpt), config, layout, num_heads=heads)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_rebuilt_video_networks_match_the_original_modules(name):
    ref = np.load(FIXTURES / name / "reference" / "reference.npz")
    nets = _networks(name)
    clips = torch.from_numpy(ref["clips"])
    with torch.no_grad():
        target = nets.target_encoder(clips)
        np.testing.assert_allclose(target.numpy(), ref["target"], atol=TOL, rtol=0)
        for i, mask_index in enumerate(RUNS[name][3]):
            me, mp = torch.from_numpy(ref[f"masks_enc_{i}"]), torch.from_numpy(ref[f"masks_pred_{i}"])
            context = nets.encoder(clips, me)
            np.testing.assert_allclose(context.numpy(), ref[f"context_{i}"], atol=TOL, rtol=0)
            prediction = nets.predictor(context, me, mp, mask_index)
            np.testing.assert_allclose(prediction.numpy(), ref[f"prediction_{i}"], atol=TOL, rtol=0)
    assert float(np.abs(ref["target"]).max()) > 0.1  # the comparison is not between near-zero arrays


def test_rope_is_used_where_the_config_says_and_changes_the_output():
    nets = _networks("vjepa2_small")
    assert nets.settings["rope"] and not hasattr(nets.encoder, "pos_embed")
    ref = np.load(FIXTURES / "vjepa2_small" / "reference" / "reference.npz")
    clips = torch.from_numpy(ref["clips"])
    with torch.no_grad():
        for blk in nets.target_encoder.blocks:
            blk.attn.rope = False
        plain = nets.target_encoder(clips).numpy()
    assert np.abs(plain - ref["target"]).max() > 1e-3  # without the rotation the reference is not reached


def test_an_unknown_head_count_is_a_one_line_error():
    config = yaml.safe_load((FIXTURES / "vjepa_small" / "params-pretrain.yaml").read_text())
    with pytest.raises(ModelBuildError, match="unknown number of heads for model 'vit_fixture'"):
        build_video_networks(load_checkpoint(FIXTURES / "vjepa_small" / "jepa-latest.pth.tar"), config, "vjepa")
