"""How each case of the bad-input corpus is built (the table is in tests/bad_inputs/make_corpus.py).

Every builder writes its inputs below a fresh folder `base` (the run directory is base/"run") and returns the
command-line options after RUN_DIR. Nothing here is committed as a binary: checkpoints, event files, images
and pickles are made at test time, most from the H-JEPA fixture run.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HJEPA_RUN = FIXTURES / "hjepa_small"
CANARY = "PWNED"
XSS_TOKEN = "XSS_9f3"
XSS_NAME = f'<script>alert("{XSS_TOKEN}")</script>'
XSS_ATTR = f"\"'><img src=x onerror={XSS_TOKEN}>"
RTL = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: makes 'gpj.exe' read as 'exe.jpg'
JSON_ONLY = ["--json-only", "--sections", "overview"]  # the cheapest report that lists every file read or skipped
SAMPLE_IMAGE_READ = "label 'a', from the <class>_NNNN file name"  # the image was taken as a sample image
HTML_OVERVIEW = ["--sections", "overview"]  # HTML as well: names must come out escaped

# --- helpers ------------------------------------------------------------------------------------------------


def _run(base: Path) -> Path:
    run = base / "run"
    run.mkdir(parents=True, exist_ok=True)
    return run


def _usable(run: Path) -> None:
    """A minimal good log, so the run is usable and the bad file shows as skipped in the report."""
    (run / "train_log.csv").write_text("step,loss\n0,1.0\n1,0.8\n2,0.7\n", encoding="utf-8")


def _with_file(name: str, data: bytes | Callable[[Path], bytes], usable: bool = True, opts=None):
    """A build function: the run holds `name` with `data` (bytes or a function of base), plus a good log."""

    def build(base: Path) -> list[str]:
        run = _run(base)
        path = run / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data(base) if callable(data) else data)
        if usable:
            _usable(run)
        return list(JSON_ONLY if opts is None else opts)

    return build


class _Exec:
    """A pickle payload: unpickling it calls os.system to create the canary file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _torch_bytes(obj, zip_format: bool = True) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


def _tensor_state():
    import torch

    return {"encoder.weight": torch.zeros(4, 4), "encoder.bias": torch.zeros(4)}


def _fixture_checkpoint() -> bytes:
    return (HJEPA_RUN / "checkpoints" / "checkpoint_latest.pth").read_bytes()


def _fixture_event_file() -> bytes:
    return next((HJEPA_RUN / "logs" / "tensorboard").glob("events.out.tfevents.*")).read_bytes()


def _fixture_run(base: Path, keep_checkpoint: bool = True) -> Path:
    """A copy of the H-JEPA fixture run (without its reference arrays), as base/run."""
    run = base / "run"
    ignore = ["reference"] + ([] if keep_checkpoint else ["checkpoints"])
    shutil.copytree(HJEPA_RUN, run, ignore=shutil.ignore_patterns(*ignore))
    if keep_checkpoint:  # one checkpoint is enough, and keeps the model sections to one load
        (run / "checkpoints" / "checkpoint_epoch_0001.pth").unlink()
    return run


def _edit_fixture_checkpoint(base: Path, edit: Callable[[dict], None]) -> None:
    """Replace the fixture copy's checkpoint by an edited one (edit(state_dict) changes it in place)."""
    from hjepa_report.collect import load_checkpoint

    run = _fixture_run(base)
    path = run / "checkpoints" / "checkpoint_latest.pth"
    loaded = load_checkpoint(path)  # memory-mapped: copy the tensors before the file is replaced
    state = {k: v.clone() for k, v in loaded["model_state_dict"].items()}
    edit(state)
    checkpoint = {"epoch": int(loaded["epoch"]), "global_step": int(loaded["global_step"]), "model_state_dict": state}
    del loaded
    path.write_bytes(_torch_bytes(checkpoint))


