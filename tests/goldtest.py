"""Gold-file comparison of whole reports, in the manner of coverage.py's tests/goldtest.py.

A report is first *scrubbed* of what legitimately changes from one machine or one run to the next (dates, the
tool version, the command line, timings, paths, encoded figure bytes and their sizes), then compared with the
file committed under tests/gold/. A mismatch prints what differs (for report.json: the JSON path of every
differing value; for report.html: a diff of the differing lines) and keeps the scrubbed actual output under the
system temp folder for a closer look. Gold files are only ever rewritten on purpose:

    HJEPA_REPORT_REGOLD=1 python -m pytest tests/test_golden.py -m slow

Numbers. The fixture models are tiny fp32 networks; another CPU, BLAS or thread count changes their last
digits. Floats in report.json are stored rounded to SIGNIFICANT (4) significant digits, which keeps the gold
files small and readable, and a value matches when it lies within one unit of that 4th digit of the gold value
(of the larger of the two, to be symmetric). Rounding alone would not be enough: a value sitting on a rounding
edge (0.123450001 on one machine, 0.123449999 on another) rounds to two different 4-digit numbers although it
moved by 1e-9; the one-unit tolerance accepts both, while a real change of the 4th digit (a relative change of
about 1e-3) still fails. Magnitudes below ZERO_BELOW (1e-12) count as zero: they are float64 rounding noise of
quantities that are zero in exact arithmetic (the spread of a deliberately collapsed anchor is 1e-17 here and
could be 0 or 3e-17 elsewhere); no genuine number in these reports is that small (the smallest, gradient means
of the I-JEPA fixture, are about 1e-8). Numbers printed inside text (captions, check details, table cells) are
matched the same way at the precision they were printed with: a decimal number may move by one unit in its last
printed digit ("0.593" vs "0.594", "0.59" vs "0.591", "0.5" vs "0.4999": of two printed precisions the finer counts,
because '%g' drops trailing zeros); integers must be equal, except integer percentages.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GOLD_DIR = Path(__file__).parent / "gold"
REGOLD_ENV = "HJEPA_REPORT_REGOLD"
SIGNIFICANT = 4
ZERO_BELOW = 1e-12
ONE_LINE = 200  # a dict of plain values up to this many characters is written on one line of a gold file
MAX_SHOWN = 40  # differences printed before "... and N more"

# a duration printed in text ("8 points, 0.06 s", "Took 3 s"): timings vary from run to run
DURATION = re.compile(r"(?<![\w.])\d+(?:\.\d+)? s\b")
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w-]+(?:=[\w.-]+)?)*),[A-Za-z0-9+/=%._-]*")
# the skeleton breaks lines before these tags only, so a table row or a caption stays on one line
BLOCK_TAG = re.compile(
    r"\s*(<(?:html|head|body|meta|title|style|script|nav|main|header|footer|section|h[1-6]|p|div"
    r"|figure|figcaption|img|table|thead|tbody|tr|ul|ol|li|dl|dt|details|summary|pre)\b"
    r"|</(?:html|head|body|nav|main|header|footer|section|div|figure|table|thead|tbody|ul|ol|dl"
    r"|details)>)"
)
# a number printed in text that may move by one unit in its last digit: decimals, exponents, integer percentages
NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?|(?<![\w.])-?\d+[eE][-+]?\d+|\d+(?=\s?%)")


@dataclass
class Scrubs:
    """What to take out of one report before comparing: its paths (longest first) and the tool's version."""

    paths: dict[str, str] = field(default_factory=dict)  # absolute path -> placeholder, e.g. run dir -> RUN_DIR
    version: str = ""

    def text(self, value: str) -> str:
        """Scrub one string: paths, dates, durations and the tool version."""
        for path, placeholder in sorted(self.paths.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(path, placeholder)
        value = DATE.sub("DATE", value)
        value = DURATION.sub("SECONDS s", value)
        if self.version:
            value = value.replace(f"hjepa-report {self.version}", "hjepa-report VERSION")
        return value


# ---------------------------------------------------------------------------------------------------------
# report.json


def scrub_json(doc: dict[str, Any], scrubs: Scrubs) -> dict[str, Any]:
    """Return a copy of report.json with everything machine- or moment-dependent replaced, floats rounded."""
    doc = _scrub_value(doc, scrubs, key="")
    doc["created_at"] = "DATE"
    doc["command_line"] = "COMMAND"
    doc["tool"]["version"] = "VERSION"
    doc["timing"] = _scrub_timing(doc.get("timing"), scrubs)
    if isinstance(doc.get("render"), dict) and doc["render"].get("figure_bytes") is not None:
        doc["render"]["figure_bytes"] = "BYTES"
    for section in doc.get("sections", []):
        for figure in section.get("figures", []):
            if figure.get("bytes") is not None:
                figure["bytes"] = "BYTES"
    return doc


def _scrub_value(value: Any, scrubs: Scrubs, key: str) -> Any:
    if key == "seconds" or key.startswith("seconds_") or key.endswith("_seconds"):
        return _scrub_seconds_map(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v, scrubs, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, scrubs, key) for v in value]
    if isinstance(value, str):
        return scrubs.text(value)
    if isinstance(value, float):
        return round_float(value)
    return value


