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


def test_what_survives_a_release_in_the_block_is_frozen_until_the_block_ends():
    from hjepa_report.memory import existing_objects_frozen

    with existing_objects_frozen():
        kept = _Node()
        kept.self = kept  # alive at the release: frozen by it
        release_free_memory()
        kept_ref = weakref.ref(kept)
        del kept
        gc.collect()
        assert kept_ref() is not None  # a cycle a frozen object joins waits for the block's end
        later = _Node()
        later.self = later  # made after the release: still collected
        later_ref = weakref.ref(later)
        del later
        release_free_memory()
        assert later_ref() is None
    gc.collect()
    assert kept_ref() is None


def test_networks_frozen_by_a_release_are_freed_when_the_session_drops_them():
    """The freeze is only safe for memory because a checkpoint's networks hold no reference cycle: dropping
    them frees their weights by reference counting even while they are frozen (ViT-B/16: 1.9 GB)."""
    from conftest import HJEPA_RUN
    from hjepa_report.analysis.context import ReportContext
    from hjepa_report.collect import collect_run
    from hjepa_report.memory import existing_objects_frozen
    from hjepa_report.settings import ReportSettings

    run = collect_run(HJEPA_RUN)
    ctx = ReportContext(run, ReportSettings(encoder_heads=2))
    with existing_objects_frozen():
        model = ctx.session.model(run.checkpoints[0])
        refs = [weakref.ref(model)] + [weakref.ref(p) for p in model.network.parameters()]
        del model
        release_free_memory()  # the networks are alive (the session holds them): frozen
        gc.disable()
        try:
            ctx.session._loaded = None  # drop them without release(), which would collect
            assert sum(r() is not None for r in refs) == 0
        finally:
            gc.enable()
