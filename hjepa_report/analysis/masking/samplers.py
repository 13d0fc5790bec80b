"""Pure, seeded mask samplers that follow the run's own training semantics.

Randomness: every sampler takes a `numpy.random.Generator` (sample_masks makes one with
`numpy.random.default_rng(seed)`). The original code draws from torch's and numpy's global generators, which a
report cannot replay, so these samplers reproduce the DISTRIBUTION of the original masks (checked against the
statistics of the original code in tests/fixtures/masks_*.json), not the individual draws.

Masks are boolean arrays over the patch grid flattened row-major (index = row * W + col, row 0 at the top);
True means "in this block / region".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import ConfigError
from .config import HJepaMaskSettings, IJepaMaskSettings, mask_settings


@dataclass
class LevelDraws:
    """One hierarchy level of H-JEPA's generator: its target blocks and its context (block minus targets)."""

    level: int
    targets: np.ndarray  # [n, n_blocks, N] bool
    context: np.ndarray  # [n, N] bool: the generator's context block minus the target union (unused by training)
    target_shapes: np.ndarray  # [n, n_blocks, 2] (h, w)
    fallback: np.ndarray  # [n, n_blocks] bool: block came from the unchecked fallback path
    target_scale: tuple[float, float]
    context_scale: tuple[float, float]


@dataclass
class MaskDraws:
    """n mask draws of one strategy, with the settings and seed that made them.

    `targets` are the target (hidden, predicted) blocks; `contexts` what the context encoder sees, before any
    batch collation. I-JEPA also has `collated_*`: the masks as the collator returns them (each cut to the
    batch's shortest mask, keeping the first indices in row-major order).
    """

    strategy: str  # ijepa-multiblock | hjepa-hierarchical | random-patches | central-block
    grid: tuple[int, int]
    targets: np.ndarray  # [n, n_blocks, N] bool
    contexts: np.ndarray  # [n, n_context, N] bool
    target_shapes: np.ndarray  # [n, n_blocks, 2] int (h, w)
    settings: dict
    seed: int | None
    batch_index: np.ndarray  # [n] int: which batch (collator / generator call) each draw belongs to
    context_blocks: np.ndarray | None = None  # [n, n_context, N] context block before removing targets
    context_shapes: np.ndarray | None = None  # [n, n_context, 2]
    collated_targets: np.ndarray | None = None
    collated_contexts: np.ndarray | None = None
    fallback: np.ndarray | None = None  # [n, n_blocks] bool (H-JEPA)
    levels: list[LevelDraws] = field(default_factory=list)  # H-JEPA generator levels (level 0 = training's)

    @property
    def n(self) -> int:
        return int(self.targets.shape[0])

    @property
    def hidden(self) -> np.ndarray:
        """[n, N] union of the target blocks: the patches the predictor must predict."""
        return self.targets.any(axis=1)

    @property
    def context(self) -> np.ndarray:
        """[n, N] the first context mask (I-JEPA nenc = 1; H-JEPA: everything outside the target union)."""
        return self.contexts[:, 0]


def sample_masks(
    config: dict | None,
    n: int,
    seed: int,
    *,
    layout: str | None = None,
    batch_size: int | None = None,
    grid: tuple[int, int] | None = None,
    patch_size: int | None = None,
) -> MaskDraws:
    """Draw n masks the way the run's training code masks, from its config (None: I-JEPA paper setting).

    numpy.random.default_rng(seed) drives every draw. `patch_size` is the model's real patch size when known
    (H-JEPA configs do not hold it reliably); `grid` overrides the patch grid altogether.
    """
    settings = mask_settings(config, layout=layout, batch_size=batch_size, grid=grid, patch_size=patch_size)
    rng = np.random.default_rng(seed)
    if isinstance(settings, HJepaMaskSettings):
        draws = sample_hjepa(settings, n, rng)
    else:
        draws = sample_ijepa(settings, n, rng)
    draws.seed = seed
    return draws


