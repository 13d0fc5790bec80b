"""Image pipeline: every PIL mode becomes the right 8-bit RGB, resize/crop as the original eval transforms,
and the fixtures' reference batches are reproduced exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hjepa_report.errors import RunDirError
from hjepa_report.models.images import load_images, load_rgb, resize_crop, to_rgb

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("run, method", [("hjepa_small", "resize_crop"), ("ijepa_small", "square_resize")])
def test_reference_batches_are_reproduced(run, method):
    pytest.importorskip("torch")
    ref = np.load(FIXTURES / run / "reference/reference.npz")
    paths = [FIXTURES / run / "images" / name for name in ref["image_files"]]
    batch, shown = load_images(paths, 64, method=method)
    assert float(np.abs(batch.numpy() - ref["images"]).max()) <= 1e-6
    assert shown[0].dtype == np.uint8 and shown[0].shape == (64, 64, 3)


def _rgb(img) -> np.ndarray:
    out = to_rgb(img)
    assert out.mode == "RGB"
    return np.asarray(out)


def test_greyscale_and_one_bit():
    grey = Image.fromarray(np.array([[0, 128], [200, 255]], dtype=np.uint8), mode="L")
    assert _rgb(grey)[1, 0].tolist() == [200, 200, 200]
    assert _rgb(grey.convert("1"))[0, 0].tolist() == [0, 0, 0]


def test_palette_with_and_without_transparency():
    pal = Image.new("P", (2, 1))
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.putdata([0, 1])
    assert _rgb(pal).tolist() == [[[10, 20, 30], [200, 100, 50]]]
    pal.info["transparency"] = 0
    assert _rgb(pal)[0, 0].tolist() == [10, 20, 30]  # transparency dropped, as the training loaders do


def test_rgba_and_la_drop_alpha():
    rgba = np.zeros((1, 2, 4), dtype=np.uint8)
    rgba[0, 0] = [50, 60, 70, 0]  # fully transparent pixel keeps its colour
    rgba[0, 1] = [1, 2, 3, 255]
    assert _rgb(Image.fromarray(rgba, mode="RGBA")).tolist() == [[[50, 60, 70], [1, 2, 3]]]
    la = Image.fromarray(np.array([[[90, 0]]], dtype=np.uint8), mode="LA")
    assert _rgb(la).tolist() == [[[90, 90, 90]]]


def test_cmyk_converts():
    assert _rgb(Image.new("CMYK", (1, 1), (0, 0, 0, 0)))[0, 0].tolist() == [255, 255, 255]


def test_sixteen_bit_is_rescaled_not_clipped():
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    img = Image.fromarray(values)
    assert img.mode.startswith("I;16")
    assert _rgb(img)[0, :, 0].tolist() == [0, 100, 255]
    wide = Image.fromarray(values.astype(np.int32), mode="I")
    assert _rgb(wide)[0, :, 0].tolist() == [0, 100, 255]
    small = Image.fromarray(np.array([[0, 7, 255]], dtype=np.int32), mode="I")
    assert _rgb(small)[0, :, 0].tolist() == [0, 7, 255]


def test_float_images_in_unit_range():
    img = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F")
    assert _rgb(img)[0, :, 0].tolist() == [0, 128, 255]


def test_resize_crop_of_a_wide_image_matches_the_eval_transform():
    # torchvision Resize(72) of 200x100 -> 144x72 (long side int(72 * 200 / 100)), CenterCrop(64): left 40, top 4
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (100, 200, 3), dtype=np.uint8))
    expected = img.resize((144, 72), Image.BICUBIC).crop((40, 4, 104, 68))
    assert np.array_equal(np.asarray(resize_crop(img, 64)), np.asarray(expected))


def test_sixteen_bit_file_round_trip(tmp_path):
    path = tmp_path / "depth.png"
    Image.fromarray(np.full((40, 40), 65535, dtype=np.uint16)).save(path)
    assert load_rgb(path, 32).shape == (32, 32, 3) and load_rgb(path, 32).min() == 255


def test_unreadable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(RunDirError, match="broken.png: not a readable image"):
        load_rgb(bad, 32)
