"""The report reproduces the sample run's own training loss: its config says how targets were formed
(loss.target_norm: layernorm), and jepa_loss / the predictions section follow it."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hjepa_report.analysis.dynamics.loss import jepa_loss
from hjepa_report.models import load
from hjepa_report.sample.train import hierarchical_loss

RUN = Path(__file__).resolve().parent.parent / "sample_runs" / "hjepa_shapes64"

pytestmark = pytest.mark.skipif(not RUN.is_dir(), reason="the sample run is not in this checkout")


def test_jepa_loss_equals_the_sample_trainers_loss_on_the_same_batch():
    config = yaml.safe_load((RUN / "config.yaml").read_text())
    model = load(RUN / "checkpoints" / "checkpoint_latest.pth", config)
    assert model.info.target_norm == "layernorm"
    torch.manual_seed(0)
    images = torch.randn(4, 3, 64, 64)
    mask = torch.zeros(4, 64, dtype=torch.bool)
    mask[:, 10:30] = True
    mask[1, 40:50] = True  # rows with different hidden counts: padded slots count, as in training
    with torch.no_grad():
        ours, levels = jepa_loss(model, images, mask, config)
        outputs = model.network(images, mask)
        theirs = hierarchical_loss(outputs, config["loss"]["hierarchy_weights"], "layernorm")
    assert float(ours) == pytest.approx(float(theirs["loss"]), rel=1e-5)
    for level, value in enumerate(levels):
        assert float(value) == pytest.approx(float(theirs[f"loss_h{level}"]), rel=1e-5)


def test_level_targets_are_layer_normed_and_pooled_not_projected():
    config = yaml.safe_load((RUN / "config.yaml").read_text())
    model = load(RUN / "checkpoints" / "checkpoint_latest.pth", config)
    tokens = torch.randn(2, 8, model.info.embed_dim) * 3 + 1
    (level1, _), = model.level_targets(tokens, None, [1])
    normed = torch.nn.functional.layer_norm(tokens, (tokens.shape[-1],))
    expected = normed.reshape(2, 4, 2, -1).mean(2)
    np.testing.assert_allclose(level1.numpy(), expected.numpy(), atol=1e-6)


def test_the_sample_trainers_masks_match_the_reports_hjepa_sampler():
    """The sample trainer has its own seeded sampler; the report draws masks with the H-JEPA sampler that is
    checked against the original generator. Their statistics must agree, or the masking section would show
    masks the sample did not train with."""
    from hjepa_report.analysis.masking import sample_masks
    from hjepa_report.sample.masks import hidden_masks

    config = yaml.safe_load((RUN / "config.yaml").read_text())
    m, n = config["masking"], 4000
    trainer = hidden_masks(np.random.default_rng(0), n, 8, m["num_masks"], tuple(m["mask_scale"]),
                           tuple(m["aspect_ratio"]))
    report = sample_masks(config, n, 1, patch_size=8).hidden
    counts_t, counts_r = trainer.sum(1), report.sum(1)
    se = np.sqrt(counts_t.var() / n + counts_r.var() / n)
    assert abs(counts_t.mean() - counts_r.mean()) < 4 * se
    per_patch_se = np.sqrt(0.25 * 2 / n)
    assert np.abs(trainer.mean(0) - report.mean(0)).max() < 5 * per_patch_se
