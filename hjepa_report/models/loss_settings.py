"""How the run computed its training loss, read from its config the way the training code's factory reads it.

H-JEPA: src/losses/combined.py create_loss_from_config (jonwiggins/H-JEPA @ eb995a0) looks `loss.type` up in
a registry (default `combined`); each builder reads its own keys with its own defaults, which `loss_settings`
mirrors builder by builder (models/loss.py's docstring says what each computes). A type whose module the
trainer cannot call (src/trainers/trainer.py _train_step calls loss_fn(predictions=, targets=,
context_features=)) never trained a step: it raises UnsupportedLoss with that reason, as do unknown types.
I-JEPA (src/train.py) has one loss: smooth-L1 on layer-normed target tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ReportError
from .regularisers import Regulariser

TARGET_NORMS = ("projected", "layernorm")
DEFAULT_TYPE = "combined"  # create_loss_from_config's default loss.type
JEPA_TYPES = ("hjepa", "jepa", "smoothl1", "mse")
VICREG_TYPES = ("combined",)
SIGREG_TYPES = ("hjepa_sigreg", "sigreg_combined")
UNTRAINABLE = {  # loss.type -> why H-JEPA's trainer cannot have trained with it
    "sigreg": "SIGRegLoss.forward(z_a, z_b) takes no predictions / targets / context_features",
    "vicreg": "VICRegLoss.forward(z_a, z_b) takes no predictions / targets / context_features",
    "hierarchical_combined": "HierarchicalCombinedLoss.forward takes no context_features keyword",
    "cjepa": "ContrastiveJEPALoss.forward takes no context_features keyword",
    "contrastive_jepa": "ContrastiveJEPALoss.forward takes no context_features keyword",
}


class UnsupportedLoss(ReportError):
    """The run's loss cannot be reproduced (a type the trainer cannot call, or one unknown to H-JEPA)."""


@dataclass
class LossSettings:
    """How the run computed its loss, read from the config (see the module docstring)."""

    layout: str
    kind: str  # mse | smoothl1 | huber
    weights: list[float] = field(default_factory=list)  # per hierarchy level (H-JEPA)
    normalize: bool = False
    target_norm: str = "projected"  # projected (H-JEPA) | layernorm (config loss.target_norm)
    notes: list[str] = field(default_factory=list)
    loss_type: str = ""  # the config's loss.type (H-JEPA), e.g. combined
    detach_targets: bool = True  # stop-gradient on the targets (HJEPALoss detach_targets)
    regulariser: Regulariser | None = None  # VICReg / SIGReg on the context output
    seed: int = 0  # the seed of SIGReg's random directions (the run drew new ones every step)

    def describe(self) -> str:
        """One line for captions: the loss formula with its settings."""
        if self.layout == "ijepa":
            return "smooth-L1 on layer-normed target tokens (I-JEPA src/train.py)"
        norm = ", L2-normalised" if self.normalize else ""
        targets = "" if self.target_norm == "projected" else "; targets: layer-normed target tokens, pooled"
        grad = "" if self.detach_targets else "; targets not detached (gradient through both branches)"
        text = f"sum_l w_l {self.kind}(pred_l, target_l){norm}, w = {self.weights} (H-JEPA HJEPALoss){targets}{grad}"
        if self.regulariser is not None:
            text += f" + {self.regulariser.describe()}"
            if self.regulariser.kind == "sigreg":
                text += f" (direction seed {self.seed})"
        return text

    @property
    def names(self) -> list[str]:
        """The loss components this loss logs besides loss_h* (H-JEPA's names)."""
        if self.regulariser is None:
            return []
        if self.regulariser.kind == "vicreg":
            return ["jepa_loss", "vicreg_loss", "vicreg_encoder", "vicreg_invariance", "vicreg_variance",
                    "vicreg_covariance"]  # fmt: skip
        return ["jepa_loss", "sigreg_loss", "sigreg_invariance"]