def _scrub_timing(timing: Any, scrubs: Scrubs) -> Any:
    """Scrub report.json's timing block: every duration goes, the network pass counts (calls, images per
    checkpoint and network, which the report must reproduce) stay."""
    if not isinstance(timing, dict):
        return timing
    passes = timing.get("network_passes")
    out = {k: _scrub_seconds_map(v) for k, v in timing.items() if k != "network_passes"}
    if isinstance(passes, dict):
        out["network_passes"] = {
            k: _scrub_value(v, scrubs, k) if k == "passes" else _scrub_seconds_map(v) for k, v in passes.items()
        }
    return out


def _scrub_seconds_map(value: Any) -> Any:
    """Scrub every number below a timing (`timing` maps section names to seconds): keep the names."""
    if isinstance(value, dict):
        return {k: _scrub_seconds_map(v) for k, v in value.items()}
    return "SECONDS" if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def round_float(x: float) -> float:
    """Round to SIGNIFICANT significant digits; magnitudes below ZERO_BELOW become 0.0 (see module doc)."""
    if not math.isfinite(x):
        return x
    if abs(x) < ZERO_BELOW:
        return 0.0
    return float(f"{x:.{SIGNIFICANT}g}")


def numbers_match(gold: Any, actual: Any) -> bool:
    """Whether two report.json numbers agree: ints exactly, floats within one unit of the 4th digit."""
    if isinstance(gold, bool) or isinstance(actual, bool):
        return gold is actual
    if isinstance(gold, int) and isinstance(actual, int):
        return gold == actual
    gold, actual = float(gold), float(actual)
    if abs(gold) < ZERO_BELOW and abs(actual) < ZERO_BELOW:
        return True
    return abs(gold - actual) <= max(_unit(gold, SIGNIFICANT), _unit(actual, SIGNIFICANT), ZERO_BELOW)


def _unit(x: float, digits: int) -> float:
    """One unit in the `digits`-th significant digit of x."""
    if x == 0:
        return 0.0
    return 10.0 ** (math.floor(math.log10(abs(x))) - digits + 1)


def json_differences(gold: Any, actual: Any, path: str = "$") -> list[str]:
    """Every place where `actual` differs from `gold`, as 'JSON path: gold ..., actual ...' lines."""
    if isinstance(gold, dict) and isinstance(actual, dict):
        out = [f"{path}.{k}: only in gold ({_short(gold[k])})" for k in gold if k not in actual]
        out += [f"{path}.{k}: not in gold (actual {_short(actual[k])})" for k in actual if k not in gold]
        for k in gold:
            if k in actual:
                out += json_differences(gold[k], actual[k], f"{path}.{k}")
        return out
    if isinstance(gold, list) and isinstance(actual, list):
        out = [] if len(gold) == len(actual) else [f"{path}: {len(gold)} items in gold, {len(actual)} now"]
        for i, (g, a) in enumerate(zip(gold, actual, strict=False)):  # lengths told above
            out += json_differences(g, a, f"{path}[{_item_label(i, g)}]")
        return out
    if _is_number(gold) and _is_number(actual):
        return [] if numbers_match(gold, actual) else [f"{path}: gold {gold!r}, actual {actual!r}"]
    if isinstance(gold, str) and isinstance(actual, str):
        return [] if text_matches(gold, actual) else [f"{path}: gold {gold!r}, actual {actual!r}"]
    return [] if gold == actual else [f"{path}: gold {_short(gold)}, actual {_short(actual)}"]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _item_label(index: int, item: Any) -> str:
    """List index, with the item's name or id when it has one: sections[11:loss-landscape]."""
    if isinstance(item, dict):
        for key in ("name", "id", "path"):
            if isinstance(item.get(key), str):
                return f"{index}:{item[key]}"
    return str(index)


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dump_json(doc: dict[str, Any]) -> str:
    """The gold file's text: one key per line, but lists of plain values, and short dicts of them (a gradient-flow
    layer, a check), on one line each, so that a git diff of a regenerated gold file is readable and short."""
    return _dump(doc, "") + "\n"


