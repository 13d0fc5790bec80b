"""Property-based fuzzing (hypothesis) of every reader of untrusted bytes: they never raise on bad content.

Targets: TensorBoard record framing, CSV, JSON / JSON lines, config YAML, the checkpoint container (torch zip
and legacy pickles, safetensors headers), the weights-only loader's refusals, and image headers. Each reader's
contract is its module's: return a result that says what was skipped (LogRead, ConfigRead, an image problem
in words) or raise the one documented error (CheckpointError / UnsafeCheckpointError); anything else would be
a traceback for the user. Inputs are random bytes, and valid files mutated (truncated, bytes flipped,
spliced), since random bytes alone rarely get past the first check of a format.

Seeded and bounded: derandomize=True (the same examples on every run), HJEPA_FUZZ_EXAMPLES examples per
target (default 150, seconds in all); for a longer hunt, e.g. `HJEPA_FUZZ_EXAMPLES=20000 pytest
tests/test_fuzz_readers.py --hypothesis-show-statistics`. Every crash found becomes a case of the bad-input
corpus (tests/bad_inputs/make_corpus.py). Found so far: zipfile.is_zipfile raising BadZipFile on a ZIP64 end
locator that names several disks (corpus case checkpoint-zip64-multidisk; 1000 examples per target); torch's
legacy reader asserting on a storage key its pickle lacks (checkpoint-legacy-storage-key; 3000 per target); a
pickled numpy scalar naming an unknown codec, LookupError (checkpoint-unknown-codec; 10000 examples).
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import HJEPA_RUN  # noqa: E402
from hjepa_report.errors import CheckpointError, UnsafeCheckpointError  # noqa: E402

EXAMPLES = int(os.environ.get("HJEPA_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EVENT_FILE = next((HJEPA_RUN / "logs" / "tensorboard").glob("events.out.tfevents.*")).read_bytes()
PNG = (HJEPA_RUN / "images" / "rings_0000.png").read_bytes()
JPEG = (HJEPA_RUN / "images" / "photos_0000.jpg").read_bytes()


def _mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """A valid file cut at a random place, with a few bytes overwritten, or spliced with random bytes."""

    @st.composite
    def build(draw):
        data = bytearray(seed[: draw(st.integers(0, len(seed)))] if draw(st.booleans()) else seed)
        for _ in range(draw(st.integers(0, 8))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        if draw(st.booleans()):
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(max_size=64))
        return bytes(data)

    return build()


def _in_file(data: bytes, name: str):
    """Write `data` to a fresh temporary file called `name`; return (folder object, path)."""
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / name
    path.write_bytes(data)
    return folder, path


# --- TensorBoard framing ------------------------------------------------------------------------------------


def _frame(payload: bytes) -> bytes:
    """One TFRecord with correct length CRC: what a writer produces for any payload."""
    from hjepa_report.collect.tensorboard import _masked_crc32c

    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", _masked_crc32c(length)) + payload + b"\0\0\0\0"


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=2048),
        _mutated(EVENT_FILE),
        st.lists(st.binary(max_size=80)).map(lambda ps: b"".join(map(_frame, ps))),
    )
)
def test_tensorboard_framing_never_raises(data):
    from hjepa_report.collect.tensorboard import _read_records

    read = _read_records(data, "events")
    assert read.kind == "tensorboard" and isinstance(read.detail, str)
    if read.frame is not None:
        assert list(read.frame.columns) == ["source", "tag", "step", "value", "wall_time"]


# --- CSV ----------------------------------------------------------------------------------------------------

_CELL = st.one_of(
    st.sampled_from(["", "nan", "inf", "-inf", "1e999", "0x1", "1_0", " 2 ", '"3"', "step", "epoch", "itr"]),
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True).map(repr),
    st.text(max_size=6),
)


@st.composite
def _csv_text(draw):
    header = draw(
        st.lists(st.sampled_from(["step", "epoch", "itr", "loss", "val/loss", "x", ""]), min_size=1, max_size=6)
    )
    rows = draw(st.lists(st.lists(_CELL, max_size=8), max_size=12))
    return "\n".join(",".join(r) for r in [header, *rows]).encode("utf-8", "surrogatepass")


@FUZZ
@given(
    st.one_of(
        _csv_text(), st.binary(max_size=1024), st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
    )
)
def test_csv_reader_never_raises(data):
    from hjepa_report.collect.csvlogs import read_csv_log

    folder, path = _in_file(data, "log.csv")
    with folder:
        read = read_csv_log(path, "log.csv")
    assert read.kind == "csv" and isinstance(read.detail, str)


# --- JSON and JSON lines ------------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**400), 10**400) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["step", "epoch", "loss", "a", "timestamp", "wall_time"]) | st.text(max_size=4),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _dumps(value) -> str:
    import json

    try:
        return json.dumps(value)
    except ValueError:  # integers of over 4300 digits
        return "{}"


@FUZZ
@given(
    st.one_of(
        _JSON.map(_dumps),
        st.lists(_JSON.map(_dumps), max_size=8).map("\n".join),
        st.text(max_size=300),
    ),
    st.sampled_from(["m.json", "m.jsonl", "train.log"]),
)
def test_json_reader_never_raises(text, name):
    from hjepa_report.collect.jsonlogs import read_json_log

    folder, path = _in_file(text.encode("utf-8", "surrogatepass"), name)
    with folder:
        read = read_json_log(path, name)
    assert read.kind in ("json", "jsonl") and isinstance(read.detail, str)


# --- config YAML --------------------------------------------------------------------------------------------

_YAML_BITS = st.sampled_from(
    [
        "model:",
        "data:",
        "  - ",
        "&a ",
        "*a",
        "!!python/object:os.system",
        "!!binary",
        "{",
        "}",
        "[",
        "]",
        ": ",
        "\n",
        "  ",
        "'",
        '"',
        "%YAML 1.1\n",
        "---\n",
        "? ",
        "|\n",
        ">\n",
        "\t",
        "!!",
        "<<: *a",
        "1e999",
        "~",
    ]
)


@FUZZ
@given(
    st.one_of(
        st.lists(_YAML_BITS | st.text(max_size=4), max_size=40).map("".join),
        st.binary(max_size=512).map(lambda b: b.decode("latin-1")),
    )
)
def test_config_reader_never_raises(text):
    from hjepa_report.collect.collector import read_config_bounded

    folder, path = _in_file(text.encode("utf-8", "surrogatepass"), "config.yaml")
    with folder:
        read = read_config_bounded(path)
    assert read.doc is None or isinstance(read.doc, dict)


# --- checkpoints --------------------------------------------------------------------------------------------


def _torch_file(obj, zip_format: bool) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


def _small_checkpoints() -> list[bytes]:
    import numpy as np
    import torch

    obj = {"epoch": 3, "model": {"w": torch.arange(6.0).reshape(2, 3)}, "best": np.float64(0.5), "lr": [0.1]}
    return [_torch_file(obj, True), _torch_file(obj, False)]


CHECKPOINTS = _small_checkpoints()


def _zip_with_mutated_member(data: bytes) -> st.SearchStrategy[bytes]:
    """The torch zip rewritten with one member (data.pkl, a storage, the version) replaced by mutated bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}

    @st.composite
    def build(draw):
        name = draw(st.sampled_from(sorted(members)))
        new = draw(_mutated(members[name]))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
            for n, content in members.items():
                out.writestr(n, new if n == name else content)
        return buf.getvalue()

    return build()


