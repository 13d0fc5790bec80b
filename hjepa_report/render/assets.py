"""The one place that turns figures, pictures and animations into bytes and `data:` URIs.

Still figures are PNG; photographic pictures WebP (about ten times smaller than PNG, DESIGN.md "Measured
costs"); animations GIF quantised to ONE shared palette without dithering (35 ms instead of 1.2 s per GIF
and ~10x smaller for static backgrounds, same source).
"""

from __future__ import annotations

import base64
import io

import numpy as np


def data_uri(payload: bytes, mime: str) -> str:
    """Return `payload` as a data: URI."""
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


FIGURE_DPI = 110


def figure_png(fig, scale: float = 1.0) -> bytes:
    """Render a matplotlib Figure to PNG bytes inside the report style, at `scale` times the report's dpi."""
    from ..plotting import plot_style

    buf = io.BytesIO()
    with plot_style():
        fig.savefig(buf, format="png", dpi=FIGURE_DPI * scale, bbox_inches="tight", pad_inches=0.08)
    return buf.getvalue()


def picture_bytes(array: np.ndarray, scale: float = 1.0) -> tuple[bytes, str]:
    """Encode a uint8 picture: WebP (quality 90) for photographic panels, PNG for small or flat ones."""
    from PIL import Image

    img = _scaled(Image.fromarray(_as_uint8(array)), scale, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if min(img.size) >= 96:
        img.save(buf, format="WEBP", quality=90, method=4)
        return buf.getvalue(), "image/webp"
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue(), "image/png"


def gif_bytes(frames: list[np.ndarray], duration_ms, loop: int = 0, scale: float = 1.0) -> bytes:
    """Encode frames as an animated GIF with one shared 255-colour palette and no dithering."""
    from PIL import Image

    if not frames:
        raise ValueError("an animation needs at least one frame")
    rgb = [_scaled(Image.fromarray(_as_uint8(f)).convert("RGB"), scale, Image.Resampling.NEAREST) for f in frames]
    palette = _shared_palette(rgb)
    quantised = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in rgb]
    buf = io.BytesIO()
    quantised[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=quantised[1:],
        duration=duration_ms,
        loop=loop,
        optimize=False,
        disposal=1,
    )
    return buf.getvalue()


def _shared_palette(frames):
    """Build one palette from a mosaic of (subsampled) frames so every frame maps to the same colours."""
    from PIL import Image

    step = max(1, len(frames) // 8)
    sample = frames[::step]
    w, h = sample[0].size
    thumb = [im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.NEAREST) for im in sample]
    mosaic = Image.new("RGB", (thumb[0].width * len(thumb), thumb[0].height))
    for i, im in enumerate(thumb):
        mosaic.paste(im, (i * thumb[0].width, 0))
    return mosaic.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _scaled(img, scale: float, resample):
    """Return `img` resized by `scale` (at least 16 px on a side); the same image when scale is 1."""
    if scale >= 1.0:
        return img
    size = (max(16, round(img.width * scale)), max(16, round(img.height * scale)))
    return img.resize(size, resample)


def _as_uint8(array: np.ndarray) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.size and a.max() <= 1.0:
            a = a * 255.0
        a = np.clip(a, 0, 255).astype(np.uint8)
    return a