def _png(width: int, height: int, bit_depth: int = 8, colour: int = 2, rows: bytes | None = None) -> bytes:
    """A PNG written by hand (so its header can lie): IHDR, one IDAT of `rows` (default: zeros), IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    if rows is None:
        channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
        row = b"\x00" + bytes((width * channels * bit_depth + 7) // 8)
        compressor = zlib.compressobj(9)
        rows = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _pil_bytes(make, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    make().save(buf, format=fmt, **save)
    return buf.getvalue()


def _image_run(name: str, data: Callable[[], bytes]):
    """A fixture copy whose only sample image is `data`: the masking and model sections load it."""

    def build(base: Path) -> list[str]:
        run = _fixture_run(base)
        shutil.rmtree(run / "images")
        (run / "images").mkdir()
        (run / "images" / name).write_bytes(data())
        return ["--json-only", "--sections", "overview,masking,attention", "--encoder-heads", "2"]

    return build


def _billion_laughs() -> bytes:
    lines = ["model: {name: vit_tiny}", "data: {image_size: 32}", "masking: {}", 'a0: &a0 ["lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 10)}]" for i in range(1, 10)]
    lines += ["training: {epochs: *a9}"]
    return "\n".join(lines).encode()


def _safetensors(header: dict | bytes, declared: int | None = None, payload: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw + payload


def _symlink(target_of: Callable[[Path], Path | str], name: str):
    def build(base: Path) -> list[str]:
        run = _run(base)
        _usable(run)
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target_of(base), run / name)
        return list(JSON_ONLY)

    return build


def _outside_secret(base: Path) -> Path:
    secret = base / "secret.yaml"
    secret.write_text("model: {name: SECRET_OUTSIDE}\ndata: {}\nmasking: {}\ntraining: {}\n", encoding="utf-8")
    return secret


def _names_run(base: Path) -> list[str]:
    """File, folder, tag and class names with HTML, script, quote characters and a right-to-left mark."""
    run = _run(base)
    (run / f"{XSS_ATTR}.csv").write_text(f"step,{XSS_NAME}\n0,1\n1,2\n", encoding="utf-8")
    (run / f"{RTL}gpj.csv").write_text("step,loss\n0,1\n", encoding="utf-8")
    return list(HTML_OVERVIEW)


def _config_values_run(base: Path) -> list[str]:
    run = _fixture_run(base, keep_checkpoint=False)
    text = (run / "config.yaml").read_text(encoding="utf-8")
    (run / "config.yaml").write_text(
        text + f"\nlogging:\n  experiment_name: '{XSS_NAME.replace(chr(39), chr(39) * 2)}'\n"
        f"  note: '{XSS_ATTR.replace(chr(39), chr(39) * 2)}'\n  rtl: '{RTL}evil'\n",
        encoding="utf-8",
    )
    return list(HTML_OVERVIEW)


def _class_names_run(base: Path) -> list[str]:
    run = _run(base)
    _usable(run)
    for label in (XSS_NAME, XSS_ATTR):
        folder = run / "images" / label.replace("/", "_")
        folder.mkdir(parents=True)
        shutil.copy(HJEPA_RUN / "images" / "rings_0000.png", folder / "a.png")
    return list(HTML_OVERVIEW)


def _non_utf8_names(base: Path) -> list[str]:
    run = _run(base)
    _usable(run)
    raw = os.fsencode(str(run)) + b"/log_\xff\xfe.csv"
    with open(raw, "wb") as fh:
        fh.write(b"step,loss\xff\n0,1\n1,2\n")
    return list(HTML_OVERVIEW)


def _read_only_run(base: Path) -> list[str]:
    run = _fixture_run(base, keep_checkpoint=False)
    for path in [run, *run.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return list(JSON_ONLY)


def _output_parent_is_a_file(base: Path) -> list[str]:
    _usable(_run(base))
    (base / "blocker").write_text("a file where the output folder should be\n", encoding="utf-8")
    return ["-o", str(base / "blocker" / "report.html"), *JSON_ONLY]


def _output_json_is_a_folder(base: Path) -> list[str]:
    _usable(_run(base))
    (base / "out" / "report.json").mkdir(parents=True)
    return ["-o", str(base / "out" / "report.html"), *JSON_ONLY]


def _full_disk(base: Path) -> list[str]:
    _fixture_run(base, keep_checkpoint=False)
    return ["-o", str(base / "out" / "report.html"), "--sections", "overview,training"]


def _previous_report_kept(base: Path) -> list[str]:
    """A full disk while an earlier report sits at the output: the earlier one must survive whole."""
    args = _full_disk(base)
    out = base / "out"
    out.mkdir()
    (out / "report.html").write_text("<html>previous report</html>\n", encoding="utf-8")
    (out / "report.json").write_text('{"previous": true}\n', encoding="utf-8")
    return args


def _nan_weights(state: dict) -> None:
    import torch

    for key, value in state.items():
        if key.endswith("attn.qkv.weight"):
            value.copy_(torch.full_like(value, float("nan")))


def _shape_mismatch(state: dict) -> None:
    import torch

    key = next(k for k in state if k.endswith("attn.qkv.weight"))
    state[key] = torch.zeros(3, 3)


def _unrelated(base: Path) -> list[str]:
    run = _run(base)
    (run / "notes.txt").write_text("not a training run\n", encoding="utf-8")
    (run / "script.py").write_text("print('hello')\n", encoding="utf-8")
    (run / "data.bin").write_bytes(bytes(range(256)))
    return list(JSON_ONLY)


def _empty(base: Path) -> list[str]:
    _run(base)
    return list(JSON_ONLY)


def _file_as_run(base: Path) -> list[str]:
    base.mkdir(parents=True, exist_ok=True)
    (base / "run.csv").write_text("step,loss\n0,1\n", encoding="utf-8")
    return list(JSON_ONLY)


def _symlink_loop(base: Path) -> list[str]:
    run = _run(base)
    _usable(run)
    os.symlink(".", run / "loop")
    os.symlink("b", run / "a")
    os.symlink("a", run / "b")
    return list(JSON_ONLY)


def _fifo(base: Path) -> list[str]:
    run = _run(base)
    _usable(run)
    os.mkfifo(run / "metrics.jsonl")  # opening it would block forever
    return list(JSON_ONLY)


def _zip_pickle_payload(base: Path) -> bytes:
    return _torch_bytes({"model": _tensor_state(), "evil": _Exec(base / CANARY)})


def _legacy_pickle_payload(base: Path) -> bytes:
    return _torch_bytes({"model": _tensor_state(), "evil": _Exec(base / CANARY)}, zip_format=False)


def _optimizer_payload(base: Path) -> bytes:
    optimizer = {"state": {0: {"exp_avg": _Exec(base / CANARY)}}, "param_groups": [{"lr": 0.1}]}
    return _torch_bytes({"model": _tensor_state(), "optimizer": optimizer})


def _numpy_object_array(base: Path) -> bytes:
    import numpy as np

    arr = np.array([_Exec(base / CANARY), 1], dtype=object)
    return _torch_bytes({"model": _tensor_state(), "extra": arr})


def _raw_pickle(base: Path) -> bytes:
    return pickle.dumps({"evil": _Exec(base / CANARY)}, protocol=2)


def _zip64_multidisk() -> bytes:
    """A torch zip whose ZIP64 end locator names two disks: zipfile.is_zipfile raised on it (found by fuzzing)."""
    data = bytearray(_torch_bytes(_tensor_state()))
    struct.pack_into("<I", data, data.rfind(b"PK\x06\x07") + 16, 2)
    return bytes(data)


def _legacy_storage_key() -> bytes:
    """A legacy checkpoint whose list of storage keys names one its pickle lacks: torch asserts (found by fuzzing)."""
    import re

    data = bytearray(_torch_bytes(_tensor_state(), zip_format=False))
    key = re.findall(rb"\d{10,}", bytes(data))[0]
    data[bytes(data).rfind(key)] = ord("x")
    return bytes(data)


def _unknown_codec() -> bytes:
    """A legacy checkpoint whose pickled numpy scalar names an unknown text codec: LookupError (found by fuzzing)."""
    import numpy as np

    data = _torch_bytes({"w": _tensor_state(), "best": np.float64(0.5)}, zip_format=False)
    return data.replace(b"latin1", b"xatin1")


def _half_checkpoint() -> bytes:
    data = _fixture_checkpoint()
    return data[: len(data) // 2]


def _tensorboard_truncated() -> bytes:
    data = _fixture_event_file()
    return data[: len(data) // 2 + 7]


def _tensorboard_crc() -> bytes:
    data = bytearray(_fixture_event_file())
    pos = 0
    for _ in range(5):  # corrupt the length of the sixth record
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 12 + length + 4
    data[pos] ^= 0x40
    return bytes(data)


def _random(n: int, seed: int) -> bytes:
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _wide_csv(n: int, prefix: str = "c") -> bytes:
    header = "step," + ",".join(f"{prefix}{i}" for i in range(n))
    row = "0," + ",".join("1" for _ in range(n))
    return (header + "\n" + row + "\n").encode()


def _bad_yaml_run(data: Callable[[], bytes], name: str = "config.yaml"):
    def build(base: Path) -> list[str]:
        run = _run(base)
        _usable(run)
        (run / name).write_bytes(data())
        return list(JSON_ONLY)

    return build


def _cmyk() -> bytes:
    from PIL import Image

    return _pil_bytes(lambda: Image.new("CMYK", (48, 48), (0, 128, 255, 10)), "JPEG")


def _palette() -> bytes:
    from PIL import Image

    return _pil_bytes(lambda: Image.new("RGB", (48, 48), (200, 30, 30)).convert("P"), "PNG")


def _sixteen_bit() -> bytes:
    from PIL import Image

    return _pil_bytes(lambda: Image.new("I;16", (48, 48), 40000), "PNG")


def _animated() -> bytes:
    from PIL import Image

    frames = [Image.new("RGB", (48, 48), (i * 80, 0, 0)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], loop=0)
    return buf.getvalue()


def _one_pixel() -> bytes:
    from PIL import Image

    return _pil_bytes(lambda: Image.new("RGB", (1, 1), (9, 9, 9)), "PNG")


def _truncated_png() -> bytes:
    data = (HJEPA_RUN / "images" / "rings_0000.png").read_bytes()
    return data[: len(data) // 2]
