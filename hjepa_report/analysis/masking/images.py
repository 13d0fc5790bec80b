"""Images to draw masks on: the run's own sample images, else a clearly labelled synthetic one.

The run's images are loaded with Pillow (RGB), the shorter side resized to the training image size (bicubic)
and centre-cropped to a square: the whole image at the resolution the masks' patch grid refers to. (H-JEPA's
evaluation transform first resizes to 1.14x and crops the centre; masks are about positions, so the report
shows the whole image instead.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_image(path: Path, size: int) -> np.ndarray:
    """RGB uint8 [size, size, 3]: shorter side resized to `size` (bicubic), then a centre crop."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        w, h = img.size
        scale = size / min(w, h)
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
        left, top = (img.width - size) // 2, (img.height - size) // 2
        return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def run_images(paths: list[Path], size: int, limit: int = 9) -> tuple[list[np.ndarray], list[str]]:
    """Up to `limit` run images (in the collector's order) and the names of those that could not be read."""
    images, failed = [], []
    for path in paths:
        if len(images) >= limit:
            break
        try:
            images.append(load_image(path, size))
        except (OSError, ValueError):
            failed.append(Path(path).name)
    return images, failed


def synthetic_image(size: int, grid: tuple[int, int]) -> np.ndarray:
    """A gradient with a checkerboard on the patch grid, labelled SYNTHETIC, for runs without images."""
    from PIL import Image, ImageDraw, ImageFont

    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    img = np.stack([0.25 + 0.6 * x, 0.35 + 0.4 * y, 0.85 - 0.5 * x * y], axis=-1)
    checker = (np.arange(size)[:, None] * grid[0] // size + np.arange(size)[None, :] * grid[1] // size) % 2
    img = (img * (0.85 + 0.15 * checker[..., None]) * 255).astype(np.uint8)
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    try:
        font = ImageFont.load_default(size=max(8, size // 8))
    except (OSError, TypeError):
        font = ImageFont.load_default()
    draw.text(
        (size // 2, size // 2),
        "SYNTHETIC",
        fill=(255, 255, 255),
        font=font,
        anchor="mm",
        stroke_width=max(1, size // 64),
        stroke_fill=(0, 0, 0),
    )
    return np.asarray(pil)
