"""What model-based passes share: the rebuilt networks, the sample images and their encodings, once per report.

Everything here goes through `ReportContext.cached` and one models.FeatureCache, so each checkpoint is loaded
once and each image passes each network once per report, whichever passes ask (tests/test_encode_once.py).
A network that cannot be rebuilt is not an error of the pass: `model_skip_reason` turns it into the one-line
reason the section shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..collect.run import CheckpointRef
from ..errors import ReportError
from .base import ReportContext


@dataclass
class SampleImages:
    """The sample images the model-based passes use: network input, what a person sees, labels, files."""

    tensor: Any  # torch.Tensor [B, 3, S, S], normalised as the run trained
    pictures: list[np.ndarray]  # uint8 [S, S, 3] after the same resize / crop, for overlays
    labels: list[str | None]
    paths: list[Path]

    @property
    def has_labels(self) -> bool:
        """Tell whether every image has a class label and there are at least two classes."""
        return has_classes(self.labels)


@dataclass
class ProbeImages:
    """The images the class probes (kNN, linear probe, projections, neighbours) use: the sample images first,
    then more of the run's images, round-robin over classes, up to --probe-images.

    Only the target encoder's pooled features of the further images are needed, so they are kept as the uint8
    pictures the network sees (after the sample images' in `pictures`) and encoded per checkpoint in batches.
    """

    pictures: list[np.ndarray]  # uint8 [S, S, 3] as the network sees them: sample images, then the further ones
    labels: list[str | None]
    paths: list[Path]
    first_extra: int  # index of the first image beyond the sample images

    @property
    def has_labels(self) -> bool:
        """Tell whether every image has a class label and there are at least two classes."""
        return has_classes(self.labels)

    @property
    def extra(self) -> list[np.ndarray]:
        """The pictures of the images beyond the sample images."""
        return self.pictures[self.first_extra:]


def has_classes(labels: list) -> bool:
    """Tell whether every image has a class label and there are at least two classes."""
    return all(labels) and len(set(labels)) > 1


def chosen_checkpoint(ctx: ReportContext) -> CheckpointRef | None:
    """Return the checkpoint model-based sections use: --checkpoint, else the run's latest."""
    wanted = ctx.settings.checkpoint
    if wanted is None:
        return ctx.run.latest_checkpoint()
    wanted = Path(wanted).resolve()
    for ref in ctx.run.checkpoints:
        if Path(ref.path).resolve() == wanted:
            return ref
    return CheckpointRef(path=wanted, name=wanted.name, size=wanted.stat().st_size if wanted.exists() else 0,
                         format="safetensors" if wanted.suffix == ".safetensors" else "torch", role="other")


def model_for(ctx: ReportContext, checkpoint: CheckpointRef | None = None):
    """Return the JepaModel of a checkpoint (default: the chosen one).

    The chosen checkpoint's network is built once per report; other checkpoints (sweeps) share one slot, so
    a sweep holds at most two networks in memory.

    Raises ReportError (e.g. ModelBuildError) with a one-line reason when it cannot be rebuilt; the failure is
    cached too, so every pass reports the same reason without retrying.
    """
    ref = checkpoint or chosen_checkpoint(ctx)
    if ref is None:
        raise ReportError("the run has no checkpoint")
    chosen = chosen_checkpoint(ctx)
    if chosen is not None and str(ref.path) == str(chosen.path):
        outcome = ctx.cached(("model", str(ref.path)), lambda: _load(ctx, ref))
    else:  # sweeps over checkpoints keep one extra network in memory, not all of them (ViT-B: ~1 GB each)
        slot: dict = ctx.cached("other-model-slot", dict)
        if str(ref.path) not in slot:
            slot.clear()
            slot[str(ref.path)] = _load(ctx, ref)
        outcome = slot[str(ref.path)]
    if isinstance(outcome, ReportError):
        raise outcome
    if checkpoint is None:
        ctx.shared.setdefault("model_info", outcome.info.as_dict())
    return outcome


def model_skip_reason(ctx: ReportContext, *, needs_images: bool = True) -> str | None:
    """Return why a model-based pass cannot run (no checkpoint, no rebuildable model, no images), or None."""
    if chosen_checkpoint(ctx) is None:
        return "The run has no checkpoint, so its networks cannot be run."
    try:
        model_for(ctx)
    except ReportError as exc:
        return f"The networks could not be rebuilt from the checkpoint: {exc}"
    if needs_images and not ctx.run.images:
        return "The run has no sample images (put some in RUN_DIR/images or pass --images DIR)."
    return None


def known_model_info(ctx: ReportContext) -> dict:
    """Return the rebuilt model's info as a dict (patch_size, grid, image_size, ...), or {} when there is none.

    For passes that work without a model but are more exact with one (masking takes the real patch size).
    What an earlier pass already put in ctx.shared["model_info"] is used as is.
    """
    if ctx.shared.get("model_info"):
        return ctx.shared["model_info"]
    if chosen_checkpoint(ctx) is None:
        return {}
    try:
        return model_for(ctx).info.as_dict()
    except ReportError:
        return {}


def sample_images(ctx: ReportContext) -> SampleImages:
    """Return up to --max-images sample images, chosen round-robin over classes, preprocessed for the model."""
    return ctx.cached("sample-images", lambda: _prepare_images(ctx))


def probe_images(ctx: ReportContext) -> ProbeImages:
    """Return the sample images followed by further images up to --probe-images (none further under --minimal),
    in the same round-robin order, so the sample images are always the first ones."""
    return ctx.cached("probe-images", lambda: _prepare_probe_images(ctx))


@dataclass
class ReportMasks:
    """One seeded draw of the run's own masks for the sample images, shared by every pass that masks them
    (attention's context view, predictions), so a figure and a number about image i use the same mask."""

    hidden: np.ndarray  # [B, N] True = not seen by the context encoder
    targets: np.ndarray  # [B, M, N] the target blocks (what the predictor predicts)
    seed: int
    strategy: str

    @property
    def mask_id(self) -> str:
        """The name the feature cache stores masked encodings under."""
        return f"report-masks:{self.strategy}:{self.seed}"


def report_masks(ctx: ReportContext, model) -> ReportMasks:
    """Draw one mask per sample image the way the run's training masks (the same for every checkpoint).

    Raises ReportError when the run's masking cannot be sampled."""
    def make():
        from .masking import sample_masks

        seed = int(ctx.rng("report-masks").integers(2**31))
        layout = model.info.layout if model.info.layout in ("hjepa", "ijepa") else None
        draws = sample_masks(ctx.run.config, len(sample_images(ctx).paths), seed, layout=layout,
                             grid=model.info.grid, patch_size=model.info.patch_size)
        if draws.strategy.startswith("hjepa"):
            # H-JEPA training hides the union of the level-0 target blocks and predicts every hidden patch
            hidden = draws.targets.any(axis=1)
        else:
            # I-JEPA: the encoder sees one context block minus the targets; each target block is predicted
            hidden = ~draws.contexts.any(axis=1)
        return ReportMasks(hidden=hidden, targets=draws.targets, seed=seed, strategy=draws.strategy)

    return ctx.cached(("report-masks", tuple(model.info.grid)), make)


def encoded(ctx: ReportContext, encoder: str = "target", checkpoint: CheckpointRef | None = None,
            attention_layers: tuple[int, ...] = (), *, masked: bool = False, first: int | None = None):
    """Return the EncoderOutput (CPU tensors) of the first `first` sample images (default all) through
    `encoder` of a checkpoint (default the chosen one): unmasked, or under the report's masks (`masked`).

    One models.FeatureCache per report holds every image's output per (checkpoint, encoder, mask), so each
    image passes each network once per report whichever passes ask; attention layers asked for later than
    an image's first encoding make it encode again (the attention pass runs first and asks for them).
    For predictions use `predicted`, which hands the cached outputs to the predictor.
    """
    import torch

    model = model_for(ctx, checkpoint)
    images = sample_images(ctx)
    n = len(images.paths) if first is None else min(first, len(images.paths))
    masking = {}
    if masked:
        masks = report_masks(ctx, model)
        masking = {"context_mask": torch.as_tensor(masks.hidden[:n]), "mask_id": masks.mask_id}
    return feature_cache(ctx).encode(model, images.tensor[:n], _image_ids(images.paths[:n]), encoder=encoder,
                                     attention_layers=attention_layers, **masking)


def predicted(ctx: ReportContext, checkpoint: CheckpointRef | None = None):
    """Return the Prediction (CPU tensors) of a checkpoint for the sample images under the report's masks:
    FeatureCache.predict, on the same cached context and target encodings that `encoded` returns."""
    import torch

    model = model_for(ctx, checkpoint)
    images = sample_images(ctx)
    masks = report_masks(ctx, model)
    return feature_cache(ctx).predict(model, images.tensor, _image_ids(images.paths), torch.as_tensor(masks.hidden),
                                      masks.mask_id, torch.as_tensor(masks.targets), masks.mask_id)


def _image_ids(paths) -> list[str]:
    """The names the feature cache stores sample images under."""
    return [str(p) for p in paths]


def feature_cache(ctx: ReportContext):
    """Return the report's one FeatureCache."""
    from ..models import FeatureCache

    return ctx.cached("feature-cache", FeatureCache)


def _load(ctx: ReportContext, ref: CheckpointRef):
    from ..models import load_model

    s = ctx.settings
    ctx.progress(f"loading {ref.name}")
    try:
        return load_model(ref.path, ctx.run.config, layout=s.layout if s.layout in ("hjepa", "ijepa") else None,
                          encoder_heads=s.encoder_heads, predictor_heads=s.predictor_heads, device=s.device,
                          trust=s.trust_checkpoints, model_factory=s.model_factory)
    except ReportError as exc:
        return exc


def _image_order(ctx: ReportContext) -> list:
    """Every image of the run in the order images are taken: round-robin over labels, seeded."""
    return ctx.cached("image-order", lambda: choose_images(ctx.run.images, len(ctx.run.images),
                                                           ctx.rng("sample-images")))


def _prepare_images(ctx: ReportContext) -> SampleImages:
    from ..models import load_images

    info = model_for(ctx).info
    refs = _image_order(ctx)[:ctx.settings.max_images]
    tensor, pictures = load_images([r.path for r in refs], info.image_size, info.norm_mean, info.norm_std,
                                    method=info.preprocess)
    return SampleImages(tensor, pictures, [r.label for r in refs], [r.path for r in refs])


def _prepare_probe_images(ctx: ReportContext) -> ProbeImages:
    from ..models.images import load_rgb

    info = model_for(ctx).info
    sample = sample_images(ctx)
    limit = len(sample.paths) if ctx.settings.minimal else max(ctx.settings.probe_images, len(sample.paths))
    extra = probe_order(_image_order(ctx)[len(sample.paths):], set(sample.labels))[:limit - len(sample.paths)]
    if extra:
        ctx.progress(f"loading {len(extra)} further images for the class probes")
    pictures = sample.pictures + [load_rgb(r.path, info.image_size, info.preprocess) for r in extra]
    return ProbeImages(pictures, sample.labels + [r.label for r in extra],
                       sample.paths + [r.path for r in extra], first_extra=len(sample.paths))


def probe_order(rest: list, sample_labels: set) -> list:
    """Order the images after the sample images for the class probes: first those of the classes the sample
    images show (still round-robin), then the others. With more classes than sample images (say 1000
    ImageNet folders and 64 sample images) the probes then get a few images of each of 64 classes, which
    kNN can judge, instead of one image each of 256 classes, which it cannot."""
    return [r for r in rest if r.label in sample_labels] + [r for r in rest if r.label not in sample_labels]


def choose_images(images: list, limit: int, rng: np.random.Generator) -> list:
    """Pick up to `limit` images round-robin over their labels (seeded shuffle within each label)."""
    by_label: dict[Any, list] = {}
    for ref in images:
        by_label.setdefault(ref.label, []).append(ref)
    queues = [list(np.array(group, dtype=object)[rng.permutation(len(group))]) for _, group in sorted(
        by_label.items(), key=lambda kv: str(kv[0]))]
    chosen: list = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen
