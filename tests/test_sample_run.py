"""A tiny sample run (quick recipe, 1 epoch) has the H-JEPA layout, keys, tags and is deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hjepa_report.collect.checkpoints import load_checkpoint
from hjepa_report.collect.collector import collect_run
from hjepa_report.sample import make_sample_run
from hjepa_report.sample.data import CLASS_NAMES
from hjepa_report.sample.recipe import SampleRecipe, recipe_from_config
from hjepa_report.sample.train import build_network

pytestmark = pytest.mark.slow  # every test reads the run that the sample trainer writes

HJEPA_CHECKPOINT_KEYS = {
    "epoch",
    "model_state_dict",
    "optimizer_state_dict",
    "scheduler_state_dict",
    "metrics",
    "best_metric",
    "global_step",
}
HJEPA_TAGS = [
    "train/loss",
    "train/loss_h0",
    "train/loss_h1",
    "train/loss_h2",
    "train/loss_unweighted",
    "train/lr",
    "train/ema_momentum",
    "train/context_std",
    "train/target_std",
    "train/context_norm",
    "train/target_norm",
    "train_epoch/loss",
    "val/loss",
    "online_eval/knn_accuracy",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_sample_run(tmp_path_factory.mktemp("sample") / "run", quick=True, quiet=True)


def test_layout_files(run_dir):
    ckpts = run_dir / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == [
        "checkpoint_best.pth",
        "checkpoint_epoch_0000.pth",
        "checkpoint_latest.pth",
    ]
    epoch = (ckpts / "checkpoint_epoch_0000.pth").read_bytes()
    assert (ckpts / "checkpoint_latest.pth").read_bytes() == epoch == (ckpts / "checkpoint_best.pth").read_bytes()
    assert len(list((run_dir / "logs" / "tensorboard").glob("events.out.tfevents.*"))) == 1
    assert (run_dir / "README.md").read_text().startswith("# hjepa_shapes64_quick")


def test_images_and_foreground_masks(run_dir):
    images = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "images").rglob("*.png"))
    assert {p.split("/")[1] for p in images} == set(CLASS_NAMES)
    with np.load(run_dir / "sample_meta" / "foreground.npz") as masks:
        assert sorted(masks.files) == images
        assert all(masks[k].shape == (64, 64) and masks[k].dtype == bool and masks[k].any() for k in images)


def test_checkpoint_keys_as_hjepa_writes_them(run_dir):
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "checkpoint_epoch_0000.pth")
    assert set(checkpoint) == HJEPA_CHECKPOINT_KEYS
    assert checkpoint["epoch"] == 0 and checkpoint["global_step"] > 0
    assert set(checkpoint["scheduler_state_dict"]) == {"lr", "ema_momentum"}
    assert set(checkpoint["metrics"]) == {"epoch", "val_loss"}
    assert isinstance(checkpoint["metrics"]["val_loss"], np.float64)
    assert checkpoint["optimizer_state_dict"]["state"] == {}
    state = checkpoint["model_state_dict"]
    assert {k.split(".")[0] for k in state} == {
        "context_encoder",
        "target_encoder",
        "predictor",
        "hierarchy_projections",
    }
    recipe = SampleRecipe.quick()
    assert state["context_encoder.vit.pos_embed"].shape == (1, 65, recipe.embed_dim)
    assert "hierarchy_projections.2.1.weight" in state and "predictor.blocks.0.attn.in_proj_weight" in state
    build_network(recipe).load_state_dict(state, strict=True)


def test_config_in_hjepa_schema(run_dir):
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert {"experiment", "model", "data", "masking", "training", "loss", "logging"} <= set(config)
    assert config["model"]["encoder_type"] == "vit_micro_patch8_64"
    assert config["model"]["num_heads"] == SampleRecipe.quick().num_heads
    assert config["loss"]["hierarchy_weights"] == [1.0, 0.5, 0.25]
    assert recipe_from_config(config) == SampleRecipe.quick()


def test_collector_reads_it_as_an_hjepa_run(run_dir):
    run = collect_run(run_dir)
    assert run.layout == "hjepa"
    assert set(HJEPA_TAGS) <= set(run.scalars.tags())
    assert len(run.images) == 2 * len(CLASS_NAMES)


def test_same_seed_gives_byte_identical_checkpoints(run_dir, tmp_path):
    again = make_sample_run(tmp_path / "again", quick=True, quiet=True)
    name = "checkpoints/checkpoint_epoch_0000.pth"
    assert (again / name).read_bytes() == (run_dir / name).read_bytes()
