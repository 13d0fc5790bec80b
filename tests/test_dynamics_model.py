"""Training dynamics with the rebuilt networks: jepa_loss parity, filter-normalised directions, landscape,
interpolation and gradient flow (analysis/dynamics)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hjepa_report.analysis.base import ReportContext
from hjepa_report.analysis.dynamics import gradients as gr
from hjepa_report.analysis.dynamics import landscape as ls
from hjepa_report.analysis.dynamics.loss import hierarchical_loss, jepa_loss, loss_settings
from hjepa_report.analysis.dynamics.model_passes import Batch, GradientFlowPass, LandscapePass, choose_grid
from hjepa_report.collect import collect_run
from hjepa_report.models import load_model
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures"
HJEPA_CONFIG = yaml.safe_load((FIX / "hjepa_small/config.yaml").read_text())
IJEPA_CONFIG = yaml.safe_load((FIX / "ijepa_small/params-ijepa.yaml").read_text())


@pytest.fixture(scope="module")
def hjepa():
    # the fixture's encoder name is not a stock timm model: its 2 heads are not recorded anywhere
    return load_model(FIX / "hjepa_small/checkpoints/checkpoint_latest.pth", HJEPA_CONFIG, encoder_heads=2)


@pytest.fixture(scope="module")
def ijepa():
    return load_model(FIX / "ijepa_small/jepa-latest.pth.tar", IJEPA_CONFIG)


def test_jepa_loss_reproduces_the_ijepa_training_loss(ijepa):
    ref = np.load(FIX / "ijepa_small/reference/reference.npz")
    masks = (list(torch.from_numpy(ref["masks_enc"])), list(torch.from_numpy(ref["masks_pred"])))
    with torch.no_grad():
        total, levels = jepa_loss(ijepa, torch.from_numpy(ref["images"]), masks, IJEPA_CONFIG)
    assert levels is None
    assert float(total) == pytest.approx(float(ref["loss_smooth_l1"]), abs=1e-5)


def test_jepa_loss_reproduces_the_hjepa_hierarchical_formula(hjepa):
    ref = np.load(FIX / "hjepa_small/reference/reference.npz")
    with torch.no_grad():
        total, levels = jepa_loss(hjepa, torch.from_numpy(ref["images"]), torch.from_numpy(ref["context_mask"]),
                                  HJEPA_CONFIG)
    preds = [torch.from_numpy(ref[f"pred_level{i}"]) for i in range(3)]
    targets = [torch.from_numpy(ref[f"target_level{i}"]) for i in range(3)]
    # HJEPALoss with loss.type mse, weights [1, 0.5, 0.25], no normalisation, mean over every padded entry
    by_hand = [((p - t) ** 2).mean() for p, t in zip(preds, targets)]
    assert float(total) == pytest.approx(float(by_hand[0] + 0.5 * by_hand[1] + 0.25 * by_hand[2]), abs=1e-5)
    assert [float(x) for x in levels] == pytest.approx([float(x) for x in by_hand], abs=1e-5)


def test_loss_settings_follow_hjepa_defaults_and_options():
    s = loss_settings({"loss": {"type": "combined", "hierarchy_weights": 0.5}}, "hjepa", 2)
    assert (s.kind, s.weights, s.normalize) == ("smoothl1", [0.5, 0.5], True) and s.notes
    s = loss_settings({"loss": {"type": "mse", "jepa_loss_type": "huber", "normalize_embeddings": False}}, "hjepa", 1)
    assert (s.kind, s.normalize) == ("huber", False)
    pred, target = [torch.tensor([[[3.0, 4.0]]])], [torch.tensor([[[0.0, 0.0]]])]
    normed = loss_settings({"loss": {"type": "mse"}}, "hjepa", 1)  # normalize_embeddings defaults to true
    assert float(hierarchical_loss(pred, target, normed)[0]) == pytest.approx((0.6**2 + 0.8**2) / 2)


def test_filter_normalized_direction_matches_each_filter_norm():
    conv, lin = torch.nn.Conv2d(3, 5, 3), torch.nn.Linear(4, 6)
    params = {"conv.weight": conv.weight, "conv.bias": conv.bias, "lin.weight": lin.weight, "lin.bias": lin.bias,
              "norm.weight": torch.nn.Parameter(torch.ones(6)), "pos_embed": torch.nn.Parameter(torch.randn(1, 7, 4))}
    d = ls.filter_normalized_direction(params, seed=3)
    for name in ("conv.weight", "lin.weight", "pos_embed"):
        w, v = params[name].detach(), d[name]
        assert v.shape == w.shape
        w_rows, v_rows = w.reshape(w.shape[0], -1), v.reshape(v.shape[0], -1)
        assert torch.allclose(v_rows.norm(dim=1), w_rows.norm(dim=1), rtol=1e-5)  # filter by filter
        assert not torch.allclose(v, w)  # a random direction, not the weights themselves
    for name in ("conv.bias", "lin.bias", "norm.weight"):
        assert torch.count_nonzero(d[name]) == 0
    again = ls.filter_normalized_direction(dict(reversed(list(params.items()))), seed=3)
    assert all(torch.equal(d[n], again[n]) for n in params)  # seeded, independent of dict order
    assert not torch.equal(d["lin.weight"], ls.filter_normalized_direction(params, seed=4)["lin.weight"])


def _batch(model, layout, config):
    settings = ReportSettings(encoder_heads=2 if layout == "hjepa" else None)
    ctx = ReportContext(collect_run(FIX / f"{layout}_small"), settings)
    ctx.cached(("model", str(ctx.run.latest_checkpoint().path)), lambda: model)
    return Batch(ctx, model)


def test_landscape_origin_is_the_unperturbed_loss_and_weights_are_restored(hjepa):
    batch = _batch(hjepa, "hjepa", HJEPA_CONFIG)
    closure = batch.loss_with(hjepa)

    def loss_fn():
        with torch.inference_mode():
            return float(closure())

    params = ls.trainable_parameters(hjepa.network)
    before = {n: p.detach().clone() for n, p in params.items()}
    unperturbed = loss_fn()
    d1, d2 = ls.filter_normalized_direction(params, 1), ls.filter_normalized_direction(params, 2)
    surface = ls.loss_surface(loss_fn, params, d1, d2, np.linspace(-1, 1, 3))
    assert surface.origin_loss == pytest.approx(unperturbed, rel=1e-6)
    assert surface.loss[1, 1] == pytest.approx(unperturbed, rel=1e-6)  # grid centre (0, 0)
    assert np.all(np.isfinite(surface.loss)) and surface.loss.max() > unperturbed  # the directions do move it
    assert all(torch.equal(before[n], p) for n, p in params.items())
    assert "target_encoder.vit.blocks.0.attn.qkv.weight" not in params  # the EMA copy is held fixed


def test_interpolation_ends_at_the_checkpoints(ijepa):
    earlier = load_model(FIX / "ijepa_small/jepa-ep2.pth.tar", IJEPA_CONFIG)
    batch = _batch(ijepa, "ijepa", IJEPA_CONFIG)

    def loss_of(model):
        with torch.inference_mode():
            return float(jepa_loss(model, batch.images, batch.masks, IJEPA_CONFIG)[0])

    state = {k: v for k, v in ijepa.network.state_dict().items() if v.is_floating_point()}
    start = {k: v.clone() for k, v in earlier.network.state_dict().items()}
    end = {k: v.clone() for k, v in ijepa.network.state_dict().items()}
    losses = ls.interpolation(lambda: loss_of(ijepa), state, start, end, [0.0, 0.5, 1.0])
    assert losses[0] == pytest.approx(loss_of(earlier), rel=1e-6)
    assert losses[2] == pytest.approx(loss_of(ijepa), rel=1e-6)
    assert losses[0] != pytest.approx(losses[2])


def test_gradient_flow_matches_finite_differences_and_leaves_no_gradients(hjepa):
    batch = _batch(hjepa, "hjepa", HJEPA_CONFIG)
    flow = gr.gradient_flow(hjepa.network, batch.loss_with(hjepa))
    assert all(p.grad is None for p in hjepa.network.parameters())
    names = {lg.name for lg in flow.layers}
    assert "predictor.blocks.0.attn.in_proj" in names and "context_encoder.vit.blocks.2.mlp.fc1" in names
    assert not any(n.startswith("target_encoder") for n in names)
    assert flow.no_gradient == ["predictor.pos_embed_predictor"]  # unused in H-JEPA's forward pass
    # one gradient entry against a central difference of the loss (a predictor parameter: the hierarchy
    # projections also shape the stop-gradient targets, so their gradient is not the loss's full derivative)
    p = dict(hjepa.network.named_parameters())["predictor.head.bias"]
    loss_fn = batch.loss_with(hjepa)
    loss_fn().backward()
    g, p.grad = p.grad[0].item(), None
    with torch.no_grad():
        p[0] += 1e-2
        up = float(loss_fn())
        p[0] -= 2e-2
        down = float(loss_fn())
        p[0] += 1e-2
    assert g == pytest.approx((up - down) / 2e-2, rel=1e-2, abs=1e-6)
    layer = next(lg for lg in flow.layers if lg.name == "predictor.head")
    assert layer.ratio == pytest.approx(layer.grad_norm / layer.weight_norm)


def test_layer_names_parts_and_blocks():
    assert gr.layer_of("context_encoder.vit.blocks.3.attn.qkv.weight") == (
        "context_encoder.vit.blocks.3.attn.qkv", "encoder", "block 3")
    assert gr.layer_of("predictor.blocks.1.attn.in_proj_bias") == ("predictor.blocks.1.attn.in_proj", "predictor",
                                                                  "block 1")
    assert gr.layer_of("encoder.patch_embed.proj.weight")[1:] == ("encoder", "embed")
    assert gr.layer_of("predictor.predictor_blocks.0.mlp.fc2.bias")[1:] == ("predictor", "block 0")
    assert gr.layer_of("hierarchy_projections.2.1.weight")[1:] == ("hierarchy", "level 2")
    tiny = gr.LayerGrad("tiny", "encoder", "block 0", 1e-9, 1e-10, 5e-8, 1.0, True)
    broken = gr.LayerGrad("nan", "encoder", "block 1", float("nan"), 1.0, float("nan"), 1.0, False)
    big = gr.LayerGrad("big", "predictor", "block 0", 5e3, 1.0, 10.0, 1.0, True)
    found = gr.GradientFlow(1.0, [tiny, broken, big]).problems(1e-7, 1e3)
    assert {k: [lg.name for lg in v] for k, v in found.items()} == {
        "non-finite": ["nan"], "vanishing": ["tiny"], "exploding": ["big"]}


def test_gradient_and_landscape_passes_on_the_ijepa_fixture():
    settings = ReportSettings()
    settings.landscape_grid = 3  # the lead adds this field; getattr keeps older settings working
    ctx = ReportContext(collect_run(FIX / "ijepa_small"), settings)
    grad = GradientFlowPass().run(ctx)
    assert grad.status == "ok", grad.message
    assert [c.name for c in grad.checks] == ["gradient-flow"]
    assert {f.id for f in grad.figures} == {"gradient-flow-layers", "gradient-flow-blocks"}
    land = LandscapePass().run(ctx)
    assert land.status == "ok", land.message
    assert land.metrics["grid"] == 3 and land.metrics["interpolation"][0]["to"] == "jepa-latest.pth.tar"
    assert land.metrics["origin_loss"] == pytest.approx(grad.metrics["loss"], rel=1e-6)  # same batch and masks
    for section in (grad, land):
        json.dumps(section.metrics, allow_nan=False)
    minimal = ReportSettings(minimal=True)
    assert LandscapePass().run(ReportContext(ctx.run, minimal)).status == "skipped"


def test_the_grid_shrinks_to_the_time_budget():
    # per-point costs measured on a ViT-B/16, batch 8, 2 CPU threads (benchmarks/bench_landscape.py)
    assert choose_grid(21, 2.94, 120) == 5  # H-JEPA ViT-B: 25 points, 74 s
    assert choose_grid(21, 1.23, 120) == 9  # I-JEPA ViT-B: 81 points, 100 s
    assert choose_grid(21, 0.02, 120) == 21  # small model or GPU
    assert choose_grid(21, 60.0, 120) == 5  # never below 5x5
    assert choose_grid(21, 2.94, None) == choose_grid(21, 2.94, 0) == 21  # no budget: as asked
    assert choose_grid(3, 2.94, 120) == 3
