"""V-JEPA 2.1 (facebookresearch/vjepa2 app/vjepa_2_1): networks, multi-level outputs and the training loss,
checked against the original code's outputs on tests/fixtures/vjepa21_small (see its PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

from hjepa_report.collect.checkpoints import load_checkpoint  # noqa: E402
from hjepa_report.errors import ModelBuildError  # noqa: E402
from hjepa_report.models.video_networks import build_video_networks  # noqa: E402
from hjepa_report.models.vjepa21_nets import (  # noqa: E402
    LossSettings21,
    build_vjepa21_networks,
    context_distance,
    is_vjepa21,
    loss_terms,
)

RUN = Path(__file__).parent / "fixtures" / "vjepa21_small"
TOL = 1e-4


@pytest.fixture(scope="module")
def ref():
    return np.load(RUN / "reference" / "reference.npz")


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load((RUN / "params-pretrain.yaml").read_text())


@pytest.fixture(scope="module")
def nets(config):
    # vit_fixture is not one of the code base's sizes: its head count (1) is passed, as --encoder-heads does
    return build_video_networks(load_checkpoint(RUN / "latest.pth.tar"), config, "vjepa2", num_heads=1)


@pytest.fixture(scope="module")
def clips(ref):
    return torch.from_numpy(ref["clips_uint8"]).float() / 255


def _masks(ref):
    n = len([k for k in ref.files if k.startswith("masks_enc_")])
    return [(torch.from_numpy(ref[f"masks_enc_{i}"]), torch.from_numpy(ref[f"masks_pred_{i}"])) for i in range(n)]


def _diff(a, b) -> float:
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    assert a.shape == np.asarray(b).shape
    return float(np.max(np.abs(a - b)))


def test_the_dispatch_builds_the_21_networks(nets):
    assert nets.settings["variant"] == "2.1"
    assert nets.settings["levels"] == [3, 6, 9, 12]
    assert nets.settings["interpolate_rope"] is True
    assert type(nets.encoder).__name__ == "VideoEncoder21"


def test_is_vjepa21_from_the_weights_alone():
    ckpt = load_checkpoint(RUN / "latest.pth.tar")
    assert is_vjepa21(ckpt, {})
    v2 = load_checkpoint(Path(__file__).parent / "fixtures" / "vjepa2_small" / "latest.pt")
    assert not is_vjepa21(v2, {})


def test_encoders_match_the_original_per_level(nets, ref, clips):
    with torch.no_grad():
        assert _diff(nets.target_encoder.hierarchy(clips), ref["target_levels"]) < TOL
        assert _diff(nets.target_encoder(clips), ref["target"]) < TOL
        for i, (mask_x, _) in enumerate(_masks(ref)):
            assert _diff(nets.encoder.hierarchy(clips, mask_x), ref[f"context_{i}"]) < TOL


def test_predictor_matches_the_original_at_targets_and_context(nets, ref):
    with torch.no_grad():
        for i, (mask_x, mask_y) in enumerate(_masks(ref)):
            at_targets, at_context = nets.predictor.predict(torch.from_numpy(ref[f"context_{i}"]), mask_x, mask_y, 0)
            assert _diff(at_targets, ref[f"prediction_{i}"]) < TOL
            assert _diff(at_context, ref[f"prediction_context_{i}"]) < TOL


def test_distance_weights_match_compute_mask_distance(nets, ref):
    for i, (mask_x, mask_y) in enumerate(_masks(ref)):
        assert _diff(context_distance(mask_x, mask_y, nets.encoder.grid, False), ref[f"distance_{i}"]) < 1e-6


def test_loss_per_level_and_total_match_train_step(nets, ref, clips, config):
    settings = LossSettings21.from_config(config)
    assert settings.weight_distance and settings.predict_all and not settings.lambda_progressive
    with torch.no_grad():
        got = loss_terms(nets, clips, _masks(ref), settings)
    for i, term in enumerate(got["masks"]):
        assert _diff(term["pred"], ref[f"loss_pred_{i}"]) < 1e-5
        assert _diff(term["context_loss"], ref[f"loss_context_{i}"]) < 1e-5
        assert _diff(term["pred_levels"], ref["loss_pred_levels"][i]) < 1e-5
        assert _diff(term["context_levels"], ref["loss_context_levels"][i]) < 1e-5
        # each level weighs 1/4: the mean over the 4 D features is the mean of the levels' means
        assert float(term["pred"]) == pytest.approx(float(term["pred_levels"].mean()), abs=1e-6)
    lam = settings.lambda_at(int(config["optimization"]["epochs"]) * 4)
    assert lam == pytest.approx(float(ref["lambda"]))
    assert float(got["pred"] + lam * got["context"]) == pytest.approx(float(ref["loss"]), abs=1e-5)


def test_progressive_lambda_is_the_original_ramp():
    s = LossSettings21(lambda_value=0.5, lambda_progressive=True)
    assert [s.lambda_at(i) for i in (0, 14_999, 15_000, 22_500, 30_000, 90_000)] == [0.0, 0.0, 0.0, 0.25, 0.5, 0.5]


def test_unsupported_options_are_refused_in_one_line(config):
    ckpt = load_checkpoint(RUN / "latest.pth.tar")
    bad = {**config, "model": {**config["model"], "n_registers": 4}}
    with pytest.raises(ModelBuildError, match="n_registers"):
        build_vjepa21_networks(ckpt, bad, num_heads=1)
    with pytest.raises(ModelBuildError, match="unknown number of heads for model 'vit_fixture'"):
        build_vjepa21_networks(ckpt, config)


def test_a_21_run_is_read_as_vjepa2_with_its_own_evidence():
    from hjepa_report.collect import collect_run
    from hjepa_report.collect.layout import Evidence, detect_layout
    from hjepa_report.collect.vjepa import describe_video_config, video_variant

    run = collect_run(RUN)
    assert run.layout == "vjepa2"
    assert run.layout_reason.startswith("V-JEPA 2 video config (app vjepa or vjepa_2_1")
    assert "V-JEPA 2.1 checkpoint names (latest.pth.tar / e{E}.pth.tar)" in run.layout_reason
    assert video_variant(run.config) == "2.1"
    assert describe_video_config(run.config, "vjepa2").startswith("V-JEPA 2.1 config (")
    # e{E}.pth.tar, which training also writes (left out of the fixture: the same state as latest.pth.tar)
    ev = Evidence(checkpoint_names=["e9.pth.tar"], config_flavour="vjepa2", video_csvs=["vjepa2"])
    assert detect_layout(ev)[0] == "vjepa2" and "V-JEPA 2.1 checkpoint names" in detect_layout(ev)[1]
    v2 = collect_run(Path(__file__).parent / "fixtures" / "vjepa2_small")
    assert video_variant(v2.config) is None and "2.1" not in v2.layout_reason


def test_schedules_match_the_values_the_21_trainer_drew():
    """2.1's init_opt builds the same schedulers as V-JEPA 2 (its momentum generator only stops at the run's
    last iteration instead of ipe_scale x later): the vjepa2 schedules apply unchanged."""
    from hjepa_report.analysis.dynamics.schedules import config_schedule, steps_per_epoch_from_logs
    from hjepa_report.collect import collect_run

    run = collect_run(RUN)
    ref = np.load(RUN / "reference" / "schedules.npz")
    ipe, _ = steps_per_epoch_from_logs(run.scalars, run.layout, run.config)
    assert ipe == 4
    implied = config_schedule(run.config, run.layout, ipe)
    assert len(implied.steps) == len(ref["lr"]) == 8
    for name in ("lr", "weight_decay", "ema_momentum"):
        np.testing.assert_allclose(implied.get(name), ref[name], rtol=1e-12, atol=0, err_msg=name)


def test_the_released_configs_options_match_the_original(config, ref):
    """img_temporal_dim_size 1 and modality_embedding, as every released 2.1 config sets them: the image
    tubelet embedding is loaded, the encoder's and the predictor's video modality embeddings are added
    (reference/released_options.npz, the original modules with float16-rounded weights)."""
    rel = np.load(RUN / "reference" / "released_options.npz")
    state = {
        part: {k[len(part) + 1 :]: torch.from_numpy(rel[k].astype(np.float32)) for k in rel.files if k.startswith(part)}
        for part in ("encoder", "predictor")
    }
    ckpt = {"encoder": state["encoder"], "target_encoder": state["encoder"], "predictor": state["predictor"]}
    cfg = {**config, "model": {**config["model"], "img_temporal_dim_size": 1}}
    nets = build_vjepa21_networks(ckpt, cfg, num_heads=1)
    assert hasattr(nets.encoder, "patch_embed_img") and hasattr(nets.predictor, "video_mod_embed")
    clips = torch.from_numpy(ref["clips_uint8"][:1]).float() / 255
    mask_x, mask_y = torch.from_numpy(ref["masks_enc_0"][:1]), torch.from_numpy(ref["masks_pred_0"][:1])
    with torch.no_grad():
        assert _diff(nets.target_encoder.hierarchy(clips), rel["levels"]) < TOL
        assert _diff(nets.encoder.hierarchy(clips, mask_x), rel["context_0"]) < TOL
        at_targets, at_context = nets.predictor.predict(torch.from_numpy(rel["context_0"]), mask_x, mask_y, 0)
    assert _diff(at_targets, rel["prediction_0"]) < TOL
    assert _diff(at_context, rel["prediction_context_0"]) < TOL


def test_levels_predictor_1_normalises_the_four_levels_together(nets, ref, clips, config):
    """train.py forward_target: levels_predictor > 1 layer-norms each level, 1 the whole 4 D feature vector.
    The last level's norm is scaled here so that the two differ."""
    import copy

    import torch.nn.functional as F

    from hjepa_report.models.vjepa21_nets import level_norm

    scaled = copy.deepcopy(nets)
    with torch.no_grad():
        scaled.target_encoder.norms_block[3].weight.mul_(5.0)
        h = scaled.target_encoder.hierarchy(clips)
        joint, per_level = F.layer_norm(h, (h.shape[-1],)), level_norm(h, 4)
        assert _diff(joint, per_level.numpy()) > 0.1
        for levels, expected in ((1, joint), (4, per_level)):
            model = {**config["model"], "levels_predictor": levels}
            got = loss_terms(scaled, clips, _masks(ref)[:1], LossSettings21.from_config({**config, "model": model}))
            assert _diff(got["target_levels"], expected.numpy()) < 1e-6
