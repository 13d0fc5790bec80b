"""Sample images -> the model's input batch, preprocessed the way the run's code evaluates images.

- "resize_crop" (H-JEPA JEPAEvalTransform, src/data/datasets.py): Resize(int(S * 1.14)) of the shorter side
  (bicubic, the longer side int(new_short * long / short) as torchvision computes it), then CenterCrop(S)
  with offsets int(round((size - S) / 2)).
- "square_resize" (I-JEPA has no eval transform; its training RandomResizedCrop with the crop fixed to the
  whole image is a bilinear resize): centre-crop the largest square, then resize to S x S (bilinear). For
  square files this is exactly the resize used for the I-JEPA reference arrays.
Then ToTensor (uint8 / 255, float32, channels first) and (x - mean) / std in float32, as torchvision does.

Image modes: everything becomes 8-bit RGB. Greyscale, palette, CMYK and RGBA go through PIL's
convert("RGB"), which is what both codebases' loaders (torchvision default_loader) do: an alpha channel is
DROPPED, not composited, so the network sees the same pixels as in training. 16-bit and 32-bit greyscale
('I;16*', 'I') are rescaled to 0-255 (PIL's own conversion would clip them to white), float images ('F') in
[0, 1] are scaled by 255.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import RunDirError
from .info import IMAGENET_MEAN, IMAGENET_STD

RESIZE_CROP_RATIO = 1.14  # H-JEPA JEPAEvalTransform: Resize(int(image_size * 1.14))


def to_rgb(img):
    """Return an 8-bit RGB PIL image for any PIL mode (see module docstring for the rules)."""
    from PIL import Image

    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = float(values.max()) if values.size else 0.0
        if mode == "F":
            values = values * 255.0 if top <= 1.0 else values
        elif mode.startswith("I;16") or top > 255:
            values = values / 257.0 if top <= 65535 else values * (255.0 / top)  # 65535 -> 255
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return img.convert("RGB")


def resize_crop(img, size: int):
    """Resize the shorter side to int(size * 1.14) (bicubic), then centre-crop size x size."""
    from PIL import Image

    w, h = img.size
    short = int(size * RESIZE_CROP_RATIO)
    if w <= h:
        new = (short, int(short * h / w))
    else:
        new = (int(short * w / h), short)
    img = img.resize(new, Image.BICUBIC)
    top, left = int(round((new[1] - size) / 2.0)), int(round((new[0] - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def square_resize(img, size: int):
    """Centre-crop the largest square, then resize to size x size (bilinear)."""
    from PIL import Image

    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)


PREPROCESS = {"resize_crop": resize_crop, "square_resize": square_resize}


def load_rgb(path: Path | str, size: int, method: str = "resize_crop") -> np.ndarray:
    """Open one image file and return the uint8 [size, size, 3] array the network will see."""
    from PIL import Image, UnidentifiedImageError

    if method not in PREPROCESS:
        raise ValueError(f"unknown preprocessing {method!r}; use one of {sorted(PREPROCESS)}")
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(PREPROCESS[method](to_rgb(img), size), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise RunDirError(f"{path}: not a readable image ({str(exc).splitlines()[0]})") from None


def normalise_batch(arrays: Sequence[np.ndarray], mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """uint8 [S, S, 3] arrays -> float32 tensor [B, 3, S, S]: / 255, then (x - mean) / std (ToTensor + Normalize)."""
    import torch

    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).to(torch.float32).div(255)
    m = torch.tensor(mean, dtype=torch.float32)[None, :, None, None]
    s = torch.tensor(std, dtype=torch.float32)[None, :, None, None]
    return x.sub(m).div(s)


def load_images(
    paths: Sequence[Path | str], image_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD, method: str = "resize_crop"
):
    """Return (batch [B, 3, S, S] float32 normalised, list of the uint8 RGB [S, S, 3] arrays as shown).

    For a loaded model: ``load_images(paths, m.info.image_size, m.info.norm_mean, m.info.norm_std,
    m.info.preprocess)``."""
    if not paths:
        raise ValueError("no image paths given")
    arrays = [load_rgb(p, image_size, method) for p in paths]
    return normalise_batch(arrays, mean, std), arrays
