"""The interactive charts' data in report.html: one <script type="application/json"> block, read by charts.js.

What goes in it (which figures, tags, downsampling) is decided on the analysis side (analysis/charts.py, through
Report.chart_doc); this module only serialises it so that no tag name can end the block.
"""

from __future__ import annotations

import json
from typing import Any


def script_json(doc: Any) -> str:
    """Serialise `doc` for a <script type="application/json"> block: no '<', '>' or '&' appears literally.

    A tag name such as '</script><script>alert(1)//' would otherwise end the block and run as code; written
    as \\u003c... it is the same JSON string to JSON.parse and inert to the HTML parser (the HTML spec's
    script-data state only ends at '</script'). U+2028/2029 are escaped as well for older JS parsers.
    """
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text
