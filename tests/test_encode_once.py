"""The report's promise: each image passes each network once per report (per checkpoint).

Every call of a model's encode() while the H-JEPA fixture's whole report is built is recorded as (checkpoint,
encoder, masked or not, image count). Unmasked encodes of the sample images must happen once per checkpoint and
encoder; the masked context encodes (predictions) once per checkpoint. LiDAR's augmented views are other
images (crops), and gradient flow and the loss landscape run the networks with their own batches and
gradients, outside encode().
"""

from collections import Counter

import numpy as np
import pytest

from conftest import HJEPA_RUN
from hjepa_report.models.hjepa_model import HJepaModel
from hjepa_report.pipeline import build_report
from hjepa_report.settings import ReportSettings


@pytest.mark.slow  # builds a whole report
def test_each_sample_image_passes_each_encoder_once_per_checkpoint(monkeypatch):
    pytest.importorskip("torch")
    calls: Counter = Counter()
    encode = HJepaModel.encode

    def counting(self, images, *, encoder="target", context_mask=None, **kw):
        calls[(self.info.checkpoint, encoder, context_mask is not None)] += len(images)
        return encode(self, images, encoder=encoder, context_mask=context_mask, **kw)

    monkeypatch.setattr(HJepaModel, "encode", counting)
    settings = ReportSettings(
        encoder_heads=2, max_images=6, probe_images=8, quiet=True, skip=["loss-landscape", "gradient-flow"]
    )
    report = build_report(HJEPA_RUN, settings)
    rep = next(s for s in report.sections if s.name == "representations")
    assert rep.status == "ok", rep.message
    lidar = rep.metrics["lidar"]
    views = lidar["images"] * lidar["views"]  # LiDAR's crops: other images, through the chosen target encoder
    checkpoints = {key[0] for key in calls}
    assert len(checkpoints) == len(rep.metrics["checkpoints"]) == 2
    chosen = max(checkpoints, key=lambda c: calls[(c, "target", False)])
    for checkpoint in checkpoints:
        extra_views = views if checkpoint == chosen else 0
        assert calls[(checkpoint, "target", False)] == 8 + extra_views  # 6 sample + 2 probe images, once
        assert calls[(checkpoint, "context", True)] == 6  # predictions: each sample image once, masked
    assert not any(masked for (_, encoder, masked) in calls if encoder == "target")


def test_a_measured_checkpoint_is_forgotten_but_the_chosen_one_is_kept():
    from hjepa_report.analysis.context import ReportContext
    from hjepa_report.collect import collect_run
    from hjepa_report.settings import ReportSettings

    ctx = ReportContext(collect_run(HJEPA_RUN), ReportSettings(encoder_heads=2))
    session = ctx.session
    other = next(r for r in ctx.run.unique_checkpoints() if str(r.path) != str(session.checkpoint.path))
    full = session.embeddings(other).patch_tokens.shape
    session.embeddings()  # the chosen checkpoint's
    session.forget(other, keep_tokens=2)
    assert session.embeddings(other).patch_tokens.shape == (2, *full[1:])
    kept = session.embeddings(other)
    for array in (kept.mean_pooled, kept.cls, kept.patch_tokens):  # nothing holds the forgotten tokens alive
        assert _bytes_kept_alive(array) == array.nbytes
    assert all(key[0] != str(other.path) for key in session.features._entries)
    session.forget(session.checkpoint, keep_tokens=2)  # never the chosen one
    assert any(key[0] == str(session.checkpoint.path) for key in session.features._entries)


def _bytes_kept_alive(array) -> int:
    """The size of the memory a numpy array keeps alive: its own, its base array's, or the whole storage of
    the torch tensor it was made from (.numpy() shares it)."""
    import torch

    base = array
    while getattr(base, "base", None) is not None:
        base = base.base
    if isinstance(base, torch.Tensor):
        return base.untyped_storage().nbytes()
    return base.nbytes


def test_pooled_embeddings_own_their_memory():
    """EncoderOutput.pooled / pooled_blocks return arrays that keep only themselves alive, so the pooled
    embeddings a report keeps (forgotten checkpoints, LiDAR's views, probe images) do not hold whole batches."""
    import torch

    from hjepa_report.models.api import EncoderOutput

    tokens = torch.randn(4, 1 + 9, 8)
    out = EncoderOutput(
        tokens=tokens,
        patch_tokens=tokens[:, 1:],
        patch_indices=torch.arange(9).repeat(4, 1),
        valid=torch.ones(4, 9, dtype=torch.bool),
        blocks={i: torch.randn(4, 10, 8) for i in range(3)},
        num_prefix_tokens=1,
    )
    mean, cls = out.pooled()
    block_mean, block_cls = out.pooled_blocks()
    assert np.allclose(cls, tokens[:, 0].numpy()) and np.allclose(mean, tokens[:, 1:].mean(dim=1).numpy())
    assert np.allclose(block_cls[2], out.blocks[2][:, 0].numpy()) and block_mean.shape == (3, 4, 8)
    for array in (mean, cls, block_mean, block_cls):
        assert _bytes_kept_alive(array) == array.nbytes
