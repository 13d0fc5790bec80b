"""hjepa-report: one self-contained HTML report (+ report.json) for a JEPA training run."""

__version__ = "0.1.0"
