"""Benchmark the TensorBoard scalar reader on ~1M points (time and peak memory).

Writes one event file (one Event per scalar, as SummaryWriter writes them) into a temporary directory (10 tags x
100k steps by default), then reads it with `hjepa_report.collect.tensorboard.read_event_file` and prints the
wall and CPU time (CPU time is the fairer number on a busy machine), the process's peak RSS (getrusage) and,
in a second, untimed read, the peak traced Python allocations (tracemalloc slows reading several-fold).

    .venv/bin/python benchmarks/bench_tensorboard.py [--tags 10] [--steps 100000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def write_events(folder: Path, n_tags: int, n_steps: int) -> Path:
    """Write n_tags x n_steps scalars, one Event per scalar as SummaryWriter.add_scalar does; return the file.

    Records are framed here with tensorboard's own masked_crc32c because torch's SummaryWriter needs ~90 s
    for a million add_scalar calls; the bytes are the same TFRecord framing (checked by the tests, which
    read SummaryWriter files).
    """
    import struct

    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    path = folder / "events.out.tfevents.0.bench"
    with open(path, "wb") as fh:
        for step in range(n_steps):
            for t in range(n_tags):
                event = Event(wall_time=1.7e9 + step, step=step)
                event.summary.value.add(tag=f"train/metric_{t}", simple_value=1.0 / (step + 1) + t)
                data = event.SerializeToString()
                length = struct.pack("<Q", len(data))
                fh.write(
                    length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))
                )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    from hjepa_report.collect.tensorboard import read_event_file

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = write_events(Path(tmp), args.tags, args.steps)
        print(
            f"wrote {args.tags * args.steps:,} points, {path.stat().st_size / 1e6:.1f} MB "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0, c0 = time.perf_counter(), time.process_time()
        result = read_event_file(path, "bench")
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"read: {result.detail}")
        print(
            f"time {seconds:.2f} s wall, {cpu:.2f} s CPU; "
            f"peak RSS {rss_after:.0f} MB (before reading {rss_before:.0f} MB)"
        )
        del result
        tracemalloc.start()
        read_event_file(path, "bench")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced Python allocations while reading (second read, tracemalloc on): {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
