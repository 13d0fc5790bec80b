"""load_model: layout normalisation, shape inference, heads sources, strict keys, unsupported options."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from hjepa_report.errors import ModelBuildError  # noqa: E402
from hjepa_report.models import load_model, model_card  # noqa: E402
from hjepa_report.models.arch import choose_heads  # noqa: E402
from hjepa_report.models.builders import _hjepa_predictor_heads  # noqa: E402
from hjepa_report.models.hjepa import HJepaNetwork  # noqa: E402
from hjepa_report.models.ijepa import IJepaNetwork  # noqa: E402
from hjepa_report.models.normalise import detect_layout, normalise, strip_wrappers  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=3.0)


def small_hjepa(**kw) -> HJepaNetwork:
    torch.manual_seed(0)
    return HJepaNetwork(dict(SMALL, **kw.pop("encoder", {})), 1, 2, 2.0, 2, **kw).eval()


def hjepa_checkpoint(net: HJepaNetwork, prefix: str = "") -> dict:
    return {"epoch": 3, "model_state_dict": {prefix + k: v.clone() for k, v in net.state_dict().items()}}


CONFIG = {"model": {"num_heads": 2, "predictor": {"num_heads": 2}}, "data": {"image_size": 32}}


def test_wrapper_prefixes_are_stripped():
    assert strip_wrappers("module.encoder.blocks.0.norm1.weight") == "encoder.blocks.0.norm1.weight"
    assert strip_wrappers("_orig_mod.module.pos_embed") == "pos_embed"
    assert strip_wrappers("context_encoder.module.vit.norm.bias") == "context_encoder.vit.norm.bias"


def test_layouts_are_detected_from_structure():
    net = small_hjepa()
    lightning = {"state_dict": {"model." + k: v for k, v in net.state_dict().items()}}
    assert detect_layout(hjepa_checkpoint(net)) == "hjepa"
    assert normalise(lightning)[1].keys() == net.state_dict().keys()
    assert normalise(dict(net.state_dict()))[0] == "hjepa"
    ij = IJepaNetwork(dict(SMALL), 16, 1)
    parts = {
        p: {"module." + k.split(".", 1)[1]: v for k, v in ij.state_dict().items() if k.startswith(p + ".")}
        for p in ("encoder", "target_encoder", "predictor")
    }
    layout, sd = normalise(parts)
    assert layout == "ijepa" and sd.keys() == ij.state_dict().keys()
    with pytest.raises(ModelBuildError, match="no model weights"):
        normalise({"weights": {"fc.weight": torch.zeros(2, 2)}})
    with pytest.raises(ModelBuildError, match="cannot tell the checkpoint's layout"):
        normalise({"fc.weight": torch.zeros(2, 2)})


def test_round_trip_with_ddp_prefix_reproduces_the_network():
    net = small_hjepa()
    model = load_model(hjepa_checkpoint(net, "module."), CONFIG)
    images, mask = torch.randn(2, 3, 32, 32), torch.zeros(2, 16, dtype=torch.bool)
    mask[:, 5:11] = True
    with torch.no_grad():
        expected = net(images, mask)
        pred = model.predict(images, mask)
        levels = model.levels(pred.predicted, pred.valid)
    for level, (tokens, valid) in enumerate(levels):
        assert torch.equal(tokens, expected["predictions"][level])
        assert torch.equal(valid, expected["masks_valid"][level])
    info = model.info
    assert (info.embed_dim, info.depth, info.patch_size, info.grid, info.mlp_ratio) == (32, 2, 8, (4, 4), 3.0)
    assert (info.predictor_depth, info.predictor_mlp_ratio, info.num_levels, info.has_cls) == (1, 2.0, 2, True)
    assert info.heads_source == "config model.num_heads" and not info.heads_guessed


def test_missing_key_is_named():
    ckpt = hjepa_checkpoint(small_hjepa())
    del ckpt["model_state_dict"]["predictor.norm.weight"]
    with pytest.raises(ModelBuildError, match=r"missing keys: predictor\.norm\.weight"):
        load_model(ckpt, CONFIG)


def test_unexpected_key_is_named():
    ckpt = hjepa_checkpoint(small_hjepa())
    ckpt["model_state_dict"]["predictor.extra_gate.weight"] = torch.zeros(3)
    with pytest.raises(ModelBuildError, match=r"unexpected keys: predictor\.extra_gate\.weight"):
        load_model(ckpt, CONFIG)


def test_shape_mismatch_is_named():
    ckpt = hjepa_checkpoint(small_hjepa())
    ckpt["model_state_dict"]["target_encoder.vit.pos_embed"] = torch.zeros(1, 5, 32)
    with pytest.raises(ModelBuildError, match="shape mismatches: target_encoder.vit.pos_embed"):
        load_model(ckpt, CONFIG)


def test_heads_sources_in_order():
    assert choose_heads(768, override=4, config_value=12, model_name="vit_base").source == "command line override"
    assert choose_heads(768, config_value=6, config_field="model.num_heads").source == "config model.num_heads"
    named = choose_heads(768, model_name="vit_base_patch16_224")
    assert (named.heads, named.guessed) == (12, False)
    wrong_width = choose_heads(384, model_name="vit_base_patch16_224")
    assert wrong_width.guessed and wrong_width.heads == 6 and "implies width 768" in wrong_width.warning
    assert choose_heads(1280).heads == 16 and choose_heads(1408).heads == 16 and choose_heads(1024).heads == 16
    with pytest.raises(ModelBuildError, match="do not divide"):
        choose_heads(64, override=3)


def test_hjepa_predictor_heads_default_when_config_omits_them():
    assert _hjepa_predictor_heads(768, None, {"model": {}}).heads == 12  # create_hjepa_from_config default
    assert _hjepa_predictor_heads(768, None, {}).source.startswith("guess")


def test_guessed_heads_are_reported():
    model = load_model(hjepa_checkpoint(small_hjepa()), {"data": {"image_size": 32}})
    assert model.info.heads_guessed and model.info.num_heads == 1
    assert any("guessed" in w for w in model.info.warnings)


def test_fixture_model_name_gives_guess_without_override():
    model = load_model(FIXTURES / "hjepa_small/checkpoints/checkpoint_epoch_0001.pth")
    assert model.info.heads_guessed and model.info.heads_source.startswith("guess")


def test_rope_config_is_rebuilt_as_training_ran_and_warned():
    config = dict(CONFIG, model=dict(CONFIG["model"], rope={"use_rope": True}))
    net = small_hjepa()
    model = load_model(hjepa_checkpoint(net), config)
    assert model.info.unsupported == [] and any("never applies it" in w for w in model.info.warnings)
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.encode(images).tokens, net.target_encoder(images))


def test_unsupported_options_refuse_their_outputs():
    from hjepa_report.models.info import Unsupported

    model = load_model(hjepa_checkpoint(small_hjepa()), CONFIG)
    model.info.unsupported.append(Unsupported("option X", ("levels",), "not rebuilt"))
    tokens = model.encode(torch.randn(1, 3, 32, 32)).patch_tokens
    with pytest.raises(ModelBuildError, match="cannot compute levels outputs for this checkpoint: option X"):
        model.levels(tokens)
    assert model_card(model)["refused"] == {"levels": "option X: not rebuilt"}


def test_partial_fpn_weights_are_named_and_config_fpn_without_weights_warns():
    ckpt = hjepa_checkpoint(small_hjepa())
    ckpt["model_state_dict"]["fpn_lateral_convs.0.0.weight"] = torch.zeros(32, 32)
    with pytest.raises(ModelBuildError, match="missing keys: fpn_lateral_convs.0.0.bias"):
        load_model(ckpt, CONFIG)
    config = dict(CONFIG, model=dict(CONFIG["model"], fpn={"use_fpn": True}))
    model = load_model(hjepa_checkpoint(small_hjepa()), config)
    assert model.info.fpn_dim is None and any("fpn" in w for w in model.info.warnings)


@pytest.mark.parametrize("style", ["hjepa", "timm"])
def test_layer_scale_is_rebuilt_exactly(style):
    net = small_hjepa(encoder={"layer_scale": style, "layer_scale_init": 0.3})
    model = load_model(hjepa_checkpoint(net), CONFIG)
    images = torch.randn(2, 3, 32, 32)
    assert model.info.layer_scale == style
    with torch.no_grad():
        assert torch.equal(model.encode(images).tokens, net.target_encoder(images))


def test_batchnorm_projection_and_end_to_end_run():
    net = small_hjepa(projection_norm="batchnorm", ema_target=False)
    model = load_model(hjepa_checkpoint(net), CONFIG)
    assert model.info.projection_norm == "batchnorm" and not model.info.ema_target
    assert model.target_encoder is model.context_encoder and model_card(model)["ema_gap"] is None


def test_image_size_disagreeing_with_weights_warns():
    model = load_model(hjepa_checkpoint(small_hjepa()), dict(CONFIG, data={"image_size": 224}))
    assert model.info.image_size == 32
    assert any("image_size = 224" in w for w in model.info.warnings)


def test_cuda_refused_when_absent():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ModelBuildError, match="CUDA"):
        load_model(hjepa_checkpoint(small_hjepa()), CONFIG, device="cuda")


def test_ema_gap_known_answer():
    net = small_hjepa()
    with torch.no_grad():
        for p in net.target_encoder.parameters():
            p.mul_(1.1)  # theta_t = 1.1 theta_c  ->  ||t - c|| / ||t|| = 0.1 / 1.1 for every part
    card = model_card(load_model(hjepa_checkpoint(net), CONFIG))
    gap = card["ema_gap"]
    assert gap["overall"] == pytest.approx(0.1 / 1.1, rel=1e-6)
    assert all(v == pytest.approx(0.1 / 1.1, rel=1e-6) for v in gap["blocks"])
    assert set(gap["parts"]) == {"cls_token", "pos_embed", "patch_embed", "block_0", "block_1", "norm"}
    assert card["rebuilt"] == ["context_encoder", "target_encoder", "predictor", "hierarchy"]
    assert card["param_counts"]["context_encoder"] == sum(p.numel() for p in net.context_encoder.parameters())


def test_ijepa_fixture_card_marks_fixed_pos_embed():
    model = load_model(FIXTURES / "ijepa_small/jepa-ep2.pth.tar")
    card = model_card(model)
    assert card["ema_gap"]["fixed"] == ["pos_embed"] and card["architecture"]["has_cls"] is False
    assert model.info.heads_guessed  # no config: 64-wide -> one 64-dim head, flagged as a guess


def factory(state_dict, config):
    """A --model-factory target used by the test below: our classes with the fixture's sizes."""
    net = HJepaNetwork(dict(SMALL), 1, 2, 2.0, 2)
    net.load_state_dict(state_dict)
    return net.context_encoder, net.target_encoder, net.predictor, net.hierarchy_projections


