"""Which arithmetic the report's large sweeps use, and the error that choice makes, measured (issue 13).

The loss landscape (hundreds of loss evaluations) and LiDAR's augmented views (six encoder passes per sample
image) are sweeps: their figures show trends over many evaluations, not one number compared with the
original code. On a device with native bfloat16 (CPUs with AVX512-BF16 or AMX, recent GPUs) torch.autocast
runs their matrix products about 2x faster (2.6x on this project's 2-core AMD EPYC, a ViT-B/16 block).
That is allowed only measured: each sweep also evaluates a few of its points in float32 on the same inputs,
states the largest difference next to the figure, and falls back to float32 when the difference exceeds
TOLERANCE of what the figure shows (the landscape's loss range, the embeddings' norm). Small sweeps, and
--precision fp32, stay in float32; parity-critical outputs (attention, predictions, embeddings of the chosen
checkpoint, gradients) are always float32, and so is the checkpoint interpolation (landscape_section.py:
consecutive checkpoints can differ by less than bfloat16 resolves).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BF16_MIN_FLOPS = 2e12  # below ~2 TFLOP a sweep takes seconds in float32: keep it exact
TOLERANCE = 0.01  # the largest bfloat16 error allowed, as a fraction of the scale the figure shows


@dataclass
class Precision:
    """The arithmetic a sweep uses, why, and (once measured) its error against float32."""

    name: str  # "bf16" or "fp32"
    why: str
    checked: list[dict] = field(default_factory=list)  # points evaluated both ways: {"at", "bf16", "fp32"}
    max_error: float | None = None  # largest |bf16 - fp32| over the checked points
    scale: float | None = None  # what the error is compared with (the figure's range)
    scale_name: str = ""  # that scale in words
    fell_back: bool = False  # the error was above TOLERANCE x scale, so the sweep was redone in float32

    def measured(self, checked: list[dict], scale: float, scale_name: str) -> bool:
        """Record the points evaluated both ways and the scale the error is judged on (`scale_name`, e.g. the
        grid's loss range); return True when the error is within TOLERANCE x scale."""
        self.checked = checked
        self.max_error = max((abs(c["bf16"] - c["fp32"]) for c in checked), default=0.0)
        self.scale, self.scale_name = scale, scale_name
        return self.max_error <= TOLERANCE * scale

    def describe(self) -> str:
        """One sentence for captions."""
        if self.name == "fp32":
            return f"float32 ({self.why})"
        share = f"{self.max_error / self.scale:.2%} of {self.scale_name}, {self.scale:.3g}"
        err = f"; against float32 at {len(self.checked)} point(s): largest difference {self.max_error:.3g}"
        return f"bfloat16 autocast ({self.why}{err}, {share})"

    def as_dict(self) -> dict:
        """For report.json."""
        return {
            "precision": self.name,
            "why": self.why,
            "checked": self.checked,
            "max_error": self.max_error,
            "scale": self.scale,
            "scale_name": self.scale_name,
            "fell_back_to_fp32": self.fell_back,
            "tolerance": TOLERANCE,
        }


def sweep_precision(setting: str, model, fp32_flops: float) -> Precision:
    """Choose the arithmetic of a sweep costing about `fp32_flops`: bfloat16 under --precision auto when the
    sweep is large and the model's device has native bfloat16, else float32 with the reason."""
    if setting == "fp32":
        return Precision("fp32", "--precision fp32")
    if fp32_flops < BF16_MIN_FLOPS:
        return Precision("fp32", f"{fp32_flops / 1e12:.2g} TFLOP is small enough for float32")
    if not model.native_bf16():
        return Precision("fp32", f"{model.device.type} has no native bfloat16")
    return Precision("bf16", f"{fp32_flops / 1e12:.3g} TFLOP on a {model.device.type} with native bfloat16")


def fell_back(precision: Precision) -> Precision:
    """The float32 Precision a sweep is redone in after its measured bfloat16 error was too large."""
    share = f"{precision.max_error:.3g} ({precision.max_error / precision.scale:.1%} of {precision.scale_name})"
    out = Precision("fp32", f"bfloat16 differed from float32 by {share}, above {TOLERANCE:.0%}: redone")
    out.checked, out.max_error, out.scale = precision.checked, precision.max_error, precision.scale
    out.scale_name, out.fell_back = precision.scale_name, True
    return out
