"""Find sample images and their class labels.

Images live in `images/` or `samples/` below the run dir, or in a folder given with `--images`. The label is
the name of the sub-folder right below that folder (ImageFolder layout, `images/<class>/x.png`); for images
directly in the folder, the `<class>_NNNN.ext` file-name pattern gives it (the fixtures use `rings_0000.png`);
otherwise there is no label. Order is the sorted relative path, so it is the same on every machine.
"""

from __future__ import annotations

import re
from pathlib import Path

from .run import ImageRef

MAX_PIXELS = 50_000_000  # a bigger sample image (e.g. 20000 x 20000: 1.2 GB as RGB) is not decoded
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
IMAGE_DIRS = ("images", "samples")
_NUMBERED = re.compile(r"^(?P<label>.*[^\d_-])[_-]\d+$")  # rings_0000 -> rings

RULE_FOLDER = "label from the sub-folder name"
RULE_FILE_NAME = "label from the <class>_NNNN file name"
RULE_NONE = "no label: no sub-folder or <class>_NNNN name"


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_problem(path: Path) -> str:
    """Say, from the file's header alone, why an image cannot be a sample image ('' when it can).

    Pillow reads only the header here; a file it cannot identify, one whose header claims more than
    MAX_PIXELS pixels (a decompression bomb: a few kB that decode to GBs) or Pillow's own bomb limit is refused
    before anything decodes it. A file whose data is damaged past the header is caught where it is decoded.
    """
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return f"not used: its header claims over {Image.MAX_IMAGE_PIXELS} pixels (a decompression bomb?)"
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types on hostile headers
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"not a readable image ({first})"
    if width * height > MAX_PIXELS:
        return f"not used: {width} x {height} pixels, over {MAX_PIXELS // 1_000_000} megapixels"
    return ""


def image_folder_of(rel: Path) -> int | None:
    """Return the index of the `images`/`samples` component in a relative path, if the file is below one."""
    parts = [p.lower() for p in rel.parts[:-1]]
    return next((i for i, p in enumerate(parts) if p in IMAGE_DIRS), None)


def label_image(parts_below_folder: tuple[str, ...]) -> tuple[str | None, str]:
    """Return (label, rule) for an image given its path parts below the image folder."""
    if len(parts_below_folder) > 1:
        return parts_below_folder[0], RULE_FOLDER
    found = _NUMBERED.match(Path(parts_below_folder[0]).stem)
    if found:
        return found.group("label"), RULE_FILE_NAME
    return None, RULE_NONE


def image_refs(found: list[tuple[Path, tuple[str, ...]]]) -> tuple[list[ImageRef], str]:
    """Turn (path, parts below the image folder) pairs into sorted ImageRefs and a one-line summary."""
    refs, rules = [], {}
    for path, parts in sorted(found, key=lambda f: f[1]):
        label, rule = label_image(parts)
        refs.append(ImageRef(path=path, label=label))
        rules[rule] = rules.get(rule, 0) + 1
    labels = {r.label for r in refs if r.label is not None}
    rule_text = "; ".join(f"{rule} ({n})" if len(rules) > 1 else rule for rule, n in rules.items())
    summary = f"{len(refs)} images, {len(labels)} labels; {rule_text}" if refs else "no images"
    return refs, summary
