"""The analysed report: what the renderer turns into report.html and report.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..collect.run import Run
from ..settings import ReportSettings
from ..status import verdict
from .base import Check, Section, notebook_html


@dataclass
class Report:
    """A run plus its analysed sections, ready to render."""

    run: Run
    settings: ReportSettings
    sections: list[Section]
    created_at: str  # ISO 8601, UTC
    version: str
    seconds: float = 0.0
    model_info: dict | None = None
    device: str = "cpu"  # where the networks ran: settings.device with "auto" resolved
    network_passes: dict = field(default_factory=dict)  # models.meter.PassMeter.summary(): the compute floor
    extra: dict = field(default_factory=dict)
    # render.encoding.FigureEncoder that build_report handed each finished section's figures to, so they are
    # encoded on the other cores while later sections compute; write_report collects them. None: encode then.
    figure_encoder: Any = field(default=None, repr=False, compare=False)

    def checks(self) -> list[tuple[Section, Check]]:
        """Return every health check of every section, in section order."""
        return [(s, c) for s in self.sections for c in s.checks]

    def verdict(self) -> str:
        """Return the overall verdict: the worst check status (fail > warn > pass), 'pass' when all skipped."""
        return verdict(c.status for _, c in self.checks())

    def section(self, name: str) -> Section | None:
        """Return the section called `name`, if it was built."""
        return next((s for s in self.sections if s.name == name), None)

    def chart_doc(self, figure_ids: set[str]) -> dict[str, Any] | None:
        """The interactive charts' data for these figures (analysis/charts.py), None when none has any."""
        from .charts import chart_doc

        return chart_doc(self, figure_ids)

    def _repr_html_(self) -> str | None:
        """Show the verdict and every section's status and checks inline in a notebook (render/notebook.py)."""
        return notebook_html("report", self)
