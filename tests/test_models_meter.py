"""PassMeter: every pass through the networks is counted with its images, whichever method ran it, and timed."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from hjepa_report.models import load_model  # noqa: E402
from hjepa_report.models.meter import PassMeter  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def _model(name: str, **kw):
    import yaml

    run = FIXTURES / name
    config = yaml.safe_load(next(run.glob("*.yaml")).read_text()) if name == "hjepa_small" else None
    ckpt = sorted((run / "checkpoints").glob("*latest*")) or sorted(run.rglob("*.pth.tar"))
    return load_model(ckpt[0], config, **kw)


def _images(model, n: int):
    s = model.info.grid[0] * model.info.patch_size
    return torch.rand(n, 3, s, s, generator=torch.Generator().manual_seed(0))


def _counts(meter: PassMeter) -> list[tuple[str, int, bool]]:
    return [(p.network, p.images, p.grad) for p in meter.passes]


def test_encode_predict_and_backward_are_each_counted_once_with_their_batch():
    model = _model("hjepa_small", encoder_heads=2, predictor_heads=2)
    meter = PassMeter(section="test")
    meter.attach(model, "latest")
    images = _images(model, 3)
    with torch.inference_mode():
        model.encode(images, encoder="target")  # forward_features: not the module's __call__
        hidden = torch.zeros(3, model.info.num_patches, dtype=torch.bool)
        hidden[:, :4] = True
        model.predict(images, hidden)  # context encoder, target encoder, predictor
    assert _counts(meter) == [
        ("target_encoder", 3, False),
        ("context_encoder", 3, False),
        ("target_encoder", 3, False),
        ("predictor", 3, False),
    ]
    with torch.enable_grad():
        out = model.network.context_encoder(images[:2], hidden[:2])
        model.backward(out.square().mean())
    assert _counts(meter)[-2:] == [("context_encoder", 2, True), ("backward", 2, True)]
    assert all(p.seconds >= 0 and p.section == "test" and p.checkpoint == "latest" for p in meter.passes)
    assert meter.seconds == pytest.approx(sum(p.seconds for p in meter.passes))


def test_the_summary_groups_passes_per_checkpoint_network_and_grad():
    model = _model("ijepa_small")
    meter = PassMeter(section="a")
    meter.attach(model, "ckpt")
    with torch.inference_mode():
        model.encode(_images(model, 2), encoder="target")
        meter.section = "b"
        model.encode(_images(model, 5), encoder="target")
        model.encode(_images(model, 1), encoder="context")
    summary = meter.summary()
    assert set(summary["sections"]) == {"a", "b"}
    rows = {(r["network"], r["grad"]): (r["calls"], r["images"]) for r in summary["passes"]}
    assert rows == {("target_encoder", False): (2, 7), ("context_encoder", False): (1, 1)}


def test_a_model_without_a_meter_backpropagates_plainly():
    model = _model("ijepa_small")
    x = torch.ones(2, requires_grad=True)
    model.backward((x * 3).sum())
    assert torch.equal(x.grad, torch.full((2,), 3.0))
