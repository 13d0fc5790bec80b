"""H-JEPA feature pyramid (model.fpn.use_fpn) and LayerScale against numbers from the original code.

Known answers: the original H-JEPA code (jonwiggins/H-JEPA @ eb995a0, timm 1.0.29, torch 2.11) was run once with
create_hjepa(encoder_type=<timm VisionTransformer 64px, patch 8, width 64, depth 3, 2 heads>, predictor depth 2,
2 heads, MLP ratio 2, 3 levels) and (a) use_fpn, fpn_feature_dim 48, fusion "add", use_layerscale;
(b) use_fpn, fusion "concat". Its weights were replaced by `fill_weights` below (sorted keys, torch.Generator
seed 0) and it was called on the hjepa_small reference images and context_mask: model(images, mask) and
extract_features(images, level). Our rebuild matched every array with max abs error 0 there; the fingerprints
below (sum, sum of |x|, first three values) are what the original returned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hjepa_report.models import load_model  # noqa: E402
from hjepa_report.models.hjepa import HJepaNetwork  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
ENCODER = dict(img_size=64, patch_size=8, embed_dim=64, depth=3, num_heads=2, mlp_ratio=4.0)
CONFIG = {"model": {"num_heads": 2, "predictor": {"num_heads": 2}}, "data": {"image_size": 64}}

ORIGINAL = {
    "add48_layerscale": {
        "pred_level0": [-269.983129, 9247.792164, -0.43937, -0.79997, -0.30623],
        "target_level0": [-188.130347, 9235.746045, -0.234425, 0.745032, 1.997479],
        "features_level0": [-311.356235, 13425.532617, -0.804172, -0.64648, 0.40483],
        "pred_level1": [177.836645, 4550.46381, 0.318645, 0.779462, -0.268714],
        "target_level1": [272.409942, 4466.097137, 0.10855, 0.414441, -0.179176],
        "features_level1": [390.654459, 6456.653117, 0.155356, 1.230168, 0.744063],
        "pred_level2": [16.77878, 2297.416056, 0.210077, 0.49289, 0.888337],
        "target_level2": [73.959362, 2398.790883, 0.774462, 1.152394, -2.038554],
        "features_level2": [107.410042, 3501.572972, 1.817251, 1.334269, -2.428708],
        "target_features": [-722.127533, 13668.921704, -2.532992, -0.68389, 0.628396],
    },
    "concat64": {
        "pred_level0": [372.396391, 8745.835848, 0.62535, 0.399171, 0.180511],
        "target_level0": [501.331501, 9225.202963, -0.455151, -1.111434, -0.716551],
        "features_level0": [711.638802, 13340.345312, -0.427076, -0.447413, -1.114874],
        "pred_level1": [-139.725708, 4544.637794, -0.211038, -0.397336, -0.37811],
        "target_level1": [-349.49853, 4266.035903, -0.252191, -0.09817, -2.001754],
        "features_level1": [-499.606562, 6212.935868, -0.155374, -0.70767, -1.414652],
        "pred_level2": [100.594082, 2231.218942, -0.005542, -0.606216, 1.451389],
        "target_level2": [120.656424, 2241.479929, 0.614289, -1.297971, -1.121634],
        "features_level2": [176.509115, 3265.131893, 0.720468, -1.256723, -1.390274],
        "target_features": [-650.557506, 13335.73082, -0.837762, 0.95292, -0.002511],
    },
}
NETWORKS = {
    "add48_layerscale": dict(encoder=dict(ENCODER, layer_scale="hjepa"), fpn_dim=48, fpn_fusion="add"),
    "concat64": dict(encoder=ENCODER, fpn_dim=64, fpn_fusion="concat"),
}


def fill_weights(shapes: dict, seed: int = 0) -> dict:
    """Deterministic weights: N(0, 0.2^2) per tensor in sorted key order; 1-D weights +1, LayerScale +0.5."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in sorted(shapes.items()):
        value = torch.randn(shape, generator=g) * 0.2
        if key.endswith(".weight") and len(shape) == 1:
            value = value + 1.0
        if key.endswith(".gamma"):
            value = value + 0.5
        out[key] = value
    return out


def _fingerprint(t) -> list[float]:
    t = t.detach().double()
    return [float(t.sum()), float(t.abs().sum())] + [float(x) for x in t.reshape(-1)[:3]]


@pytest.mark.parametrize("case", sorted(ORIGINAL))
def test_pyramid_levels_match_the_original(case):
    spec = NETWORKS[case]
    shapes = {
        k: tuple(v.shape)
        for k, v in HJepaNetwork(spec["encoder"], 2, 2, 2.0, 3, fpn_dim=spec["fpn_dim"], fpn_fusion=spec["fpn_fusion"])
        .state_dict()
        .items()
    }
    model = load_model({"model_state_dict": fill_weights(shapes)}, CONFIG)
    assert (model.info.fpn_dim, model.info.fpn_fusion) == (spec["fpn_dim"], spec["fpn_fusion"])
    ref = np.load(FIXTURES / "hjepa_small/reference/reference.npz")
    images, mask = torch.from_numpy(ref["images"]), torch.from_numpy(ref["context_mask"])
    ours = {}
    with torch.no_grad():
        target = model.encode(images)
        pred = model.predict(images, mask, target=target)
        for level, ((p, valid), (t, _)) in enumerate(
            zip(model.levels(pred.predicted, pred.valid), model.levels(pred.target), strict=True)
        ):
            ours[f"pred_level{level}"], ours[f"target_level{level}"] = p, t
            ours[f"features_level{level}"] = model.features(images, level)
            # the original pushes the 0/1 validity mask through the learned pyramid; with these weights every
            # level's mask came out all False there
            assert int(valid.sum()) == 0
    ours["target_features"] = target.tokens
    for name, expected in ORIGINAL[case].items():
        got = _fingerprint(ours[name])
        assert got[:2] == pytest.approx(expected[:2], rel=1e-6, abs=2e-3), name
        assert got[2:] == pytest.approx(expected[2:], abs=1e-5), name
