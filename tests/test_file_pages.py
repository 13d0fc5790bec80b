"""ModelSession.hand_back_pages: the checkpoint sweep hands back a measured checkpoint's target-encoder pages
before its context encoder and predictor run, and gradient flow once the loss targets are computed (issue 13's
peak memory), without changing a weight."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from hjepa_report.analysis.context import ReportContext  # noqa: E402
from hjepa_report.analysis.dynamics import gradient_section  # noqa: E402
from hjepa_report.analysis.representations import checkpoint_sweep  # noqa: E402
from hjepa_report.collect import collect_run  # noqa: E402
from hjepa_report.memory import FilePages, file_backed  # noqa: E402
from hjepa_report.settings import ReportSettings  # noqa: E402

FIX = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.skipif(FilePages.of([]) is None, reason="needs /proc/self/maps and madvise (Linux)")


@pytest.fixture()
def ctx():
    return ReportContext(collect_run(FIX / "ijepa_small"), ReportSettings())


def _other(ctx):
    return next(r for r in ctx.run.unique_checkpoints() if str(r.path) != str(ctx.session.checkpoint.path))


def test_the_pages_of_one_network_are_handed_back_and_read_again_unchanged(ctx, monkeypatch):
    model = ctx.session.model(_other(ctx))
    target = {n: t.clone() for n, t in model.target_encoder.state_dict().items()}
    backed = {t.data_ptr() for t in file_backed(model.target_encoder.state_dict().values())}
    assert backed  # a zero-copy load: the weights are the checkpoint file's pages
    dropped = []
    drop = FilePages.drop
    monkeypatch.setattr(FilePages, "drop", lambda self, tensor: (dropped.append(tensor.data_ptr()), drop(self, tensor)))
    ctx.session.hand_back_pages(ctx.session.checkpoint, "target_encoder")  # not the one in memory: nothing
    assert dropped == []
    ctx.session.hand_back_pages(_other(ctx), "target_encoder")
    assert set(dropped) == backed  # the target encoder's tensors, nothing of the other networks
    assert all(torch.equal(target[n], t) for n, t in model.target_encoder.state_dict().items())


def test_the_sweep_hands_back_the_target_encoder_of_the_checkpoints_it_only_measures(ctx, monkeypatch):
    asked = []
    session = ctx.session
    session.masks()  # as in a report: the chosen checkpoint's model and masks exist before the sweep
    monkeypatch.setattr(session, "hand_back_pages", lambda ref, network: asked.append((str(ref.path), network)))
    sweep = checkpoint_sweep.checkpoint_sweep(ctx, labels=None)
    assert len(sweep.rows) == 2 and all("error" not in row for row in sweep.rows)
    assert asked == [(str(_other(ctx).path), "target_encoder")]  # not the chosen one: later passes encode it


def test_gradient_flow_hands_back_each_target_encoder_after_its_targets_and_keeps_its_gradients(ctx, monkeypatch):
    before = gradient_section.GradientFlowPass().compute(ctx)
    fresh = ReportContext(collect_run(FIX / "ijepa_small"), ReportSettings())
    asked = []
    hand_back = fresh.session.hand_back_pages

    def recorded(ref, network):
        loaded = fresh.session._loaded  # the targets are computed: the backward pass has not run yet
        asked.append((str(ref.path), network, loaded is not None and loaded[0] == str(ref.path)))
        hand_back(ref, network)

    monkeypatch.setattr(fresh.session, "hand_back_pages", recorded)
    after = gradient_section.GradientFlowPass().compute(fresh)
    paths = {str(r.path) for r in fresh.run.unique_checkpoints()}
    assert {a[0] for a in asked} == paths and all(a[1] == "target_encoder" and a[2] for a in asked)
    assert after.flow.loss == before.flow.loss  # handed back and read again: the same weights, the same numbers
    assert [lg.grad_norm for lg in after.flow.layers] == [lg.grad_norm for lg in before.flow.layers]
