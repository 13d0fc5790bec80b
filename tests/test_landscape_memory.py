"""The loss landscape reads checkpoint weights from their file pages instead of holding copies (issue 13):
the pages handed back are read again unchanged, anonymous memory is never handed back, and the surface and
the interpolation equal the in-memory computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.dynamics import landscape
from hjepa_report.analysis.dynamics.batch import LossBatch
from hjepa_report.analysis.dynamics.landscape_section import _file_weights, _float_tensors
from hjepa_report.collect import collect_run, load_checkpoint
from hjepa_report.memory import FilePages
from hjepa_report.models import load_model
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures"
IJEPA = FIX / "ijepa_small"
CONFIG = yaml.safe_load((IJEPA / "params-ijepa.yaml").read_text())

pytestmark = pytest.mark.skipif(FilePages.of([]) is None, reason="needs /proc/self/maps and madvise (Linux)")


def _resident_kb(address: int) -> int:
    """Rss of the mapping of this process that holds `address` (/proc/self/smaps, man 5 proc)."""
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= address < hi
        elif inside and head == "Rss:":
            return int(line.split()[1])
    raise AssertionError("address not mapped")


def test_file_pages_are_handed_back_read_again_unchanged_and_memory_is_never_dropped(tmp_path):
    values = torch.arange(2**21, dtype=torch.float32).reshape(512, 4096)  # 8 MiB
    torch.save({"w": values}, tmp_path / "w.pth")
    mapped = load_checkpoint(tmp_path / "w.pth")["w"]
    pages = FilePages.of([mapped])
    assert pages is not None
    assert float(mapped.sum()) == float(values.sum())  # touch every page ...
    touched = _resident_kb(mapped.data_ptr())
    assert touched >= 8 * 1024
    pages.drop(mapped)  # ... then hand them back
    assert _resident_kb(mapped.data_ptr()) <= touched - 8 * 1024 + 8  # at most a partial page at each end stays
    assert torch.equal(mapped, values)  # read again from the file
    copy = mapped.clone()  # anonymous memory: dropping it would zero it, so it is refused
    assert FilePages.of([copy]) is None and FilePages.of([mapped, copy]) is None


@pytest.fixture(scope="module")
def ctx():
    return ReportContext(collect_run(IJEPA), ReportSettings())


def test_the_surface_from_file_pages_equals_the_one_from_a_copy(ctx):
    model = ctx.session.model()
    batch = LossBatch.draw(ctx, model)
    closure = batch.loss_with(model)

    def loss_fn():
        with torch.inference_mode():
            return float(closure())

    params = landscape.trainable_parameters(model.network)
    stored = _file_weights(ctx, ctx.session.checkpoint, params)
    assert stored is not None and set(stored.tensors) == set(params)
    before = {n: p.detach().clone() for n, p in params.items()}
    coords = np.linspace(-1, 1, 3)
    from_copy = landscape.loss_surface(loss_fn, params, (3, 4), coords)
    from_file = landscape.loss_surface(loss_fn, params, (3, 4), coords, stored=stored)
    assert np.array_equal(from_copy.loss, from_file.loss)  # the same arithmetic on the same values
    assert all(torch.equal(before[n], p) for n, p in params.items())  # restored exactly from the file
    assert all(torch.equal(before[n], t) for n, t in stored.tensors.items())  # the file pages unchanged


def test_interpolation_from_file_pages_ends_at_the_checkpoints_and_matches_the_stepped_path(ctx):
    run = ctx.run
    refs = sorted(run.unique_checkpoints(), key=lambda r: r.epoch or 0)
    a, b = refs[0], refs[-1]
    model_a = load_model(a.path, CONFIG)
    batch = LossBatch.draw(ctx, model_a)
    ts = [-0.25, 0.0, 0.5, 1.0]
    vessel = ctx.session.scratch_model(a)
    params = _float_tensors(vessel)
    start, end = _file_weights(ctx, a, params), _file_weights(ctx, b, params)
    assert start is not None and end is not None
    from_files = landscape.interpolation_between(lambda: batch.full_loss(vessel), params, start, end, ts)
    assert from_files[1] == batch.full_loss(model_a)  # t = 0 is exactly A, t = 1 exactly B
    assert from_files[3] == batch.full_loss(load_model(b.path, CONFIG))
    stepped_vessel = load_model(a.path, CONFIG)
    stepped_params = _float_tensors(stepped_vessel)
    end_copy = {k: v.clone() for k, v in _float_tensors(load_model(b.path, CONFIG)).items()}
    stepped = landscape.interpolation(lambda: batch.full_loss(stepped_vessel), stepped_params, end_copy, ts)
    assert from_files == pytest.approx(stepped, rel=1e-5)
    assert from_files[1] != pytest.approx(from_files[3])


def test_the_grid_hands_back_the_pages_of_what_it_does_not_move(ctx):
    """_hand_back_fixed: the EMA target encoder's file pages (its targets are computed once) leave the resident
    set, their values read back unchanged, and the moved parameters keep theirs."""
    import mmap

    from hjepa_report.analysis.dynamics.landscape_section import _hand_back_fixed

    model = ctx.session.scratch_model(ctx.session.checkpoint)
    params = landscape.trainable_parameters(model.network)
    tensors = _float_tensors(model)
    moved = {p.data_ptr() for p in params.values()}
    fixed = {n: t for n, t in tensors.items() if t.data_ptr() not in moved}
    assert any(n.startswith("target_encoder.") for n in fixed) and FilePages.of(fixed.values()) is not None
    values = {n: t.clone() for n, t in tensors.items()}
    assert all(float(t.sum()) == float(values[n].sum()) for n, t in tensors.items())  # every page resident
    page = mmap.PAGESIZE
    whole = sum(max(0, (t.data_ptr() + t.nbytes) // page - -(-t.data_ptr() // page)) for t in fixed.values())
    assert whole >= 64  # enough pages to see them go
    before = _resident_kb(next(iter(fixed.values())).data_ptr())
    _hand_back_fixed(model, params)
    assert _resident_kb(next(iter(fixed.values())).data_ptr()) <= before - whole * page // 1024
    assert all(torch.equal(t, values[n]) for n, t in tensors.items())  # fixed ones read again, moved ones kept
