"""Networks rebuilt by load_model reproduce the original code's outputs (reference.npz, fp32) within 1e-4.

The reference arrays were computed by the original H-JEPA (jonwiggins/H-JEPA @ eb995a0) and I-JEPA
(facebookresearch/ijepa @ 52c1ae9) code on the stored `images`; see tests/fixtures/*/reference/README.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")

from hjepa_report.models import load_model  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
TOL = 1e-4


def _config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def hjepa_outputs():
    run = FIXTURES / "hjepa_small"
    # config.yaml names a custom timm model (vit_pico_patch8_64) that records no head count: 2 per PROVENANCE.md
    model = load_model(run / "checkpoints/checkpoint_latest.pth", _config(run / "config.yaml"), encoder_heads=2)
    ref = np.load(run / "reference/reference.npz")
    images, mask = torch.from_numpy(ref["images"]), torch.from_numpy(ref["context_mask"])
    out = {}
    with torch.inference_mode():
        target = model.encode(images, encoder="target", attention_layers=[0, 1, 2])
        context = model.encode(images, encoder="context", context_mask=mask)
        pred = model.predict(context, mask, target=target)
        out["target_out"], out["context_out"] = target.tokens, context.tokens
        out["predictor_out"], out["target_masked"] = pred.predicted, pred.target
        for level, ((p, valid), (t, _)) in enumerate(
            zip(model.levels(pred.predicted, pred.valid), model.levels(pred.target), strict=True)
        ):
            out[f"pred_level{level}"], out[f"target_level{level}"], out[f"valid_level{level}"] = p, t, valid
            out[f"features_level{level}"] = model.features(images, level)
        for block in range(3):
            out[f"attn_block{block}"] = target.attentions[block]
    out["mask_indices"] = pred.indices
    return out, ref


@pytest.fixture(scope="module")
def ijepa_outputs():
    run = FIXTURES / "ijepa_small"
    model = load_model(run / "jepa-latest.pth.tar", _config(run / "params-ijepa.yaml"))
    ref = np.load(run / "reference/reference.npz")
    images = torch.from_numpy(ref["images"])
    b, n = len(images), model.info.num_patches
    hidden = torch.ones(b, n, dtype=torch.bool)  # the public mask: True = hidden, from the kept indices
    for i in range(b):
        hidden[i, ref["masks_enc"][0, i]] = False
    masks_pred = list(torch.from_numpy(ref["masks_pred"]))
    out = {}
    with torch.inference_mode():
        target = model.encode(images, attention_layers=[0, 1, 2])
        context = model.encode(images, encoder="context", context_mask=hidden)
        pred = model.predict(context, hidden, masks_pred, target=target)
    out["target_out"] = target.tokens
    out["target_out_ln"] = torch.nn.functional.layer_norm(target.tokens, (64,))
    out["context_out"] = context.tokens
    # our rows are per sample, blocks one after another; the original's rows are block-major (j * B + b)
    m, k = len(masks_pred), masks_pred[0].shape[1]
    out["pred_out"] = pred.predicted.reshape(b, m, k, -1).transpose(0, 1).reshape(m * b, k, -1)
    out["target_masked_ln"] = pred.target.reshape(b, m, k, -1).transpose(0, 1).reshape(m * b, k, -1)
    out["loss_smooth_l1"] = torch.nn.functional.smooth_l1_loss(pred.predicted, pred.target)
    for block in range(3):
        out[f"attn_block{block}"] = target.attentions[block]
    return out, ref


HJEPA_ARRAYS = (
    ["target_out", "context_out", "predictor_out", "target_masked"]
    + [f"{kind}_level{lv}" for kind in ("pred", "target", "features") for lv in range(3)]
    + [f"attn_block{i}" for i in range(3)]
)
IJEPA_ARRAYS = ["target_out", "target_out_ln", "target_masked_ln", "context_out", "pred_out", "loss_smooth_l1"] + [
    f"attn_block{i}" for i in range(3)
]


@pytest.mark.parametrize("name", HJEPA_ARRAYS)
def test_hjepa_matches_original(hjepa_outputs, name):
    out, ref = hjepa_outputs
    assert tuple(out[name].shape) == ref[name].shape
    assert float(np.abs(out[name].numpy() - ref[name]).max()) < TOL


@pytest.mark.parametrize("name", ["mask_indices", "valid_level0", "valid_level1", "valid_level2"])
def test_hjepa_indices_and_validity_equal(hjepa_outputs, name):
    out, ref = hjepa_outputs
    assert np.array_equal(out[name].numpy(), ref[name])


@pytest.mark.parametrize("name", IJEPA_ARRAYS)
def test_ijepa_matches_original(ijepa_outputs, name):
    out, ref = ijepa_outputs
    assert tuple(out[name].shape) == ref[name].shape
    assert float(np.abs(out[name].numpy() - ref[name]).max()) < TOL


def test_attention_rows_are_probabilities(hjepa_outputs):
    out, _ = hjepa_outputs
    rows = out["attn_block1"].sum(-1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)
