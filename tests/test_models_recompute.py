"""Recomputed blocks give the gradients of a plain backward pass, and leave the network as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from hjepa_report.analysis.context import ReportContext  # noqa: E402
from hjepa_report.analysis.dynamics.batch import LossBatch  # noqa: E402
from hjepa_report.collect import collect_run  # noqa: E402
from hjepa_report.settings import ReportSettings  # noqa: E402

FIX = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("layout", ["hjepa", "ijepa"])
def test_gradients_with_recomputed_blocks_equal_the_plain_ones(layout):
    settings = ReportSettings(encoder_heads=2 if layout == "hjepa" else None)
    ctx = ReportContext(collect_run(FIX / f"{layout}_small"), settings)
    model = ctx.session.model()
    batch = LossBatch.draw(ctx, model)
    params = [p for p in model.network.parameters() if p.requires_grad]

    def gradients():
        for p in params:
            p.grad = None
        with torch.enable_grad():
            batch.loss_with(model)().backward()
        return [None if p.grad is None else p.grad.clone() for p in params]

    plain = gradients()
    with model.recomputing():
        recomputed = gradients()
        assert any("forward" in vars(b) for b in model.network.modules())  # the blocks are wrapped here
    assert all("forward" not in vars(b) for b in model.network.modules())  # and unwrapped after
    assert sum(g is not None for g in plain) > 10
    for a, b in zip(plain, recomputed, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)
