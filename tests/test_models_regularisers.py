"""Every loss H-JEPA's trainer can train with, checked on inputs with known answers: VICReg and SIGReg terms,
the loss types the trainer cannot call, BatchNorm heads in training mode, targets that carry gradient and
targets recomputed in end-to-end runs. (Parity with the original code: tests/test_models_loss_parity.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hjepa_report.models import regularisers as R
from hjepa_report.models.hjepa import HJepaNetwork, TokenBatchNorm
from hjepa_report.models.loss import loss_targets, network_loss
from hjepa_report.models.loss_settings import UnsupportedLoss, loss_settings

SIGREG = {
    "num_slices": 8,
    "num_points": 17,
    "eps": 1e-6,
    "flatten": True,
    "fixed_slices": False,
    "test_method": "reference_points",
    "t_min": 0.2,
    "t_max": 4.0,
    "num_quadrature": 32,
    "lambda": 1.0,
}


def test_vicreg_terms_known_answers():
    z = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # both columns: unbiased variance 2, perfectly correlated
    assert float(R.variance_term(z, 1.0, 0.0)) == pytest.approx(0.0)  # std sqrt(2) >= 1
    assert float(R.variance_term(z * 0.25, 1.0, 0.0)) == pytest.approx(1 - 0.25 * math.sqrt(2))
    assert float(R.covariance_term(z)) == pytest.approx(4.0)  # both off-diagonal entries are cov = 2
    assert float(R.covariance_term(torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]]))) == 0.0


def test_views_are_the_batch_halves_flattened_with_the_cls_token():
    context = torch.arange(5 * 3 * 2, dtype=torch.float32).reshape(5, 3, 2)  # odd batch: the last one is dropped
    a, b = R.views(context)
    assert torch.equal(a, context[:2].reshape(6, 2)) and torch.equal(b, context[2:4].reshape(6, 2))
    a, b = R.views(context[:1])
    assert torch.equal(a, b)
    a, _ = R.views(context, flatten=False)
    assert a.shape == (2, 6)


def test_char_function_of_a_two_point_sample_is_the_closed_form_integral():
    x = torch.tensor([[-1.0, 1.0] * 500])  # std of the 1000 values ~1.0005: standardised to ~ +-1
    params = {**SIGREG, "test_method": "char_function", "eps": 0.0}
    scale = float(x.std())
    t = np.linspace(0.2, 4.0, 32)
    f = np.exp(-0.5 * t**2) * (np.cos(t / scale) - np.exp(-0.5 * t**2)) ** 2  # phi_N = cos(t x), sin mean 0
    expected = np.trapezoid(f, t)
    assert float(R.epps_pulley(x, params)[0]) == pytest.approx(expected, rel=1e-5)


def test_epps_pulley_is_near_zero_for_gaussian_samples_and_large_for_a_spike():
    g = torch.Generator().manual_seed(0)
    normal = torch.randn(4, 4000, generator=g)
    spike = torch.cat([torch.zeros(4, 3990), torch.full((4, 10), 5.0)], dim=1)
    for method in ("reference_points", "char_function"):
        params = {**SIGREG, "test_method": method}
        assert float(R.epps_pulley(normal, params).max()) < 0.01
        assert float(R.epps_pulley(spike, params).min()) > 0.1


def test_slices_in_chunks_give_the_same_value_and_gradient(monkeypatch):
    z = torch.randn(40, 6, requires_grad=True)
    slices = R.directions(8, 6, torch.Generator().manual_seed(1))
    whole = R.sliced_test(z, slices, SIGREG)
    (g_whole,) = torch.autograd.grad(whole, z)
    monkeypatch.setattr(R, "CHUNK_BYTES", 4 * 40 * 40 * 3)  # 3 directions per chunk, recomputed in backward
    chunked = R.sliced_test(z, slices, SIGREG)
    (g_chunked,) = torch.autograd.grad(chunked, z)
    assert chunked.item() == pytest.approx(whole.item(), rel=1e-6)
    assert torch.allclose(g_chunked, g_whole, rtol=1e-5, atol=1e-7)


def test_directions_are_the_global_generator_draw_for_the_same_seed():
    torch.manual_seed(5)  # what H-JEPA's SIGRegLoss draws after torch.manual_seed(5)
    expected = torch.nn.functional.normalize(torch.randn(8, 6), p=2, dim=1)
    assert torch.equal(R.directions(8, 6, torch.Generator().manual_seed(5)), expected)


@pytest.mark.parametrize("kind", ["sigreg", "vicreg", "hierarchical_combined", "cjepa", "contrastive_jepa"])
def test_losses_the_trainer_cannot_call_are_refused_with_the_reason(kind):
    with pytest.raises(UnsupportedLoss, match="cannot have trained"):
        loss_settings({"loss": {"type": kind}}, "hjepa", 3)


def test_unknown_and_contrastive_losses_are_refused():
    with pytest.raises(UnsupportedLoss, match="not a loss H-JEPA knows"):
        loss_settings({"loss": {"type": "barlow"}}, "hjepa", 3)
    with pytest.raises(UnsupportedLoss, match="use_contrastive"):
        loss_settings({"loss": {"type": "mse", "use_contrastive": True}}, "hjepa", 3)


def test_settings_read_each_builders_own_keys_and_defaults():
    combined = loss_settings({"loss": {"type": "combined", "detach_targets": False, "vicreg_weight": 0.3}}, "hjepa", 2)
    assert combined.detach_targets and combined.regulariser.weight == 0.3  # _build_combined never reads detach
    assert combined.regulariser.params["eps"] == 1e-8
    sig = loss_settings(
        {"loss": {"type": "sigreg_combined", "sigreg_weight": 9.0, "detach_targets": False}}, "hjepa", 2
    )
    assert (sig.regulariser.weight, sig.detach_targets) == (1.0, False)  # sigreg_loss_weight, not sigreg_weight
    assert (
        loss_settings({"loss": {"type": "hjepa_sigreg", "sigreg_loss_weight": 0.5}}, "hjepa", 2).regulariser.weight
        == 0.5
    )
    assert loss_settings({"loss": {"type": "mse"}}, "hjepa", 2).regulariser is None


def _network(ema_target: bool, norm: str = "layernorm") -> HJepaNetwork:
    torch.manual_seed(0)
    encoder = dict(img_size=16, patch_size=4, embed_dim=16, depth=1, num_heads=2)
    return HJepaNetwork(encoder, 1, 2, 2.0, num_levels=2, projection_norm=norm, ema_target=ema_target).eval()


def _masks() -> torch.Tensor:
    masks = torch.zeros(4, 16, dtype=torch.bool)
    masks[:, [1, 2, 5, 6]] = True
    masks[1:, 9] = True
    return masks


def test_batchnorm_heads_use_batch_statistics_and_leave_running_ones():
    norm = TokenBatchNorm(5)
    norm.bn.running_mean.fill_(3.0)
    x = torch.randn(2, 7, 5)
    reference = torch.nn.BatchNorm1d(5)
    reference.load_state_dict(norm.bn.state_dict())
    expected = reference.train()(x.reshape(-1, 5)).reshape(x.shape)
    norm.batch_statistics = True
    assert torch.allclose(norm(x), expected, atol=1e-6)
    assert torch.equal(norm.bn.running_mean, torch.full((5,), 3.0)) and int(norm.bn.num_batches_tracked) == 0
    net = _network(ema_target=True, norm="batchnorm")
    settings = loss_settings({"loss": {"type": "mse"}}, "hjepa", 2)
    images = torch.randn(4, 3, 16, 16)
    training = float(network_loss(net, images, _masks(), settings).total)
    with torch.no_grad():
        out = net(images, _masks())  # eval mode: running statistics
    pairs = zip(out["predictions"], out["targets"], strict=True)
    running = sum(torch.nn.functional.mse_loss(p, t) for p, t in pairs)  # weights [1, 1]
    assert training != pytest.approx(float(running), rel=1e-3)
    assert all(not m.batch_statistics for m in net.modules() if isinstance(m, TokenBatchNorm))


def test_targets_not_detached_carry_gradient_into_the_projections():
    net = _network(ema_target=True)
    images = torch.randn(4, 3, 16, 16)
    grads = {}
    for detach in (True, False):
        settings = loss_settings({"loss": {"type": "mse", "detach_targets": detach}}, "hjepa", 2)
        net.zero_grad()
        network_loss(net, images, _masks(), settings).total.backward()
        grads[detach] = net.hierarchy_projections[0][0].weight.grad.clone()
        assert net.target_encoder.vit.patch_embed.proj.weight.grad is None  # the EMA encoder: never trained
    assert not torch.allclose(grads[True], grads[False])


def test_end_to_end_targets_are_recomputed_at_every_evaluation():
    net = _network(ema_target=False)
    settings = loss_settings({"loss": {"type": "smoothl1", "detach_targets": False}}, "hjepa", 2)
    images = torch.randn(4, 3, 16, 16)
    cached = loss_targets(net, images, _masks(), settings)
    assert cached.moving
    with torch.no_grad():
        net.context_encoder.vit.patch_embed.proj.weight.mul_(1.5)  # a landscape step moves the target maker too
    stale_free = float(network_loss(net, images, _masks(), settings, cached).total)
    assert stale_free == pytest.approx(float(network_loss(net, images, _masks(), settings).total), rel=1e-6)
    net.zero_grad()
    network_loss(net, images, _masks(), settings).total.backward()
    assert net.context_encoder.vit.patch_embed.proj.weight.grad.abs().sum() > 0


def test_regularised_loss_total_is_jepa_plus_the_weighted_term_under_logged_names():
    net = _network(ema_target=True)
    images = torch.randn(4, 3, 16, 16)
    for kind, name in (("combined", "vicreg_loss"), ("hjepa_sigreg", "sigreg_loss")):
        config = {"loss": {"type": kind, "sigreg_num_slices": 16, "sigreg_loss_weight": 0.5}}
        settings = loss_settings(config, "hjepa", 2, seed=3)
        with torch.no_grad():
            loss = network_loss(net, images, _masks(), settings)
        logged = {k: float(v) for k, v in loss.logged().items()}
        weight = 1.0 if kind == "combined" else 0.5  # vicreg_loss is logged already weighted
        assert logged["loss"] == pytest.approx(logged["jepa_loss"] + weight * logged[name], rel=1e-6)
        assert logged["jepa_loss"] == pytest.approx(logged["loss_h0"] + logged["loss_h1"], rel=1e-6)
        again = float(network_loss(net, images, _masks(), settings).total)
        assert again == pytest.approx(logged["loss"], rel=1e-7)  # seeded directions: a function of the weights
