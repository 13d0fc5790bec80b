"""Pieces of the sample trainer against their definitions: schedules, loss, targets, k-NN, augmentation.

The trainer's loss is models.loss (the one the report reproduces), read from the recipe's config loss section."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hjepa_report.models.loss import LossSettings, hierarchical_loss, level_targets, target_tokens
from hjepa_report.sample.knn import knn_accuracy
from hjepa_report.sample.recipe import SampleRecipe
from hjepa_report.sample.train import augment, cosine_lr, ema_momentum, training_loss_settings

RECIPE = SampleRecipe(epochs=4, warmup_epochs=1, lr=1e-3, min_lr=1e-5, ema_start=0.99, ema_end=1.0)


def test_lr_warms_up_from_zero_then_follows_the_cosine_to_min_lr():
    steps = 10
    assert cosine_lr(0, RECIPE, steps) == 0.0
    assert cosine_lr(5, RECIPE, steps) == pytest.approx(5e-4)
    assert cosine_lr(10, RECIPE, steps) == pytest.approx(1e-3)
    halfway = 10 + 15  # half of the 30 post-warm-up steps
    assert cosine_lr(halfway, RECIPE, steps) == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi / 2)))
    assert cosine_lr(40, RECIPE, steps) == pytest.approx(1e-5)


def test_ema_momentum_rises_linearly_from_start_to_end():
    assert ema_momentum(0, RECIPE, 10) == pytest.approx(0.99)
    assert ema_momentum(20, RECIPE, 10) == pytest.approx(0.995)
    assert ema_momentum(40, RECIPE, 10) == pytest.approx(1.0)
    delayed = RECIPE.with_changes(ema_warmup_steps=25)  # H-JEPA rounds warm-up down to whole epochs: 2
    assert ema_momentum(19, delayed, 10) == pytest.approx(0.99)
    assert ema_momentum(30, delayed, 10) == pytest.approx(0.995)


def _outputs(b=2, k=8, d=16, n=64):
    g = torch.Generator().manual_seed(0)
    preds = [torch.randn(b, k // 2**lv, d, generator=g) for lv in range(3)]
    targets = [torch.randn(b, k // 2**lv, d, generator=g) for lv in range(3)]
    features = torch.randn(b, 1 + n, d, generator=g) * 3 + 1
    indices = torch.stack([torch.randperm(n, generator=g)[:k].sort().values for _ in range(b)])
    return {"predictions": preds, "targets": targets, "target_features": features, "mask_indices": indices}


def test_the_trainer_reads_its_loss_from_the_configs_loss_section():
    settings = training_loss_settings(RECIPE)
    assert (settings.kind, settings.weights, settings.normalize, settings.target_norm) == (
        "mse",
        [1.0, 0.5, 0.25],
        False,
        "layernorm",
    )
    assert training_loss_settings(RECIPE.with_changes(target_norm="projected")).target_norm == "projected"


def test_projected_loss_is_h_jepa_weighted_mse():
    out = _outputs()
    settings = LossSettings(layout="hjepa", kind="mse", weights=[1.0, 0.5, 0.25], target_norm="projected")
    result = hierarchical_loss(out["predictions"], out["targets"], settings).logged()
    per_level = [((p - t) ** 2).mean() for p, t in zip(out["predictions"], out["targets"], strict=True)]
    assert result["loss"].item() == pytest.approx(float(per_level[0] + 0.5 * per_level[1] + 0.25 * per_level[2]))
    assert result["loss_unweighted"].item() == pytest.approx(float(sum(per_level) / 3))
    assert result["loss_h2"].item() == pytest.approx(float(per_level[2]))
    assert list(result) == ["loss_h0", "loss_h1", "loss_h2", "loss", "loss_unweighted"]  # H-JEPA's logged names


def test_layernorm_targets_are_normalised_hidden_tokens_pooled_per_level():
    out = _outputs()
    hidden = target_tokens(out["target_features"][:, 1:], out["mask_indices"], "layernorm")  # CLS dropped
    targets = level_targets(SimpleNamespace(num_levels=3), hidden, "layernorm")
    tokens = out["target_features"][:, 1:]
    expected0 = torch.stack([tokens[i, out["mask_indices"][i]] for i in range(2)])
    expected0 = (expected0 - expected0.mean(-1, keepdim=True)) / torch.sqrt(
        expected0.var(-1, unbiased=False, keepdim=True) + 1e-5
    )
    assert torch.allclose(targets[0], expected0, atol=1e-5)
    assert torch.allclose(targets[1], expected0.reshape(2, 4, 2, 16).mean(2), atol=1e-5)
    assert [t.shape[1] for t in targets] == [8, 4, 2]
    with pytest.raises(ValueError):
        target_tokens(out["target_features"][:, 1:], out["mask_indices"], "nonsense")


def test_knn_majority_vote_on_a_known_layout():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0], [0.1, 0.9], [0.2, 0.8]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    queries = torch.tensor([[1.0, 0.05], [0.05, 1.0], [0.6, 0.4]])
    assert knn_accuracy(bank, labels, queries, np.array([0, 1, 0]), k=3) == pytest.approx(100.0)
    assert knn_accuracy(bank, labels, queries, np.array([1, 0, 0]), k=3) == pytest.approx(100 / 3)


def test_augmentation_is_seeded_and_keeps_the_shape():
    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    a = augment(images, torch.Generator().manual_seed(1), RECIPE)
    b = augment(images, torch.Generator().manual_seed(1), RECIPE)
    assert a.shape == (4, 3, 64, 64) and torch.equal(a, b)
    assert not torch.equal(a, augment(images, torch.Generator().manual_seed(2), RECIPE))
