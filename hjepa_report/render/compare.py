"""`hjepa-report compare`: one self-contained HTML page (plus compare.json) comparing already-reported runs.

Works from the runs' report.json files, so every report ever written can be compared, with:
- verdicts and every health check side by side;
- the key metrics (see summary.key_metrics) and the last logged value of every tag the runs share, with the
  difference to the first run (the baseline);
- overlaid curves of the shared tags. report.json keeps only first/last/min/max per tag, so the curves are
  re-read from the run directories named in report.json (`run.path`) with the collector; a run directory
  that is gone is named in one line and its curves are left out;
- the masking and attention figures side by side. They are taken from each report.html by figure id
  (`<figure id="masking-...">` / `<figure id="attention-...">`, the ids listed in report.json's
  `sections[].figures[].id`): the first <img> inside that element holds the figure as a data: URI.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

from ..errors import ReportError
from .summary import format_value, key_metrics
from .write import write_atomic

SIDE_BY_SIDE_SECTIONS = ("masking", "attention")
MAX_CURVE_TAGS = 48
PANELS_PER_FIGURE = 6
COMPARE_SCHEMA = "compare-1.0"


@dataclass
class ReportedRun:
    """One run's report as read back from disk."""

    label: str
    json_path: Path
    doc: dict

    @property
    def html_path(self) -> Path:
        """Return report.html next to report.json (or NAME.html next to NAME.json)."""
        name = "report.html" if self.json_path.name == "report.json" else self.json_path.stem + ".html"
        return self.json_path.with_name(name)


@dataclass
class Comparison:
    """What the compare page shows: plain data; figure images as data: URIs."""

    runs: list[ReportedRun]
    data: dict  # the content of compare.json
    curves: list[dict] = field(default_factory=list)  # {"title", "caption", "uri"}
    side_by_side: list[dict] = field(default_factory=list)  # {"id", "title", "cells": [uri or None]}


