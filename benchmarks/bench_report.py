"""Time and memory of one whole report, in this process: issue 13's benchmark.

Usage: .venv/bin/python benchmarks/bench_report.py [RUN_DIR] [--minimal] [--device auto|cpu|cuda] [--out DIR]
       (default RUN_DIR: sample_runs/hjepa_shapes64; large runs: benchmarks/make_large_run.py)

Runs the library exactly as `hjepa-report RUN_DIR` does (build_report, then write_report) in one fresh process,
so imports and numba compilation count as they do for a user, and prints: the import time, the wall time, the
collect and per-section seconds (from the report itself), the render stage (figure encoding and HTML / JSON
writing, after the last section), the process's peak resident memory (getrusage), the HTML and report.json
sizes, the checkpoint sizes and the load average (the machine may be shared: read the numbers with it).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def bench(run_dir: Path, out_dir: Path, minimal: bool, device: str) -> None:
    """Build and write the report of run_dir into out_dir, printing where the time and memory went."""
    print(f"{run_dir}: {_load()} at start, {os.cpu_count()} CPUs", flush=True)
    start = time.perf_counter()
    from hjepa_report import ReportSettings, build_report, write_report
    from hjepa_report.pipeline import stderr_progress

    imported = time.perf_counter()
    settings = ReportSettings(minimal=minimal, device=device, output=out_dir / "report.html")
    report = build_report(run_dir, settings, stderr_progress)
    built = time.perf_counter()
    html_path, json_path = write_report(report, settings.output)
    done = time.perf_counter()

    section_total = sum(s.seconds for s in report.sections)
    print(f"wall {done - start:.1f} s (imports {imported - start:.1f} s), peak RSS {_peak_rss_mb():.0f} MB")
    print(f"  build_report {built - imported:.1f} s: collect {report.seconds - section_total:.1f} s, sections:")
    for s in report.sections:
        print(f"    {s.name:18s} {s.seconds:7.1f} s  {s.status}")
    print(f"  render (write_report) {done - built:.1f} s")
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
