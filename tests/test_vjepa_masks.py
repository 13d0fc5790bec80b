"""V-JEPA's 3-D multi-block masks as the report samples them, against masks the original collators drew for
the fixtures (reference/reference.npz: torch.manual_seed(0), collator step 0; see the fixtures' PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from hjepa_report.models.vjepa_masks import as_grid, draw_masks, mask_specs

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", ["vjepa_small", "vjepa2_small"])
def test_draws_equal_the_original_collators(name):
    config = yaml.safe_load((FIXTURES / name / "params-pretrain.yaml").read_text())
    ref = np.load(FIXTURES / name / "reference" / "reference.npz")
    draws = draw_masks(mask_specs(config), batch_size=2, seed=0, step=0)
    assert len(draws) == len(config["mask"]) == 2
    for i, (enc, pred) in enumerate(draws):
        np.testing.assert_array_equal(enc.numpy(), ref[f"masks_enc_{i}"])
        np.testing.assert_array_equal(pred.numpy(), ref[f"masks_pred_{i}"])


def test_context_and_targets_partition_the_tokens_and_late_frames_are_never_context():
    config = yaml.safe_load((FIXTURES / "vjepa2_small" / "params-pretrain.yaml").read_text())
    config["mask"][0]["max_temporal_keep"] = 0.5
    specs = mask_specs(config)
    assert (specs[0].duration, specs[0].height, specs[0].width, specs[0].context_frames) == (4, 8, 8, 2)
    (enc, pred), _ = draw_masks(specs, batch_size=1, seed=3)
    ctx, tgt = as_grid(enc.numpy(), specs[0])[0], as_grid(pred.numpy(), specs[0])[0]
    assert not (ctx & tgt).any() and (ctx | tgt).all()  # one clip: nothing cut by the collation
    assert not ctx[2:].any() and tgt[2:].all()


def test_full_complement_makes_the_targets_the_rest_of_the_cut_context():
    config = yaml.safe_load((FIXTURES / "vjepa2_small" / "params-pretrain.yaml").read_text())
    config["mask"][1]["full_complement"] = True
    spec = mask_specs(config)[1]
    _, (enc, pred) = draw_masks(mask_specs(config), batch_size=4, seed=1)
    ctx, tgt = as_grid(enc.numpy(), spec), as_grid(pred.numpy(), spec)
    assert (ctx ^ tgt).all()
