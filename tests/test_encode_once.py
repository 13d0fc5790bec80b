"""The report's promise: each image passes each network once per report (per checkpoint).

Every call of a model's encode() while the H-JEPA fixture's whole report is built is recorded as (checkpoint,
encoder, masked or not, image count). Unmasked encodes of the sample images must happen once per checkpoint and
encoder; the masked context encodes (predictions) once per checkpoint. LiDAR's augmented views are other
images (crops), and gradient flow and the loss landscape run the networks with their own batches and
gradients, outside encode().
"""

from collections import Counter

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
