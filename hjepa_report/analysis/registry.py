"""The list of analysis passes; their order here is their order in the report. Add a pass here and the
contract tests (tests/test_registry.py) cover it."""

from __future__ import annotations

from importlib import import_module

from .base import AnalysisPass

# "module:Class" relative to hjepa_report.analysis; imported lazily so --help stays instant.
PASSES = [
    "overview:OverviewPass",
    "modelcard:ModelCardPass",
    "loghealth:LogHealthPass",
    "training:TrainingPass",
    "dynamics.hierarchy_section:HierarchyLossPass",
    "dynamics.schedules_section:SchedulesPass",
    "masking.section:MaskingPass",
    "attention.section:AttentionPass",
    "representations.prediction_section:PredictionsPass",
    "representations.embedding_section:RepresentationsPass",
    "representations.artifact_section:ArtifactTokensPass",
    "representations.retrieval_section:PatchRetrievalPass",
    "representations.layers_section:LayersPass",
    "dynamics.gradient_section:GradientFlowPass",
    "dynamics.landscape_section:LandscapePass",
]


def all_passes() -> list[AnalysisPass]:
    """Instantiate every registered pass, in report order."""
    passes = []
    for spec in PASSES:
        module, _, cls = spec.partition(":")
        passes.append(getattr(import_module(f"{__package__}.{module}"), cls)())
    return passes


def pass_names() -> list[str]:
    """Return the names accepted by --sections / --skip."""
    return [p.name for p in all_passes()]
