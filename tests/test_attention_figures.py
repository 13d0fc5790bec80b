"""Attention figures: the panels, titles and markers a reader relies on are there and in the right place."""

from __future__ import annotations

import numpy as np
import pytest

from hjepa_report.analysis.attention import figures
from hjepa_report.plotting import plot_style

GRID = (4, 4)


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)


def visible_titles(fig):
    return [ax.get_title() for ax in fig.axes if ax.get_visible()]


def test_layer_head_small_multiples_are_titled_by_layer_and_head(image):
    maps = np.random.default_rng(1).random((2, 3, *GRID))
    with plot_style():
        fig = figures.layer_head_maps_figure(image, maps, layers=[0, 5], heads=[0, 1, 2])
    assert visible_titles(fig) == [f"layer {layer} head {h}" for layer in (0, 5) for h in range(3)]


def test_threshold_view_dims_exactly_the_patches_outside_the_kept_mass(image):
    attention_map = np.zeros(GRID)
    attention_map[0, 0], attention_map[3, 3] = 0.7, 0.3  # 0.6 of the mass -> only patch (0, 0) kept
    with plot_style():
        fig = figures.layer_head_maps_figure(image, attention_map[None, None], [2], [1], threshold=0.6)
    shade = fig.axes[0].get_images()[1].get_array()
    assert shade[0, 0, 3] == 0 and shade[..., 3].sum() == pytest.approx(0.75 * 15)


def test_all_heads_wraps_and_hides_spare_panels(image):
    with plot_style():
        fig = figures.all_heads_figure(image, np.ones((8, *GRID)), layer=11, max_columns=6)
    assert len(fig.axes) == 12 and len(visible_titles(fig)) == 8
    assert visible_titles(fig)[-1] == "layer 11 head 7"


def test_query_patch_is_outlined_where_it_is(image):
    maps = np.ones((1, 2, *GRID))
    with plot_style():
        fig = figures.query_attention_figure(image, maps, [("image centre", 10)], [0, 3], GRID)
    box = fig.axes[1].patches[0]
    assert (box.get_x(), box.get_y(), box.get_width()) == (16.0, 16.0, 8.0)  # row 2, col 2 of 8-px cells
    assert fig.axes[1].get_title() == "image centre, layer 3"


def test_distance_entropy_scatter_has_one_dot_per_head_and_layer():
    distance = np.array([[1.0, 3.0], [2.0, 4.0], [2.5, 3.5]])
    with plot_style():
        fig = figures.distance_entropy_figure(distance, distance, [0, 1, 2], "pixels", 2.0, np.log(17))
    left = fig.axes[0]
    offsets = np.concatenate([c.get_offsets() for c in left.collections])
    assert offsets.shape == (6, 2)
    assert sorted(offsets[:, 1]) == sorted(distance.ravel())
    assert left.get_ylabel() == "mean attention distance (pixels)"


def test_encoder_comparison_hatches_hidden_patches(image):
    hidden = np.zeros((2, 16), bool)
    hidden[1, [0, 5, 6]] = True
    with plot_style():
        fig = figures.encoder_comparison_figure([image, image], np.ones((2, *GRID)), np.ones((2, *GRID)), GRID, hidden)
    axes = np.asarray(fig.axes).reshape(2, 3)
    assert len(axes[0, 2].patches) == 0 and len(axes[1, 2].patches) == 3
    assert [ax.get_title() for ax in axes[0]] == ["image", "target encoder", "context encoder"]


def test_rollout_pairs_each_image_with_its_map_and_names_the_variant(image):
    with plot_style():
        names = [f"im{k}" for k in range(5)]
        fig = figures.rollout_figure([image] * 5, np.ones((5, *GRID)), "rollout variant X", names)
    axes = np.asarray(fig.axes).reshape(4, 4)
    assert [ax.get_title() for ax in axes[0]] == ["im0", "im1", "im2", "im3"]
    assert axes[2, 0].get_title() == "im4" and axes[3, 0].get_title() == "rollout"
    assert not axes[2, 1].get_visible() and not axes[3, 3].get_visible()
    assert fig._suptitle.get_text() == "rollout variant X"