def loss_settings(config: dict | None, layout: str, num_levels: int = 1, seed: int = 0) -> LossSettings:
    """Read the loss the trainer built from the config (see the module docstring); seed: SIGReg's directions."""
    if layout == "ijepa":
        return LossSettings(layout="ijepa", kind="smoothl1", loss_type="ijepa")
    if layout == "stable-pretraining":  # models/stable_pretraining_model.py rebuilds the backbone only
        raise UnsupportedLoss(
            "a stable-pretraining method's loss (LeJEPA: invariance across augmented views + lambda x SIGReg, "
            "through its projector) is not reproduced; only its backbone is rebuilt"
        )
    from .config import loss_target_norm

    loss = dict((config or {}).get("loss") or {})
    notes = [] if config and "loss" in config else ["the config has no loss section: H-JEPA's defaults are used"]
    declared = str(loss.get("type", DEFAULT_TYPE)).lower()
    if declared in UNTRAINABLE:
        raise UnsupportedLoss(
            f"loss.type {declared!r} cannot have trained with H-JEPA's trainer: {UNTRAINABLE[declared]}"
        )
    if declared not in JEPA_TYPES + VICREG_TYPES + SIGREG_TYPES:
        raise UnsupportedLoss(f"loss.type {declared!r} is not a loss H-JEPA knows (src/losses/combined.py registry)")
    if declared in JEPA_TYPES and loss.get("use_contrastive"):
        raise UnsupportedLoss(f"loss.use_contrastive wraps the loss in ContrastiveJEPALoss, {UNTRAINABLE['cjepa']}")
    default_kind = declared if declared in ("smoothl1", "mse") else "smoothl1"
    kind = str(loss.get("jepa_loss_type", default_kind)).lower()
    if kind not in ("mse", "smoothl1", "huber"):
        raise UnsupportedLoss(f"loss.jepa_loss_type {kind!r}: HJEPALoss accepts mse, smoothl1, huber")
    return LossSettings(
        layout="hjepa",
        kind=kind,
        weights=_level_weights(loss.get("hierarchy_weights", 1.0), num_levels, "loss.hierarchy_weights"),
        normalize=bool(loss.get("normalize_embeddings", True)),
        target_norm=loss_target_norm(config),
        notes=notes,
        loss_type=declared,
        detach_targets=True if declared in VICREG_TYPES else bool(loss.get("detach_targets", True)),
        regulariser=_regulariser(declared, loss, num_levels),
        seed=seed,
    )


def _level_weights(value, num_levels: int, key: str) -> list[float]:
    weights = [float(value)] * num_levels if isinstance(value, (int, float)) else [float(w) for w in value]
    if len(weights) != num_levels:
        raise UnsupportedLoss(f"{key} has {len(weights)} entries for {num_levels} levels")
    return weights


def _regulariser(declared: str, loss: dict, num_levels: int) -> Regulariser | None:
    """The builder's regulariser with the builder's defaults (combined.py _build_combined / _build_hjepa_sigreg)."""
    if declared in VICREG_TYPES:
        weights = _level_weights(loss.get("vicreg_weight", 0.1), num_levels, "loss.vicreg_weight")
        params = {
            "invariance": float(loss.get("vicreg_invariance_weight", 25.0)),
            "variance": float(loss.get("vicreg_variance_weight", 25.0)),
            "covariance": float(loss.get("vicreg_covariance_weight", 1.0)),
            "gamma": 1.0,  # _build_combined passes no variance threshold
            "eps": 1e-8,  # CombinedLoss passes its own eps to VICRegLoss
            "flatten": True,
        }
        return Regulariser("vicreg", weights[0], params)  # the context-features branch uses level 0's weight
    if declared in SIGREG_TYPES:
        params = {
            "num_slices": int(loss.get("sigreg_num_slices", 1024)),
            "num_points": int(loss.get("sigreg_num_test_points", 17)),
            "eps": float(loss.get("eps", 1e-6)),
            "flatten": bool(loss.get("flatten_patches", True)),
            "fixed_slices": bool(loss.get("sigreg_fixed_slices", False)),
            "test_method": str(loss.get("sigreg_test_method", "reference_points")),
            "t_min": float(loss.get("sigreg_char_function_t_min", 0.2)),
            "t_max": float(loss.get("sigreg_char_function_t_max", 4.0)),
            "num_quadrature": int(loss.get("sigreg_char_function_num_quadrature", 32)),
            "lambda": float(loss.get("sigreg_char_function_lambda", 1.0)),
        }
        if params["test_method"] not in ("reference_points", "char_function"):
            raise UnsupportedLoss(f"loss.sigreg_test_method {params['test_method']!r} is not an Epps-Pulley variant")
        return Regulariser("sigreg", float(loss.get("sigreg_loss_weight", 1.0)), params)
    return None
