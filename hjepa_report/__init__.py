"""hjepa-report: one self-contained HTML report (+ report.json) for a JEPA training run.

Notebook use: `hjepa_report.generate(run_dir)` builds and writes a report; `build_report` / `write_report`
split the two steps; `collect_run` reads a run directory; `ReportSettings` holds every option of the CLI.
"""

__version__ = "0.1.0"

_LAZY = {
    "generate": ("pipeline", "generate"),
    "build_report": ("pipeline", "build_report"),
    "write_report": ("pipeline", "write_report"),
    "collect_run": ("collect", "collect_run"),
    "ReportSettings": ("settings", "ReportSettings"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    """Import the public entry points on first use, so `hjepa-report --help` stays instant."""
    if name not in _LAZY:
        raise AttributeError(f"module 'hjepa_report' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
