"""Time and memory of a whole report: `python benchmarks/bench_report.py [RUN_DIR] [extra hjepa-report options]`.

Runs `hjepa-report` in a child process (so imports and numba compilation count, as for a user) and prints the
wall time, the per-section seconds from report.json, the report size and the child's peak resident memory.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    run = argv[0] if argv else "sample_runs/hjepa_shapes64"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "hjepa_report", run, "-o", str(out), "--quiet", *argv[1:]],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        doc = json.loads(out.with_name("report.json").read_text())
        print(f"{run}: {wall:.1f} s wall, peak RSS {peak_mb:.0f} MB, report {out.stat().st_size / 1e6:.2f} MB")
        for name, seconds in doc["timing"]["sections"].items():
            print(f"  {name:18s} {seconds:6.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
