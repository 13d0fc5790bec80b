"""Time and memory of one whole report, in this process: issue 13's benchmark.

Usage: .venv/bin/python benchmarks/bench_report.py [RUN_DIR] [--minimal] [--device auto|cpu|cuda] [--out DIR]
       (default RUN_DIR: sample_runs/hjepa_shapes64; large runs: benchmarks/make_large_run.py)

Runs the library exactly as `hjepa-report RUN_DIR` does (build_report, then write_report, in pipeline.generate's
frozen block) in one fresh process, so imports and numba compilation count as they do for a user, and prints: the
import time, the wall time, the collect and per-section seconds (from the report itself), the render stage (figure
encoding and HTML / JSON writing, after the last section), the process's peak resident memory (getrusage) and each
section's peak (sampled every 50 ms from /proc/self/status, split into anonymous memory and file-backed pages:
memory-mapped checkpoint weights are file pages the kernel can drop), the largest RSS of this process and the
figure encoder's worker processes together at one moment, the HTML and report.json sizes, the checkpoint sizes and
the load average (the machine may be shared: read the numbers with it).

Compute floor: the report counts and times its own network passes (models/meter.py: every forward of every
network from its first block to its last, and every backward), so the benchmark prints the seconds spent
inside the networks, per section and in all, and wall / floor: how much of the wall time is not arithmetic
the report's measures need.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class MemorySampler:
    """Peak RSS per stage of the report, sampled every 50 ms from /proc/self/status (RssAnon, RssFile).

    Stage 0 is collecting the run; the "collected ..." progress line starts stage 1, the first section, and
    each "Title: status (N s)" line that ends a section starts the next; `render` is set by the caller."""

    def __init__(self) -> None:
        self.stage: int | str = 0
        self.peaks: dict[int | str, tuple[int, int]] = {}  # stage -> (anon kB, file kB) at the peak of their sum
        self.with_workers = 0  # kB: the largest RSS of this process and its worker processes at one moment
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.sample()

    def sample(self) -> None:
        anon, file = _rss_kb()
        self.with_workers = max(self.with_workers, anon + file + _children_rss_kb())
        old = self.peaks.get(self.stage, (0, 0))
        if anon + file > sum(old):
            self.peaks[self.stage] = (anon, file)

    def progress(self, message: str) -> None:
        """The report's progress callback: print the line and move to the next stage after a section."""
        print(message, file=sys.stderr, flush=True)
        self.sample()
        if isinstance(self.stage, int) and (message.startswith("collected ") or SECTION_DONE.match(message)):
            self.stage += 1


SECTION_DONE = re.compile(r"^\S.*: (ok|error|skipped) \(")


def _rss_kb() -> tuple[int, int]:
    """(RssAnon, RssFile) of this process in kB (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["RssAnon"].split()[0]), int(fields["RssFile"].split()[0])


def _children_rss_kb() -> int:
    """VmRSS of this process's descendants (the figure encoder's workers) in kB, summed: an upper bound of
    what they add, since pages they share with this process (libraries) are counted in both."""
    me, parents = os.getpid(), {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    total = 0
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor not in (None, me, 0, 1):
            ancestor = parents.get(ancestor)
        if ancestor == me:
            try:
                status = (Path("/proc") / str(pid) / "status").read_text()
            except OSError:
                continue
            total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


def _peak(memory: MemorySampler, stage) -> str:
    anon, file = memory.peaks.get(stage, (0, 0))
    return f"{(anon + file) / 1024:6.0f} ({anon / 1024:.0f} + {file / 1024:.0f})"


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def bench(run_dir: Path, out_dir: Path, minimal: bool, device: str) -> None:
    """Build and write the report of run_dir into out_dir, printing where the time and memory went."""
    print(f"{run_dir}: {_load()} at start, {os.cpu_count()} CPUs", flush=True)
    start = time.perf_counter()
    from hjepa_report import ReportSettings, build_report, write_report
    from hjepa_report.memory import existing_objects_frozen
    from hjepa_report.pipeline import stderr_progress

    imported = time.perf_counter()
    settings = ReportSettings(minimal=minimal, device=device, output=out_dir / "report.html")
    with MemorySampler() as memory, existing_objects_frozen():  # as pipeline.generate: the render in the block
        report = build_report(run_dir, settings, memory.progress)
        built = time.perf_counter()
        memory.stage = "render"
        html_path, json_path = write_report(report, settings.output, stderr_progress)
        done = time.perf_counter()

    section_total = sum(s.seconds for s in report.sections)
    floor = report.network_passes.get("network_seconds", 0.0)
    per_section = report.network_passes.get("sections", {})
    print(f"wall {done - start:.1f} s (imports {imported - start:.1f} s), peak RSS {_peak_rss_mb():.0f} MB")
    print(f"  with the figure encoder's worker processes at the same moment: {memory.with_workers / 1024:.0f} MB")
    print(f"  compute floor (network passes) {floor:.1f} s: wall / floor {(done - start) / max(floor, 1e-9):.2f}")
    print(f"  build_report {built - imported:.1f} s:")
    print(f"    {'section':18s} {'seconds':>9s} {'networks':>9s}   peak MB (anon + file)")
    print(f"    {'collect':18s} {report.seconds - section_total:7.1f} s {'':9s} {_peak(memory, 0)}")
    for i, s in enumerate(report.sections, start=1):
        print(
            f"    {s.name:18s} {s.seconds:7.1f} s {per_section.get(s.name, 0.0):7.1f} s {_peak(memory, i)}  {s.status}"
        )
    print(f"  render (write_report) {done - built:.1f} s, peak {_peak(memory, 'render')}")
    print(f"  HTML {_mb(html_path) if html_path else '(none)'}, report.json {_mb(json_path)}")
    for c in report.run.checkpoints:
        print(f"  checkpoint {c.path.name}: {c.path.stat().st_size / 1e9:.2f} GB")
    print(f"  {_load()} at end", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, default=Path("sample_runs/hjepa_shapes64"))
    parser.add_argument("--minimal", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="keep the report here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.out:
        bench(args.run_dir, args.out, args.minimal, args.device)
        return
    with tempfile.TemporaryDirectory() as tmp:
        bench(args.run_dir, Path(tmp), args.minimal, args.device)


if __name__ == "__main__":
    main()
