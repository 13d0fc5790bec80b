"""The notebook side: examples/demo.ipynb is committed without outputs and executes top to bottom (nbclient, no
network), and a Section or a Report shows inline in Jupyter through `_repr_html_` (autoescaped, self-contained,
figures inlined)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hjepa_report.pipeline  # noqa: F401 - installs the notebook HTML, as every Report's maker does
from hjepa_report.analysis.base import Check, FigureItem, Picture, Section, Table

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "demo.ipynb"
HOSTILE = '<script>alert("x")</script>'


def _section() -> Section:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    picture = np.zeros((8, 12, 3), np.uint8)
    picture[:, :6] = 255
    return Section(
        "attention",
        f"Attention {HOSTILE}",
        intro="Where the encoder looks & why.",
        figures=[
            FigureItem("attention-a", "A plot", f"caption {HOSTILE}", fig),
            FigureItem("attention-b", "A picture", "half white", Picture(picture)),
        ],
        tables=[Table("attention-t", "Numbers", ["head", "value"], [[0, 0.123456], [1, None]])],
        checks=[Check("attention-finite", "warn", f"detail {HOSTILE}")],
        notes=["one note"],
    )


def _images(html: str) -> list[tuple[str, bytes]]:
    return [(m, base64.b64decode(d)) for m, d in re.findall(r'src="data:([^;"]+);base64,([^"]+)"', html)]


def test_section_shows_inline_escaped_and_self_contained():
    html = _section()._repr_html_()
    assert HOSTILE not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<script" not in html and "http" not in html  # no script, no link to anything outside the cell
    assert "Where the encoder looks &amp; why." in html
    assert "badge b-warn" in html and "0.1235" in html and "<td>-</td>" in html  # the report's cell format
    (png_mime, png), (pic_mime, pic) = _images(html)
    assert png_mime == "image/png" and png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(pic)) as im:  # the picture itself, pixel for pixel (small: PNG, lossless)
        assert pic_mime == "image/png" and im.size == (12, 8)
        assert np.array_equal(np.asarray(im.convert("RGB")), _section().figures[1].content.array)


def test_report_shows_verdict_and_every_section(tmp_path):
    from hjepa_report import ReportSettings, build_report

    settings = ReportSettings(sections=["overview", "log-health", "training"], seed=0)
    report = build_report(ROOT / "tests" / "fixtures" / "hjepa_small", settings)
    html = report._repr_html_()
    assert f"badge b-{report.verdict()}" in html
    for section in report.sections:
        assert f"<code>{section.name}</code>" in html
        for check in section.checks:
            assert check.name in html
    assert "data:" not in html  # the whole report without figures; a section brings its own
    training = report.section("training")._repr_html_()
    assert len(_images(training)) == len(report.section("training").figures) > 0


def test_committed_notebook_has_no_outputs():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code"
    assert all(c.outputs == [] and c.execution_count is None for c in code), "strip the outputs before committing"


@pytest.mark.slow
def test_notebook_executes_top_to_bottom(tmp_path):
    """Run every cell in a fresh kernel, from a scratch folder, as CI does; an error in any cell fails here."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert 'class="hjepa-nb"' in shown  # a section shown inline through _repr_html_
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 5  # masking, attention, predictions, representations, dynamics