def block_masks(grid: tuple[int, int], tops, lefts, heights, widths) -> np.ndarray:
    """Boolean masks [..., H*W] of axis-aligned blocks given per-block top, left, height, width (same shapes)."""
    rows, cols = grid
    tops, lefts, heights, widths = (np.asarray(a)[..., None] for a in (tops, lefts, heights, widths))
    r, c = np.arange(rows), np.arange(cols)
    in_rows = (r >= tops) & (r < tops + heights)
    in_cols = (c >= lefts) & (c < lefts + widths)
    return (in_rows[..., :, None] & in_cols[..., None, :]).reshape(*in_rows.shape[:-1], rows * cols)


# --------------------------------------------------------------------------------------------- I-JEPA
def ijepa_block_size(u: float, grid: tuple[int, int], scale, aspect) -> tuple[int, int]:
    """Block (h, w) from ONE uniform u that sets both scale and aspect (ijepa src/masks/multiblock.py).

    max_keep = int(H * W * scale); h = round(sqrt(max_keep * ar)), w = round(sqrt(max_keep / ar)) (aspect is
    height / width), then shrunk until h < H and w < W.
    """
    rows, cols = grid
    s = scale[0] + u * (scale[1] - scale[0])
    ar = aspect[0] + u * (aspect[1] - aspect[0])
    max_keep = int(rows * cols * s)
    h, w = int(round(math.sqrt(max_keep * ar))), int(round(math.sqrt(max_keep / ar)))
    return min(h, rows - 1), min(w, cols - 1)


def ijepa_batch(rng: np.random.Generator, batch: int, pred_hw, enc_hw, s: IJepaMaskSettings) -> dict:
    """Masks of one collator call with given block sizes: positions per sample, then collation.

    Positions: top ~ randint(0, H - h), left ~ randint(0, W - w), upper bound EXCLUSIVE as in the original,
    so the last row/column is never a block's top/left (and never covered by a block that would reach it).
    Context blocks are cut to the complements of the sample's targets (unless allow_overlap) and re-drawn while
    they keep <= min_keep patches, relaxing one target constraint after every 20 failures (the original's loop).
    """
    rows, cols = s.grid
    (ph, pw), (eh, ew) = pred_hw, enc_hw
    for h, w, what in ((ph, pw, "target"), (eh, ew, "context")):
        if h < 1 or w < 1 or h * w <= s.min_keep:
            raise ConfigError(
                f"I-JEPA {what} blocks of {h}x{w} patches can never keep more than min_keep="
                f"{s.min_keep} patches (the original collator would loop forever)"
            )
    tops = rng.integers(0, rows - ph, size=(batch, s.npred))
    lefts = rng.integers(0, cols - pw, size=(batch, s.npred))
    targets = block_masks(s.grid, tops, lefts, np.full_like(tops, ph), np.full_like(tops, pw))
    contexts = np.zeros((batch, s.nenc, rows * cols), bool)
    blocks = np.zeros_like(contexts)
    for b in range(batch):
        for j in range(s.nenc):
            blocks[b, j], contexts[b, j] = _ijepa_context(rng, s, (eh, ew), None if s.allow_overlap else targets[b])
    return {
        "targets": targets,
        "contexts": contexts,
        "context_blocks": blocks,
        "collated_targets": keep_first(targets, targets.sum(-1).min()),
        "collated_contexts": keep_first(contexts, contexts.sum(-1).min()),
    }


def _ijepa_context(rng, s: IJepaMaskSettings, hw, targets) -> tuple[np.ndarray, np.ndarray]:
    """One context block (block, block minus the first n - tries target blocks) with the original's retry loop."""
    rows, cols = s.grid
    h, w = hw
    tries, timeout = 0, 20
    while True:
        top, left = rng.integers(0, rows - h), rng.integers(0, cols - w)
        block = block_masks(s.grid, top, left, h, w)
        kept = block.copy()
        if targets is not None:
            kept &= ~targets[: max(len(targets) - tries, 0)].any(axis=0)
        if kept.sum() > s.min_keep:
            return block, kept
        timeout -= 1
        if timeout == 0:  # the original logs "Valid mask not found, decreasing acceptable-regions"
            tries, timeout = tries + 1, 20


def keep_first(masks: np.ndarray, k: int) -> np.ndarray:
    """Keep the first k True entries (row-major) of every mask: the collator's cut to the batch minimum."""
    return masks & (np.cumsum(masks, axis=-1) <= k)


