"""The bad-input corpus: every hostile or broken input the report has been tested against, and what a user gets.

Each `Case` builds its inputs into a fresh folder at test time (nothing big is committed): a run directory
`base/run` (plus, for some, files next to it), and returns the extra command-line options. The table records
the exit status the README documents and a fragment of the one-line message the user sees: on stderr for an
error, or in report.json (a file skipped and why, a section's message) for a report that was written.
tests/test_bad_inputs.py runs the real command line on every case; tests/bad_inputs/readme_section.py writes
the README's "What a bad input gets" section from this table, so the documentation cannot drift from it.

Code-execution canaries: every pickle payload, if it ever ran, would create `base/PWNED` (CANARY); the test
checks that it does not exist. Names meant to be injected into the HTML carry the token XSS_TOKEN.

Run `python tests/bad_inputs/make_corpus.py DIR` to write every case into DIR for a look by hand.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_builders import (  # noqa: E402
    SAMPLE_IMAGE_READ,
    XSS_TOKEN,
    _animated,
    _bad_yaml_run,
    _billion_laughs,
    _class_names_run,
    _cmyk,
    _config_values_run,
    _edit_fixture_checkpoint,
    _empty,
    _fifo,
    _file_as_run,
    _full_disk,
    _half_checkpoint,
    _image_run,
    _legacy_pickle_payload,
    _legacy_storage_key,
    _names_run,
    _nan_weights,
    _non_utf8_names,
    _numpy_object_array,
    _one_pixel,
    _optimizer_payload,
    _output_json_is_a_folder,
    _output_parent_is_a_file,
    _outside_secret,
    _palette,
    _png,
    _previous_report_kept,
    _random,
    _raw_pickle,
    _read_only_run,
    _safetensors,
    _shape_mismatch,
    _sixteen_bit,
    _symlink,
    _symlink_loop,
    _tensorboard_crc,
    _tensorboard_truncated,
    _torch_bytes,
    _truncated_png,
    _unknown_codec,
    _unrelated,
    _wide_csv,
    _with_file,
    _zip64_multidisk,
    _zip_pickle_payload,
)


@dataclass(frozen=True)
class Case:
    """One bad input: how to build it, and the documented outcome.

    build(base) writes the inputs below `base` (the run directory is base/"run") and returns the options
    after RUN_DIR; `exit` is the expected exit status, `message` a fragment of what the user reads (stderr for
    a non-zero exit status, report.json otherwise); `what` describes the input in the README's words;
    `html`: the HTML is written and checked for injected markup; `run_dir`: the RUN_DIR argument relative to
    base (default "run"); `limits`: apply the memory and file-size limits of the test's child process.
    """

    name: str
    what: str
    build: Callable[[Path], list[str]]
    exit: int
    message: str
    html: bool = False
    run_dir: str = "run"
    file_size_limit: int | None = None  # RLIMIT_FSIZE in the child: simulates a full disk
    sections_ok: bool = False  # every section of the report ran ("ok"): the input is one the report handles
    xfail: str = ""  # why the case fails today (a fix in a file this corpus's author does not own)


# --- the table ----------------------------------------------------------------------------------------------

B = 2  # ExitCode.BAD_INPUT
OK = 0
CASES: list[Case] = [
    # run directories
    Case(
        "missing-run-dir", "a run directory that does not exist", _empty, B, "run directory not found", run_dir="nope"
    ),
    Case("empty-run-dir", "an empty run directory", _empty, B, "nothing usable in"),
    Case("unrelated-dir", "a folder of unrelated files (text, a script, bytes)", _unrelated, B, "nothing usable in"),
    Case(
        "run-dir-is-a-file", "a file given as the run directory", _file_as_run, B, "not a directory", run_dir="run.csv"
    ),
    Case("read-only-run-dir", "a read-only run directory", _read_only_run, OK, "used as the run's config"),
    Case("symlink-loop", "symbolic links that loop", _symlink_loop, OK, "looping symbolic link, not followed"),
    Case(
        "symlink-out-of-run",
        "a symbolic link to a file outside the run directory",
        _symlink(_outside_secret, "config.yaml"),
        OK,
        "symbolic link out of the run directory, not followed",
    ),
    Case(
        "symlink-to-device",
        "a symbolic link to /dev/zero named like an event file",
        _symlink(lambda b: "/dev/zero", "logs/events.out.tfevents.1.x"),
        OK,
        "symbolic link out of the run directory, not followed",
    ),
    Case("fifo", "a named pipe called metrics.jsonl", _fifo, OK, "not a regular file"),
    # checkpoints
    Case(
        "checkpoint-empty",
        "a zero-length checkpoint",
        _with_file("model.pth", b""),
        OK,
        "not a readable torch checkpoint",
    ),
    Case(
        "checkpoint-truncated",
        "a checkpoint cut in half",
        _with_file("checkpoints/checkpoint_epoch_0001.pth", lambda b: _half_checkpoint()),
        OK,
        "not a readable torch checkpoint",
    ),
    Case(
        "checkpoint-text",
        "a text file named .pth",
        _with_file("model.pth", b"hello\n" * 50),
        OK,
        "not a readable torch checkpoint",
    ),
    Case(
        "checkpoint-random",
        "random bytes named .ckpt",
        _with_file("last.ckpt", lambda b: _random(4096, 1)),
        OK,
        "not a readable torch checkpoint",
    ),
    Case(
        "checkpoint-zip64-multidisk",
        "a zip checkpoint whose end record names several disks (found by fuzzing)",
        _with_file("model.pth", lambda b: _zip64_multidisk()),
        OK,
        "unsupported multidisk archive",
    ),
    Case(
        "checkpoint-legacy-storage-key",
        "a legacy checkpoint listing a storage its pickle lacks (found by fuzzing)",
        _with_file("model.pth", lambda b: _legacy_storage_key()),
        OK,
        "not found in deserialized_objects",
    ),
    Case(
        "checkpoint-unknown-codec",
        "a checkpoint whose pickled numpy scalar names an unknown text codec (found by fuzzing)",
        _with_file("model.pth", lambda b: _unknown_codec()),
        OK,
        "LookupError: unknown encoding: xatin1",
    ),
    Case(
        "checkpoint-wrong-structure",
        "a checkpoint holding a list instead of a dict",
        _with_file("model.pt", lambda b: _torch_bytes([1, 2, 3])),
        OK,
        "holds a list, not a dict",
    ),
    Case(
        "checkpoint-shape-mismatch",
        "a checkpoint whose attention weights have the wrong shape",
        lambda b: (
            _edit_fixture_checkpoint(b, _shape_mismatch),
            ["--json-only", "--sections", "model", "--encoder-heads", "2"],
        )[1],
        OK,
        "The networks could not be rebuilt from the checkpoint: the checkpoint does not match the rebuilt network",
    ),
    Case(
        "pickle-zip",
        "a checkpoint (zip format) whose pickle would run a shell command",
        _with_file("model.pth", _zip_pickle_payload),
        OK,
        "refused to load, it needs the global 'posix.system'",
    ),
    Case(
        "pickle-legacy",
        "a legacy (pre-zip) checkpoint whose pickle would run a shell command",
        _with_file("model.pth", _legacy_pickle_payload),
        OK,
        "refused to load",
    ),
    Case(
        "pickle-in-optimizer",
        "a code-running pickle nested in the optimizer state",
        _with_file("model.pth", _optimizer_payload),
        OK,
        "refused to load",
    ),
    Case(
        "pickle-numpy-object",
        "a numpy object array in a checkpoint",
        _with_file("model.pth", _numpy_object_array),
        OK,
        "refused to load",
    ),
    Case(
        "pickle-raw",
        "a bare pickle (not torch.save) named .pt",
        _with_file("model.pt", _raw_pickle),
        OK,
        "refused to load",
    ),
    Case(
        "pickle-given-explicitly",
        "--checkpoint pointing at a code-running pickle",
        lambda b: _with_file("model.pth", _zip_pickle_payload)(b) + ["--checkpoint", str(b / "run" / "model.pth")],
        OK,
        "refused to load",
    ),
    Case(
        "safetensors-lying-length",
        "a safetensors file whose header length is larger than the file",
        _with_file(
            "model.safetensors", _safetensors({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, 2**40)
        ),
        OK,
        "not a readable safetensors file",
    ),
    Case(
        "safetensors-lying-offsets",
        "a safetensors header that points past the end of the file",
        _with_file(
            "model.safetensors",
            _safetensors(
                {"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}, payload=bytes(8)
            ),
        ),
        OK,
        "not a readable safetensors file",
    ),
    Case(
        "safetensors-bad-json",
        "a safetensors file whose header is not JSON",
        _with_file("model.safetensors", _safetensors(b"{not json")),
        OK,
        "not a readable safetensors file",
    ),
    Case(
        "nan-weights",
        "a checkpoint whose attention weights are NaN",
        lambda b: (
            _edit_fixture_checkpoint(b, _nan_weights),
            ["--json-only", "--sections", "attention", "--encoder-heads", "2"],
        )[1],
        OK,
        "not computed: the attention holds NaN or inf",
    ),
    # TensorBoard
    Case(
        "tensorboard-empty",
        "a zero-length event file",
        _with_file("events.out.tfevents.1.host", b""),
        OK,
        "empty event file",
    ),
    Case(
        "tensorboard-truncated",
        "an event file cut mid-record",
        _with_file("logs/events.out.tfevents.1.host", lambda b: _tensorboard_truncated()),
        OK,
        "truncated event file: read",
    ),
    Case(
        "tensorboard-crc",
        "an event file with a corrupt record length (CRC mismatch)",
        _with_file("logs/events.out.tfevents.1.host", lambda b: _tensorboard_crc()),
        OK,
        "corrupt record length at byte",
    ),
    Case(
        "tensorboard-random",
        "random bytes named like an event file",
        _with_file("events.out.tfevents.2.host", lambda b: _random(10_000, 2)),
        OK,
        "corrupt record length at byte 0",
    ),
    # CSV
    Case(
        "csv-garbage-rows",
        "a CSV log with garbage rows",
        _with_file("log.csv", b"step,loss\n0,1.0\nnot,a,row\n\x00\x01\x02\n1,0.5\nxyz,0.1\n", usable=False),
        OK,
        "3 garbage rows skipped",
    ),
    Case(
        "csv-header-only",
        "a CSV log with only a header",
        _with_file("log.csv", b"step,loss\n"),
        OK,
        "CSV without numeric values",
    ),
    Case(
        "csv-mixed-types",
        "a CSV log mixing numbers, words and empty cells",
        _with_file("log.csv", b"step,loss,phase\n0,1.0,train\n1,,val\n2,nan,train\n3,inf,x\n", usable=False),
        OK,
        "CSV: 1 scalar tag, 3 points",
    ),
    Case(
        "csv-million-columns",
        "a CSV log with 10^6 columns (a 7 MB header line)",
        _with_file("wide.csv", lambda b: _wide_csv(10**6)),
        OK,
        "2 lines over 1 Mi characters skipped",
    ),
    Case(
        "csv-100k-columns",
        "a CSV log with 10^5 short columns",
        _with_file("wide.csv", lambda b: _wide_csv(10**5, "")),
        OK,
        "CSV with 100001 columns (over 10000): not read as a log",
    ),
    Case(
        "csv-overlong-line",
        "a CSV log whose one line is 64 MB long",
        _with_file("log.csv", lambda b: b"step,loss\n" + b"1" * (64 << 20) + b"\n0,1\n", usable=False),
        OK,
        "CSV: 1 scalar tag, 1 point; step from column 'step'; 1 line over 1 Mi characters skipped",
    ),
    Case(
        "csv-non-utf8",
        "a CSV log with bytes that are not UTF-8",
        _with_file("log.csv", b"step,lo\xffss\n0,1\n1,\xfe2\n", usable=False),
        OK,
        "CSV: 1 scalar tag, 1 point",
    ),
    # JSON
    Case(
        "jsonl-broken-lines",
        "JSON lines with broken lines",
        _with_file(
            "metrics.jsonl",
            b'{"step": 0, "loss": 1}\n{"step": 1, "loss"\nnot json\n{"step": 2, "loss": 0.5}\n',
            usable=False,
        ),
        OK,
        "2 non-JSON lines skipped",
    ),
    Case(
        "json-deep-nesting",
        "a JSON file nested 100000 levels deep",
        _with_file("metrics.json", b"[" * 100_000 + b"]" * 100_000),
        OK,
        "JSON nested too deeply to read",
    ),
    Case(
        "jsonl-deep-nesting",
        "a JSON line nested 100000 levels deep",
        _with_file("metrics.jsonl", b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"\n"),
        OK,
        "no JSON object lines",
    ),
    Case(
        "json-huge-integer",
        "a JSON log with a 5000-digit integer",
        _with_file("metrics.jsonl", b'{"step": 1, "loss": ' + b"9" * 5000 + b"}\n"),
        OK,
        "no JSON object lines",
    ),
    # YAML configs
    Case(
        "yaml-invalid",
        "a config YAML that does not parse",
        _bad_yaml_run(lambda: b"model: [unclosed\n  data: {"),
        OK,
        "YAML error",
    ),
    Case(
        "yaml-python-tag",
        "a config YAML with a !!python/object tag that would run code",
        _bad_yaml_run(lambda: b"model: !!python/object/apply:os.system ['touch PWNED']\n"),
        OK,
        "YAML error",
    ),
    Case(
        "yaml-billion-laughs",
        "a billion-laughs YAML (aliases expanding to 10^9 strings)",
        _bad_yaml_run(_billion_laughs),
        OK,
        "aliases expand it to over 100000 values: not used",
    ),
    Case(
        "yaml-100mb-scalar",
        "a config YAML holding one 100 MB string",
        _bad_yaml_run(lambda: b"model: {name: '" + b"x" * (100 << 20) + b"'}\ndata: {}\nmasking: {}\ntraining: {}\n"),
        OK,
        "MiB): not parsed",
    ),
    Case(
        "yaml-non-utf8",
        "a config YAML with bytes that are not UTF-8",
        _bad_yaml_run(lambda: b"model: {name: \xff\xfe}\n"),
        OK,
        "YAML without training-config sections",
    ),
    # names
    Case(
        "names-html",
        "file and tag names with HTML, script, quote characters and a right-to-left mark",
        _names_run,
        OK,
        XSS_TOKEN,
        html=True,
    ),
    Case(
        "config-values-html",
        "config values with HTML, script and quote characters",
        _config_values_run,
        OK,
        XSS_TOKEN,
        html=True,
    ),
    Case(
        "class-names-html",
        "image class (folder) names with HTML and script",
        _class_names_run,
        OK,
        XSS_TOKEN,
        html=True,
    ),
    Case("names-non-utf8", "a file name that is not UTF-8", _non_utf8_names, OK, "log_\\xff\\xfe.csv", html=True),
    # images
    Case(
        "image-truncated",
        "a truncated PNG sample image",
        _image_run("a_0000.png", _truncated_png),
        OK,
        "Could not read 1 image(s): a_0000.png.",
    ),
    Case(
        "image-bomb",
        "a PNG decompression bomb (100000 x 100000 in its header)",
        _image_run("a_0000.png", lambda: _png(100_000, 100_000, rows=zlib.compress(b""))),
        OK,
        "not used: its header claims over",
    ),
    Case(
        "image-20000",
        "a real 20000 x 20000 PNG (1 bit per pixel, 50 kB)",
        _image_run("a_0000.png", lambda: _png(20_000, 20_000, bit_depth=1, colour=0)),
        OK,
        "not used: its header claims over",
    ),
    Case(
        "image-64-megapixels",
        "an 8000 x 8000 PNG (1 bit per pixel, 8 kB)",
        _image_run("a_0000.png", lambda: _png(8000, 8000, bit_depth=1, colour=0)),
        OK,
        "not used: 8000 x 8000 pixels, over 50 megapixels",
    ),
    Case(
        "image-16bit",
        "a 16-bit greyscale PNG",
        _image_run("a_0000.png", _sixteen_bit),
        OK,
        SAMPLE_IMAGE_READ,
        sections_ok=True,
    ),
    Case("image-cmyk", "a CMYK JPEG", _image_run("a_0000.jpg", _cmyk), OK, SAMPLE_IMAGE_READ, sections_ok=True),
    Case("image-palette", "a palette PNG", _image_run("a_0000.png", _palette), OK, SAMPLE_IMAGE_READ, sections_ok=True),
    Case(
        "image-animated",
        "an animated GIF",
        _image_run("a_0000.gif", _animated),
        OK,
        SAMPLE_IMAGE_READ,
        sections_ok=True,
    ),
    Case("image-1x1", "a 1 x 1 image", _image_run("a_0000.png", _one_pixel), OK, SAMPLE_IMAGE_READ, sections_ok=True),
    # NaN losses
    Case(
        "nan-losses",
        "NaN and inf losses, with --fail-on fail",
        _with_file(
            "log.csv",
            b"step,loss\n0,1\n1,nan\n2,inf\n3,-inf\n",
            usable=False,
            opts=["--json-only", "--sections", "log-health", "--fail-on", "fail"],
        ),
        4,
        "non-finite-values (fail)",
    ),
    # output
    Case(
        "output-parent-is-a-file",
        "an output folder that is a file",
        _output_parent_is_a_file,
        B,
        "cannot write the report",
    ),
    Case(
        "output-json-is-a-folder",
        "an output report.json that is a folder",
        _output_json_is_a_folder,
        B,
        "cannot write the report",
    ),
    Case(
        "disk-full",
        "a full disk while the report is written (simulated)",
        _full_disk,
        B,
        "cannot write the report",
        file_size_limit=200_000,
    ),
    Case(
        "disk-full-keeps-previous",
        "a full disk over an earlier report (which stays whole)",
        _previous_report_kept,
        B,
        "cannot write the report",
        file_size_limit=200_000,
    ),
]


def build_case(case: Case, base: Path) -> list[str]:
    """Build one case below `base`; return the whole argument list after `hjepa-report`."""
    base.mkdir(parents=True, exist_ok=True)
    options = case.build(base)
    if "-o" not in options:
        options = ["-o", str(base / "out" / "report.html"), *options]
    return [str(base / case.run_dir), *options, "--quiet"]


if __name__ == "__main__":  # pragma: no cover - by hand: python tests/bad_inputs/make_corpus.py DIR
    root = Path(sys.argv[1])
    for c in CASES:
        print(c.name, " ".join(build_case(c, root / c.name)))
