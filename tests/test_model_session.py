"""ModelSession: one checkpoint's networks in memory at a time, failures remembered, released on request,
and the report's model description independent of which pass asked first."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hjepa_report.analysis.session import ModelSession, choose_images, probe_order
from hjepa_report.collect.run import CheckpointRef, ImageRef, Run
from hjepa_report.errors import ModelBuildError, ReportError
from hjepa_report.settings import ReportSettings


def _session(tmp_path, names=("a.pth", "b.pth", "c.pth")) -> tuple[ModelSession, list[CheckpointRef], list]:
    refs = [CheckpointRef(path=tmp_path / n, name=n, size=1, format="torch", epoch=i) for i, n in enumerate(names)]
    run = Run(root=tmp_path, name="run", layout="hjepa", layout_reason="test", checkpoints=refs)
    session = ModelSession(
        run, ReportSettings(), rng=lambda purpose: np.random.default_rng(0), progress=lambda msg: None
    )
    loads = []

    def fake_load(ref):
        loads.append(ref.name)
        if ref.name == "b.pth":
            raise ModelBuildError("unknown keys in b.pth")
        return SimpleNamespace(info=SimpleNamespace(as_dict=lambda: {"checkpoint": ref.name}), name=ref.name)

    session._load = fake_load
    return session, refs, loads


def test_one_checkpoint_in_memory_and_the_chosen_is_the_latest(tmp_path):
    session, refs, loads = _session(tmp_path)
    assert session.checkpoint.name == "c.pth"
    first = session.model(refs[0])
    assert session.model(refs[0]) is first and loads == ["a.pth"]  # held while it is the one asked for
    assert session.model().name == "c.pth"  # asking for another releases the first
    assert session.model(refs[0]) is not first and loads == ["a.pth", "c.pth", "a.pth"]


def test_a_failure_is_remembered_and_becomes_a_skip_reason(tmp_path):
    session, refs, loads = _session(tmp_path, names=("a.pth", "b.pth"))
    assert session.checkpoint.name == "b.pth"
    reason = session.skip_reason(needs_images=False)
    assert reason == "The networks could not be rebuilt from the checkpoint: unknown keys in b.pth"
    with pytest.raises(ReportError, match="unknown keys"):
        session.model()
    assert loads == ["b.pth"]  # not retried
    assert session.known_info() == {} and session.described() is None


def test_description_is_the_chosen_model_whoever_asked_first(tmp_path):
    session, refs, _ = _session(tmp_path)
    session.model(refs[0])  # a sweep asks for an older checkpoint first
    assert session.described() is None
    session.model()
    session.model(refs[0])
    assert session.described() == {"checkpoint": "c.pth"}


def test_release_drops_the_networks(tmp_path):
    session, refs, loads = _session(tmp_path)
    session.model()
    session.release()
    assert session._loaded is None
    session.model()
    assert loads == ["c.pth", "c.pth"]


def test_no_checkpoint_skip_reason(tmp_path):
    run = Run(root=tmp_path, name="run", layout="generic", layout_reason="test")
    session = ModelSession(run, ReportSettings(), rng=lambda p: np.random.default_rng(0), progress=print)
    assert session.skip_reason() == "The run has no checkpoint, so its networks cannot be run."
    with pytest.raises(ReportError, match="no checkpoint"):
        session.model()


def test_images_are_chosen_round_robin_and_probes_prefer_the_sample_classes():
    images = [ImageRef(Path(f"{label}{i}.png"), label) for label in "abc" for i in range(3)]
    chosen = choose_images(images, 4, np.random.default_rng(0))
    assert [r.label for r in chosen] == ["a", "b", "c", "a"]
    rest = [r for r in images if r not in chosen]
    assert [r.label for r in probe_order(rest, {"b"})][:2] == ["b", "b"]
