"""The renderer: asset encoding, cell formatting, atomic writes, report.json schema."""

import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hjepa_report.analysis.base import Animation, Picture
from hjepa_report.plotting import new_figure
from hjepa_report.render.assets import data_uri, figure_png, gif_bytes, picture_bytes
from hjepa_report.render.jsonreport import jsonable
from hjepa_report.render.views import format_cell
from hjepa_report.render.write import write_atomic


def test_gif_has_all_frames_one_palette_and_loops():
    frames = []
    for i in range(6):
        f = np.zeros((64, 64, 3), np.uint8)
        f[:, :, 0] = 200
        f[i * 8 : (i + 1) * 8, :, 2] = 255
        frames.append(f)
    payload = gif_bytes(frames, duration_ms=500)
    im = Image.open(io.BytesIO(payload))
    assert im.format == "GIF" and im.n_frames == 6
    assert im.info.get("loop") == 0
    im.seek(3)
    np.testing.assert_array_equal(np.asarray(im.convert("RGB")), frames[3])  # few colours: exact


def test_picture_encoding_chooses_webp_for_large_png_for_small():
    _, mime = picture_bytes(np.zeros((200, 200, 3), np.uint8))
    assert mime == "image/webp"
    payload, mime = picture_bytes(np.full((8, 8), 7, np.uint8))
    assert mime == "image/png" and Image.open(io.BytesIO(payload)).size == (8, 8)


def test_figure_png_and_data_uri():
    fig, ax = new_figure(2, 2)
    ax.plot([0, 1], [1, 0])
    png = figure_png(fig)
    assert png.startswith(b"\x89PNG")
    assert data_uri(b"abc", "image/png") == "data:image/png;base64,YWJj"


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "-"),
        (True, "yes"),
        (12, "12"),
        (123456, "123,456"),
        (0.123456, "0.1235"),
        (float("nan"), "NaN"),
        (float("inf"), "inf"),
        ([1, 2.5], "[1, 2.5]"),
        (np.float32(0.5), "0.5"),
        ("a<b", "a<b"),
    ],
)
def test_format_cell(value, text):
    assert format_cell(value) == text


def test_jsonable_removes_nan_and_numpy_types():
    doc = jsonable(
        {"a": np.float64("nan"), "b": np.array([1, 2]), "c": float("-inf"), "d": Path("/x"), "e": np.int64(3)}
    )
    assert doc == {"a": None, "b": [1, 2], "c": "-inf", "d": "/x", "e": 3}
    json.dumps(doc, allow_nan=False)


def test_jsonable_writes_infinities_as_strings_and_enums_as_values():
    from hjepa_report.status import Status

    doc = jsonable(
        {
            "norms": np.array([1.0, np.inf, -np.inf, np.nan]),
            "status": Status.WARN,
            3: {1.5, 0.5},
            "nested": [(np.float32(np.inf), np.bool_(True))],
        }
    )
    assert doc == {"norms": [1.0, "inf", "-inf", None], "status": "warn", "3": [0.5, 1.5], "nested": [["inf", True]]}
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


@pytest.mark.parametrize("value", [object(), b"bytes", complex(1, 2), {"k": {object(): 1}}])
def test_jsonable_refuses_what_report_json_cannot_hold(value):
    """Regression (issue 12, bug 3): unknown types were written as their str(), e.g. "<object object at 0x...>"."""
    with pytest.raises(TypeError, match="report.json cannot"):
        jsonable({"metrics": {"deep": [value]}})


def test_jsonable_names_where_the_bad_value_is():
    with pytest.raises(
        TypeError,
        match=r"^report\.sections\[1\]\.metrics\.bad: report.json cannot hold a "
        r"builtins\.object",
    ):
        jsonable({"sections": [{}, {"metrics": {"ok": 1, "bad": object()}}]})


def test_write_atomic_leaves_old_file_when_a_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    target.write_text("good")

    class Boom(str):
        pass

    import hjepa_report.render.write as write_module

    real_replace = write_module.os.replace

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(write_module.os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_atomic({target: "new"})
    monkeypatch.setattr(write_module.os, "replace", real_replace)
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temp file left behind


def test_animation_and_picture_types_are_plain_data():
    a = Animation(frames=[np.zeros((2, 2, 3), np.uint8)])
    assert a.loop == 0 and a.duration_ms > 0
    assert Picture(np.zeros((2, 2))).array.shape == (2, 2)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_a_plain_write_gives(tmp_path, umask, mask, mode):
    """Regression (issue 12, bug 5): mkstemp + rename left every report file 0600 whatever the umask."""
    umask(mask)
    targets = [tmp_path / "report.html", tmp_path / "sub" / "report.json"]
    write_atomic({t: "x" for t in targets})
    with open(tmp_path / "plain.txt", "w") as handle:  # what the user expects: the mode of a normal write
        handle.write("x")
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == mode
    assert [stat.S_IMODE(t.stat().st_mode) for t in targets] == [mode, mode]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt", "report.html", "sub"]  # no temp file


def test_summary_and_index_files_get_the_plain_mode_too(tmp_path, umask):
    from hjepa_report.render.index import write_index
    from hjepa_report.render.summary import write_summary_md

    umask(0o022)
    summary = write_summary_md({"run": {"name": "r"}, "health": {"verdict": "pass"}}, tmp_path / "s.md")
    index = write_index(tmp_path)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (summary, index)] == [0o644, 0o644]
