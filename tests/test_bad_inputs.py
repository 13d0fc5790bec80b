"""The bad-input corpus (tests/bad_inputs/make_corpus.py) through the real command line, one child process each.

For every case: the documented exit status; no traceback; the one-line message (stderr) or the report saying
what it skipped (report.json); no code executed (the pickle payloads' canary file does not appear); no markup
injected into the HTML; the run directory byte-for-byte and mode-for-mode unchanged; bounded time and memory
(the child runs under a wall-clock timeout and an address-space limit, so a hang or a memory blow-up fails
the case instead of the machine). The cases run two at a time (the CI machine has two cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "bad_inputs"))
from corpus_builders import CANARY, XSS_TOKEN  # noqa: E402
from make_corpus import CASES, Case, build_case  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180  # a case that takes longer is a hang: every case finishes in seconds
MEMORY_BYTES = 3 << 30  # address space of the child: torch and a tiny model need under 2 GiB
BY_NAME = {c.name: c for c in CASES}


@dataclass
class Outcome:
    """What one case's child process did, and the run directory before and after."""

    rc: int | None
    seconds: float
    stdout: str
    stderr: str
    before: dict
    after: dict
    base: Path


def tree_state(root: Path) -> dict[str, tuple]:
    """Map every entry below (and including) root to its type, mode, size, mtime and content hash or link target.

    Links are not followed and only regular files are read (a named pipe would block).
    """
    out: dict[str, tuple] = {}
    if not os.path.lexists(root):
        return out
    paths = [root]
    if root.is_dir() and not root.is_symlink():
        for folder, dirs, files in os.walk(root, followlinks=False):
            paths += [Path(folder) / n for n in sorted(dirs + files)]
    for path in paths:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            extra = os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            extra = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            extra = ""
        out[os.fsdecode(path.relative_to(root.parent))] = (
            stat.S_IFMT(st.st_mode),
            st.st_mode,
            st.st_size,
            st.st_mtime_ns,
            extra,
        )
    return out


def _limits(file_size: int | None):
    """preexec_fn of the child: cap its address space (and its file size, to simulate a full disk)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return apply


def run_case(case: Case, base: Path) -> Outcome:
    """Build the case below `base` and run `python -m hjepa_report` on it in a limited child process."""
    start = time.perf_counter()
    args = build_case(case, base)
    run_dir = base / case.run_dir
    before = tree_state(run_dir)
    env = {k: v for k, v in os.environ.items() if k != "HJEPA_REPORT_DEBUG"}
    env["PYTHONPATH"] = str(REPO)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hjepa_report", *args],
            cwd=base,
            env=env,
            capture_output=True,
            timeout=TIMEOUT_S,
            preexec_fn=_limits(case.file_size_limit),
        )
        rc, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = None, exc.stdout or b"", (exc.stderr or b"") + f"\n[timed out after {TIMEOUT_S} s]".encode()
    decode = lambda b: b.decode("utf-8", errors="replace")  # noqa: E731
    return Outcome(rc, time.perf_counter() - start, decode(out), decode(err), before, tree_state(run_dir), base)


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    """Run the selected cases two at a time; map case name -> Outcome."""
    selected = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.module.__name__ == __name__ and hasattr(item, "callspec") and "name" in item.callspec.params
    ]
    base = tmp_path_factory.mktemp("bad_inputs")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_case, BY_NAME[name], base / name) for name in dict.fromkeys(selected)}
    return {name: f.result() for name, f in futures.items()}


def strings_in(doc) -> list[str]:
    """Every string of a JSON document (keys and values): where the report says what it skipped and why."""
    if isinstance(doc, dict):
        return [t for k, v in doc.items() for t in [str(k), *strings_in(v)]]
    if isinstance(doc, list):
        return [t for v in doc for t in strings_in(v)]
    return [doc] if isinstance(doc, str) else []


def injected_tags(html: str) -> list[str]:
    """Return the markup tags (or attributes) of the HTML that carry the injection token: escaped text has none."""
    return [tag for tag in re.findall(r"<[A-Za-z/!][^>]*>", html) if XSS_TOKEN in tag]


def _params() -> list:
    return [
        pytest.param(c.name, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
        for c in CASES
    ]


@pytest.mark.parametrize("name", _params())
def test_bad_input(name, outcomes):
    case, got = BY_NAME[name], outcomes[name]
    said = f"exit {got.rc}\nstdout: {got.stdout[-2000:]}\nstderr: {got.stderr[-3000:]}"
    assert "Traceback" not in got.stdout + got.stderr, said
    assert got.rc == case.exit, said
    assert not (got.base / CANARY).exists(), "a pickle or YAML payload ran code"
    assert got.after == got.before, "the run directory changed"
    if case.exit != 0:
        lines = [line for line in got.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, said
        assert case.message in lines[0], said
    if case.exit == 0:
        json_path = got.base / "out" / "report.json"
        doc = json.loads(json_path.read_text(encoding="utf-8"))
        assert any(case.message in text for text in strings_in(doc)), said
        if case.sections_ok:
            assert {s["name"]: s["status"] for s in doc["sections"]} == dict.fromkeys(
                [s["name"] for s in doc["sections"]], "ok"
            ), said
    if case.exit == 4:  # --fail-on: the report is written, and its verdict is the one stderr names
        doc = json.loads((got.base / "out" / "report.json").read_text(encoding="utf-8"))
        assert doc["health"]["verdict"] == "fail"
    if case.html:
        html = (got.base / "out" / "report.html").read_text(encoding="utf-8")
        assert not injected_tags(html)
        if case.message == XSS_TOKEN:
            assert XSS_TOKEN in html  # the names are shown, escaped
    if name == "disk-full-keeps-previous":
        _previous_report_is_whole(got.base / "out")


def _previous_report_is_whole(out: Path) -> None:
    """The write failed, and the earlier report and its JSON are untouched, with no temporary file left."""
    assert (out / "report.html").read_text(encoding="utf-8") == "<html>previous report</html>\n"
    assert (out / "report.json").read_text(encoding="utf-8") == '{"previous": true}\n'
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json"]  # no temporary file left


def test_the_corpus_has_at_least_40_cases_with_distinct_names():
    assert len(CASES) >= 40
    assert len(BY_NAME) == len(CASES)
