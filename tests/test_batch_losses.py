"""Each checkpoint's loss on the fixed loss batch is evaluated once per report (issue 13): gradient flow's
forward pass gives it, and the loss landscape takes it for its float32 value at the stored weights and for
the ends of its checkpoint interpolation (t = 0 and 1 are the checkpoints) instead of evaluating it again.
That is only right if the numbers are the same ones: checked here against evaluating them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hjepa_report.analysis.context import ReportContext  # noqa: E402
from hjepa_report.analysis.dynamics import gradients, landscape  # noqa: E402
from hjepa_report.analysis.dynamics.batch import LossBatch  # noqa: E402
from hjepa_report.analysis.dynamics.gradient_section import GradientFlowPass  # noqa: E402
from hjepa_report.analysis.dynamics.landscape_section import LandscapePass, _float_tensors  # noqa: E402
from hjepa_report.collect import collect_run  # noqa: E402
from hjepa_report.settings import ReportSettings  # noqa: E402

FIX = Path(__file__).parent / "fixtures"


def _ctx(layout: str, **settings) -> ReportContext:
    heads = {"encoder_heads": 2} if layout == "hjepa" else {}
    return ReportContext(collect_run(FIX / f"{layout}_small"), ReportSettings(**heads, **settings))


@pytest.mark.parametrize("layout", ["hjepa", "ijepa"])
def test_gradient_flows_loss_is_the_float32_loss_the_landscape_would_evaluate(layout):
    """The loss of the backward pass (autograd on, blocks recomputed, targets computed once) equals the whole
    float32 loss under inference mode (the interpolation's) and the grid's float32 closure at the stored
    weights: the same weights, batch and masks, so reading one for the other changes nothing."""
    ctx = _ctx(layout)
    model = ctx.session.model()
    batch = LossBatch.draw(ctx, model)
    with model.recomputing():
        flow = gradients.gradient_flow(model.network, batch.terms_with(model), model.backward)
    whole = batch.full_loss(model)
    with torch.inference_mode():
        closure = float(batch.loss_with(model)())
    assert flow.loss == pytest.approx(whole, rel=1e-6, abs=1e-9)
    assert closure == pytest.approx(whole, rel=1e-6, abs=1e-9)


def test_interpolation_takes_the_known_ends_without_evaluating_them():
    ctx = _ctx("ijepa")
    refs = sorted(ctx.run.unique_checkpoints(), key=lambda r: r.epoch or 0)
    a, b = refs[0], refs[-1]
    vessel = ctx.session.scratch_model(a)
    batch = LossBatch.draw(ctx, vessel)
    params = _float_tensors(vessel)
    start = landscape.StoredWeights({n: t.clone() for n, t in params.items()})
    end = landscape.StoredWeights({n: t.clone() for n, t in _float_tensors(ctx.session.scratch_model(b)).items()})
    ts = np.linspace(-0.25, 1.25, 7)
    calls = []

    def loss_fn():
        calls.append(1)
        return batch.full_loss(vessel)

    evaluated = landscape.interpolation_between(loss_fn, params, start, end, ts)
    assert len(calls) == 7
    known = {0.0: 11.0, 1.0: 22.0}  # not the losses: shows they are taken, not evaluated
    taken = landscape.interpolation_between(loss_fn, params, start, end, ts, known)
    assert len(calls) == 7 + 5
    assert taken[1] == 11.0 and taken[5] == 22.0
    assert np.array_equal(np.delete(taken, [1, 5]), np.delete(evaluated, [1, 5]))  # every other point: the same


def _tiny_run(root: Path) -> Path:
    """A generated H-JEPA run with three distinct epoch checkpoints (benchmarks/make_large_run.py, 'tiny')."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_large_run", FIX.parents[1] / "benchmarks/make_large_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_large_run(root, "tiny", epochs=3, n_images=8, n_scalars=200, seed=0)


@pytest.mark.slow  # two landscapes
def test_the_landscape_after_gradient_flow_reads_its_losses_and_gives_the_same_numbers(tmp_path):
    """With gradient flow run first, the landscape evaluates no checkpoint's loss again: its interpolation
    ends are gradient flow's losses, marked reused, and it runs the networks fewer times; alone, it evaluates
    them itself, each checkpoint once (the second pair reuses the first pair's end), with the same results."""
    run = collect_run(_tiny_run(tmp_path / "run"))

    def predictor_calls(ctx) -> int:
        return sum(p.network == "predictor" for p in ctx.session.meter.passes)

    alone_ctx = ReportContext(run, ReportSettings(landscape_grid=3))
    alone = LandscapePass().run(alone_ctx, draw=False).metrics
    assert [p["reused"] for p in alone["interpolation"]] == [[], [0.0]]  # epoch 1's loss: evaluated once

    ctx = ReportContext(run, ReportSettings(landscape_grid=3))
    flow = GradientFlowPass().run(ctx, draw=False)
    before = predictor_calls(ctx)
    after_flow = LandscapePass().run(ctx, draw=False).metrics
    pairs = after_flow["interpolation"]
    assert len(pairs) == 2 and all(p["reused"] == [0.0, 1.0] for p in pairs)
    assert pairs[-1]["loss"][5] == flow.metrics["loss"]  # the chosen (last) checkpoint's: gradient flow's own
    # the three checkpoints' losses (each evaluated once alone, none here) and the grid's float32 centre
    assert predictor_calls(ctx) - before == predictor_calls(alone_ctx) - 3 - 1
    assert np.allclose(after_flow["loss_grid"], alone["loss_grid"], rtol=1e-6, atol=0)
    for mine, theirs in zip(pairs, alone["interpolation"], strict=True):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-6)