def _load_or_refuse(data: bytes, name: str):
    from hjepa_report.collect.checkpoints import inspect_checkpoint, load_checkpoint

    folder, path = _in_file(data, name)
    with folder:
        try:
            load_checkpoint(path)
        except CheckpointError:
            pass
        ref = inspect_checkpoint(path, name)  # what the collector calls: never raises
    assert isinstance(ref.note, str)


@FUZZ
@given(
    st.one_of(
        _mutated(CHECKPOINTS[0]),
        _mutated(CHECKPOINTS[1]),
        _zip_with_mutated_member(CHECKPOINTS[0]),
        st.binary(max_size=512),
    )
)
def test_checkpoint_container_raises_only_checkpoint_errors(data):
    _load_or_refuse(data, "model.pth")


@st.composite
def _safetensors(draw):

    entry = st.fixed_dictionaries(
        {
            "dtype": st.sampled_from(["F32", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3", "X", ""]),
            "shape": st.lists(st.integers(-2, 2**40), max_size=3),
            "data_offsets": st.lists(st.integers(-2, 2**40), max_size=3),
        }
    )
    header = draw(st.dictionaries(st.text(max_size=5), entry | _JSON, max_size=3))
    raw = _dumps(header).encode()
    declared = draw(st.one_of(st.just(len(raw)), st.integers(0, 2**64 - 1)))
    return struct.pack("<Q", declared) + raw + draw(st.binary(max_size=64))


@FUZZ
@given(_safetensors())
def test_safetensors_header_raises_only_checkpoint_errors(data):
    _load_or_refuse(data, "model.safetensors")


# Globals a hostile pickle would call. The weights-only loader must refuse every one by name, before calling it.
_DANGEROUS = [
    "os.system",
    "posix.system",
    "builtins.eval",
    "builtins.exec",
    "subprocess.Popen",
    "shutil.rmtree",
    "builtins.__import__",
    "importlib.import_module",
    "pickle.loads",
    "numpy.load",
    "torch.load",
    "numpy.core.multiarray._reconstruct",
    "collections.OrderedDict.__setitem__",
    "builtins.getattr",
]


@FUZZ
@given(st.sampled_from(_DANGEROUS), st.sampled_from(["zip", "raw"]), st.integers(0, 3))
def test_weights_only_loader_refuses_every_code_running_global(name, container, depth):
    """A pickle calling `name` (nested `depth` dicts deep) is refused with UnsafeCheckpointError.

    "zip": the pickle as data.pkl of a torch zip file; "raw": a bare pickle, which torch reads as a legacy file.
    """
    from hjepa_report.collect.checkpoints import load_checkpoint

    module, attr = name.rsplit(".", 1)
    call = b"c" + module.encode() + b"\n" + attr.encode() + b"\n" + b"(S'touch PWNED'\ntR"
    pickled = b"\x80\x02" + b"}(X\x01\x00\x00\x00k" * depth + call + b"s" * depth + b"."
    data = pickled if container == "raw" else _as_data_pkl(pickled)
    folder, path = _in_file(data, "model.pth")
    with folder:
        cwd = os.getcwd()
        os.chdir(folder.name)
        try:
            with pytest.raises(CheckpointError) as refused:
                load_checkpoint(path)
        finally:
            os.chdir(cwd)
        assert not (Path(folder.name) / "PWNED").exists()
    assert isinstance(refused.value, UnsafeCheckpointError), str(refused.value)


def _as_data_pkl(pickled: bytes) -> bytes:
    """A torch zip checkpoint whose data.pkl is `pickled`."""
    members = _members(_torch_file({"x": 1}, True))
    members[next(n for n in members if n.endswith("data.pkl"))] = pickled
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for n, content in members.items():
            archive.writestr(n, content)
    return out.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


# --- images -------------------------------------------------------------------------------------------------


@FUZZ
@given(
    st.one_of(_mutated(PNG), _mutated(JPEG), st.binary(max_size=256)),
    st.sampled_from(["a.png", "a.jpg", "a.gif", "a.tif"]),
)
def test_image_header_probe_never_raises(data, name):
    from hjepa_report.collect.images import image_problem

    folder, path = _in_file(data, name)
    with folder:
        assert isinstance(image_problem(path), str)
