"""What model-based passes share: the rebuilt networks, the sample images and their encodings, once per report.

Everything here goes through `ReportContext.cached`, so each checkpoint is loaded once and each image passes
each network once per report, whichever passes ask. A network that cannot be rebuilt is not an error of the
pass: `model_skip_reason` turns it into the one-line reason the section shows.
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


def encoded(ctx: ReportContext, encoder: str = "target", checkpoint: CheckpointRef | None = None,
            attention_layers: tuple[int, ...] = ()):
    """Return the EncoderOutput of the sample images (no mask), computed once per (checkpoint, encoder, layers).

    A request for attention layers reuses a cached run that captured a superset of them.
    """
    import torch

    ref = checkpoint or chosen_checkpoint(ctx)
    layers = tuple(sorted(set(attention_layers)))
    superset = ctx.find_cached(lambda key: isinstance(key, tuple) and key[:3] == ("encoded", str(ref.path), encoder)
                               and set(layers) <= set(key[3]))
    if superset is not None:
        return superset

    def run():
        model = model_for(ctx, checkpoint)
        images = sample_images(ctx)
        with torch.inference_mode():
            return batched_encode(model, images.tensor, encoder=encoder, attention_layers=layers)

    return ctx.cached(("encoded", str(ref.path), encoder, layers), run)


def batched_encode(model, images, *, encoder: str, attention_layers=(), batch_size: int = 16):
    """Encode images in batches of 16 (as fast as 64 on CPU, far less memory) and join the outputs."""
    import torch

    parts = [model.encode(images[i:i + batch_size], encoder=encoder, attention_layers=list(attention_layers) or None)
             for i in range(0, len(images), batch_size)]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    joined = {name: torch.cat([getattr(p, name) for p in parts]) for name in
              ("tokens", "patch_tokens", "patch_indices", "valid")}
    attentions = {k: torch.cat([p.attentions[k] for p in parts]) for k in first.attentions}
    return type(first)(**joined, attentions=attentions, num_prefix_tokens=first.num_prefix_tokens)


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
    extra = _image_order(ctx)[len(sample.paths):limit]
    if extra:
        ctx.progress(f"loading {len(extra)} further images for the class probes")
    pictures = sample.pictures + [load_rgb(r.path, info.image_size, info.preprocess) for r in extra]
    return ProbeImages(pictures, sample.labels + [r.label for r in extra],
                       sample.paths + [r.path for r in extra], first_extra=len(sample.paths))


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
