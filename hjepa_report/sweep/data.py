"""The sweep table: which config values differ between the runs, read from each report.json's `run.config`.

Configs are flattened to dotted keys (`training.lr`, `masking.mask_scale[1]`): nested mappings join their keys
with '.', a short list of plain values becomes one key per element (so a mask scale whose upper end is swept
is one numeric column), anything else is shown as compact JSON text. A key differs when its value is not the
same in every run (a key one run lacks differs). A hyperparameter is numeric when every run that has it
holds a number (bool is not a number here); it is drawn on a log axis when every value is positive and they
span more than two decades (learning rates, weight decays).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

MAX_LIST = 8  # lists up to this long, of plain values, become one key per element
LOG_SPAN = 100.0  # max / min beyond which a positive numeric hyperparameter gets a log axis


@dataclass(frozen=True)
class Hyperparameter:
    """A config key whose value differs between the runs, and how to draw it."""

    key: str
    numeric: bool
    log: bool
    distinct: int  # how many different values the runs hold (a missing key counts as one)
    plotted: bool  # False for text keys unique to nearly every run (names, paths): a table column only


def flatten_config(config, prefix: str = "") -> dict[str, object]:
    """Return a config (nested dicts and lists) as {dotted key: plain value} (the rule in the module doc)."""
    out: dict[str, object] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            out.update(flatten_config(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(config, list) and 0 < len(config) <= MAX_LIST and all(_plain(v) for v in config):
        for i, value in enumerate(config):
            out[f"{prefix}[{i}]"] = value
    elif _plain(config):
        out[prefix or "config"] = config
    else:
        out[prefix or "config"] = json.dumps(config, sort_keys=True, default=str, separators=(", ", ": "))
    return out


def split_config(configs: list[dict[str, object]]) -> tuple[list[Hyperparameter], dict[str, object]]:
    """Return (the keys that differ between the flat configs, {key: value} of those every run shares)."""
    keys = sorted({k for c in configs for k in c})
    differ, same = [], {}
    for key in keys:
        values = [c.get(key, MISSING) for c in configs]
        first = values[0]
        if all(_equal(v, first) for v in values[1:]):
            same[key] = first
            continue
        present = [v for v in values if v is not MISSING]
        numeric = all(_number(v) for v in present) and bool(present)
        distinct = len({_token(v) for v in values})
        log = numeric and all(v > 0 for v in present) and max(present) / min(present) > LOG_SPAN
        # a text value unique to (nearly) every run is a name or path: one parallel axis per run says nothing
        plotted = numeric or distinct <= max(2, len(configs) // 2)
        differ.append(Hyperparameter(key, numeric, bool(log), distinct, plotted))
    return differ, same


def config_text(value) -> str:
    """Return a flat config value as a table shows it (YAML-like: true/false/null, numbers in short form)."""
    if value is MISSING:
        return ""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def sort_value(value):
    """Return the value a sortable cell sorts by: the number itself, or the text."""
    return value if _number(value) and math.isfinite(value) else config_text(value)


class _Missing:
    def __repr__(self):
        return "<missing>"


MISSING = _Missing()


def _plain(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(a, b) -> bool:
    return type(a) is type(b) and a == b or (_number(a) and _number(b) and a == b)


def _token(value) -> str:
    return "<missing>" if value is MISSING else json.dumps(value, sort_keys=True, default=str)
