"""How a report and its sections show inline in a Jupyter notebook (IPython's `_repr_html_`).

`Section._repr_html_` and `Report._repr_html_` (analysis/base.py, analysis/report.py) call the functions this
module installs in `analysis.base.NOTEBOOK_HTML` when it is imported (the pipeline imports it, and every Report
comes from the pipeline), so the analysis layer never imports the render layer above it.

The HTML is one autoescaped fragment (Jinja2, as report.html), self-contained: a scoped style, every figure
inlined as a `data:` URI (render/assets.py, the one place that encodes them), no script, no network request.
A section shows its figures; the whole report shows its verdict, checks and sections without figures (a full
report's figures are megabytes: show one section with `report.section(name)`).
"""

from __future__ import annotations

from functools import lru_cache

from ..analysis import base
from ..analysis.base import Section
from ..analysis.report import Report
from ..status import status_rank

STYLE = """
.hjepa-nb { font: 14px/1.45 system-ui, sans-serif; max-width: 1100px; }
.hjepa-nb .badge { display: inline-block; font-size: 11px; font-weight: 600; text-transform: uppercase;
  padding: 0 7px; border-radius: 9px; color: #fff; background: #6b7280; }
.hjepa-nb .b-pass, .hjepa-nb .b-ok { background: #1e7d45; } .hjepa-nb .b-warn { background: #a35f00; }
.hjepa-nb .b-fail, .hjepa-nb .b-error { background: #b3261e; }
.hjepa-nb figure { margin: 12px 0; } .hjepa-nb img { max-width: 100%; height: auto; }
.hjepa-nb figcaption { font-size: 12px; opacity: .8; } .hjepa-nb table { border-collapse: collapse; }
.hjepa-nb td, .hjepa-nb th { border: 1px solid #8884; padding: 2px 6px; font-size: 12px; text-align: left; }
"""

SECTION = """\
<div class="hjepa-nb"><style>{{ style }}</style>
<h3>{{ s.title }} <span class="badge b-{{ s.status }}">{{ s.status }}</span></h3>
{% if s.message %}<p><b>{{ s.message }}</b></p>{% endif %}
{% if s.intro %}<p>{{ s.intro }}</p>{% endif %}
{% if s.error %}<p>{{ s.error.what }} {{ s.error.hint }}</p><pre>{{ s.error.traceback }}</pre>{% endif %}
{% if s.checks %}<ul>{% for c in s.checks %}
<li><span class="badge b-{{ c.status }}">{{ c.status }}</span> <b>{{ c.name }}</b>: {{ c.detail }}</li>
{% endfor %}</ul>{% endif %}
{% for f in figures %}<figure id="{{ f.id }}"><figcaption><b>{{ f.title }}</b></figcaption>
<img src="{{ f.uri }}" alt="{{ f.title }}"><figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}
{% for t, cells in tables %}<p><b>{{ t.title }}</b></p>
<table><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in cells %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</table>
{% if t.caption %}<p><small>{{ t.caption }}</small></p>{% endif %}{% endfor %}
{% if s.notes %}<ul>{% for n in s.notes %}<li><small>{{ n }}</small></li>{% endfor %}</ul>{% endif %}
</div>"""

REPORT = """\
<div class="hjepa-nb"><style>{{ style }}</style>
<h3>{{ r.run.name }}: JEPA run report <span class="badge b-{{ verdict }}">{{ verdict }}</span></h3>
<p>{{ r.run.layout }} run at <code>{{ r.run.root }}</code>, seed {{ r.settings.seed }}, networks on {{ r.device }},
{{ '%.1f' % r.seconds }} s. Show a section with its figures: <code>report.section("name")</code>.</p>
<table><tr><th>section</th><th>status</th><th>checks</th><th>message</th></tr>
{% for s, checks in rows %}<tr><td>{{ s.title }} (<code>{{ s.name }}</code>)</td>
<td><span class="badge b-{{ s.status }}">{{ s.status }}</span></td>
<td>{% for c in checks %}<span class="badge b-{{ c.status }}">{{ c.status }}</span>
{{ c.name }}<br>{% endfor %}</td><td>{{ s.message }}</td></tr>{% endfor %}</table>
</div>"""


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def section_html(section: Section) -> str:
    """Return `section` as one self-contained HTML fragment: its checks, figures (data: URIs) and tables."""
    from .views import encode_figure, format_cell

    figures = [encode_figure(item) for item in section.figures]
    tables = [(t, [[format_cell(v) for v in row] for row in t.rows]) for t in section.tables]
    template = _environment().from_string(SECTION)
    return template.render(s=section, figures=figures, tables=tables, style=STYLE)


def report_html(report: Report) -> str:
    """Return the report's verdict and one row per section (status, checks worst first), without figures."""
    rows = [
        (s, sorted(s.checks, key=lambda c: status_rank(c.status)))  # worst first, as the report's verdict list
        for s in report.sections
    ]
    template = _environment().from_string(REPORT)
    return template.render(r=report, rows=rows, verdict=report.verdict(), style=STYLE)


base.NOTEBOOK_HTML.update(section=section_html, report=report_html)
