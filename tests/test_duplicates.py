"""collect.duplicates.find_copies: which checkpoint files are byte copies of another (checkpoint_latest.pth)."""

from __future__ import annotations

import os

from hjepa_report.collect.duplicates import find_copies

MIB = 2**20


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_a_byte_copy_maps_to_the_first_file_and_every_other_file_is_its_own(tmp_path):
    data = os.urandom(3 * MIB)
    original = _write(tmp_path / "epoch_0002.pth", data)
    other = _write(tmp_path / "epoch_0001.pth", os.urandom(3 * MIB))  # same size, other bytes
    latest = _write(tmp_path / "latest.pth", data)
    best = _write(tmp_path / "best.pth", data)
    assert find_copies([original, other, latest, best]) == {latest: original, best: original}


def test_one_byte_changed_between_the_edges_is_not_a_copy(tmp_path):
    # the first and last MiB agree, so only the comparison of every byte can tell them apart
    data = bytearray(os.urandom(3 * MIB))
    a = _write(tmp_path / "a.pth", bytes(data))
    data[int(1.5 * MIB)] ^= 1
    b = _write(tmp_path / "b.pth", bytes(data))
    assert find_copies([a, b]) == {}


def test_a_longer_file_with_the_same_start_is_not_a_copy_and_a_missing_file_is_skipped(tmp_path):
    data = os.urandom(MIB // 2)
    a = _write(tmp_path / "a.pth", data)
    b = _write(tmp_path / "b.pth", data + b"\0")
    assert find_copies([a, b, tmp_path / "gone.pth"]) == {}
    assert find_copies([a, _write(tmp_path / "c.pth", data)]) == {tmp_path / "c.pth": a}
