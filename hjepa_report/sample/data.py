"""Procedurally generated, labelled 64x64 shape images with per-image foreground masks.

The sample run needs data that (a) trains a small JEPA on two CPU cores in minutes, (b) has labels, so that a
k-NN probe can tell learned representations from random ones, and (c) has a known foreground, so that later
analyses can measure whether attention falls on the object. Each image shows one object of a class (a shape or
a textured patch) with a random colour, position, scale and rotation on a solid, gradient or noise background.
Options: palette "grey" draws grey-level objects on untinted grey backgrounds and `backgrounds` limits the
background kinds. The sample recipe uses grey objects on solid backgrounds: with random RGB colours and varied
backgrounds, colour and background statistics dominated mean-pooled features (a random network already scored
22 % k-NN from them) and the trained network learned shape only weakly (29.6 %).

Drawing is done at 2x resolution with Pillow's ImageDraw and box-downsampled (anti-aliasing); the foreground
mask is the downsampled coverage > 0.5. Everything is driven by one numpy Generator, so a seed fixes the set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64
_SUPER = 2  # drawing resolution factor (anti-aliasing)
CLASS_NAMES = ("disc", "triangle", "ring", "star", "stripes", "checker", "dots", "waves")
TEXTURED = {"stripes": "square", "checker": "square", "dots": "disc", "waves": "square"}  # class -> silhouette
BACKGROUNDS = ("solid", "gradient", "noise")
RADIUS = (0.3, 0.45)
PALETTES = ("colour", "grey")  # object / background colours: random RGB, or grey levels only (brightness)


@dataclass
class ShapeSet:
    """A generated image set: images uint8 [N, 64, 64, 3], foreground bool [N, 64, 64], labels int64 [N]."""

    images: np.ndarray
    foreground: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = CLASS_NAMES

    def __len__(self) -> int:
        return len(self.labels)


def make_shape_set(
    per_class: int,
    seed: int,
    *,
    radius: tuple[float, float] = RADIUS,
    palette: str = "colour",
    backgrounds: tuple[str, ...] = BACKGROUNDS,
) -> ShapeSet:
    """Generate `per_class` images of every class, class-interleaved (0, 1, ..., 7, 0, 1, ...), from `seed`.

    radius: range of the object's half-extent as a fraction of the image side; palette: "colour" (random RGB
    objects on tinted near-grey backgrounds) or "grey" (grey-level objects on untinted grey backgrounds, so
    colour carries nothing and brightness contrast outlines the shape); backgrounds: the kinds drawn from."""
    if palette not in PALETTES or not backgrounds or not set(backgrounds) <= set(BACKGROUNDS):
        raise ValueError(f"palette must be one of {PALETTES} and backgrounds a non-empty subset of {BACKGROUNDS}")
    rng = np.random.default_rng(seed)
    n = per_class * len(CLASS_NAMES)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    foreground = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), bool)
    labels = np.arange(n, dtype=np.int64) % len(CLASS_NAMES)
    for i, label in enumerate(labels):
        images[i], foreground[i] = draw_example(CLASS_NAMES[label], rng, radius, palette, backgrounds)
    return ShapeSet(images, foreground, labels)


def draw_example(
    class_name: str,
    rng: np.random.Generator,
    radius_range: tuple[float, float] = RADIUS,
    palette: str = "colour",
    backgrounds: tuple[str, ...] = BACKGROUNDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one image of `class_name`: (uint8 [64, 64, 3], bool foreground [64, 64])."""
    size = IMAGE_SIZE * _SUPER
    grey = palette == "grey"
    background = _background(rng, size, backgrounds, grey)
    mean_background = background.reshape(-1, 3).mean(0)
    colour = _contrasting_grey(rng, mean_background) if grey else _contrasting_colour(rng, mean_background)
    radius = rng.uniform(*radius_range) * size  # object half-extent
    centre = rng.uniform(radius * 0.8, size - radius * 0.8, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    coverage = Image.new("L", (size, size), 0)
    _draw_shape(ImageDraw.Draw(coverage), class_name, centre, radius, angle, rng)
    fill = _texture(class_name, colour, background, angle, rng, size)
    alpha = np.asarray(coverage, np.float32)[..., None] / 255.0
    picture = background * (1 - alpha) + fill * alpha
    return _downsample(picture).round().clip(0, 255).astype(np.uint8), _downsample(alpha[..., 0]) > 0.5


def _background(
    rng: np.random.Generator, size: int, kinds: tuple[str, ...] = BACKGROUNDS, grey: bool = False
) -> np.ndarray:
    """Return a float [size, size, 3] background in 0..255 of one of `kinds`: solid, linear gradient or
    smoothed noise.

    Backgrounds are near-grey (a grey level plus a small tint; no tint when `grey`), so that colour varies
    mostly with the object."""
    kind = kinds[rng.integers(len(kinds))]
    tone = _grey if grey else _tinted_grey
    base = tone(rng)
    if kind == "solid":
        return np.broadcast_to(base, (size, size, 3)).astype(np.float32)
    if kind == "gradient":
        other = tone(rng)
        theta = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:size, 0:size] / (size - 1)
        t = np.cos(theta) * xs + np.sin(theta) * ys
        t = (t - t.min()) / (t.max() - t.min())
        return (base * (1 - t[..., None]) + other * t[..., None]).astype(np.float32)
    coarse = Image.fromarray(rng.normal(0, 40, size=(8, 8)).astype(np.float32), mode="F")
    noise = np.asarray(coarse.resize((size, size), Image.BILINEAR))[..., None]  # low-frequency, bilinear
    fine = rng.normal(0, 12, size=(size, size, 1))
    return np.clip(base + noise + fine, 0, 255).astype(np.float32)


