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


def test_objects_frozen_for_a_block_are_skipped_by_collections_and_tracked_again_after_it():
    from hjepa_report.memory import existing_objects_frozen

    assert gc.get_freeze_count() == 0
    old = _Node()
    old.self = old  # a cycle alive when the block starts
    with existing_objects_frozen():
        assert gc.get_freeze_count() > 0
        new = _Node()
        new.self = new
        new_ref, old_ref = weakref.ref(new), weakref.ref(old)
        del new, old
        gc.collect()
        assert new_ref() is None  # a cycle made inside the block is still collected
        assert old_ref() is not None  # one frozen at the start is not, until the block ends
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old_ref() is None


def test_a_freeze_made_by_the_host_process_is_left_alone():
    from hjepa_report.memory import existing_objects_frozen

    host = _Node()
    host.self = host
    gc.freeze()  # the host's freeze (a pre-forking server): its cycle must stay frozen after our block
    try:
        host_ref = weakref.ref(host)
        del host
        with existing_objects_frozen():
            pass
        gc.collect()
        assert gc.get_freeze_count() > 0 and host_ref() is not None
    finally:
        gc.unfreeze()
    gc.collect()
    assert host_ref() is None
