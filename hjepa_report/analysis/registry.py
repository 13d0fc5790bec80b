"""The list of analysis passes, in report order. Add a pass here and the contract tests cover it."""

from __future__ import annotations

from importlib import import_module

from .base import AnalysisPass

# "module:Class" relative to hjepa_report.analysis; imported lazily so --help stays instant.
PASSES = [
    "overview:OverviewPass",
    "modelcard:ModelCardPass",
    "loghealth:LogHealthPass",
    "training:TrainingPass",
    "masking.section:MaskingPass",
]


def all_passes() -> list[AnalysisPass]:
    """Instantiate every registered pass, sorted by its `order`."""
    passes = []
    for spec in PASSES:
        module, _, cls = spec.partition(":")
        passes.append(getattr(import_module(f"{__package__}.{module}"), cls)())
    return sorted(passes, key=lambda p: p.order)


def pass_names() -> list[str]:
    """Return the names accepted by --sections / --skip."""
    return [p.name for p in all_passes()]