def _tinted_grey(rng: np.random.Generator) -> np.ndarray:
    """A grey level ~ U(0, 255) plus a small per-channel tint ~ N(0, 15)."""
    return np.clip(rng.uniform(0, 255) + rng.normal(0, 15, size=3), 0, 255)


def _grey(rng: np.random.Generator) -> np.ndarray:
    """A grey level ~ U(0, 255), the same in all three channels."""
    return np.full(3, rng.uniform(0, 255))


def _contrasting_grey(rng: np.random.Generator, mean_background: np.ndarray) -> np.ndarray:
    """Draw a grey level at least 80 (0..255 scale) above or below the background's mean grey level."""
    level = float(mean_background.mean())
    darker, lighter = rng.uniform(0, max(0.0, level - 80)), rng.uniform(min(255.0, level + 80), 255)
    choices = [v for v in (darker, lighter) if abs(v - level) >= 80]  # never empty: level is in 0..255
    value = choices[0] if len(choices) == 1 else choices[int(rng.integers(2))]
    return np.full(3, value, np.float32)


def _contrasting_colour(rng: np.random.Generator, mean_background: np.ndarray) -> np.ndarray:
    """Draw an RGB colour at least 120 (Euclidean, 0..255 scale) away from the background's mean colour."""
    colour = rng.uniform(0, 255, size=3)
    for _ in range(20):
        if np.linalg.norm(colour - mean_background) >= 120:
            break
        colour = rng.uniform(0, 255, size=3)
    else:
        colour = np.where(mean_background > 127, 20.0, 235.0)
    return colour.astype(np.float32)


def _polygon(centre, radius: float, angle: float, corners: int, inner: float | None = None) -> list[tuple]:
    """Return the vertices of a regular polygon (or a star when `inner` gives the inner radius ratio)."""
    points = []
    steps = corners * (2 if inner else 1)
    for k in range(steps):
        r = radius * (inner if inner and k % 2 else 1.0)
        a = angle + 2 * math.pi * k / steps
        points.append((centre[0] + r * math.cos(a), centre[1] + r * math.sin(a)))
    return points


def _draw_shape(
    draw: ImageDraw.ImageDraw, name: str, centre, radius: float, angle: float, rng: np.random.Generator
) -> None:
    """Draw the silhouette of class `name` in white on a black coverage image."""
    name = TEXTURED.get(name, name)
    cx, cy = centre
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if name == "disc":
        draw.ellipse(box, fill=255)
    elif name == "ring":
        draw.ellipse(box, fill=255)
        hole = radius * rng.uniform(0.45, 0.65)
        draw.ellipse((cx - hole, cy - hole, cx + hole, cy + hole), fill=0)
    elif name == "triangle":
        draw.polygon(_polygon(centre, radius, angle, 3), fill=255)
    elif name == "star":
        draw.polygon(_polygon(centre, radius, angle, 5, inner=0.42), fill=255)
    elif name == "plus":
        arm = radius * rng.uniform(0.28, 0.4)
        for a in (angle, angle + math.pi / 2):
            draw.polygon(_bar(centre, radius, arm, a), fill=255)
    elif name == "square":
        draw.polygon(_polygon(centre, radius * 1.1, angle, 4), fill=255)
    else:
        raise ValueError(f"unknown shape class {name!r}")


def _bar(centre, half_length: float, half_width: float, angle: float) -> list[tuple]:
    """Return the 4 corners of a rotated bar (rectangle) centred on `centre`."""
    c, s = math.cos(angle), math.sin(angle)
    corners = [
        (-half_length, -half_width),
        (half_length, -half_width),
        (half_length, half_width),
        (-half_length, half_width),
    ]
    return [(centre[0] + x * c - y * s, centre[1] + x * s + y * c) for x, y in corners]


def _texture(
    name: str, colour: np.ndarray, background: np.ndarray, angle: float, rng: np.random.Generator, size: int
) -> np.ndarray:
    """Return the fill [size, size, 3]: flat colour for shapes; for textured classes a pattern (aligned with
    the object's rotation) of the colour and its complement: stripes, checks, a lattice of dots, waves."""
    if name not in TEXTURED:
        return np.broadcast_to(colour, (size, size, 3))
    second = 255.0 - colour  # complementary colour keeps the texture visible on any background
    period = rng.uniform(7, 11) * _SUPER
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    u = np.cos(angle) * xs + np.sin(angle) * ys
    v = -np.sin(angle) * xs + np.cos(angle) * ys
    if name == "stripes":
        on = (np.floor(u / period) % 2) == 0
    elif name == "checker":
        on = ((np.floor(u / period) + np.floor(v / period)) % 2) == 0
    elif name == "dots":
        du, dv = (u / period) % 1 - 0.5, (v / period) % 1 - 0.5
        on = du**2 + dv**2 > 0.3**2  # dots of the second colour on the first
    else:  # waves: stripes whose centre line follows a sinusoid
        on = (np.floor((u + 0.5 * period * np.sin(2 * np.pi * v / (2.5 * period))) / period) % 2) == 0
    return np.where(on[..., None], colour, second).astype(np.float32)


def _downsample(array: np.ndarray) -> np.ndarray:
    """Average non-overlapping _SUPER x _SUPER blocks (box filter) of a [H, W] or [H, W, C] array."""
    h, w = array.shape[:2]
    blocks = array.reshape(h // _SUPER, _SUPER, w // _SUPER, _SUPER, *array.shape[2:])
    return blocks.mean(axis=(1, 3))
