"""The short Markdown summary of a report, sized for a pull-request comment, and the key metrics of a report.

Everything here reads only the report.json document (a dict), never the run or the analysis objects, so a
summary, a comparison or an index row can be made for any report ever written, including old ones whose
sections lack some metrics: a metric that is not in the document is simply left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..status import SectionStatus, Status, count_statuses, status_rank
from .write import write_atomic

ARTIFACT_LINK = "<link to the CI artifact>"
MAX_CHECK_ROWS = 20  # failing / warning checks listed; the rest are counted (keeps the comment < ~60 lines)
MAX_DETAIL = 180  # characters of a check's detail in the table


@dataclass(frozen=True)
class KeyMetric:
    """One headline number of a report, with where it comes from and which direction is better."""

    key: str  # stable identifier, e.g. "rankme_tokens"
    label: str  # what a reader sees, e.g. "RankMe (patch tokens)"
    value: float | str
    better: str | None = None  # "higher", "lower" or None (no direction)
    note: str = ""  # context for the value, e.g. "isotropic anchor 62.9"


def section_metrics(doc: dict, name: str) -> dict:
    """Return the metrics of the section called `name` when it ran (status ok), else {}."""
    for section in doc.get("sections") or []:
        if isinstance(section, dict) and section.get("name") == name and section.get("status") == SectionStatus.OK:
            metrics = section.get("metrics")
            return metrics if isinstance(metrics, dict) else {}
    return {}


def key_metrics(doc: dict) -> list[KeyMetric]:
    """Return the report's headline numbers that are present: loss, collapse measures, accuracy, prediction.

    Sources (section metrics of report.json): log-health (median of the first / last 10 % of the main loss),
    representations (RankMe, Garrido et al. 2023; kNN accuracy; LiDAR, Thilak et al. 2024; mean pairwise
    cosine; best checkpoint) and predictions (mean cosine of predicted vs target tokens per level).
    """
    out: list[KeyMetric] = []
    log = section_metrics(doc, "log-health")
    tag = log.get("loss_tag") or "loss"
    _add(out, "loss_start", f"{tag}, start (median of first 10 %)", log.get("loss_start_median"), "lower")
    _add(out, "loss_end", f"{tag}, end (median of last 10 %)", log.get("loss_end_median"), "lower")
    rep = section_metrics(doc, "representations")
    health, anchors = _dict(rep.get("health")), _dict(rep.get("anchors"))
    iso_tokens = _dig(anchors, "tokens", "isotropic", "rankme")
    _add(
        out,
        "rankme_tokens",
        "RankMe, patch tokens (Garrido et al. 2023)",
        _dig(health, "tokens", "rankme"),
        "higher",
        f"isotropic anchor {format_value(iso_tokens)}" if _number(iso_tokens) is not None else "",
    )
    _add(out, "rankme_image", "RankMe, image embeddings", _dig(health, "image", "rankme"), "higher")
    _add(
        out,
        "mean_pairwise_cosine",
        "Mean pairwise cosine, image embeddings",
        _dig(health, "image", "mean_pairwise_cosine"),
        "lower",
    )
    accuracy = _dict(rep.get("accuracy")).get("image")
    _add(
        out,
        "knn_accuracy",
        "kNN accuracy, image embeddings",
        _dig(accuracy, "knn_accuracy"),
        "higher",
        _knn_note(_dict(accuracy)),
    )
    _add(out, "lidar", "LiDAR (Thilak et al. 2024)", _dig(rep.get("lidar"), "lidar"), "higher")
    for level in _levels(section_metrics(doc, "predictions")):
        n = level.get("level")
        if not isinstance(n, int):
            continue
        base = _number(level.get("baseline_cosine_mean"))
        _add(
            out,
            f"prediction_cosine_l{n}",
            f"Prediction cosine, level {n}",
            level.get("cosine_mean"),
            "higher",
            f"mean-token baseline {format_value(base)}" if base is not None else "",
        )
    best = rep.get("best_checkpoint")
    if isinstance(best, str) and best:
        out.append(KeyMetric("best_checkpoint", "Best checkpoint", best))
    return out


def summary_markdown(doc: dict, html_name: str | None = None) -> str:
    """Return the PR-comment summary of a report.json document (verdict, problem checks, key metrics, link)."""
    run = _dict(doc.get("run"))
    health = _dict(doc.get("health"))
    verdict = str(health.get("verdict") or "unknown")
    checks = [c for c in health.get("checks") or [] if isinstance(c, dict)]
    counts = count_statuses(c.get("status") for c in checks)
    lines = [
        f"### hjepa-report: `{_cell(run.get('name') or '?')}` **{verdict.upper()}**",
        "",
        f"Layout {_cell(run.get('layout') or '?')} · created {_cell(doc.get('created_at') or '?')} · "
        f"hjepa-report {_cell(_dict(doc.get('tool')).get('version') or '?')}",
        "",
        f"**Verdict: {verdict.upper()}** ({counts['fail']} fail, {counts['warn']} warn, {counts['pass']} pass, "
        f"{counts['skip']} skipped)",
        "",
    ]
    lines += _problem_table(checks, counts)
    lines += _metrics_table(key_metrics(doc))
    lines += _section_problems(doc)
    if _dict(doc.get("settings")).get("json_only"):
        lines += ["No HTML report: built with --json-only (every number and check is in report.json).", ""]
    else:
        link = html_name or "report.html"
        lines += [f"Full report: [{_cell(link)}]({ARTIFACT_LINK}) (self-contained HTML; open it offline)", ""]
    return "\n".join(lines)


def write_summary_md(report_json: dict, path: str | Path, html_name: str | None = None) -> Path:
    """Write the Markdown summary of `report_json` to `path` (atomically); return the path."""
    target = Path(path)
    write_atomic({target: summary_markdown(report_json, html_name)})
    return target


def _problem_table(checks: list[dict], counts: dict[str, int]) -> list[str]:
    """Failing and warning checks, worst first, then one line counting the passing ones."""
    problems = sorted(
        (c for c in checks if c.get("status") in (Status.FAIL, Status.WARN)), key=lambda c: status_rank(c.get("status"))
    )
    lines = []
    if problems:
        lines += ["| status | check | section | detail |", "|---|---|---|---|"]
        for c in problems[:MAX_CHECK_ROWS]:
            lines.append(
                f"| **{str(c.get('status')).upper()}** | {_cell(c.get('name'))} | {_cell(c.get('section'))} "
                f"| {_cell(_shorten(str(c.get('detail') or ''), MAX_DETAIL))} |"
            )
        if len(problems) > MAX_CHECK_ROWS:
            lines.append(f"| ... | {len(problems) - MAX_CHECK_ROWS} more | | see the HTML report |")
        lines.append("")
    elif checks:
        lines += ["No check failed or warned.", ""]
    else:
        lines += ["No health check could run on this run.", ""]
    if counts["pass"]:
        lines += [f"{counts['pass']} check(s) pass.", ""]
    return lines


def _metrics_table(metrics: list[KeyMetric]) -> list[str]:
    if not metrics:
        return ["No key metric in this report (the sections that compute them did not run).", ""]
    lines = ["| metric | value |", "|---|---|"]
    for m in metrics:
        note = f" ({_cell(m.note)})" if m.note else ""
        lines.append(f"| {_cell(m.label)} | {_cell(format_value(m.value))}{note} |")
    return lines + [""]


def _section_problems(doc: dict) -> list[str]:
    """One line listing sections that failed (errors) and how many were skipped."""
    sections = [s for s in doc.get("sections") or [] if isinstance(s, dict)]
    errors = [str(s.get("name")) for s in sections if s.get("status") == SectionStatus.ERROR]
    skipped = [str(s.get("name")) for s in sections if s.get("status") == SectionStatus.SKIPPED]
    parts = []
    if errors:
        parts.append(f"Sections that failed: {_cell(', '.join(errors))}")
    if skipped:
        parts.append(f"Sections skipped: {_cell(', '.join(skipped))}")
    return [" · ".join(parts), ""] if parts else []


def _knn_note(accuracy: dict) -> str:
    """Chance level, 95 % interval and image count of the kNN accuracy, as far as report.json has them."""
    parts = []
    if _number(accuracy.get("chance")) is not None:
        parts.append(f"chance {format_value(accuracy['chance'])}")
    interval = accuracy.get("knn_interval")
    if isinstance(interval, list) and len(interval) == 2 and all(_number(v) is not None for v in interval):
        parts.append(f"95 % interval {format_value(interval[0])}-{format_value(interval[1])}")
    if isinstance(accuracy.get("samples"), int):
        parts.append(f"{accuracy['samples']} images")
    return ", ".join(parts)


def _add(out: list[KeyMetric], key: str, label: str, value: Any, better: str | None, note: str = "") -> None:
    number = _number(value)
    if number is not None:
        out.append(KeyMetric(key, label, number, better, note))


def _levels(metrics: dict) -> list[dict]:
    levels = metrics.get("levels")
    return [lv for lv in levels if isinstance(lv, dict)] if isinstance(levels, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = _dict(value).get(key)
    return value


def _number(value: Any) -> float | None:
    """Return value as a finite float, or None (report.json writes NaN as null and inf as "inf")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def format_value(value: Any) -> str:
    """Format a metric value: 4 significant digits for numbers, the text otherwise, '-' when missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _cell(value: Any) -> str:
    """Make text safe inside a Markdown table cell: one line, pipes escaped, no raw HTML."""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
