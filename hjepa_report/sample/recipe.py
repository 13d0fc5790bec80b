"""The sample run's training recipe, and its config.yaml in the public H-JEPA schema.

One frozen dataclass holds every hyperparameter; `hjepa_config` writes it with the section and key names of
H-JEPA's configs/default.yaml (experiment / model / data / masking / training / loss / checkpoint / logging),
so the report reads the sample exactly as it reads a real H-JEPA run. Keys that the sample adds beyond that
schema are named in `SAMPLE_ONLY_KEYS` and explained in the sample run's README.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Not in H-JEPA's schema: model.num_heads (the encoder name is not a stock timm model, so the head count
# cannot come from the name), data.sample / data.normalize (how the procedural data were made and normalised)
# and sample_recipe (the full recipe, so the run can be rebuilt and re-evaluated).
SAMPLE_ONLY_KEYS = (
    "model.num_heads",
    "data.sample",
    "data.normalize",
    "data.augmentation.crop_scale",
    "loss.target_norm",
    "sample_recipe",
)


@dataclass(frozen=True)
class SampleRecipe:
    """Every choice of the sample run. Defaults are the committed run's recipe."""

    name: str = "hjepa_shapes64"
    seed: int = 0
    epochs: int = 24
    train_per_class: int = 240
    val_per_class: int = 40
    object_radius: tuple[float, float] = (0.3, 0.45)
    palette: str = "grey"
    backgrounds: tuple[str, ...] = ("solid",)
    batch_size: int = 16
    image_size: int = 64
    patch_size: int = 8
    embed_dim: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    predictor_depth: int = 2
    predictor_heads: int = 4
    predictor_mlp_ratio: float = 2.0
    num_levels: int = 3
    hierarchy_weights: tuple[float, ...] = (1.0, 0.5, 0.25)
    target_norm: str = "layernorm"
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_epochs: int = 1
    clip_grad: float = 3.0
    ema_start: float = 0.99
    ema_end: float = 1.0
    ema_warmup_steps: int = 0
    num_masks: int = 4
    mask_scale: tuple[float, float] = (0.15, 0.2)
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    crop_scale: tuple[float, float] = (0.7, 1.0)
    horizontal_flip: bool = True
    save_every: int = 6
    log_every: int = 5
    knn_k: int = 5
    knn_bank_per_class: int = 60
    eval_per_class: int = 100
    images_per_class: int = 32  # 256 sample images: enough for the report's kNN to tell this run from chance
    threads: int = 2

    @classmethod
    def quick(cls, **changes) -> SampleRecipe:
        """Return a tiny recipe (seconds on a CPU) for tests: same code path, 1 epoch, small model and data."""
        small = dict(
            name="hjepa_shapes64_quick",
            epochs=1,
            train_per_class=8,
            val_per_class=4,
            batch_size=16,
            embed_dim=32,
            depth=2,
            num_heads=2,
            predictor_depth=1,
            predictor_heads=2,
            save_every=1,
            log_every=1,
            knn_bank_per_class=4,
            eval_per_class=4,
            images_per_class=2,
        )
        small.update(changes)
        return cls(**small)

    def with_changes(self, **changes) -> SampleRecipe:
        """Return a copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def shape_settings(self) -> dict:
        """Keyword arguments of data.make_shape_set that the recipe fixes (every set of the run uses them)."""
        return dict(radius=self.object_radius, palette=self.palette, backgrounds=self.backgrounds)

    @property
    def encoder_type(self) -> str:
        """A timm-style model name that states the patch and image size (not a stock timm model)."""
        return f"vit_micro_patch{self.patch_size}_{self.image_size}"

    def encoder_kwargs(self) -> dict:
        """Arguments of hjepa_report.models.vit.VisionTransformer for both encoders (timm defaults otherwise)."""
        return dict(
            img_size=self.image_size,
            patch_size=self.patch_size,
            embed_dim=self.embed_dim,
            depth=self.depth,
            num_heads=self.num_heads,
            mlp_ratio=self.mlp_ratio,
        )


def hjepa_config(recipe: SampleRecipe, steps_per_epoch: int) -> dict:
    """Return the run's config.yaml content in H-JEPA's schema (configs/default.yaml of the public code)."""
    r = recipe
    return {
        "experiment": {"name": r.name, "seed": r.seed, "output_dir": "."},
        "model": {
            "encoder_type": r.encoder_type,
            "embed_dim": r.embed_dim,
            "num_heads": r.num_heads,
            "num_hierarchies": r.num_levels,
            "predictor": {
                "depth": r.predictor_depth,
                "num_heads": r.predictor_heads,
                "mlp_ratio": r.predictor_mlp_ratio,
            },
            "ema": {
                "momentum": r.ema_start,
                "momentum_end": r.ema_end,
                "momentum_warmup_epochs": r.ema_warmup_steps // max(1, steps_per_epoch),
            },
            "rope": {"use_rope": False, "theta": 10000.0},
            "use_flash_attention": True,
            "fpn": {"use_fpn": False, "feature_dim": None, "fusion_method": "add"},
        },
        "data": {
            "dataset": "procedural_shapes",
            "data_path": None,
            "image_size": r.image_size,
            "batch_size": r.batch_size,
            "num_workers": 0,
            "pin_memory": False,
            "augmentation": {
                "color_jitter": 0.0,
                "horizontal_flip": r.horizontal_flip,
                "random_crop": True,
                "crop_scale": list(r.crop_scale),
            },
            "normalize": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
            "sample": {
                "generator": "hjepa_report.sample.data.make_shape_set",
                "train_per_class": r.train_per_class,
                "val_per_class": r.val_per_class,
                "object_radius": list(r.object_radius),
                "palette": r.palette,
                "backgrounds": list(r.backgrounds),
            },
        },
        "masking": {
            "num_masks": r.num_masks,
            "mask_scale": list(r.mask_scale),
            "aspect_ratio": list(r.aspect_ratio),
            "num_context_masks": 1,
            "context_scale": [0.85, 1.0],
        },
        "training": {
            "epochs": r.epochs,
            "warmup_epochs": r.warmup_epochs,
            "lr": r.lr,
            "min_lr": r.min_lr,
            "scheduler_params": {"min_lr": r.min_lr},
            "weight_decay": r.weight_decay,
            "optimizer": "adamw",
            "betas": list(r.betas),
            "lr_schedule": "cosine",
            "clip_grad": r.clip_grad,
            "use_amp": False,
            "accumulation_steps": 1,
            "use_gradient_checkpointing": False,
            "ema_momentum_schedule": {"start": r.ema_start, "end": r.ema_end, "warmup_steps": r.ema_warmup_steps},
            "online_eval": {
                "enabled": True,
                "frequency": 1,
                "type": "knn",
                "k": r.knn_k,
                "max_samples": r.knn_bank_per_class * 8,
            },
            "early_stopping": {"enabled": False},
        },
        "loss": loss_section(r),
        "checkpoint": {
            "save_frequency": r.save_every,
            "keep_best_n": r.epochs,
            "checkpoint_dir": "checkpoints",
            "metric": "val_loss",
            "mode": "min",
            "resume": None,
        },
        "logging": {
            "experiment_name": r.name,
            "log_dir": "logs",
            "log_frequency": 1,
            "wandb": {"enabled": False, "project": "h-jepa", "entity": None, "tags": ["cpu", "sample"]},
            "tensorboard": {"enabled": True},
        },
        "distributed": {"enabled": False, "backend": "nccl", "world_size": 1},
        "evaluation": {"eval_frequency": 1, "linear_probe": {"enabled": False}},
        "seed": r.seed,
        "device": "cpu",
        "sample_recipe": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(r).items()},
    }


def loss_section(recipe: SampleRecipe) -> dict:
    """The config's loss section: H-JEPA's HJEPALoss with type mse, the recipe's level weights, no embedding
    normalisation, and the recipe's target_norm. The trainer reads its loss from this same section
    (models.loss.loss_settings), so what the config records is what trained."""
    return {
        "type": "mse",
        "hierarchy_weights": list(recipe.hierarchy_weights),
        "normalize_embeddings": False,
        "target_norm": recipe.target_norm,
    }


def recipe_from_config(config: dict) -> SampleRecipe:
    """Rebuild the recipe from a sample run's config.yaml (its `sample_recipe` section)."""
    fields = dict(config["sample_recipe"])
    known = SampleRecipe.__dataclass_fields__
    return SampleRecipe(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items() if k in known})
