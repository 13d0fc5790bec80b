"""release_free_memory: cycles are collected and, on glibc, free heap memory is handed back."""

from __future__ import annotations

import gc
import platform
import weakref

import pytest

from hjepa_report.memory import _malloc_trim, release_free_memory


class _Node:
    pass


def test_reference_cycles_are_collected():
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    gc.disable()
    try:
        del a, b
        assert alive() is not None  # only the cycle collector frees a cycle
        release_free_memory()
        assert alive() is None
    finally:
        gc.enable()


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_trim_is_found_and_returns_heap_memory():
    trim = _malloc_trim()
    assert trim is not None
    blocks = [bytearray(1 << 20) for _ in range(64)]  # 64 MiB of heap blocks below the mmap threshold
    del blocks
    assert trim(0) in (0, 1)  # 1: memory was released, 0: nothing to release