def sample_ijepa(s: IJepaMaskSettings, n: int, rng: np.random.Generator) -> MaskDraws:
    """n samples from I-JEPA's MaskCollator in batches of s.batch_size (the last batch may be shorter).

    Per batch ONE target size and ONE context size (aspect fixed to 1) are drawn, then positions per sample.
    """
    parts, shapes, batch_index = [], [], []
    for b, start in enumerate(range(0, n, s.batch_size)):
        size = min(s.batch_size, n - start)
        u_pred, u_enc = rng.random(2)
        pred_hw = ijepa_block_size(u_pred, s.grid, s.pred_mask_scale, s.aspect_ratio)
        enc_hw = ijepa_block_size(u_enc, s.grid, s.enc_mask_scale, (1.0, 1.0))
        parts.append(ijepa_batch(rng, size, pred_hw, enc_hw, s))
        shapes.append((size, pred_hw, enc_hw))
        batch_index += [b] * size
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    target_shapes = np.concatenate([np.broadcast_to(p, (m, s.npred, 2)) for m, p, _ in shapes])
    context_shapes = np.concatenate([np.broadcast_to(e, (m, s.nenc, 2)) for m, _, e in shapes])
    return MaskDraws(
        strategy="ijepa-multiblock",
        grid=s.grid,
        targets=cat["targets"],
        contexts=cat["contexts"],
        target_shapes=target_shapes.copy(),
        settings=s.to_dict(),
        seed=None,
        batch_index=np.asarray(batch_index),
        context_blocks=cat["context_blocks"],
        context_shapes=context_shapes.copy(),
        collated_targets=cat["collated_targets"],
        collated_contexts=cat["collated_contexts"],
    )


