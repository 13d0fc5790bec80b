"""The procedural shape generator of the sample run: classes, determinism, masks that match the drawn shapes."""

from __future__ import annotations

import numpy as np
import pytest

from hjepa_report.sample.data import CLASS_NAMES, draw_example, make_shape_set
from hjepa_report.sample.masks import hidden_masks

FLAT_CLASSES = ("disc", "triangle", "ring", "star")


@pytest.fixture(scope="module")
def shapes():
    return make_shape_set(6, seed=3)


def test_classes_labels_and_types(shapes):
    assert len(CLASS_NAMES) >= 6 and len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    assert shapes.images.shape == (6 * len(CLASS_NAMES), 64, 64, 3) and shapes.images.dtype == np.uint8
    assert shapes.foreground.shape == (6 * len(CLASS_NAMES), 64, 64) and shapes.foreground.dtype == bool
    assert np.bincount(shapes.labels).tolist() == [6] * len(CLASS_NAMES)
    area = shapes.foreground.mean(axis=(1, 2))
    assert area.min() > 0.02 and area.max() < 0.8


def test_same_seed_same_images_other_seed_other_images(shapes):
    again = make_shape_set(6, seed=3)
    other = make_shape_set(6, seed=4)
    assert np.array_equal(again.images, shapes.images) and np.array_equal(again.foreground, shapes.foreground)
    assert not np.array_equal(other.images, shapes.images)


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary erosion with a 3x3 cross, `steps` times (pixels whose 4-neighbours are all inside)."""
    for _ in range(steps):
        padded = np.pad(mask, 1)
        mask = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask


@pytest.mark.parametrize("name", FLAT_CLASSES)
def test_mask_covers_exactly_the_flat_coloured_shape(name):
    """Inside the (eroded) mask a flat shape has one colour; just outside it the pixels are background."""
    rng = np.random.default_rng(11)
    for _ in range(5):
        image, mask = draw_example(name, rng)
        inside = image[_erode(mask, 1)].astype(float)
        outside = image[_erode(~mask, 1)].astype(float)
        assert inside.std(axis=0).max() < 2.0  # one flat colour inside
        assert np.linalg.norm(inside.mean(0) - np.median(outside, axis=0)) > 60  # object contrasts with background


def test_disc_mask_is_a_disc():
    """A disc's mask fills pi/4 of its bounding box (when it is not cut by the border)."""
    rng = np.random.default_rng(5)
    ratios = []
    for _ in range(20):
        _, mask = draw_example("disc", rng)
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        if abs(h - w) <= 1 and 0 < rows[0] and rows[-1] < 63 and 0 < cols[0] and cols[-1] < 63:
            ratios.append(mask.sum() / (h * w))
    assert ratios and np.allclose(ratios, np.pi / 4, atol=0.04)


def test_ring_has_a_hole():
    rng = np.random.default_rng(8)
    for _ in range(5):
        _, mask = draw_example("ring", rng)
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert not mask[(rows[0] + rows[-1]) // 2, (cols[0] + cols[-1]) // 2]


def test_hidden_masks_are_unions_of_h_jepa_sized_blocks():
    """4 target blocks of 15-20 % of the 8x8 grid each: the union hides between 10 and 64 patches."""
    masks = hidden_masks(np.random.default_rng(0), 200, 8, 4, (0.15, 0.2), (0.75, 1.5))
    counts = masks.sum(1)
    assert masks.shape == (200, 64) and masks.dtype == bool
    assert counts.min() >= 9 and counts.max() <= 64
    assert np.array_equal(masks, hidden_masks(np.random.default_rng(0), 200, 8, 4, (0.15, 0.2), (0.75, 1.5)))


def test_grey_palette_has_no_colour_and_keeps_contrast():
    """palette='grey': every pixel has R = G = B; a flat shape still contrasts with its solid background."""
    grey = make_shape_set(3, seed=2, palette="grey", backgrounds=("solid",))
    assert np.array_equal(grey.images[..., 0], grey.images[..., 1])
    assert np.array_equal(grey.images[..., 1], grey.images[..., 2])
    for image, mask, label in zip(grey.images, grey.foreground, grey.labels, strict=True):
        if CLASS_NAMES[label] in FLAT_CLASSES:
            inside, outside = image[_erode(mask, 1), 0].astype(float), image[_erode(~mask, 2), 0].astype(float)
            assert abs(inside.mean() - outside.mean()) >= 75 and outside.std() < 1.0  # solid background


def test_bad_palette_or_background_is_refused():
    with pytest.raises(ValueError):
        make_shape_set(1, seed=0, palette="sepia")
    with pytest.raises(ValueError):
        make_shape_set(1, seed=0, backgrounds=("plaid",))
