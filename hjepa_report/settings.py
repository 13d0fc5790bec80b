"""Report settings: every option of the command line, in one object the library functions take."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda")  # --device: auto = a CUDA device when torch sees one, else the CPU


@dataclass
class ReportSettings:
    """What to build and how. The CLI parses its options into one of these; notebooks make one directly."""

    output: Path | None = None  # report.html path; default RUN_DIR/../<run name>-report/report.html, see cli
    config: Path | None = None  # training config YAML given from outside the run dir
    images: Path | None = None  # folder of sample images (sub-folder names are class labels)
    checkpoint: Path | None = None  # the checkpoint model-based sections use (default: latest)
    sections: list[str] | None = None  # only these sections (None: all)
    skip: list[str] = field(default_factory=list)  # sections not to build
    layout: str | None = None  # force hjepa | ijepa | generic
    trust_checkpoints: bool = False  # allow full unpickling (can run code in the file)
    strict: bool = False  # a failing section makes the command fail
    quiet: bool = False
    smoothing: float = 0.6  # TensorBoard-style debiased EMA weight for curves
    seed: int = 0  # every random choice (masks, t-SNE, directions, image sampling) derives from it
    device: str = "auto"  # auto | cpu | cuda; resolved once per report by device_to_use()
    max_images: int = 64
    probe_images: int = 256  # labelled images for kNN / linear probe (features only; includes the sample images)
    encoder_heads: int | None = None
    predictor_heads: int | None = None
    model_factory: str | None = None  # "module:callable" escape hatch
    minimal: bool = False
    attention_encoder: str = "target"  # target | context: whose attention the attention section shows
    landscape_grid: int = 21  # points per axis of the loss-landscape grid asked for
    # The grid shrinks until grid^2 x the estimated FLOPs of one loss evaluation fit this budget, in TFLOP
    # (models/flops.py; None or 0: no limit). 25 gives a ViT-B/16 at batch 8 a 5x5 to 9x9 grid (1-3 min on
    # 2 CPU threads) and small models the full grid.
    landscape_tflop: float | None = 25.0
    landscape_seconds: float | None = None  # opt-in time limit (s), measured; the report says when it acted
    # auto: the big sweeps (loss landscape, LiDAR's augmented views) run under bfloat16 autocast where the
    # device has native bfloat16 and the sweep is large, with the error against float32 measured and stated
    # (analysis/precision.py); fp32: everything in float32
    precision: str = "auto"
    thresholds: dict[str, float] = field(default_factory=dict)  # health-check overrides (--thresholds FILE)
    fail_on: str | None = None  # warn | fail: exit non-zero when the verdict is at least this bad
    summary_md: Path | None = None  # write a PR-comment-sized Markdown summary here
    max_report_mb: float | None = None  # downscale figures until the HTML fits
    json_only: bool = False  # compute every number and check, draw no figure, write report.json only
    command_line: str = ""

    def wants(self, section: str) -> bool:
        """Tell whether a section is selected by --sections / --skip."""
        if section in self.skip:
            return False
        return self.sections is None or section in self.sections


def device_to_use(asked: str) -> str:
    """Resolve --device ('auto' -> 'cuda' when torch sees a CUDA device, else 'cpu'; 'cuda' without one is an
    error) with the model layer's one resolver, imported here so that `hjepa-report --help` needs no torch."""
    from .models.loading import resolve_device

    return str(resolve_device(asked))
