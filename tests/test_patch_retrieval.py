"""Patch retrieval as a decoder stand-in: a planted patch is retrieved exactly, never from the query's own image,
the bank is put in the targets' space (I-JEPA's layer norm), mosaics paste the retrieved pixels, and on the
sample run the predictions retrieve content closer to the hidden patches than the mean-token baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import HJEPA_RUN, IJEPA_RUN
from hjepa_report.analysis.representations.retrieval import (
    bank_mismatch,
    bank_space,
    layer_norm,
    mosaic,
    nearest_patches,
    pixel_errors,
    retrieve_all,
)

SAMPLE_RUN = Path(__file__).parent.parent / "sample_runs" / "hjepa_shapes64"


def _bank(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(4, 16, 8))  # 4 images x 16 patches x 8 dims


def test_a_planted_patch_is_retrieved_exactly():
    bank = _bank()
    queries = np.random.default_rng(1).normal(size=(4, 3, 8))
    queries[0, 1] = 2.5 * bank[2, 5]  # a copy of image 2's patch 5 (cosine ignores the scale)
    queries[3, 0] = bank[1, 9]
    valid = np.ones((4, 3), bool)
    valid[1, 2] = False
    found = nearest_patches(queries, valid, bank, target=queries)
    assert (found.source_image[0, 1], found.source_patch[0, 1]) == (2, 5)
    assert (found.source_image[3, 0], found.source_patch[3, 0]) == (1, 9)
    assert found.query_similarity[0, 1] == pytest.approx(1.0) and found.target_similarity[0, 1] == pytest.approx(1.0)
    assert found.source_image[1, 2] == -1 and np.isnan(found.query_similarity[1, 2])  # padding stays empty


def test_an_image_never_retrieves_its_own_patches():
    bank = _bank()
    bank[3, 4] = bank[0, 6] * 0.9 + 0.1 * bank[3, 4]  # the next best copy lives in image 3
    queries = bank[0, 6][None, None].repeat(4, axis=0)  # image 0 asks for its own patch 6
    found = nearest_patches(queries, np.ones((4, 1), bool), bank, target=queries)
    assert found.source_image[0, 0] != 0 and (found.source_image[0, 0], found.source_patch[0, 0]) == (3, 4)
    assert (found.source_image[1:, 0] == 0).all() and (found.source_patch[1:, 0] == 6).all()


def test_the_oracle_retrieves_the_target_and_the_baseline_one_patch():
    bank = _bank()
    indices = np.array([[1, 2], [3, 4], [5, 6], [7, 8]])
    target = bank[np.arange(4)[:, None], indices]
    shifted = np.roll(bank, 1, axis=0)  # every image's patches also exist, exactly, in the next image
    bank = np.concatenate([bank, shifted], axis=1)
    found = retrieve_all(target + 0.01, target, np.ones((4, 2), bool), bank)
    assert np.allclose(found["oracle"].target_similarity, 1.0)
    assert (found["oracle"].source_image == (np.arange(4)[:, None] + 1) % 4).all()
    assert found["prediction"].target_similarity.mean() > found["baseline"].target_similarity.mean()


def test_the_bank_is_layer_normed_like_ijepa_targets():
    torch = pytest.importorskip("torch")
    tokens = _bank()
    normed = torch.nn.functional.layer_norm(torch.as_tensor(tokens, dtype=torch.float32), (8,)).numpy()
    np.testing.assert_allclose(layer_norm(tokens), normed, atol=1e-5)
    kind = "layer-normed target-encoder tokens (F.layer_norm, no affine), as I-JEPA's loss"
    np.testing.assert_allclose(bank_space(tokens, kind), normed, atol=1e-5)
    assert np.array_equal(bank_space(tokens, "target-encoder patch tokens"), tokens)
    indices, valid = np.array([[0, 5]] * 4), np.ones((4, 2), bool)
    targets = normed[np.arange(4)[:, None], indices]
    assert bank_mismatch(bank_space(tokens, kind), targets, indices, valid) < 1e-5
    assert bank_mismatch(tokens, targets, indices, valid) > 0.1


def test_the_mosaic_pastes_the_retrieved_pixels_in_place():
    pictures = [np.full((4, 4, 3), 10 * (i + 1), np.uint8) for i in range(3)]  # 2 x 2 grid of 2-px patches
    pictures[2][2:, :2] = 200  # image 2's patch 2
    bank = np.random.default_rng(0).normal(size=(3, 4, 5))
    indices, valid = np.array([[1], [0], [0]]), np.ones((3, 1), bool)
    queries = bank[[2, 0, 1], [2, 0, 0]][:, None]  # image 0 wants image 2's patch 2
    found = nearest_patches(queries, valid, bank, target=queries)
    out = mosaic(pictures[0], 0, found, indices, pictures, (2, 2), 2)
    assert (out[:2, 2:] == 200).all()  # patch 1 of image 0 now shows image 2's patch 2
    assert (out[:, :2] == 10).all() and (out[2:, 2:] == 10).all()  # the rest untouched
    errors = pixel_errors(found, indices, pictures, (2, 2), 2)
    assert errors[0, 0] == pytest.approx((200 - 10) / 255)


def _section(run, **settings):
    from hjepa_report.analysis.context import ReportContext
    from hjepa_report.analysis.representations.retrieval_section import PatchRetrievalPass
    from hjepa_report.collect import collect_run
    from hjepa_report.settings import ReportSettings

    ctx = ReportContext(collect_run(run), ReportSettings(**settings))
    return PatchRetrievalPass().run(ctx, draw=False)


@pytest.mark.parametrize("run", [HJEPA_RUN, IJEPA_RUN], ids=lambda r: r.name)
def test_the_fixtures_retrieve_in_the_loss_space(run):
    pytest.importorskip("torch")
    section = _section(run, encoder_heads=2 if run == HJEPA_RUN else None, max_images=6)
    assert section.status == "ok", section.message
    m = section.metrics
    assert m["space"].startswith("level 0 of the run's loss") and m["space_mismatch"] < 1e-4
    assert m["bank_images_per_query"] == 5 and m["prediction"]["entries"] > 0
    assert m["oracle"]["target_similarity_mean"] >= m["prediction"]["target_similarity_mean"] - 1e-9


@pytest.mark.slow  # the sample run's 64 images through three networks
def test_on_the_sample_run_predictions_beat_the_mean_token_baseline():
    pytest.importorskip("torch")
    section = _section(SAMPLE_RUN)
    assert section.status == "ok", section.message
    m = section.metrics
    assert m["beats_baseline"]
    assert m["prediction"]["target_similarity_mean"] > m["baseline"]["target_similarity_mean"] + 0.2
    assert m["prediction"]["pixel_error_mean"] < m["baseline"]["pixel_error_mean"]