def find_report_json(source: Path) -> Path:
    """Return the report.json for `source`: a report.json file, a report folder or a reported run directory.

    A run directory's report is looked for at the default output location ./reports/<run name>/report.json.
    """
    from ..pipeline import default_output

    source = Path(source)
    if source.is_file():
        return source
    candidates = [source / "report.json", default_output(source).with_name("report.json")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ReportError(f"no report found for {source}: looked for {' and '.join(map(str, candidates))}; "
                      f"build it first with `hjepa-report {source}` or pass the report.json")


def load_report_json(path: Path) -> dict:
    """Read a report.json written by hjepa-report; raise ReportError for unreadable or foreign files."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    return check_report_doc(doc, path)


def check_report_doc(doc, path: Path) -> dict:
    """Return `doc` when it is a report.json document of hjepa-report; raise ReportError naming `path` if not."""
    if not (isinstance(doc, dict) and isinstance(doc.get("tool"), dict)
            and doc["tool"].get("name") == "hjepa-report" and isinstance(doc.get("run"), dict)
            and "sections" in doc):
        raise ReportError(f"{path} is not a report.json written by hjepa-report")
    return doc


def build_comparison(sources: list[Path], out_html: Path, *, labels: list[str] | None = None) -> Path:
    """Compare the reports of `sources` (the first is the baseline); write out_html and compare.json beside it."""
    if len(sources) < 2:
        raise ReportError("compare needs at least two runs or reports")
    if labels is not None and len(labels) != len(sources):
        raise ReportError(f"{len(labels)} labels given for {len(sources)} runs")
    paths = [find_report_json(Path(s)) for s in sources]
    docs = [load_report_json(p) for p in paths]
    names = labels or [str(d["run"].get("name") or p.parent.name) for d, p in zip(docs, paths)]
    runs = [ReportedRun(label, path, doc) for label, path, doc in zip(_unique(names), paths, docs)]
    out_html = Path(out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        out_html = out_html / "compare.html"
    comparison = compare_runs(runs)
    for entry, run in zip(comparison.data["runs"], runs):
        entry["link"] = relative_link(run.html_path, out_html.parent)
    write_atomic({out_html: render_comparison(comparison),
                  out_html.with_suffix(".json"): json.dumps(comparison.data, indent=1, allow_nan=False)})
    return out_html


def compare_runs(runs: list[ReportedRun]) -> Comparison:
    """Assemble the comparison: tables, curve figures and side-by-side figures."""
    notes: list[str] = []
    shared = _shared_tags(runs)
    curves, curve_info = curve_figures(runs, shared, notes)
    side, side_info = side_by_side_figures(runs, notes)
    data = {
        "schema": COMPARE_SCHEMA, "kind": "comparison", "tool": {"name": "hjepa-report"},
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "baseline": runs[0].label,
        "runs": [_run_entry(r) for r in runs],
        "metrics": metric_rows(runs), "checks": check_rows(runs), "scalars": scalar_rows(runs, shared),
        "curves": curve_info, "figures": side_info, "notes": notes,
    }
    return Comparison(runs, data, curves, side)


def metric_rows(runs: list[ReportedRun]) -> list[dict]:
    """One row per key metric: each run's value and its difference to the baseline (None where missing)."""
    per_run = [{m.key: m for m in key_metrics(r.doc)} for r in runs]
    order = list(dict.fromkeys(k for metrics in per_run for k in metrics))
    rows = []
    for key in order:
        first = next(m[key] for m in per_run if key in m)
        values = [m[key].value if key in m else None for m in per_run]
        rows.append({"key": key, "label": first.label, "better": first.better, "values": values,
                     "deltas": [_delta(values[0], v) for v in values]})
    return rows


def check_rows(runs: list[ReportedRun]) -> list[dict]:
    """One row per health check (section/name) in any run: each run's status and value, worst first."""
    keyed: dict[tuple[str, str], list] = {}
    for i, run in enumerate(runs):
        for check in (run.doc.get("health") or {}).get("checks") or []:
            key = (str(check.get("section")), str(check.get("name")))
            keyed.setdefault(key, [None] * len(runs))[i] = check
    rank = {"fail": 0, "warn": 1, "pass": 2, "skip": 3}
    rows = [{"section": s, "name": n, "statuses": [c.get("status") if c else None for c in checks],
             "details": [c.get("detail") if c else None for c in checks]} for (s, n), checks in keyed.items()]
    for row in rows:
        row["changed"] = len({st for st in row["statuses"]}) > 1
    return sorted(rows, key=lambda r: min(rank.get(st, 4) for st in r["statuses"]))


def scalar_rows(runs: list[ReportedRun], tags: list[str]) -> list[dict]:
    """Last logged value of every shared tag per run, with the difference to the baseline."""
    rows = []
    for tag in tags:
        values = [_finite((r.doc.get("scalars") or {}).get(tag, {}).get("last")) for r in runs]
        rows.append({"tag": tag, "last": values, "deltas": [_delta(values[0], v) for v in values]})
    return rows


def curve_figures(runs: list[ReportedRun], tags: list[str], notes: list[str]) -> tuple[list[dict], dict]:
    """Overlay the shared tags' curves of the runs whose directories still exist; return figures and facts."""
    from ..analysis.training import tag_group

    tables, missing = read_scalars(runs)
    weight = float((runs[0].doc.get("settings") or {}).get("smoothing", 0.6))
    info = {"tags": tags[:MAX_CURVE_TAGS], "runs_with_curves": list(tables), "missing": missing, "note": "",
            "reading": curve_reading(list(tables), weight)}
    if missing:
        info["note"] = ("Curves need the run directories named in report.json; not readable now: "
                        + "; ".join(missing) + ".")
    if not tags:
        info["note"] = "The runs share no logged tag, so there are no curves to overlay."
    notes.extend([info["note"]] if info["note"] else [])
    if len(tables) < 2 or not tags:
        return [], info
    if len(tags) > MAX_CURVE_TAGS:
        notes.append(f"{len(tags)} shared tags; the first {MAX_CURVE_TAGS} (alphabetical) are drawn.")
    groups: dict[str, list[str]] = {}
    for tag in info["tags"]:
        groups.setdefault(tag_group(tag), []).append(tag)
    figures = []
    for group, members in groups.items():
        for start in range(0, len(members), PANELS_PER_FIGURE):
            chunk = members[start:start + PANELS_PER_FIGURE]
            part = f" ({start // PANELS_PER_FIGURE + 1})" if len(members) > PANELS_PER_FIGURE else ""
            figures.append({"title": f"{group}{part}", "uri": _curve_uri(tables, chunk, weight),
                            "caption": f"{', '.join(chunk)}: one colour per run (legend above the panels)."})
    return figures, info


def read_scalars(runs: list[ReportedRun]) -> tuple[dict, list[str]]:
    """Re-read each run's scalar table from its directory (report.json `run.path`); name those not readable."""
    from ..collect import collect_run

    tables, missing = {}, []
    for run in runs:
        path = Path(str(run.doc["run"].get("path") or ""))
        try:
            tables[run.label] = collect_run(path, layout=run.doc["run"].get("layout")).scalars
        except ReportError as exc:
            missing.append(f"{run.label} ({exc})")
    return tables, missing


def side_by_side_figures(runs: list[ReportedRun], notes: list[str]) -> tuple[list[dict], list[dict]]:
    """The masking and attention figures that at least two reports have, one column per run."""
    wanted = []
    for run in runs:
        for section in run.doc.get("sections") or []:
            if section.get("name") in SIDE_BY_SIDE_SECTIONS:
                wanted += [(f["id"], f.get("title") or f["id"]) for f in section.get("figures") or []]
    wanted = list(dict.fromkeys(wanted))
    ids = {fid for fid, _ in wanted}
    found = []
    for run in runs:
        try:
            found.append(report_figures(run.html_path.read_text(encoding="utf-8"), ids) if ids else {})
        except OSError:
            found.append({})
            notes.append(f"{run.label}: {run.html_path} cannot be read, so its figures are not shown.")
    rows = []
    for fid, title in wanted:
        parts = [f.get(fid) for f in found]
        first = next((p for p in parts if p), None)
        if sum(p is not None for p in parts) >= 2:
            rows.append({"id": fid, "title": title, "cells": [p["uri"] if p else None for p in parts],
                         "caption": first["caption"], "caption_of": runs[parts.index(first)].label})
    if not rows:
        notes.append("No masking or attention figure is in two or more of these reports.")
    elif not _same_images(runs):
        notes.append("The runs' sample images differ, so side-by-side figures may show different images.")
    return rows, [{"id": r["id"], "title": r["title"], "runs": [run.label for run, c in zip(runs, r["cells"]) if c]}
                  for r in rows]


class _FigureParts(HTMLParser):
    """Collect, per wanted element id, the src of its first <img> and the text of its first <p class="caption">."""

    def __init__(self, ids: set[str]):
        super().__init__(convert_charrefs=True)
        self.ids, self.uris, self.captions = ids, {}, {}
        self._open: list[tuple[str, str | None]] = []  # stack of (tag, wanted id or None)
        self._caption: tuple[str, list[str]] | None = None  # (owner id, text parts) while inside a caption

    def _owner(self) -> str | None:
        return next((fid for _, fid in reversed(self._open) if fid), None)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        owner = self._owner()
        if tag == "img":
            if owner and owner not in self.uris and attrs.get("src"):
                self.uris[owner] = attrs["src"]
            return
        if tag in ("br", "hr", "meta", "link", "input", "source", "wbr"):
            return
        if tag == "p" and owner and owner not in self.captions and "caption" in (attrs.get("class") or "").split():
            self._caption = (owner, [])
        self._open.append((tag, attrs.get("id") if attrs.get("id") in self.ids else None))

    def handle_data(self, data):
        if self._caption:
            self._caption[1].append(data)

    def handle_endtag(self, tag):
        if tag == "p" and self._caption:
            owner, parts = self._caption
            self.captions[owner], self._caption = " ".join("".join(parts).split()), None
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                return


def report_figures(html: str, ids: set[str]) -> dict[str, dict]:
    """Return {figure id: {"uri", "caption"}} for the wanted ids found in a report.html (data: URIs only)."""
    parser = _FigureParts(ids)
    parser.feed(html)
    parser.close()
    return {k: {"uri": v, "caption": parser.captions.get(k, "")} for k, v in parser.uris.items()
            if v.startswith("data:image/")}


def render_comparison(comparison: Comparison) -> str:
    """Render the compare page (Jinja2, autoescaped) with the report's CSS inlined."""
    from .html import environment, templates_dir

    css = "\n".join((templates_dir() / name).read_text(encoding="utf-8") for name in ("report.css", "pages.css"))
    return environment().get_template("compare.html.j2").render(
        c=comparison.data, runs=comparison.runs, curves=comparison.curves, side=comparison.side_by_side,
        css=css, fmt=format_value, delta=format_delta)


def format_delta(delta: dict | None, better: str | None = None) -> tuple[str, str]:
    """Return (text, css class) of a difference to the baseline: 'better' / 'worse' / '' by the direction."""
    if not delta:
        return "", ""
    text = f"{delta['abs']:+.4g}" + (f" ({delta['rel']:+.1%})" if delta.get("rel") is not None else "")
    if better is None or delta["abs"] == 0:
        return text, ""
    return text, "better" if (delta["abs"] > 0) == (better == "higher") else "worse"


def relative_link(target: Path, start: Path) -> str:
    """Return a URL-quoted relative link from folder `start` to `target` (works when both move together)."""
    rel = os.path.relpath(Path(target).absolute(), Path(start).absolute())
    return quote(Path(rel).as_posix())


def _curve_uri(tables: dict, tags: list[str], weight: float) -> str:
    import numpy as np

    from ..analysis.curves import draw_curve
    from ..analysis.plotting import PALETTE, new_figure, plot_style
    from .assets import data_uri, figure_png

    cols = min(3, len(tags))
    rows = math.ceil(len(tags) / cols)
    with plot_style():
        fig, axes = new_figure(3.3 * cols + 0.4, 2.3 * rows + 0.5, rows, cols)
        axes = np.atleast_1d(axes).ravel()
        for ax, tag in zip(axes, tags):
            for i, (label, table) in enumerate(tables.items()):
                if not table.has(tag):  # the run directory changed since its report was written
                    continue
                steps, values = table.arrays(tag)
                drawn = len(ax.lines)
                draw_curve(ax, steps, values, weight=weight, tag=tag, label=label, color=PALETTE[i % len(PALETTE)])
                for line in ax.lines[drawn:] if i else []:  # dashed after the baseline: equal curves stay visible
                    line.set_linestyle((0, (4, 2)))
            ax.set_title(tag, fontsize=8.5, loc="left")
            ax.set_xlabel("step", fontsize=8)
        for ax in axes[len(tags):]:
            ax.set_visible(False)
        legend = {}
        for ax in axes[:len(tags)]:
            for handle, name in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(name, handle)
        fig.legend(legend.values(), legend.keys(), loc="outside upper center", ncols=min(len(legend), 4),
                   frameon=False)
    return data_uri(figure_png(fig), "image/png")


def curve_reading(labels: list[str], weight: float) -> str:
    """Return how to read the overlaid curves (shown once above them)."""
    return (f"One panel per logged tag that every run has; one colour per run ({', '.join(labels)}). Faint: raw "
            f"values; bold: TensorBoard's debiased exponential smoothing (weight {weight:g}, the baseline report's "
            "--smoothing; schedules and short series are drawn raw, with dots). The baseline is drawn solid, the "
            "other runs dashed, so curves that coincide stay visible. The x axis is each run's own "
            "logged step. Read: a run whose loss falls later or ends higher learned slower; curves that coincide "
            "mean the change made no difference to that quantity.")


def _shared_tags(runs: list[ReportedRun]) -> list[str]:
    tag_sets = [set((r.doc.get("scalars") or {}).keys()) for r in runs]
    return sorted(set.intersection(*tag_sets)) if tag_sets else []


def _same_images(runs: list[ReportedRun]) -> bool:
    names = [[(Path(str(i.get("path"))).name, i.get("label")) for i in r.doc.get("images") or []] for r in runs]
    return all(n == names[0] for n in names)


def _run_entry(run: ReportedRun) -> dict:
    doc = run.doc
    return {"label": run.label, "report_json": str(run.json_path), "report_html": str(run.html_path),
            "run_name": doc["run"].get("name"), "run_path": doc["run"].get("path"), "layout": doc["run"].get("layout"),
            "created_at": doc.get("created_at"), "verdict": (doc.get("health") or {}).get("verdict")}


def _delta(base, value) -> dict | None:
    """Difference value - base and relative to |base| (None when either is missing or not a number)."""
    if not (isinstance(base, (int, float)) and isinstance(value, (int, float))):
        return None
    diff = float(value) - float(base)
    return {"abs": diff, "rel": diff / abs(base) if base else None}


def _finite(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
