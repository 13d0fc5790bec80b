"""The report reproduces the sample run's own training loss: its config says how targets were formed
(loss.target_norm: layernorm), and JepaModel.loss / the predictions section follow it. The trainer trains with
models.loss itself; the formula is checked here by hand against the network's own forward pass."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from hjepa_report.models import load
from hjepa_report.models.loss import network_loss
from hjepa_report.sample.recipe import recipe_from_config
from hjepa_report.sample.train import training_loss_settings

RUN = Path(__file__).resolve().parent.parent / "sample_runs" / "hjepa_shapes64"

pytestmark = pytest.mark.skipif(not RUN.is_dir(), reason="the sample run is not in this checkout")


def test_the_models_loss_is_the_sample_trainers_loss_on_the_same_batch():
    config = yaml.safe_load((RUN / "config.yaml").read_text())
    model = load(RUN / "checkpoints" / "checkpoint_latest.pth", config)
    assert model.info.target_norm == "layernorm"
    torch.manual_seed(0)
    images = torch.randn(4, 3, 64, 64)
    mask = torch.zeros(4, 64, dtype=torch.bool)
    mask[:, 10:30] = True
    mask[1, 40:50] = True  # rows with different hidden counts: padded slots count, as in training
    with torch.no_grad():
        ours = model.loss(images, mask, model.loss_settings(config))
        trained = network_loss(model.network, images, mask, training_loss_settings(recipe_from_config(config)))
        theirs = _by_hand(model.network(images, mask), config["loss"]["hierarchy_weights"])
    assert float(ours.total) == pytest.approx(float(theirs["loss"]), rel=1e-5)
    for level, value in enumerate(ours.levels):
        assert float(value) == pytest.approx(float(theirs[f"loss_h{level}"]), rel=1e-5)
    assert torch.equal(trained.total, ours.total)  # the report's loss is the one the trainer trains with


def _by_hand(outputs: dict, weights) -> dict:
    """HJEPALoss type mse against layer-normed target tokens at the hidden patches, pooled like each level."""
    tokens = F.layer_norm(outputs["target_features"][:, 1:], (outputs["target_features"].shape[-1],))
    hidden = torch.stack([row[i] for row, i in zip(tokens, outputs["mask_indices"], strict=True)])
    levels = []
    for level, pred in enumerate(outputs["predictions"]):  # AvgPool1d(2^l) over the token list, remainder dropped
        k, size = pred.shape[1], 2**level
        levels.append(F.mse_loss(pred, hidden[:, : k * size].reshape(len(hidden), k, size, -1).mean(2)))
    total = sum(w * v for w, v in zip(weights, levels, strict=True))
    return {"loss": total, **{f"loss_h{i}": v for i, v in enumerate(levels)}}


def test_level_targets_are_layer_normed_and_pooled_not_projected():
    config = yaml.safe_load((RUN / "config.yaml").read_text())
    model = load(RUN / "checkpoints" / "checkpoint_latest.pth", config)
    tokens = torch.randn(2, 8, model.info.embed_dim) * 3 + 1
    ((level1, _),) = model.level_targets(tokens, None, [1])
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
    trainer = hidden_masks(
        np.random.default_rng(0), n, 8, m["num_masks"], tuple(m["mask_scale"]), tuple(m["aspect_ratio"])
    )
    report = sample_masks(config, n, 1, patch_size=8).hidden
    counts_t, counts_r = trainer.sum(1), report.sum(1)
    se = np.sqrt(counts_t.var() / n + counts_r.var() / n)
    assert abs(counts_t.mean() - counts_r.mean()) < 4 * se
    per_patch_se = np.sqrt(0.25 * 2 / n)
    assert np.abs(trainer.mean(0) - report.mean(0)).max() < 5 * per_patch_se