def test_model_factory_builds_from_parts():
    net = small_hjepa()
    model = load_model(hjepa_checkpoint(net), {}, model_factory=f"{__name__}:factory")
    assert model.info.heads_source == "model factory" and model.info.num_levels == 2
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.encode(images).tokens, net.target_encoder(images))
    with pytest.raises(ModelBuildError, match="model-factory"):
        load_model(hjepa_checkpoint(net), {}, model_factory="no_such_module_xyz:make")


def test_safetensors_checkpoint_and_json_card(tmp_path):
    import json

    safetensors_torch = pytest.importorskip("safetensors.torch")
    net = small_hjepa()
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    model = load_model(path, CONFIG)
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.encode(images, encoder="context").tokens, net.context_encoder(images))
    card = json.loads(json.dumps(model_card(model)))
    assert card["architecture"]["grid"] == [4, 4] and card["ema_gap"]["overall"] == 0.0


def test_exact_float32_restores_the_callers_flags():
    from hjepa_report.models.api import exact_float32

    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = True
    try:
        with exact_float32(torch.device("cuda")):
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def _small_ijepa_model():
    torch.manual_seed(0)
    net = IJepaNetwork(dict(SMALL), 16, 1)
    parts = {
        p: {k.split(".", 1)[1]: v for k, v in net.state_dict().items() if k.startswith(p + ".")}
        for p in ("encoder", "target_encoder", "predictor")
    }
    return net, load_model(parts, {"meta": {"model_kwargs": {"num_heads": 2}}})


