"""Give freed memory back to the operating system between the report's sections.

A pass frees its activations, gradients and perturbed weights when it ends, but two things keep that memory
in the process: reference cycles (autograd graphs, matplotlib artists) wait for Python's cycle collector, and
glibc's malloc keeps freed blocks of under 32 MiB in its heap (its mmap threshold grows after large frees),
where a ViT's 9 MiB weight-sized temporaries land. gc.collect() and malloc_trim(0) (glibc, man 3 malloc_trim)
return both, so one section's peak is not carried into the next (measured on a ViT-B/16 run: ~0.4 GB after
the predictions section). Elsewhere (macOS, musl, Windows) only the collector runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache


def release_free_memory() -> None:
    """Collect reference cycles and return free heap memory to the operating system where glibc allows it."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None
