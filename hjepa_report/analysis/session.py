"""ModelSession: the report's one typed access to the run's networks, images, masks and encodings.

Owned by the ReportContext, one per report. It knows which checkpoint the model-based sections use, loads a
checkpoint's networks when a pass asks and keeps at most one checkpoint's networks in memory (a ViT-B/16 run's
three networks are ~1 GB), releases them when no pass needs them any more, prepares the sample and probe
images the way the run trained, draws the run's own masks once, and routes every encoding and prediction
through one models.FeatureCache, so each image passes each network once per report whichever passes ask
(tests/test_encode_once.py). A network that cannot be rebuilt is not an error of the pass: `skip_reason` turns
it into the one-line reason the section shows, and the failure is remembered so every pass gives the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..collect.run import CheckpointRef
from ..errors import ReportError
from ..memory import FilePages, file_backed, release_free_memory
from ..models.meter import PassMeter

if TYPE_CHECKING:  # pragma: no cover
    from ..collect.run import Run
    from ..models import EncoderOutput, FeatureCache, JepaModel, Prediction
    from ..settings import ReportSettings
    from .representations.blocks import BlockOutputs
    from .representations.predictions import PredictionErrors

BATCH = 16  # images per encoder call for images outside the feature cache: as fast as 64 on CPUs, far lighter
LAYER_CHECKPOINTS = 4  # checkpoints whose every block the layers section measures (block_checkpoints)


def has_classes(labels: list) -> bool:
    """Tell whether every image has a class label and there are at least two classes."""
    return all(labels) and len(set(labels)) > 1


@dataclass
class SampleImages:
    """The sample images the model-based passes use: network input, what a person sees, labels, files."""

    tensor: Any  # torch.Tensor [B, 3, S, S], normalised as the run trained
    pictures: list[np.ndarray]  # uint8 [S, S, 3] after the same resize / crop, for overlays
    labels: list[str | None]
    paths: list[Path]
    names: list[str]  # paths relative to the run directory when inside it, else file names

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
        return self.pictures[self.first_extra :]


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


@dataclass
class ImageEmbeddings:
    """The target encoder's view of the sample images for one checkpoint: mean-pooled patch tokens [B, D],
    CLS [B, D] (None without CLS) and the valid patch tokens [B, N, D]."""

    mean_pooled: np.ndarray
    cls: np.ndarray | None
    patch_tokens: np.ndarray


@dataclass
class ProbeEmbeddings:
    """Mean-pooled and CLS embeddings of the probe images (sample images first) for one checkpoint; for the
    checkpoints of ModelSession.block_checkpoints also every block's pooled output of the further images (after
    the sample ones), from the same pass: extra_blocks = (mean [L, E, D], CLS [L, E, D] or None), None when
    there are no further images."""

    image: np.ndarray
    cls: np.ndarray | None
    extra_blocks: tuple | None = None


HEADS_IMAGES, HEADS_DRAWS = 16, 4  # the batch and mask draws head-count inference averages its loss over


class ModelSession:
    """The networks, images, masks and encodings of one report (see the module docstring)."""

    def __init__(
        self,
        run: Run,
        settings: ReportSettings,
        *,
        rng: Callable[[str], np.random.Generator],
        progress: Callable[[str], None],
    ):
        self.run = run
        self.settings = settings
        self._rng = rng
        self._progress = progress
        self._loaded: tuple[str, JepaModel] | None = None  # the one checkpoint whose networks are in memory
        self._failures: dict[str, ReportError] = {}
        self._chosen_info = None  # ModelInfo of the chosen checkpoint, once it was rebuilt
        self._features: FeatureCache | None = None
        self._sample: SampleImages | None = None
        self._probe: ProbeImages | None = None
        self._order: list | None = None
        self._masks: ReportMasks | None = None
        self._embeddings: dict[str, ImageEmbeddings] = {}
        self._probe_embeddings: dict[str, ProbeEmbeddings] = {}
        self._prediction_errors: dict[str, PredictionErrors | ReportError] = {}  # see prediction_errors
        self._block_outputs: dict[str, BlockOutputs] = {}  # see block_outputs
        self._batch_losses: dict[tuple[int, str], float] = {}  # see batch_loss
        # block reductions kept from the target passes of block_checkpoints(), by (info.checkpoint, image id)
        self._block_parts: dict[tuple[str, str], dict] = {}
        self._block_seconds: dict[str, float] = {}  # info.checkpoint -> seconds spent reducing
        self._block_info: dict[str, Any] = {}  # info.checkpoint -> the ModelInfo its reductions came with
        self._block_labels: dict[str, str] = {}  # checkpoint path -> its info.checkpoint, once loaded
        self._heads = None  # models.heads.HeadsEvidence once inferred (custom encoders without a head count)
        self.meter = PassMeter()  # every network pass of the report, counted and timed (the compute floor)

    # -- which checkpoint, which networks -------------------------------------------------------------------

    @property
    def checkpoint(self) -> CheckpointRef | None:
        """The checkpoint model-based sections use: --checkpoint, else the run's latest."""
        wanted = self.settings.checkpoint
        if wanted is None:
            return self.run.latest_checkpoint()
        wanted = Path(wanted).resolve()
        for ref in self.run.checkpoints:
            if Path(ref.path).resolve() == wanted:
                return ref
        return CheckpointRef(
            path=wanted,
            name=wanted.name,
            size=wanted.stat().st_size if wanted.exists() else 0,
            format="safetensors" if wanted.suffix == ".safetensors" else "torch",
            role="other",
        )

    def model(self, checkpoint: CheckpointRef | None = None) -> JepaModel:
        """Return the JepaModel of a checkpoint (default: the chosen one), loading it if it is not the one in
        memory; the networks loaded before are released first, so one checkpoint's networks are held at a time.

        Raises ReportError (e.g. ModelBuildError) with a one-line reason when it cannot be rebuilt; the
        failure is remembered, so every pass reports the same reason without retrying.
        """
        ref = checkpoint or self.checkpoint
        if ref is None:
            raise ReportError("the run has no checkpoint")
        key = str(ref.path)
        if key in self._failures:
            raise self._failures[key]
        if self._loaded is None or self._loaded[0] != key:
            self.release()
            try:
                model = self._load(ref)
            except ReportError as exc:
                self._failures[key] = exc
                raise
            self._loaded = (key, model)
            if self._is_chosen(ref):
                self._chosen_info = model.info
            label = getattr(model.info, "checkpoint", None)  # a factory's model may not name its file
            if label is not None and self._keeps_blocks(ref):  # its target pass keeps the block reductions
                self.features.block_checkpoints.add(label)
                self._block_labels[key] = label
        return self._loaded[1]

    def skip_reason(self, *, needs_images: bool = True) -> str | None:
        """Return why a model-based pass cannot run (no checkpoint, no rebuildable model, no images), or None."""
        if self.checkpoint is None:
            return "The run has no checkpoint, so its networks cannot be run."
        try:
            self.info()
        except ReportError as exc:
            from ..models.vjepa import NOT_REBUILT

            if str(exc).startswith(NOT_REBUILT):  # they are rebuilt, by the video sections; not an error
                return f"{exc}."
            return f"The networks could not be rebuilt from the checkpoint: {exc}"
        if needs_images and not self.run.images:
            return "The run has no sample images (put some in RUN_DIR/images or pass --images DIR)."
        return None

    def part_skip_reason(self, part: str, cannot: str) -> str | None:
        """Like `skip_reason`, and also why the chosen checkpoint's `part` (a ModelInfo.refusal key: predictor,
        encoder, attention) cannot be run, as '`cannot` for this checkpoint: why', or None."""
        reason = self.skip_reason()
        if reason:
            return reason
        refusal = self.info().refusal(part)
        return f"{cannot} for this checkpoint: {refusal}" if refusal else None

    def predictor_skip_reason(self) -> str | None:
        """part_skip_reason for the predictor (the predictions and predicted-patch sections)."""
        return self.part_skip_reason("predictor", "The predictor cannot be run")

    def info(self):
        """Return the chosen checkpoint's ModelInfo (rebuilding its networks once if needed); ReportError when
        it cannot be rebuilt."""
        if self._chosen_info is None:
            self.model()
        return self._chosen_info

    def known_info(self) -> dict:
        """Return the chosen model's info as a dict (patch_size, grid, image_size, ...), or {} without a
        rebuildable checkpoint: for passes that work without a model but are more exact with one."""
        if self.checkpoint is None:
            return {}
        try:
            return self.info().as_dict()
        except ReportError:
            return {}

    def described(self) -> dict | None:
        """The chosen model's info for report.json when any pass of this report rebuilt it, else None."""
        return None if self._chosen_info is None else self._chosen_info.as_dict()

    def visiting_order(self, refs: list[CheckpointRef]) -> list[CheckpointRef]:
        """Order checkpoints for a pass that visits each: the one whose networks are in memory first, then the
        others as given, with the chosen one last (the next pass most likely starts from it). Each is then loaded
        at most once per pass, and no pass reloads what the previous one left in memory. Until the chosen one has
        been loaded it comes first: the first `info()` (sample images, masks) loads it, and in the middle of
        another checkpoint's visit that held two checkpoints' networks at once."""
        loaded = self._loaded[0] if self._loaded else None
        chosen = str(self.checkpoint.path) if self.checkpoint else None
        first = chosen if self._chosen_info is None else loaded

        def rank(ref: CheckpointRef) -> int:
            key = str(ref.path)
            return 0 if key == first else 2 if key == chosen else 1

        return sorted(refs, key=rank)  # stable: the given order within each rank

    def scratch_model(self, checkpoint: CheckpointRef) -> JepaModel:
        """Load a checkpoint's networks for the caller alone: not held by the session, so the caller may write
        their weights in place (the loss interpolation moves them along a path) and drops them after. With a
        float32 checkpoint file the load maps the file (models.loading.materialise), so until written its
        weights are file pages, not a copy. Raises ReportError like `model`."""
        key = str(checkpoint.path)
        if key in self._failures:
            raise self._failures[key]
        return self._load(checkpoint)

    def release(self) -> None:
        """Drop the networks in memory (cached encodings stay); the next `model()` loads again. The freed memory
        goes back to the operating system (memory.release_free_memory): without it, glibc kept the loss
        landscape's ~1.3 GB of weight copies of a ViT-B/16 in the heap while the interpolation loaded two more
        checkpoints (peak 3.2 GB instead of 2.1)."""
        if self._loaded is not None:
            self._loaded = None
            release_free_memory()

    def hand_back_pages(self, checkpoint: CheckpointRef, network: str) -> None:
        """Hand the resident file pages of one network of `checkpoint` (`network`: 'target_encoder',
        'context_encoder' or 'predictor') back to the kernel (memory.FilePages), if its networks are the ones in
        memory: a later read faults them in again from the page cache, unchanged. For a pass that is done with
        that network for this checkpoint: the checkpoint sweep hands back the target encoder (0.34 GB of a
        ViT-B/16) before the context encoder and predictor run, and gradient flow once its loss targets are
        computed, so the three networks' pages never count together in the peak. Only the tensors of a zero-copy
        load lie in a file mapping (memory.file_backed), and the passes before the loss landscape never write a
        network's weights; a network shared by two roles (one encoder in end-to-end runs) is left alone."""
        pages = FilePages.available()
        if self._loaded is None or self._loaded[0] != str(checkpoint.path) or pages is None:
            return
        model = self._loaded[1]
        module = getattr(model, network, None)
        others = [getattr(model, n, None) for n in ("context_encoder", "target_encoder", "predictor") if n != network]
        if module is None or any(module is other for other in others):
            return
        for tensor in file_backed(module.state_dict().values()):
            pages.drop(tensor)

    def _is_chosen(self, ref: CheckpointRef) -> bool:
        chosen = self.checkpoint
        return chosen is not None and str(ref.path) == str(chosen.path)

    def _load(self, ref: CheckpointRef) -> JepaModel:
        from ..models import load_model

        s = self.settings
        self._progress(f"loading {ref.name}")
        model = load_model(
            ref.path,
            self.run.config,
            layout=s.layout if s.layout in ("hjepa", "ijepa", "stable-pretraining") else _model_layout(self.run),
            encoder_heads=s.encoder_heads,
            predictor_heads=s.predictor_heads,
            device=s.device,
            trust=s.trust_checkpoints,
            model_factory=s.model_factory,
        )
        self.meter.attach(model, ref.name)
        if model.info.heads_guessed and not s.encoder_heads and model.layout == "hjepa" and not s.model_factory:
            from ..models.heads import apply_evidence

            if self._heads is None:
                self._heads = self._infer_heads(model, ref)
            if self._heads is not None:
                apply_evidence(model, self._heads)
        return model

    def _infer_heads(self, model: JepaModel, ref: CheckpointRef):
        """Infer the encoder's head count from the run's own loss on the first checkpoint loaded (the same for
        every checkpoint of the run; models/heads.py), or None when the run has no images or its loss cannot be
        reproduced."""
        from ..models import load_images
        from ..models.heads import infer_heads
        from ..models.loss_settings import UnsupportedLoss
        from .dynamics.batch import training_masks

        info, config = model.info, self.run.config
        paths = [r.path for r in self._image_order()[:HEADS_IMAGES]]
        seeds = [int(s) for s in self._rng("heads-masks").integers(2**31, size=HEADS_DRAWS)]
        try:
            settings = model.loss_settings(config, seeds[0])
        except UnsupportedLoss:
            return None
        if not paths:
            return None
        self._progress(f"inferring the encoder's number of heads from the run's loss ({ref.name})")
        images, _ = load_images(paths, info.image_size, info.norm_mean, info.norm_std, method=info.preprocess)
        draws = [training_masks(config, "hjepa", len(paths), s, info.grid, info.patch_size) for s in seeds]
        draws = [model.loss_masks(masks, len(paths)) for masks in draws]
        evidence = infer_heads(model, images.to(model.device), draws, settings, ref.name)
        evidence.logged_loss = self.run.scalars.value_at("train/loss", ref.step)
        return evidence

    # -- images and masks -----------------------------------------------------------------------------------

    def sample_images(self) -> SampleImages:
        """Up to --max-images sample images, chosen round-robin over classes, preprocessed for the model."""
        if self._sample is None:
            from ..models import load_images

            info = self.info()
            refs = self._image_order()[: self.settings.max_images]
            paths = [r.path for r in refs]
            tensor, pictures = load_images(
                paths, info.image_size, info.norm_mean, info.norm_std, method=info.preprocess
            )
            self._sample = SampleImages(
                tensor, pictures, [r.label for r in refs], paths, [self.run.relative_name(p) for p in paths]
            )
        return self._sample

    def probe_images(self) -> ProbeImages:
        """The sample images followed by further images up to --probe-images (none further under --minimal),
        in the same round-robin order, so the sample images are always the first ones."""
        if self._probe is None:
            from ..models.images import load_rgb

            info = self.info()
            sample = self.sample_images()
            n = len(sample.paths)
            limit = n if self.settings.minimal else max(self.settings.probe_images, n)
            extra = probe_order(self._image_order()[n:], set(sample.labels))[: limit - n]
            if extra:
                self._progress(f"loading {len(extra)} further images for the class probes")
            pictures = sample.pictures + [load_rgb(r.path, info.image_size, info.preprocess) for r in extra]
            self._probe = ProbeImages(
                pictures,
                sample.labels + [r.label for r in extra],
                sample.paths + [r.path for r in extra],
                first_extra=n,
            )
        return self._probe

    def masks(self) -> ReportMasks:
        """One draw of the run's training masks per sample image (the same for every checkpoint).

        Raises ReportError when the run's masking cannot be sampled."""
        if self._masks is None:
            from .masking import sample_masks

            info = self.info()
            if info.layout == "stable-pretraining":  # LeJEPA: no masks; the masking section says the same
                raise ReportError("the method trains on augmented views without masks (LeJEPA), so none are drawn")
            seed = int(self._rng("report-masks").integers(2**31))
            layout = info.layout if info.layout in ("hjepa", "ijepa") else None
            draws = sample_masks(
                self.run.config,
                len(self.sample_images().paths),
                seed,
                layout=layout,
                grid=info.grid,
                patch_size=info.patch_size,
            )
            if draws.strategy.startswith("hjepa"):
                # H-JEPA training hides the union of the level-0 target blocks and predicts every hidden patch
                hidden = draws.targets.any(axis=1)
            else:
                # I-JEPA: the encoder sees one context block minus the targets; each target block is predicted
                hidden = ~draws.contexts.any(axis=1)
            self._masks = ReportMasks(hidden=hidden, targets=draws.targets, seed=seed, strategy=draws.strategy)
        return self._masks

    def _image_order(self) -> list:
        """Every image of the run in the order images are taken: round-robin over labels, seeded."""
        if self._order is None:
            images = self.run.images
            self._order = choose_images(images, len(images), self._rng("sample-images"))
        return self._order

    # -- encodings, predictions, embeddings -------------------------------------------------------------------

    @property
    def features(self) -> FeatureCache:
        """The report's one FeatureCache."""
        if self._features is None:
            from ..models import FeatureCache

            self._features = FeatureCache()
            self._features.block_sink = self._keep_blocks
        return self._features

    def encode(
        self,
        encoder: str = "target",
        checkpoint: CheckpointRef | None = None,
        attention_layers: tuple[int, ...] = (),
        *,
        masked: bool = False,
        first: int | None = None,
    ) -> EncoderOutput:
        """Return the EncoderOutput (CPU tensors) of the first `first` sample images (default all) through
        `encoder` of a checkpoint (default the chosen one): unmasked, or under the report's masks (`masked`).

        Attention layers asked for later than an image's first encoding make it encode again (the attention
        pass runs first and asks for them). For predictions use `predict`.
        """
        import torch

        model = self.model(checkpoint)
        images = self.sample_images()
        n = len(images.paths) if first is None else min(first, len(images.paths))
        masking = {}
        if masked:
            masks = self.masks()
            masking = {"context_mask": torch.as_tensor(masks.hidden[:n]), "mask_id": masks.mask_id}
        return self.features.encode(
            model,
            images.tensor[:n],
            _image_ids(images.paths[:n]),
            encoder=encoder,
            attention_layers=attention_layers,
            **masking,
        )

    def predict(self, checkpoint: CheckpointRef | None = None) -> Prediction:
        """Return the Prediction (CPU tensors) of a checkpoint for the sample images under the report's masks,
        on the same cached context and target encodings that `encode` returns."""
        import torch

        model = self.model(checkpoint)
        images = self.sample_images()
        masks = self.masks()
        return self.features.predict(
            model,
            images.tensor,
            _image_ids(images.paths),
            torch.as_tensor(masks.hidden),
            masks.mask_id,
            torch.as_tensor(masks.targets),
            masks.mask_id,
        )

    def embeddings(self, checkpoint: CheckpointRef | None = None) -> ImageEmbeddings:
        """The target encoder's embeddings of the sample images for a checkpoint, once per report (the health
        measures, the sweep, the probes and the PCA animation all read them)."""
        key = str((checkpoint or self.checkpoint).path)
        if key not in self._embeddings:
            out = self.encode("target", checkpoint)
            mean, cls = out.pooled()
            self._embeddings[key] = ImageEmbeddings(mean, cls, out.patch_tokens.float().cpu().numpy())
        return self._embeddings[key]

    def probe_embeddings(self, checkpoint: CheckpointRef | None = None) -> ProbeEmbeddings:
        """Mean-pooled and CLS embeddings of the probe images for a checkpoint, once per report: the sample
        images' come from their cached encoding, the further images pass the target encoder here in batches,
        and only their pooled features are kept."""
        key = str((checkpoint or self.checkpoint).path)
        if key not in self._probe_embeddings:
            from ..models.images import normalise_batch

            sample = self.embeddings(checkpoint)
            extra = self.probe_images().extra
            if not extra:
                self._probe_embeddings[key] = ProbeEmbeddings(sample.mean_pooled, sample.cls)
            else:
                model = self.model(checkpoint)
                info = model.info
                blocks = self._keeps_blocks(checkpoint or self.checkpoint)  # the layers section reads them
                found = model.pooled_features(
                    (normalise_batch(extra[i : i + BATCH], info.norm_mean, info.norm_std)
                     for i in range(0, len(extra), BATCH)),
                    blocks=blocks,
                )  # fmt: skip
                mean, cls = found[:2]
                self._probe_embeddings[key] = ProbeEmbeddings(
                    np.concatenate([sample.mean_pooled, mean]),
                    None if cls is None else np.concatenate([sample.cls, cls]),
                    found[2:] if blocks else None,
                )
        return self._probe_embeddings[key]

    def forget(self, checkpoint: CheckpointRef, keep_tokens: int) -> None:
        """Drop a measured checkpoint's cached encodings and predictions, keeping its pooled embeddings, its
        prediction errors and the patch tokens of the first `keep_tokens` sample images (what a sweep draws
        later): memory then stays flat however many checkpoints a report evaluates. The chosen checkpoint is
        never forgotten (the other sections read its encodings)."""
        if self._is_chosen(checkpoint):
            return
        key = str(checkpoint.path)
        self.features.forget(key)
        if key in self._embeddings:
            e = self._embeddings[key]
            self._embeddings[key] = ImageEmbeddings(e.mean_pooled, e.cls, e.patch_tokens[:keep_tokens].copy())

    def drop_encodings(self) -> None:
        """Drop every cached encoding, prediction, embedding and block reduction (the report calls it after the
        last pass that reads them, so the gradient flow and the loss landscape, which evaluate their own losses,
        do not carry them: ~0.1 GB for a ViT-B/16 with 32 images). A later request encodes again. The memory
        goes back to the system with the pipeline's release_free_memory after the pass, not here a second time."""
        self._features = None
        for kept in (self._embeddings, self._probe_embeddings, self._prediction_errors, self._block_outputs):
            kept.clear()
        self._block_parts.clear()

    # -- the float32 loss of each checkpoint on the fixed loss batch (gradient flow, the loss landscape) -------

    def batch_loss(self, checkpoint: CheckpointRef, batch_seed: int) -> float | None:
        """The float32 training loss of `checkpoint` on the report's fixed loss batch (dynamics/batch.py, its
        masks drawn with `batch_seed`) when a pass has already evaluated it, else None. Gradient flow's forward
        pass gives it for every checkpoint it visits; the loss landscape reads it for its float32 value at the
        stored weights and for the ends of each checkpoint interpolation (t = 0 and 1 are the checkpoints
        themselves) instead of running the networks on the same weights and batch again (a ViT-B/16 H-JEPA:
        ~7 s per loss on 2 CPU cores)."""
        return self._batch_losses.get((batch_seed, str(checkpoint.path)))

    def record_batch_loss(self, checkpoint: CheckpointRef, batch_seed: int, loss: float) -> None:
        """Keep the float32 loss a pass evaluated for `checkpoint` on the fixed loss batch (see batch_loss)."""
        self._batch_losses[(batch_seed, str(checkpoint.path))] = float(loss)

    # -- prediction errors per level (the predictions section and the representations checkpoint sweep) -----

    def prediction_errors(self, checkpoint: CheckpointRef | None = None) -> PredictionErrors:
        """The per-level prediction errors of a checkpoint (default the chosen one) on the sample images under
        the report's masks (representations.predictions.measure_levels on `predict`), once per report: the
        predictions section and the checkpoint sweep both read them, and a second read needs no network.

        Raises ReportError (remembered, like a failed load) when the predictor cannot run or the masks leave
        no predicted token."""
        import time

        from .representations.predictions import measure_levels

        key = str((checkpoint or self.checkpoint).path)
        if key not in self._prediction_errors:
            start = time.perf_counter()
            try:
                errors = measure_levels(self.model(checkpoint), self.predict(checkpoint))
            except ReportError as exc:
                self._prediction_errors[key] = exc
                raise
            errors.seconds = time.perf_counter() - start
            self._prediction_errors[key] = errors
        found = self._prediction_errors[key]
        if isinstance(found, ReportError):
            raise found
        return found

    # -- every block's output from one pass (artifact tokens; per-block probes) ------------------------------

    def block_checkpoints(self) -> list[CheckpointRef]:
        """The checkpoints whose every block the report measures, in epoch order: the chosen one and, when the
        layers section is built, up to LAYER_CHECKPOINTS spread evenly over the run's unique checkpoints
        (representations.checkpoints.spread_checkpoints). Their unmasked target pass of the sample images keeps
        every block's reductions (_keep_blocks) as it runs, so measuring their blocks needs no pass of its own."""
        from .representations.checkpoints import spread_checkpoints

        chosen = self.checkpoint
        if chosen is None:
            return []
        if not self.settings.wants("layers"):
            return [chosen]
        picked = spread_checkpoints(self.run.unique_checkpoints(), chosen, LAYER_CHECKPOINTS)
        if not any(self._is_chosen(r) for r in picked):
            picked.append(chosen)  # --checkpoint named one the spread left out
        return sorted(picked, key=lambda r: (r.epoch is None, r.epoch or 0, r.step or 0))

    def _keeps_blocks(self, ref: CheckpointRef) -> bool:
        return self._is_chosen(ref) or str(ref.path) in {str(r.path) for r in self.block_checkpoints()}

    def block_outputs(self, checkpoint: CheckpointRef | None = None) -> BlockOutputs:
        """Per-block patch-token norms, pooled features and the last block's attention maps of the sample images
        through a checkpoint's (default the chosen one's) target encoder, once per report and checkpoint: from the
        reductions its own unmasked target pass kept (block_checkpoints), else from ONE pass of its own with every
        block's output (representations.blocks.encode_blocks). Only the reductions are kept, never the block
        outputs themselves (ViT-B/16 on 32 images: 230 MB)."""
        ref = checkpoint or self.checkpoint
        key = str(ref.path)
        if key not in self._block_outputs:
            from .representations.blocks import assemble, encode_blocks

            ids = _image_ids(self.sample_images().paths)
            if self._is_chosen(ref):
                self.encode("target", ref)  # the report's one pass (cached), which kept the reductions
            label = self._block_labels.get(key)
            if label is not None and all((label, i) in self._block_parts for i in ids):
                parts = [self._block_parts[(label, i)] for i in ids]
                info, seconds = self._block_info[label], self._block_seconds[label]
                found = assemble(parts, info, "target", seconds, "the report's one pass")
            else:  # encoded before the session kept reductions, or never encoded: a pass of its own
                model = self.model(ref)
                self._progress(f"every block's output of the target encoder ({model.info.depth} blocks, one pass)")
                found = encode_blocks(model, self.sample_images().tensor, "target", BATCH)
            self._block_outputs[key] = found
        return self._block_outputs[key]

    def _keep_blocks(self, model, out, keys) -> None:
        """FeatureCache.block_sink: keep each image's block reductions from an unmasked target pass of one of
        block_checkpoints() (representations.blocks.reduce_output), so block_outputs needs no pass of its own."""
        import time

        from .representations.blocks import per_image, reduce_output

        start = time.perf_counter()
        label = model.info.checkpoint
        for key, parts in zip(keys, per_image(reduce_output(out, model.info)), strict=True):
            self._block_parts[(label, key[2])] = parts
        self._block_info[label] = model.info
        self._block_seconds[label] = self._block_seconds.get(label, 0.0) + time.perf_counter() - start


def _model_layout(run) -> str | None:
    """The checkpoint layout a run's own layout implies (stable-pretraining's Lightning checkpoints), else None:
    the loader then tells it from the checkpoint."""
    return "stable-pretraining" if getattr(run, "layout", None) == "stable-pretraining" else None


def _image_ids(paths) -> list[str]:
    """The names the feature cache stores sample images under."""
    return [str(p) for p in paths]


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
    queues = [
        list(np.array(group, dtype=object)[rng.permutation(len(group))])
        for _, group in sorted(by_label.items(), key=lambda kv: str(kv[0]))
    ]
    chosen: list = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen
