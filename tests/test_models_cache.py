"""FeatureCache: each image passes each network once; cached results equal direct computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hjepa_report.models import FeatureCache, load_model  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def hjepa():
    model = load_model(FIXTURES / "hjepa_small/checkpoints/checkpoint_latest.pth", encoder_heads=2, predictor_heads=2)
    ref = np.load(FIXTURES / "hjepa_small/reference/reference.npz")
    return model, torch.from_numpy(ref["images"]), torch.from_numpy(ref["context_mask"])


def test_each_image_is_encoded_once(hjepa):
    model, images, _ = hjepa
    ids = [f"img{i}" for i in range(4)]
    cache = FeatureCache(attention_layers=[1], batch_size=3)
    first = cache.encode(model, images, ids, attention_layers=[1])
    again = cache.encode(model, images[1:3], ids[1:3], attention_layers=[1])
    assert cache.stats["target encoder images"] == 4 and cache.stats["re-encoded"] == 0
    with torch.no_grad():
        direct = model.encode(images, attention_layers=[1])
    assert torch.allclose(first.tokens, direct.tokens, atol=1e-5)
    assert torch.allclose(first.attentions[1], direct.attentions[1], atol=1e-6)
    assert torch.equal(again.tokens, first.tokens[1:3])


def test_wider_attention_request_re_encodes_and_keeps_old_layers(hjepa):
    model, images, _ = hjepa
    cache = FeatureCache()
    cache.encode(model, images[:2], ["a", "b"], attention_layers=[0])
    out = cache.encode(model, images[:2], ["a", "b"], attention_layers=[2])
    assert cache.stats["re-encoded"] == 2 and sorted(out.attentions) == [2]
    assert sorted(cache.encode(model, images[:2], ["a", "b"], attention_layers=[0, 2]).attentions) == [0, 2]
    assert cache.stats["target encoder images"] == 4


def test_cached_prediction_equals_direct(hjepa):
    model, images, mask = hjepa
    cache = FeatureCache()
    ids = ["r", "d", "p", "w"]
    cached = cache.predict(model, images, ids, mask, "seed-1234")
    cache.predict(model, images, ids, mask, "seed-1234")
    with torch.no_grad():
        direct = model.predict(images, mask)
    assert cache.stats["predictor batches"] == 1 and cache.stats["context encoder images"] == 4
    assert torch.allclose(cached.predicted, direct.predicted, atol=1e-5)
    assert torch.equal(cached.indices, direct.indices)
    with pytest.raises(ValueError, match="mask_id"):
        cache.encode(model, images, ids, encoder="context", context_mask=mask)


def test_ijepa_ragged_masks_are_cached_per_image():
    model = load_model(FIXTURES / "ijepa_small/jepa-latest.pth.tar", encoder_heads=2)
    images = torch.from_numpy(np.load(FIXTURES / "ijepa_small/reference/reference.npz")["images"])
    hidden = torch.zeros(4, 64, dtype=torch.bool)
    hidden[0, :10] = True  # sample 0 keeps 54 patches, the others 64
    cache = FeatureCache(batch_size=2)
    out = cache.encode(
        model, images, list("abcd"), encoder="context", context_mask=hidden, mask_id="m", attention_layers=[0]
    )
    with torch.no_grad():
        direct = model.encode(images, encoder="context", context_mask=hidden, attention_layers=[0])
    assert out.valid.sum(1).tolist() == [54, 64, 64, 64] == direct.valid.sum(1).tolist()
    assert torch.allclose(out.tokens, direct.tokens, atol=1e-5)
    assert torch.allclose(out.attentions[0], direct.attentions[0], atol=1e-6)
    assert torch.equal(out.patch_indices[0, :54], torch.arange(10, 64))


def test_forget_drops_one_checkpoints_entries_only():
    from hjepa_report.models.cache import FeatureCache

    cache = FeatureCache()
    cache._entries = {("a.pth", "target", "img0", None): 1, ("b.pth", "target", "img0", None): 2}
    cache._predictions = {("a.pth", ("img0",), "m", "m"): 3, ("b.pth", ("img0",), "m", "m"): 4}
    cache.forget("a.pth")
    assert list(cache._entries) == [("b.pth", "target", "img0", None)]
    assert list(cache._predictions) == [("b.pth", ("img0",), "m", "m")]