def test_ijepa_masks_are_checked():
    _, model = _small_ijepa_model()
    images = torch.randn(2, 3, 32, 32)
    everything = torch.ones(2, 16, dtype=torch.bool)
    with pytest.raises(ValueError, match="hides every patch"):
        model.encode(images, encoder="context", context_mask=everything)
    with pytest.raises(ValueError, match="needs a context_mask"):
        model.predict(images, None, [everything])
    with pytest.raises(ModelBuildError, match="expected \\[2, 16\\]"):
        model.encode(images, context_mask=torch.zeros(2, 15, dtype=torch.bool))


def test_ijepa_predict_per_sample_equals_original_call():
    net, model = _small_ijepa_model()
    images = torch.randn(2, 3, 32, 32)
    hidden = torch.zeros(2, 16, dtype=torch.bool)
    hidden[0, 4:10], hidden[1, 2:6] = True, True  # 10 and 12 visible patches: processed one sample at a time
    blocks = [torch.zeros(2, 16, dtype=torch.bool), torch.zeros(2, 16, dtype=torch.bool)]
    blocks[0][0, [4, 5]], blocks[1][0, [8, 9]] = True, True
    blocks[0][1, [2, 3, 4]], blocks[1][1, [5]] = True, True
    with torch.no_grad():
        pred = model.predict(images, hidden, blocks)
        keep = (~hidden[0]).nonzero()[:, 0][None]
        from hjepa_report.models.ijepa import encode_kept

        ctx = encode_kept(net.encoder, images[:1], [keep]).tokens
        expected = net.predictor(ctx, [keep], [torch.tensor([[4, 5]]), torch.tensor([[8, 9]])])
    assert pred.predicted.shape == (2, 4, 32) and pred.valid.sum(1).tolist() == [4, 4]
    assert pred.block[0].tolist() == [0, 0, 1, 1] and pred.indices[1].tolist() == [2, 3, 4, 5]
    assert torch.allclose(pred.predicted[0], expected.reshape(4, 32), atol=1e-6)


def test_context_output_must_match_the_mask_and_index_targets_are_accepted():
    _, model = _small_ijepa_model()
    images = torch.randn(2, 3, 32, 32)
    hidden = torch.zeros(2, 16, dtype=torch.bool)
    hidden[:, :4] = True
    with torch.no_grad():
        context = model.encode(images, encoder="context", context_mask=hidden)
        as_list = model.predict(context, hidden, [torch.tensor([[0, 1], [2, 3]])], target=model.encode(images))
        as_tensor = model.predict(images, hidden, torch.tensor([[[0, 1], [2, 3]]]))
        assert torch.equal(as_list.predicted, as_tensor.predicted)
        with pytest.raises(ValueError, match="different context_mask"):
            model.predict(context, torch.zeros(2, 16, dtype=torch.bool), target=model.encode(images))
    h_model = load_model(hjepa_checkpoint(small_hjepa()), CONFIG)
    with pytest.raises(ValueError, match="bool patch masks"):
        h_model.predict(images, hidden, torch.tensor([[0, 1], [2, 3]]))
