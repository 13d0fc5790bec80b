"""`hjepa-report compare`: one self-contained page (plus compare.json) comparing runs that were already reported.

A pipeline of its own, from the files hjepa-report wrote: reader.py reads each run's report.json and its
figures file, analysis.py and curves.py compute the rows, deltas and overlaid curves, page.py turns them into
view objects and render/compare.py into HTML. Nothing here parses report.html.
"""

from .pipeline import build_comparison
from .reader import find_report_json, load_report_json

__all__ = ["build_comparison", "find_report_json", "load_report_json"]
