"""The trainable module classes load the fixture checkpoints strictly and reproduce the original outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hjepa_report.collect.checkpoints import load_checkpoint  # noqa: E402
from hjepa_report.models.hjepa import HJepaNetwork  # noqa: E402
from hjepa_report.models.ijepa import IJepaNetwork, encode_kept  # noqa: E402
from hjepa_report.models.tokens import hidden_indices  # noqa: E402
from hjepa_report.models.vit import VisionTransformer, sincos_pos_embed_2d  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
TOL = 1e-4


def _maxabs(a, b) -> float:
    return float(np.abs(a.detach().numpy() - b).max())


@pytest.fixture(scope="module")
def hjepa():
    sd = load_checkpoint(FIXTURES / "hjepa_small/checkpoints/checkpoint_latest.pth")["model_state_dict"]
    net = HJepaNetwork(dict(img_size=64, patch_size=8, embed_dim=64, depth=3, num_heads=2), 2, 2, 2.0, 3)
    net.load_state_dict(sd, strict=True)
    return net.eval(), np.load(FIXTURES / "hjepa_small/reference/reference.npz")


def test_hjepa_network_keys_equal_checkpoint_keys():
    sd = load_checkpoint(FIXTURES / "hjepa_small/checkpoints/checkpoint_latest.pth")["model_state_dict"]
    net = HJepaNetwork(dict(img_size=64, patch_size=8, embed_dim=64, depth=3, num_heads=2), 2, 2, 2.0, 3)
    assert list(net.state_dict()) == list(sd)


def test_hjepa_forward_matches_reference(hjepa):
    net, ref = hjepa
    with torch.no_grad():
        out = net(torch.from_numpy(ref["images"]), torch.from_numpy(ref["context_mask"]))
    assert _maxabs(out["target_features"], ref["target_out"]) < TOL
    assert _maxabs(out["context_features"], ref["context_out"]) < TOL
    assert np.array_equal(out["mask_indices"].numpy(), ref["mask_indices"])
    for level in range(3):
        assert _maxabs(out["predictions"][level], ref[f"pred_level{level}"]) < TOL
        assert _maxabs(out["targets"][level], ref[f"target_level{level}"]) < TOL
        assert np.array_equal(out["masks_valid"][level].numpy(), ref[f"valid_level{level}"])


def test_hjepa_network_trains_one_step():
    torch.manual_seed(0)
    net = HJepaNetwork(dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2), 1, 2, 2.0, 2)
    images = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[:, 3:9] = True
    out = net(images, mask)
    loss = sum(((p - t) ** 2).mean() for p, t in zip(out["predictions"], out["targets"], strict=True))
    loss.backward()
    assert net.context_encoder.vit.blocks[0].attn.qkv.weight.grad is not None
    assert net.target_encoder.vit.blocks[0].attn.qkv.weight.grad is None
    before = net.target_encoder.vit.norm.weight.clone()
    with torch.no_grad():
        net.context_encoder.vit.norm.weight.add_(1.0)
    net.update_target_encoder(0.5)
    assert torch.allclose(net.target_encoder.vit.norm.weight, before + 0.5)


def test_hidden_indices_sorted_and_padded():
    mask = torch.tensor([[False, True, False, True], [True, False, False, False]])
    idx, valid = hidden_indices(mask)
    assert idx.tolist() == [[1, 3], [0, 0]]
    assert valid.tolist() == [[True, True], [True, False]]


def test_ijepa_network_matches_reference():
    checkpoint = load_checkpoint(FIXTURES / "ijepa_small/jepa-latest.pth.tar")
    sd = {
        f"{part}.{k.removeprefix('module.')}": v
        for part in ("encoder", "target_encoder", "predictor")
        for k, v in checkpoint[part].items()
    }
    net = IJepaNetwork(dict(img_size=64, patch_size=8, embed_dim=64, depth=3, num_heads=2, mlp_ratio=2.0), 32, 2)
    # the sin-cos tables we compute equal the stored ones before loading
    assert torch.equal(net.encoder.pos_embed, sd["encoder.pos_embed"])
    assert torch.equal(net.predictor.predictor_pos_embed, sd["predictor.predictor_pos_embed"])
    net.load_state_dict(sd, strict=True)
    net.eval()
    ref = np.load(FIXTURES / "ijepa_small/reference/reference.npz")
    images = torch.from_numpy(ref["images"])
    masks_enc, masks_pred = list(torch.from_numpy(ref["masks_enc"])), list(torch.from_numpy(ref["masks_pred"]))
    with torch.no_grad():
        assert _maxabs(net.target_encoder(images), ref["target_out"]) < TOL
        assert _maxabs(encode_kept(net.encoder, images, masks_enc).tokens, ref["context_out"]) < TOL
        out = net(images, masks_enc, masks_pred)
    assert _maxabs(out["predictions"], ref["pred_out"]) < TOL
    assert _maxabs(out["targets"], ref["target_masked_ln"]) < TOL


def test_sincos_table_rejects_odd_width():
    with pytest.raises(ValueError):
        sincos_pos_embed_2d(6, 2, 2)


@pytest.mark.parametrize("scale_first", [True, False])
def test_explicit_attention_equals_fused_path(scale_first):
    torch.manual_seed(0)
    vit = VisionTransformer(32, 8, 32, 2, 4, scale_first=scale_first).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        fused = vit(images)
        explicit = vit.forward_features(images, attention_layers=[0, 1], return_blocks=True)
    assert torch.allclose(fused, explicit.tokens, atol=1e-5)
    assert explicit.attentions[1].shape == (2, 4, 17, 17)
    assert torch.allclose(explicit.attentions[0].sum(-1), torch.ones(2, 4, 17), atol=1e-5)
    assert sorted(explicit.blocks) == [0, 1]


def test_pooling_shorter_than_a_window_gives_no_tokens():
    from hjepa_report.models.tokens import pool_level, pool_valid

    tokens, valid = torch.ones(2, 3, 4), torch.ones(2, 3, dtype=torch.bool)
    assert pool_level(tokens, 2).shape == (2, 0, 4) and pool_valid(valid, 2).shape == (2, 0)
    assert pool_level(tokens, 1).shape == (2, 1, 4)
