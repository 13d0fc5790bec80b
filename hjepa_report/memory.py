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
from contextlib import contextmanager
from functools import cache

_survivors_frozen = False  # inside existing_objects_frozen: what a collection leaves alive is frozen after it


def release_free_memory() -> None:
    """Collect reference cycles and return free heap memory to the operating system where glibc allows it.

    Inside `existing_objects_frozen` the objects that survive the collection are frozen too, so the next one
    walks only what was made since (see there)."""
    gc.collect()
    if _survivors_frozen:
        gc.freeze()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextmanager
def existing_objects_frozen():
    """Leave the objects that exist now (imported modules, the collected run), and those that survive each
    release_free_memory in the block, out of the cycle collector's passes until the block ends (gc.freeze,
    Python docs "gc.freeze"). release_free_memory runs after every model pass, and without this each full
    collection walked every object alive: 0.1-0.7 s a call on the sample run (160k objects of imports at the
    start, 860k once matplotlib, scikit-learn and numba's UMAP were imported by the sections), 12 s of its 39 s
    over 22 calls. Frozen objects are still freed by reference counting the moment they are dropped (a
    checkpoint's networks are: tests/test_memory.py); only a reference cycle that a frozen object joins waits
    for the end of the block, when everything is tracked again. Garbage is collected before each freeze, so
    nothing dead is frozen. A process that froze objects itself (a pre-forking server) is left as it is:
    unfreezing would undo its freeze."""
    global _survivors_frozen
    if gc.get_freeze_count():
        yield
        return
    gc.collect()
    gc.freeze()
    _survivors_frozen = True
    try:
        yield
    finally:
        _survivors_frozen = False
        gc.unfreeze()


@cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


class FilePages:
    """Tensors whose memory is a read-only view of a memory-mapped file (a zero-copy checkpoint load,
    models.loading.materialise), whose pages can be handed back after each read.

    A pass that reads a checkpoint's weights once per step (the loss landscape's stored weights, the two ends of
    a checkpoint interpolation) would otherwise keep every page it touched resident: as much memory as a copy.
    `drop(tensor)` tells the kernel the tensor's whole pages are not needed now (madvise MADV_DONTNEED, Linux
    man 2 madvise): for a private file mapping they are read again from the file (the page cache) on the next
    access, so the values never change. Never use it on tensors that were written: their copy-on-write pages
    would revert to the file's contents. `of(tensors)` returns None unless every tensor lies inside a file
    mapping of this process (read from /proc/self/maps), so anonymous memory (where the same call would zero
    it) is never dropped.
    """

    MADV_DONTNEED = 4  # Linux <asm-generic/mman-common.h>

    def __init__(self, madvise, page: int):
        self._madvise = madvise
        self._page = page

    @classmethod
    def of(cls, tensors) -> FilePages | None:
        """A FilePages for `tensors` (CPU tensors), or None where they are not all file-backed or the platform
        has no /proc/self/maps and madvise."""
        pages = cls.available()
        tensors = list(tensors)
        return pages if pages is not None and len(file_backed(tensors)) == len(tensors) else None

    @classmethod
    def available(cls) -> FilePages | None:
        """A FilePages for tensors the caller has checked with `file_backed`, or None where the platform has no
        madvise or /proc/self/maps."""
        import mmap
        import os

        madvise = _madvise()
        return cls(madvise, mmap.PAGESIZE) if madvise is not None and os.path.exists("/proc/self/maps") else None

    def drop(self, tensor) -> None:
        """Hand back the pages that lie wholly inside `tensor` (a partial page at either end stays)."""
        start, end = byte_span(tensor)
        lo = -(-start // self._page) * self._page
        hi = end // self._page * self._page
        if hi > lo:
            self._madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), self.MADV_DONTNEED)


def byte_span(tensor) -> tuple[int, int]:
    """The addresses [first, end) of the bytes a (contiguous) tensor's elements occupy."""
    start = tensor.data_ptr()
    return start, start + tensor.numel() * tensor.element_size()


def file_backed(tensors) -> list:
    """The CPU tensors of `tensors` whose memory lies wholly inside a private file mapping of this process
    (/proc/self/maps; none where there is no such file)."""
    import os

    if not os.path.exists("/proc/self/maps"):
        return []
    ranges = _file_mappings()
    out = []
    for t in tensors:
        start, end = byte_span(t)
        if t.device.type == "cpu" and any(lo <= start and end <= hi for lo, hi in ranges):
            out.append(t)
    return out


def _file_mappings() -> list[tuple[int, int]]:
    """(start, end) of this process's private mappings of regular files (/proc/self/maps, man 5 proc)."""
    out = []
    with open("/proc/self/maps") as fh:
        for line in fh:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/") and fields[1].endswith("p"):
                lo, hi = fields[0].split("-")
                out.append((int(lo, 16), int(hi, 16)))
    return out


@cache
def _madvise():
    """libc's madvise, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        fn = getattr(ctypes.CDLL(name), "madvise", None) if name else None
    except OSError:
        return None
    if fn is not None:
        fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        fn.restype = ctypes.c_int
    return fn