# --------------------------------------------------------------------------------------------- H-JEPA
def hjepa_level_ranges(s: HJepaMaskSettings, level: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(target scale, context scale) of one level (H-JEPA src/masks/hierarchical.py, 'geometric' progression).

    target = base scale * 2^level, capped at 0.95; context starts at 0.6 + 0.3 * level / max(1, L - 1) and
    spans 0.15 (capped at 0.95 / 1.0).
    """
    factor = 2**level
    target = (min(0.95, s.mask_scale[0] * factor), min(0.95, s.mask_scale[1] * factor))
    ratio = 0.6 + 0.3 * (level / max(1, s.num_hierarchies - 1))
    return target, (min(0.95, ratio), min(1.0, ratio + 0.15))


def _hjepa_block(rng, s: HJepaMaskSettings, scale, aspect, level: int, taken: list | None):
    """One block (top, left, h, w, fell_back) with up to max_attempts tries (H-JEPA _sample_block).

    A try draws scale and aspect (width / height) independently: h = round(sqrt(scale * N / ar)),
    w = round(h * ar), clipped to [1, grid]; the corner is uniform over ALL fitting positions (inclusive
    bound). With `taken` (earlier target blocks) a try must not touch them; after max_attempts failures a
    square fallback block of side grid // (level + 2) goes at a random position WITHOUT that check.
    """
    rows, cols = s.grid
    u = rng.random((s.max_attempts, 4))  # all tries at once: the same draws as trying one by one
    ar = aspect[0] + u[:, 1] * (aspect[1] - aspect[0])
    h = np.round(np.sqrt((scale[0] + u[:, 0] * (scale[1] - scale[0])) * rows * cols / ar))
    w = np.clip(np.round(h * ar), 1, cols).astype(int)
    h = np.clip(h, 1, rows).astype(int)
    top, left = (u[:, 2] * (rows - h + 1)).astype(int), (u[:, 3] * (cols - w + 1)).astype(int)
    free = np.ones(len(u), bool)
    for t in taken or ():
        free &= ~_touches((top, left, h, w), t)
    if free.any():
        i = int(free.argmax())  # the first try that fits
        return int(top[i]), int(left[i]), int(h[i]), int(w[i]), False
    h, w = max(1, rows // (level + 2)), max(1, cols // (level + 2))
    top, left = rng.integers(0, rows - h + 1), rng.integers(0, cols - w + 1)
    return int(top), int(left), h, w, True


def _touches(a, b):
    """Whether two blocks (top, left, h, w) share a patch (elementwise for arrays of blocks `a`)."""
    return (a[0] < b[0] + b[2]) & (b[0] < a[0] + a[2]) & (a[1] < b[1] + b[3]) & (b[1] < a[1] + a[3])


def _hjepa_level(rng, s: HJepaMaskSettings, n: int, level: int) -> LevelDraws:
    """n draws of one level: num_masks non-overlapping targets (fallbacks excepted), then a context block."""
    target_scale, context_scale = hjepa_level_ranges(s, level)
    aspect = s.aspect_ratio
    if level == 0:  # the finest level narrows the aspect range to squarer blocks
        aspect = (max(aspect[0], 0.85), min(aspect[1], 1.15))
    boxes = np.zeros((n, s.num_masks + 1, 4), int)
    fallback = np.zeros((n, s.num_masks), bool)
    for i in range(n):
        taken: list = []
        for j in range(s.num_masks):
            *box, fallback[i, j] = _hjepa_block(rng, s, target_scale, aspect, level, taken)
            taken.append(box)
        boxes[i, :-1] = taken
        boxes[i, -1] = _hjepa_block(rng, s, context_scale, aspect, level, None)[:4]
    masks = block_masks(s.grid, *np.moveaxis(boxes, -1, 0))
    targets = masks[:, :-1]
    return LevelDraws(
        level=level,
        targets=targets,
        context=masks[:, -1] & ~targets.any(axis=1),
        target_shapes=boxes[:, :-1, 2:].copy(),
        fallback=fallback,
        target_scale=target_scale,
        context_scale=context_scale,
    )


def sample_hjepa(s: HJepaMaskSettings, n: int, rng: np.random.Generator) -> MaskDraws:
    """n draws of H-JEPA's HierarchicalMaskGenerator, as its trainer uses them.

    Training hides the union of the level-0 target blocks and shows the context encoder every other patch
    (src/trainers/trainer.py); the generator's contexts and levels >= 1 are kept in `levels` for figures only.
    Draws are independent per sample, so batches only matter for the predictor's padding statistics.
    """
    levels = [_hjepa_level(rng, s, n, level) for level in range(s.num_hierarchies)]
    first = levels[0]
    hidden = first.targets.any(axis=1)
    return MaskDraws(
        strategy="hjepa-hierarchical",
        grid=s.grid,
        targets=first.targets,
        contexts=(~hidden)[:, None],
        target_shapes=first.target_shapes,
        settings=s.to_dict(),
        seed=None,
        batch_index=np.arange(n) // s.batch_size,
        fallback=first.fallback,
        levels=levels,
    )


# --------------------------------------------------------------------------------------------- baselines
def random_patch_masks(grid: tuple[int, int], hidden_counts, rng: np.random.Generator) -> MaskDraws:
    """Baseline: hide hidden_counts[i] patches chosen uniformly at random (MAE-style), show the rest."""
    rows, cols = grid
    counts = np.asarray(hidden_counts, int)
    ranks = rng.random((len(counts), rows * cols)).argsort(axis=1).argsort(axis=1)
    hidden = ranks < counts[:, None]
    return _complement_draws(
        "random-patches",
        grid,
        hidden,
        np.zeros((len(counts), 1, 2), int),
        {"hidden_counts": "matched to the run's own draws"},
    )


def central_block_masks(grid: tuple[int, int], hidden_counts) -> MaskDraws:
    """Baseline: hide one centred block whose area is closest to hidden_counts[i] patches, show the rest."""
    rows, cols = grid
    counts = np.asarray(hidden_counts, int)
    h = np.clip(np.round(np.sqrt(np.maximum(counts, 1)) * math.sqrt(rows / cols)), 1, rows).astype(int)
    w = np.clip(np.round(counts / h), 1, cols).astype(int)
    hidden = block_masks(grid, (rows - h) // 2, (cols - w) // 2, h, w)
    return _complement_draws(
        "central-block",
        grid,
        hidden,
        np.stack([h, w], -1)[:, None],
        {"hidden_counts": "matched to the run's own draws"},
    )


def _complement_draws(strategy, grid, hidden, shapes, settings) -> MaskDraws:
    """Draws whose one target region is `hidden` and whose context is everything else."""
    return MaskDraws(
        strategy=strategy,
        grid=grid,
        targets=hidden[:, None],
        contexts=(~hidden)[:, None],
        target_shapes=shapes,
        settings=settings,
        seed=None,
        batch_index=np.arange(len(hidden)),
    )
