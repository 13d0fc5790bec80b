"""load_model maps a float32 checkpoint file's tensors as the parameters (no copy), privately: writing weights in
place (as the loss landscape does) changes neither the file nor the next load; a caller's own dict is copied."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from hjepa_report.collect.checkpoints import load_checkpoint  # noqa: E402
from hjepa_report.errors import ModelBuildError  # noqa: E402
from hjepa_report.models import load_model  # noqa: E402
from hjepa_report.models.loading import check_strict  # noqa: E402

RUN = Path(__file__).parent / "fixtures" / "hjepa_small"
CHECKPOINT = RUN / "checkpoints" / "checkpoint_latest.pth"
OPTIONS = dict(encoder_heads=2, predictor_heads=2)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _config():
    import yaml

    return yaml.safe_load((RUN / "config.yaml").read_text())


def test_in_place_writes_leave_the_file_and_the_next_load_unchanged(tmp_path):
    path = tmp_path / CHECKPOINT.name
    shutil.copyfile(CHECKPOINT, path)
    before = _digest(path)
    first = load_model(path, _config(), **OPTIONS)
    weight = next(first.network.parameters())
    original = weight.detach().clone()
    with torch.no_grad():
        for p in first.network.parameters():
            p.add_(1.0)  # what the landscape does to the trained parameters
    second = load_model(path, _config(), **OPTIONS)
    assert torch.equal(next(second.network.parameters()), original)
    assert not torch.equal(next(first.network.parameters()), original)
    assert _digest(path) == before


def test_a_callers_dict_is_not_shared_with_the_model():
    raw = load_checkpoint(CHECKPOINT)
    state = raw["model_state_dict"]
    snapshot = {k: v.clone() for k, v in state.items()}
    model = load_model(raw, _config(), **OPTIONS)
    with torch.no_grad():
        for p in model.network.parameters():
            p.mul_(0.0)
    assert all(torch.equal(state[k], snapshot[k]) for k in state)


def test_loaded_parameters_are_the_files_tensors_not_copies():
    # a copy would be a fresh allocation: mapped parameters are not resizable (they belong to the file's mapping)
    model = load_model(CHECKPOINT, _config(), **OPTIONS)
    p = next(model.network.parameters())
    assert not p.untyped_storage().resizable()
    copied = load_model(load_checkpoint(CHECKPOINT), _config(), **OPTIONS)
    assert next(copied.network.parameters()).untyped_storage().resizable()


def test_the_strict_check_reads_names_and_shapes_only():
    expected = {"a": torch.empty(2, 3, device="meta"), "b": torch.empty(4, device="meta")}
    check_strict(expected, {"a": torch.zeros(2, 3), "b": torch.zeros(4)})
    with pytest.raises(ModelBuildError, match="1 missing keys: b; 1 unexpected keys: c"):
        check_strict(expected, {"a": torch.zeros(2, 3), "c": torch.zeros(4)})
    with pytest.raises(ModelBuildError, match=r"shape mismatches: a \(3, 2\) vs \(2, 3\)"):
        check_strict(expected, {"a": torch.zeros(3, 2), "b": torch.zeros(4)})
