"""Helpers for the multi-run tests (summary, compare, index, browser): real reports of fixture runs.

`changed_run` copies the H-JEPA fixture run and rewrites its TensorBoard event file record by record, scaling
the logged loss and putting one NaN into a hierarchy loss, so two reports differ in known ways: every
train/loss value doubles (so do the medians log-health reports) and the non-finite-values check fails.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
HJEPA_RUN = FIXTURES / "hjepa_small"
IJEPA_RUN = FIXTURES / "ijepa_small"
LOG_SECTIONS = ("overview", "log-health", "training")
FAST_SECTIONS = LOG_SECTIONS + ("masking", "attention")
LOSS_SCALE = 2.0
NAN_TAG = "train/loss_h2"


_BUILT: dict = {}  # (run kind, sections) -> report.json, shared by every test module of a session


def fast_sections() -> tuple[str, ...]:
    """The quick sections that this checkout registers, with masking and attention when they are registered."""
    from hjepa_report.analysis.registry import pass_names

    known = set(pass_names())
    return tuple(name for name in FAST_SECTIONS if name in known)


def build(run: Path, out_dir: Path, sections: tuple[str, ...]) -> Path:
    """Write the report of `run` into out_dir with `sections` (minimal mode); return its report.json."""
    from hjepa_report.pipeline import generate
    from hjepa_report.settings import ReportSettings

    settings = ReportSettings(output=out_dir / "report.html", sections=list(sections), quiet=True, minimal=True)
    _, _, json_path = generate(run, settings)
    return json_path


def cached_report(tmp_path_factory, kind: str, sections: tuple[str, ...] = LOG_SECTIONS) -> Path:
    """Return report.json of the run `kind` (base | changed | ijepa), built once per test session."""
    key = (kind, sections)
    if key not in _BUILT:
        base = tmp_path_factory.mktemp(f"{kind}-{len(sections)}")
        make = {
            "base": lambda d: copy_run(HJEPA_RUN, d),
            "changed": changed_run,
            "ijepa": lambda d: copy_run(IJEPA_RUN, d),
        }[kind]
        _BUILT[key] = build(make(base / kind), base / "reports" / kind, sections)
    return _BUILT[key]


def copy_run(src: Path, dst: Path) -> Path:
    """Copy a fixture run without its reference arrays."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("reference"))
    return dst


def changed_run(dst: Path) -> Path:
    """Copy the H-JEPA fixture and rewrite its events: train/loss x LOSS_SCALE, one NaN in NAN_TAG."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    copy_run(HJEPA_RUN, dst)
    (events,) = (dst / "logs" / "tensorboard").glob("events.out.tfevents.*")
    data, out, pos, nan_done = events.read_bytes(), bytearray(), 0, False
    while pos < len(data):  # TFRecord framing: u64 length, u32 crc(length), payload, u32 crc(payload)
        (length,) = struct.unpack_from("<Q", data, pos)
        event = Event.FromString(data[pos + 12 : pos + 12 + length])
        for value in event.summary.value:
            if value.tag == "train/loss" and value.WhichOneof("value") == "simple_value":
                value.simple_value *= LOSS_SCALE
            elif value.tag == NAN_TAG and not nan_done:
                value.simple_value, nan_done = float("nan"), True
        payload = event.SerializeToString()
        header = struct.pack("<Q", len(payload))
        out += header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))
        pos += 12 + length + 4
    assert nan_done, f"{NAN_TAG} not in the fixture's events"
    events.write_bytes(bytes(out))
    return dst


def browser_marks() -> list:
    """The marks of a module whose tests open reports in headless Chromium: browser and slow, skipped without
    Chromium, except that CI sets HJEPA_REQUIRE_BROWSER=1 so that a missing Chromium fails there instead of
    skipping silently."""
    import os

    import pytest

    from browser_driver import CHROMIUM

    return [
        pytest.mark.browser,
        pytest.mark.slow,
        pytest.mark.skipif(
            not Path(CHROMIUM).exists() and not os.environ.get("HJEPA_REQUIRE_BROWSER"),
            reason=f"headless Chromium not found at {CHROMIUM}",
        ),
    ]
