"""The stable-pretraining backbone rebuilt without timm: equal to timm's own outputs, heads, and clear refusals.

Reference arrays: tests/fixtures/stable_pretraining_small/reference/, written by make_reference.py beside it with
timm 1.0.31 itself (the registered vit_femto_patch8_32, created as LeJEPA creates it, with the fixture's
last.ckpt backbone weights; see PROVENANCE.md).
"""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hjepa_report.errors import ModelBuildError  # noqa: E402
from hjepa_report.models import load_model  # noqa: E402
from hjepa_report.models.normalise import normalise  # noqa: E402
from hjepa_report.models.stable_pretraining_model import (  # noqa: E402
    TimmVit,
    config_model_name,
    timm_name_heads,
)

FIXTURE = Path(__file__).parent / "fixtures" / "stable_pretraining_small"
CHECKPOINT = FIXTURE / "run" / "checkpoints" / "last.ckpt"
REFERENCE = FIXTURE / "reference"


def _reference(name: str) -> torch.Tensor:
    return torch.from_numpy(np.load(REFERENCE / f"{name}.npy"))


def test_the_checkpoint_is_told_a_stable_pretraining_one():
    from hjepa_report.collect.checkpoints import load_checkpoint

    layout, state_dict = normalise(load_checkpoint(CHECKPOINT))
    assert layout == "stable-pretraining"
    assert "model.backbone.pos_embed" in state_dict and "callbacks_modules.linear_probe.weight" in state_dict


def test_the_rebuilt_encoder_equals_timm_on_the_reference_inputs():
    model = load_model(CHECKPOINT, encoder_heads=2)
    with torch.inference_mode():
        out = model.encode(_reference("inputs"))
    tokens, embedding = _reference("tokens"), _reference("embedding")
    assert out.tokens.shape == tokens.shape == (4, 17, 32)
    assert float((out.tokens - tokens).abs().max()) < 1e-5
    assert float((out.tokens[:, 0] - embedding).abs().max()) < 1e-5  # LeJEPA's embedding: the CLS token
    assert torch.equal(out.patch_tokens, out.tokens[:, 1:])


def test_a_wrong_head_count_moves_the_outputs_away_from_timm():
    model = load_model(CHECKPOINT, encoder_heads=1)  # the run trained 2 heads
    with torch.inference_mode():
        out = model.encode(_reference("inputs"))
    assert float((out.tokens - _reference("tokens")).abs().max()) > 1e-3


def test_the_architecture_is_read_from_the_weights():
    model = load_model(CHECKPOINT, encoder_heads=2)
    info = model.info
    assert (info.layout, info.embed_dim, info.depth, info.patch_size, info.grid, info.image_size) == (
        "stable-pretraining",
        32,
        2,
        8,
        (4, 4),
        32,
    )
    assert info.has_cls and not info.ema_target and info.mlp_ratio == 4.0 and info.qkv_bias
    assert info.heads_source == "command line override"
    assert model.context_encoder is model.target_encoder  # LeJEPA: one backbone
    assert set(info.param_counts) == {"context_encoder"}
    assert model.network.callback_queues == {"ordered_queue_embedding": 64}
    assert info.refusal("predictor") and not info.refusal("encoder") and not info.refusal("attention")
    assert any("model.projector" in w for w in info.warnings)


def test_without_a_model_name_the_heads_are_a_guess_with_a_warning():
    info = load_model(CHECKPOINT).info
    assert info.heads_guessed and any("--encoder-heads" in w for w in info.warnings)


def test_heads_from_timm_model_names():
    assert timm_name_heads("vit_small_patch16_224", 384) == 6
    assert timm_name_heads("vit_base_patch16_224", 768) == 12
    assert timm_name_heads("vit_base_patch16_plus_240", 896) == 14
    assert timm_name_heads("vit_base_patch16_gap_224", 768) == 16
    assert timm_name_heads("vit_small_patch16_224", 768) is None  # the name contradicts the width
    assert timm_name_heads("vit_femto_patch8_32", 32) is None
    assert config_model_name({"model": {"encoder_name": "vit_small_patch16_224"}}) == (
        "vit_small_patch16_224",
        "model.encoder_name",
    )
    assert config_model_name({"lr": 0.1, "name": "resnet50"}) == (None, None)


def _synthetic(width=384, heads=6, grid=2, patch=16, **kwargs) -> dict:
    vit = TimmVit(grid * patch, patch, width, 1, heads, **kwargs)
    return {f"model.backbone.{k}": v for k, v in vit.state_dict().items()}


def test_the_config_model_name_gives_the_heads():
    state = _synthetic()
    model = load_model({"state_dict": state, "spt_run_dir": "x"}, {"encoder_name": "vit_small_patch16_224"})
    assert model.info.num_heads == 6 and not model.info.heads_guessed
    assert "vit_small_patch16_224" in model.info.heads_source


def test_register_tokens_and_a_patch_only_position_table_are_read_from_the_shapes():
    state = _synthetic(width=64, heads=1, reg_tokens=4, no_embed_class=True)
    assert state["model.backbone.pos_embed"].shape == (1, 4, 64)
    model = load_model({"state_dict": state, "spt_run_dir": "x"})
    vit = model.target_encoder
    assert (vit.num_prefix_tokens, vit.no_embed_class, model.info.grid) == (5, True, (2, 2))
    assert model.info.refusal("attention")  # the attention maps assume a CLS token only
    images = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        out = model.encode(images)
        # timm _pos_embed with no_embed_class: patches + table, then CLS and registers in front
        x = vit.patch_embed(images) + vit.pos_embed
        x = torch.cat([vit.cls_token.expand(2, -1, -1), vit.reg_token.expand(2, -1, -1), x], dim=1)
        expected = vit.run_blocks(x).tokens
    assert out.patch_tokens.shape == (2, 4, 64) and torch.allclose(out.tokens, expected)


def _refusal(state_dict: dict) -> str:
    with pytest.raises(ModelBuildError) as info:
        load_model({"state_dict": state_dict, "spt_run_dir": "x"})
    return str(info.value)


def test_a_student_teacher_pair_is_refused_in_one_line():
    vit = _synthetic(width=64, heads=1)
    state = {k.replace("model.backbone.", f"model.encoder.{part}.vit."): v for part in ("student", "teacher")
             for k, v in vit.items()}  # fmt: skip
    state["model.predictor.mask_token"] = torch.zeros(1, 1, 64)
    message = _refusal(state)
    assert "student/teacher" in message and "model.encoder.student.vit." in message and "\n" not in message


def test_a_checkpoint_without_a_vit_is_refused():
    message = _refusal(
        {"model.backbone.conv1.weight": torch.zeros(8, 3, 3, 3), "model.projector.0.weight": torch.zeros(2, 8)}
    )
    assert "no timm ViT" in message and "model.backbone" in message


def test_an_option_not_rebuilt_is_named():
    state = _synthetic(width=64, heads=1)
    state["model.backbone.norm_pre.weight"] = torch.ones(64)
    assert "pre-norm" in _refusal(state)


def test_the_loss_sections_and_the_predictor_say_why_they_do_not_run():
    from hjepa_report.models.loss_settings import UnsupportedLoss, loss_settings

    with pytest.raises(UnsupportedLoss, match="LeJEPA"):
        loss_settings({}, "stable-pretraining")
    model = load_model(CHECKPOINT, encoder_heads=2)
    with pytest.raises(ModelBuildError, match="no predictor"):
        model.predict(_reference("inputs"), None)
