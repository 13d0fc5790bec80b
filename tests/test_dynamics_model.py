"""Training dynamics with the rebuilt networks: the model's loss against the original trainers, filter-normalised
directions, landscape, interpolation, gradient flow, and a landscape grid that follows the FLOP rule, never a
clock (analysis/dynamics, models/loss.py, models/flops.py)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.dynamics import gradients, landscape
from hjepa_report.analysis.dynamics.batch import LossBatch, training_masks
from hjepa_report.analysis.dynamics.gradient_section import GradientFlowPass
from hjepa_report.analysis.dynamics.landscape_section import LandscapePass, choose_grid
from hjepa_report.collect import collect_run
from hjepa_report.models import load_model
from hjepa_report.models.loss import hierarchical_loss
from hjepa_report.models.loss_settings import loss_settings
from hjepa_report.render.jsonreport import jsonable
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


def test_the_models_loss_reproduces_the_ijepa_training_loss(ijepa):
    ref = np.load(FIX / "ijepa_small/reference/reference.npz")
    masks = (list(torch.from_numpy(ref["masks_enc"])), list(torch.from_numpy(ref["masks_pred"])))
    with torch.no_grad():
        loss = ijepa.loss(torch.from_numpy(ref["images"]), masks, ijepa.loss_settings(IJEPA_CONFIG))
    assert loss.levels is None
    assert float(loss.total) == pytest.approx(float(ref["loss_smooth_l1"]), abs=1e-5)


def test_the_models_loss_reproduces_the_hjepa_hierarchical_formula(hjepa):
    ref = np.load(FIX / "hjepa_small/reference/reference.npz")
    with torch.no_grad():
        loss = hjepa.loss(
            torch.from_numpy(ref["images"]), torch.from_numpy(ref["context_mask"]), hjepa.loss_settings(HJEPA_CONFIG)
        )
    total, levels = loss.total, loss.levels
    preds = [torch.from_numpy(ref[f"pred_level{i}"]) for i in range(3)]
    targets = [torch.from_numpy(ref[f"target_level{i}"]) for i in range(3)]
    # HJEPALoss with loss.type mse, weights [1, 0.5, 0.25], no normalisation, mean over every padded entry
    by_hand = [((p - t) ** 2).mean() for p, t in zip(preds, targets, strict=True)]
    assert float(total) == pytest.approx(float(by_hand[0] + 0.5 * by_hand[1] + 0.25 * by_hand[2]), abs=1e-5)
    assert [float(x) for x in levels] == pytest.approx([float(x) for x in by_hand], abs=1e-5)


def test_loss_settings_follow_hjepa_defaults_and_options():
    s = loss_settings({"loss": {"type": "combined", "hierarchy_weights": 0.5}}, "hjepa", 2)
    assert (s.kind, s.weights, s.normalize, s.detach_targets) == ("smoothl1", [0.5, 0.5], True, True)
    assert (s.regulariser.kind, s.regulariser.weight) == ("vicreg", 0.1)  # CombinedLoss's default weight
    s = loss_settings({"loss": {"type": "mse", "jepa_loss_type": "huber", "normalize_embeddings": False}}, "hjepa", 1)
    assert (s.kind, s.normalize) == ("huber", False)
    pred, target = [torch.tensor([[[3.0, 4.0]]])], [torch.tensor([[[0.0, 0.0]]])]
    normed = loss_settings({"loss": {"type": "mse"}}, "hjepa", 1)  # normalize_embeddings defaults to true
    assert float(hierarchical_loss(pred, target, normed).total) == pytest.approx((0.6**2 + 0.8**2) / 2)


def test_filter_normalized_direction_matches_each_filter_norm():
    conv, lin = torch.nn.Conv2d(3, 5, 3), torch.nn.Linear(4, 6)
    params = {
        "conv.weight": conv.weight,
        "conv.bias": conv.bias,
        "lin.weight": lin.weight,
        "lin.bias": lin.bias,
        "norm.weight": torch.nn.Parameter(torch.ones(6)),
        "pos_embed": torch.nn.Parameter(torch.randn(1, 7, 4)),
    }
    d = landscape.filter_normalized_direction(params, seed=3)
    for name in ("conv.weight", "lin.weight", "pos_embed"):
        w, v = params[name].detach(), d[name]
        assert v.shape == w.shape and v.dtype == torch.bfloat16  # stored in bfloat16: half the memory
        w_rows, v_rows = w.reshape(w.shape[0], -1), v.reshape(v.shape[0], -1).float()
        # filter by filter, up to bfloat16's rounding of each entry (2^-8 relative at most: its unit roundoff)
        assert torch.allclose(v_rows.norm(dim=1), w_rows.norm(dim=1), rtol=2**-8, atol=0)
        assert not torch.allclose(v.float(), w)  # a random direction, not the weights themselves
    for name in ("conv.bias", "lin.bias", "norm.weight"):
        assert torch.count_nonzero(d[name]) == 0
    again = landscape.filter_normalized_direction(dict(reversed(list(params.items()))), seed=3)
    assert all(torch.equal(d[n], again[n]) for n in params)  # seeded, independent of dict order
    assert not torch.equal(d["lin.weight"], landscape.filter_normalized_direction(params, seed=4)["lin.weight"])


def _batch(model, layout, config):
    settings = ReportSettings(encoder_heads=2 if layout == "hjepa" else None)
    ctx = ReportContext(collect_run(FIX / f"{layout}_small"), settings)
    return LossBatch.draw(ctx, model)


def test_landscape_origin_is_the_unperturbed_loss_and_weights_are_restored(hjepa):
    batch = _batch(hjepa, "hjepa", HJEPA_CONFIG)
    closure = batch.loss_with(hjepa)

    def loss_fn():
        with torch.inference_mode():
            return float(closure())

    params = landscape.trainable_parameters(hjepa.network)
    before = {n: p.detach().clone() for n, p in params.items()}
    unperturbed = loss_fn()
    d1, d2 = landscape.filter_normalized_direction(params, 1), landscape.filter_normalized_direction(params, 2)
    coords = np.linspace(-1, 1, 3)
    surface = landscape.loss_surface(loss_fn, params, (1, 2), coords)
    assert surface.origin_loss == pytest.approx(unperturbed, rel=1e-6)
    # d2 is drawn again per row and the row steps along d1: the same surface as theta + a d1 + b d2 directly
    with torch.no_grad():
        for i, j in [(0, 0), (0, 2), (2, 1)]:
            for n, p in params.items():
                p.copy_(before[n] + coords[j] * d1[n].float() + coords[i] * d2[n].float())
            assert surface.loss[i, j] == pytest.approx(loss_fn(), rel=1e-5)
            for n, p in params.items():
                p.copy_(before[n])
    assert surface.loss[1, 1] == pytest.approx(unperturbed, rel=1e-6)  # grid centre (0, 0)
    assert np.all(np.isfinite(surface.loss)) and surface.loss.max() > unperturbed  # the directions do move it
    assert all(torch.equal(before[n], p) for n, p in params.items())
    assert "target_encoder.vit.blocks.0.attn.qkv.weight" not in params  # the EMA copy is held fixed


def test_interpolation_ends_at_the_checkpoints(ijepa):
    earlier = load_model(FIX / "ijepa_small/jepa-ep2.pth.tar", IJEPA_CONFIG)
    batch = _batch(ijepa, "ijepa", IJEPA_CONFIG)

    def loss_of(model):
        return batch.full_loss(model)

    expected = [loss_of(earlier), loss_of(ijepa)]
    middle = {k: (v + ijepa.network.state_dict()[k]) / 2 for k, v in earlier.network.state_dict().items()}
    vessel = load_model(FIX / "ijepa_small/jepa-ep2.pth.tar", IJEPA_CONFIG)  # scratch: moved along the path
    state = {k: v for k, v in vessel.network.state_dict().items() if v.is_floating_point()}
    end = {k: v.clone() for k, v in ijepa.network.state_dict().items()}
    losses = landscape.interpolation(lambda: loss_of(vessel), state, end, [-0.5, 0.0, 0.5, 1.0])
    assert losses[1] == pytest.approx(expected[0], rel=1e-6)
    assert losses[3] == pytest.approx(expected[1], rel=1e-6)
    assert losses[1] != pytest.approx(losses[3])
    earlier.network.load_state_dict(middle)  # the step-by-step path passes through the midpoint
    assert losses[2] == pytest.approx(loss_of(earlier), rel=1e-6)


def test_gradient_flow_matches_finite_differences_and_leaves_no_gradients(hjepa):
    batch = _batch(hjepa, "hjepa", HJEPA_CONFIG)
    flow = gradients.gradient_flow(hjepa.network, batch.loss_with(hjepa))
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


def test_gradient_flow_statistics_equal_those_of_the_whole_gradients(hjepa):
    # the pass reduces each gradient as autograd accumulates it and drops it; the statistics must equal the
    # ones computed from every gradient kept (a plain backward), layer by layer
    batch = _batch(hjepa, "hjepa", HJEPA_CONFIG)
    flow = gradients.gradient_flow(hjepa.network, batch.loss_with(hjepa))
    batch.loss_with(hjepa)().backward()
    kept = {n: p for n, p in hjepa.network.named_parameters() if p.grad is not None}
    try:
        for layer in flow.layers:
            names = [n for n in kept if gradients.layer_of(n)[0] == layer.name]
            g = torch.cat([kept[n].grad.reshape(-1).double() for n in names])
            w = torch.cat([kept[n].detach().reshape(-1).double() for n in names])
            # squares in float32 (each within 6e-8), sums in float64: norms to 1e-7, the rest exact to 1e-12
            assert layer.grad_norm == pytest.approx(float(g.norm()), rel=1e-7)
            assert layer.mean_abs == pytest.approx(float(g.abs().mean()), rel=1e-12)
            assert layer.max_abs == float(g.abs().max())
            assert layer.weight_norm == pytest.approx(float(w.norm()), rel=1e-7)
            assert layer.finite
        assert {gradients.layer_of(n)[0] for n in kept} == {layer.name for layer in flow.layers}
    finally:
        for p in hjepa.network.parameters():
            p.grad = None


def test_a_non_finite_gradient_is_flagged_in_its_layer():
    lin = torch.nn.Linear(3, 2)
    flow = gradients.gradient_flow(lin, lambda: (lin.weight * torch.tensor([[float("nan"), 1, 1], [1, 1, 1]])).sum())
    (layer,) = flow.layers
    assert not layer.finite and math.isnan(layer.max_abs) and math.isnan(layer.grad_norm)
    assert flow.no_gradient == ["bias"] and lin.weight.grad is None


def test_a_huge_finite_gradient_keeps_a_finite_norm():
    # |g| = 3e20: its float32 square would overflow, so it is squared in float64
    lin = torch.nn.Linear(2, 1, bias=False)
    flow = gradients.gradient_flow(lin, lambda: (lin.weight * torch.tensor([[3e20, 4e20]])).sum())
    (layer,) = flow.layers
    assert layer.finite and layer.grad_norm == pytest.approx(5e20, rel=1e-7) and layer.max_abs == pytest.approx(4e20)


def test_layer_names_parts_and_blocks():
    assert gradients.layer_of("context_encoder.vit.blocks.3.attn.qkv.weight") == (
        "context_encoder.vit.blocks.3.attn.qkv",
        "encoder",
        "block 3",
    )
    assert gradients.layer_of("predictor.blocks.1.attn.in_proj_bias") == (
        "predictor.blocks.1.attn.in_proj",
        "predictor",
        "block 1",
    )
    assert gradients.layer_of("encoder.patch_embed.proj.weight")[1:] == ("encoder", "embed")
    assert gradients.layer_of("predictor.predictor_blocks.0.mlp.fc2.bias")[1:] == ("predictor", "block 0")
    assert gradients.layer_of("hierarchy_projections.2.1.weight")[1:] == ("hierarchy", "level 2")
    tiny = gradients.LayerGrad("tiny", "encoder", "block 0", 1e-9, 1e-10, 5e-8, 1.0, True)
    broken = gradients.LayerGrad("nan", "encoder", "block 1", float("nan"), 1.0, float("nan"), 1.0, False)
    big = gradients.LayerGrad("big", "predictor", "block 0", 5e3, 1.0, 10.0, 1.0, True)
    found = gradients.GradientFlow(1.0, [tiny, broken, big]).problems(1e-7, 1e3)
    assert {k: [lg.name for lg in v] for k, v in found.items()} == {
        "non-finite": ["nan"],
        "vanishing": ["tiny"],
        "exploding": ["big"],
    }


@pytest.mark.slow  # both model-heavy passes of a report on a fixture run
def test_gradient_and_landscape_passes_on_the_ijepa_fixture():
    settings = ReportSettings(landscape_grid=3)
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
        json.dumps(jsonable(section.metrics), allow_nan=False)
    minimal = ReportSettings(minimal=True)
    assert LandscapePass().run(ReportContext(ctx.run, minimal)).status == "skipped"


def test_the_grid_shrinks_to_an_explicit_time_limit():
    # per-point costs measured on a ViT-B/16, batch 8, 2 CPU threads (benchmarks/bench_landscape.py)
    assert choose_grid(21, 2.94, 120) == 5  # H-JEPA ViT-B: 25 points, 74 s
    assert choose_grid(21, 1.23, 120) == 9  # I-JEPA ViT-B: 81 points, 100 s
    assert choose_grid(21, 0.02, 120) == 21  # small model or GPU
    assert choose_grid(21, 60.0, 120) == 5  # never below 5x5
    assert choose_grid(21, 2.94, None) == choose_grid(21, 2.94, 0) == 21  # no budget: as asked
    assert choose_grid(3, 2.94, 120) == 3


def test_the_grid_follows_the_flop_budget():
    # FLOPs per grid point estimated by models/flops.py for benchmarks/bench_landscape.py's ViT-B/16 networks at
    # batch 8 (H-JEPA 529-540 GFLOP, I-JEPA 230-256 GFLOP over mask seeds 0-2) against the default 25 TFLOP
    budget = ReportSettings().landscape_tflop * 1e12
    assert budget == 25e12
    assert choose_grid(21, 540e9, budget) == choose_grid(21, 529e9, budget) == 5  # 25 points, ~74 s on 2 threads
    assert choose_grid(21, 256e9, budget) == choose_grid(21, 230e9, budget) == 9  # 81 points, ~100 s
    assert choose_grid(21, 0.4e9, budget) == 21  # the fixtures and the sample run (< 0.5 GFLOP per point)
    assert choose_grid(21, 540e9, None) == 21


@pytest.mark.slow  # three loss landscapes at the default FLOP budget (about a minute on 2 cores)
def test_the_landscape_grid_does_not_depend_on_the_clock(monkeypatch):
    """Issue 12 bug 4: the grid was chosen by timing one loss evaluation against 120 s, so a slower or busier
    machine got a smaller grid and another report. Under a clock that runs 100x slow the old rule shrinks the
    I-JEPA fixture's 21 x 21 grid (checked on the old code: 'reduced from 21 to 5 to fit 120 s'); the FLOP
    rule keeps it, and a whole section comes out the same under either clock."""
    from hjepa_report.analysis.dynamics import landscape_section as section_module

    run = collect_run(FIX / "ijepa_small")
    real = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: 100.0 * real())
    ctx = ReportContext(run, ReportSettings())
    model = ctx.session.model()
    batch = LossBatch.draw(ctx, model)
    loss_fn = batch.loss_with(model)
    budget = section_module._budget(ctx, model, batch, lambda: float(loss_fn().detach()))
    flops = model.loss_flops(batch.masks, batch.settings).context
    assert budget.point_flops == flops and budget.flops == 25e12 and budget.seconds is None
    assert section_module.grid_size(21, budget) == (choose_grid(21, flops, 25e12), "21 points per axis as asked")
    assert choose_grid(21, flops, 25e12) == 21
    slow_point = section_module._timed(lambda: float(loss_fn().detach()))
    assert choose_grid(21, slow_point, 120.0) < 21  # what the old rule made of the slowed clock
    # a FLOP budget of 50 grid points: 7 x 7 whatever the clock says, and the report says why
    small = ReportSettings(landscape_tflop=50 * flops / 1e12)
    slowed = LandscapePass().run(ReportContext(run, small))
    monkeypatch.setattr(time, "perf_counter", real)
    normal = LandscapePass().run(ReportContext(run, small))
    assert slowed.status == normal.status == "ok", (slowed.message, normal.message)
    assert slowed.metrics["grid"] == normal.metrics["grid"] == 7
    assert slowed.metrics["point_gflop"] == pytest.approx(flops / 1e9)
    assert slowed.metrics["loss_grid"] == normal.metrics["loss_grid"]
    assert slowed.metrics["interpolation"] == normal.metrics["interpolation"]
    assert "reduced from 21 to 7 to fit the FLOP budget" in normal.metrics["grid_from"]


def test_an_explicit_time_limit_shrinks_the_grid_and_says_so(monkeypatch):
    run = collect_run(FIX / "ijepa_small")
    real = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: 1000.0 * real())  # every point "takes" seconds
    section = LandscapePass().run(ReportContext(run, ReportSettings(landscape_seconds=1.0)))
    assert section.status == "ok", section.message
    assert section.metrics["grid"] == 5 and section.metrics["time_limit_s"] == 1.0
    assert "then reduced from 21 to 5 by --landscape-seconds 1" in section.metrics["grid_from"]


def _matrix_flops(counter) -> float:
    """PyTorch's FLOP count of the matrix products and convolutions (the attention kernel is left out: the
    counter does not see inside CPU scaled_dot_product_attention, so the test adds it by hand)."""
    ops = ("convolution", "addmm", "mm", "bmm", "matmul", "linear")
    return sum(v for k, v in counter.get_flop_counts()["Global"].items() if str(k).split(".")[1] in ops)


@pytest.mark.parametrize("layout", ["hjepa", "ijepa"])
def test_the_flop_estimate_matches_pytorchs_counter_plus_attention(layout, hjepa, ijepa):
    from torch.utils.flop_counter import FlopCounterMode

    model, config = (hjepa, HJEPA_CONFIG) if layout == "hjepa" else (ijepa, IJEPA_CONFIG)
    info, net = model.info, model.network
    images = torch.randn(8, 3, info.grid[0] * info.patch_size, info.grid[1] * info.patch_size)
    masks = model.loss_masks(training_masks(config, layout, 8, 0, info.grid, info.patch_size), 8)
    settings = model.loss_settings(config)
    targets = model.loss_targets(images, masks, settings)
    estimate = model.loss_flops(masks, settings)
    with torch.enable_grad(), FlopCounterMode(display=False) as context:
        model.loss(images, masks, settings, targets=targets)
    with FlopCounterMode(display=False) as target:
        model.loss_targets(images, masks, settings)
    n, d = info.num_patches, info.embed_dim

    def attention(rows, tokens, depth, width):  # 4 T^2 d per layer and sequence: QK^T and AV
        return 4.0 * rows * tokens**2 * depth * width

    if layout == "hjepa":
        k = int(masks.sum(1).max())
        encoder = attention(8, n + 1, info.depth, d)
        predictor = attention(8, n + k, len(net.predictor.blocks), d)
        assert estimate.target == _matrix_flops(target) + encoder
        assert estimate.context == _matrix_flops(context) + encoder + predictor
    else:
        enc, pred = masks
        kc, kp = enc[0].shape[1], pred[0].shape[1]
        width = net.predictor.predictor_embed.out_features
        predictor = attention(8 * len(enc) * len(pred), kc + kp, len(net.predictor.predictor_blocks), width)
        assert estimate.target == _matrix_flops(target) + attention(8, n, info.depth, d)
        assert estimate.context == _matrix_flops(context) + attention(8 * len(enc), kc, info.depth, d) + predictor


def test_the_models_loss_refuses_targets_of_other_masks(hjepa):
    settings = hjepa.loss_settings(HJEPA_CONFIG)
    side = hjepa.info.grid[0] * hjepa.info.patch_size
    images = torch.randn(2, 3, side, side)
    hidden = torch.zeros(2, hjepa.info.num_patches, dtype=torch.bool)
    hidden[:, :5] = True
    targets = hjepa.loss_targets(images, hidden, settings)
    with torch.no_grad():
        again = hjepa.loss(images, hidden, settings, targets=targets)
        assert torch.equal(again.total, hjepa.loss(images, hidden, settings).total)
        other = hidden.clone()
        other[:, 5] = True
        with pytest.raises(ValueError, match="other masks"):
            hjepa.loss(images, other, settings, targets=targets)


def test_an_ijepa_network_without_a_target_encoder_takes_its_targets_from_the_context_encoder():
    from hjepa_report.models.flops import loss_flops
    from hjepa_report.models.ijepa import IJepaNetwork
    from hjepa_report.models.loss import LossSettings, network_loss

    torch.manual_seed(0)
    net = IJepaNetwork(dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2), 16, 1).eval()
    images = torch.randn(2, 3, 32, 32)
    masks = ([torch.tensor([[0, 1, 2, 3, 4, 5]] * 2)], [torch.tensor([[10, 11]] * 2), torch.tensor([[14, 15]] * 2)])
    settings = LossSettings(layout="ijepa", kind="smoothl1")
    with torch.no_grad():
        net.target_encoder.load_state_dict(net.encoder.state_dict())
        with_copy = network_loss(net, images, masks, settings).total
        net.target_encoder = None
        assert torch.equal(network_loss(net, images, masks, settings).total, with_copy)
    assert loss_flops(net, masks).target > 0