def _dump(value: Any, indent: str) -> str:
    inner = indent + " "
    flat = isinstance(value, dict) and not any(isinstance(v, (dict, list)) for v in value.values())
    if flat and len(one_line := json.dumps(value, ensure_ascii=False, allow_nan=False)) <= ONE_LINE:
        return one_line
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _dump(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


# ---------------------------------------------------------------------------------------------------------
# text (captions, check details, the HTML skeleton)


def text_matches(gold: str, actual: str) -> bool:
    """Whether two texts are equal apart from printed numbers that moved by one unit in their last digit."""
    gold_shape, gold_numbers = _text_shape(gold)
    actual_shape, actual_numbers = _text_shape(actual)
    return gold_shape == actual_shape and all(map(_printed_numbers_match, gold_numbers, actual_numbers))


def _text_shape(text: str) -> tuple[str, list[str]]:
    """The text with every tolerant number replaced by '#', and those numbers in order."""
    return NUMBER.sub("#", text), NUMBER.findall(text)


def _printed_numbers_match(gold: str, actual: str) -> bool:
    # the finer of the two printed precisions: '%g' drops trailing zeros, so '0.5' next to '0.4999' was 0.5000
    unit = min(_printed_unit(gold), _printed_unit(actual))
    return abs(float(gold) - float(actual)) <= unit * (1 + 1e-9)


def _printed_unit(token: str) -> float:
    """One unit in the last printed digit of a number token: '0.593' -> 0.001, '1.5e-05' -> 1e-06, '42' -> 1."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def line_differences(gold: list[str], actual: list[str]) -> list[str]:
    """A diff of two line lists that treats lines matching by `text_matches` as equal."""
    matcher = difflib.SequenceMatcher(
        None, [_text_shape(x)[0] for x in gold], [_text_shape(x)[0] for x in actual], autojunk=False
    )
    out = []
    for tag, g0, g1, a0, a1 in matcher.get_opcodes():
        if tag == "equal":
            pairs = zip(range(g0, g1), range(a0, a1), strict=True)
            pairs = [(i, j) for i, j in pairs if not text_matches(gold[i], actual[j])]
            for i, j in pairs:
                out += [f"@@ gold line {i + 1}, actual line {j + 1}", f"- {gold[i]}", f"+ {actual[j]}"]
            continue
        out.append(f"@@ gold lines {g0 + 1}-{g1}, actual lines {a0 + 1}-{a1}")
        out += [f"- {x}" for x in gold[g0:g1]] + [f"+ {x}" for x in actual[a0:a1]]
    return out


# ---------------------------------------------------------------------------------------------------------
# report.html


def scrub_html(html: str, scrubs: Scrubs) -> str:
    """The HTML skeleton: figures' data: URIs emptied, timings, dates, paths, version and command scrubbed,
    whitespace normalised, a new line before each block-level tag."""
    html = DATA_URI.sub(lambda m: f"data:{m.group(1) or ''}{m.group(2)},SCRUBBED", html)
    # a vendored library (render/vendor/, checked against its PROVENANCE.md elsewhere) is named, not copied
    html = re.sub(r'(<(script|style) data-vendored="[^"]+">).*?(</\2>)', r"\1VENDORED\3", html, flags=re.S)
    # the sections' numbers as report.json holds them (full precision, timings included): report.json's gold
    # file checks those numbers (rounded) and tests/test_interactive_schedules.py that the block equals it
    html = re.sub(
        r'(<script type="application/json" id="hjepa-section-data">).*?(</script>)',
        r"\1REPORT_JSON\2",
        html,
        flags=re.S,
    )
    # the interactive charts' data: the run's logged values, exact, beside curves the report computed from the
    # networks (e.g. RankMe per checkpoint), whose last digits differ between CPUs: rounded as report.json's are
    html = re.sub(
        r'(<script type="application/json" id="hjepa-chart-data">)(.*?)(</script>)',
        lambda m: (
            m.group(1)
            + json.dumps(_scrub_value(json.loads(m.group(2)), scrubs, key=""), separators=(",", ":"))
            + m.group(3)
        ),
        html,
        flags=re.S,
    )
    html = scrubs.text(html)
    html = re.sub(r'(<span class="timing">)[^<]*(</span>)', r"\1SECONDS\2", html)
    html = re.sub(r"(<dt>Command</dt><dd><code>).*?(</code></dd>)", r"\1COMMAND\2", html, flags=re.S)
    html = re.sub(r"<table\b.*?</table>", _scrub_seconds_column, html, flags=re.S)
    html = re.sub(r"\s+", " ", html)
    html = BLOCK_TAG.sub(r"\n\1", html)
    return "\n".join(line.strip() for line in html.splitlines() if line.strip()) + "\n"


def _scrub_seconds_column(table: re.Match) -> str:
    """Blank the cells of a table column headed 'seconds' (a timing printed as a table cell)."""
    text = table.group(0)
    headers = re.findall(r"<th\b[^>]*>(.*?)</th>", text, flags=re.S)
    columns = [i for i, h in enumerate(headers) if h.strip().lower() in ("seconds", "time (s)", "s")]
    if not columns:
        return text

    def row(match: re.Match) -> str:
        cells = re.split(r"(<td\b[^>]*>.*?</td>)", match.group(0), flags=re.S)
        tds = [i for i, c in enumerate(cells) if c.startswith("<td")]
        for column in columns:
            if column < len(tds):
                cells[tds[column]] = re.sub(r"(<td\b[^>]*>).*?(</td>)", r"\1SECONDS\2", cells[tds[column]], flags=re.S)
        return "".join(cells)

    return re.sub(r"<tr\b.*?</tr>", row, text, flags=re.S)


# ---------------------------------------------------------------------------------------------------------
# the comparison


def regold_requested() -> bool:
    """Whether this test run is meant to rewrite the gold files (HJEPA_REPORT_REGOLD=1)."""
    return os.environ.get(REGOLD_ENV, "").strip() not in ("", "0")


def compare_gold(relative: str, actual_text: str) -> None:
    """Compare scrubbed output with tests/gold/<relative>, or rewrite that file under HJEPA_REPORT_REGOLD=1.

    On a mismatch the scrubbed actual text is saved under <tmp>/hjepa-report-actual/<relative> and the
    assertion message lists the differences.
    """
    __tracebackhide__ = True  # pytest: show the assertion, not this helper
    gold_file = GOLD_DIR / relative
    if regold_requested():
        gold_file.parent.mkdir(parents=True, exist_ok=True)
        gold_file.write_text(actual_text, encoding="utf-8")
        return
    assert gold_file.is_file(), f"no gold file {gold_file}; write it with {REGOLD_ENV}=1 (and review it)"
    gold_text = gold_file.read_text(encoding="utf-8")
    if relative.endswith(".json"):
        differences = json_differences(json.loads(gold_text), json.loads(actual_text))
    else:
        differences = line_differences(gold_text.splitlines(), actual_text.splitlines())
    if differences:
        saved = _save_actual(relative, actual_text)
        shown = differences[:MAX_SHOWN]
        if len(differences) > MAX_SHOWN:
            shown.append(f"... and {len(differences) - MAX_SHOWN} more")
        raise AssertionError(
            f"{relative} differs from its gold file {gold_file} ({len(differences)} differences; "
            f"scrubbed actual output saved to {saved}; if the change is intended, rewrite the "
            f"gold files with {REGOLD_ENV}=1 and review their git diff):\n" + "\n".join(shown)
        )


def _save_actual(relative: str, text: str) -> Path:
    path = Path(tempfile.gettempdir()) / "hjepa-report-actual" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
