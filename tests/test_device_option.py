"""--device auto (the default): resolved once to cuda or cpu, named in the report; cuda without CUDA is refused."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from conftest import HJEPA_RUN
from hjepa_report.cli import main
from hjepa_report.errors import ReportError
from hjepa_report.settings import ReportSettings, device_to_use

FAST = ["--sections", "overview,log-health", "--quiet"]


def test_auto_is_the_default_and_resolves_to_what_torch_sees(monkeypatch):
    assert ReportSettings().device == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_to_use("auto") == "cuda"
    assert device_to_use("cuda") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_to_use("auto") == "cpu"
    assert device_to_use("cpu") == "cpu"


def test_cuda_without_cuda_is_a_reporterror(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ReportError, match="no CUDA device"):
        device_to_use("cuda")


def test_cli_refuses_cuda_without_cuda_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(main, [str(HJEPA_RUN), "-o", str(tmp_path / "r.html"), "--device", "cuda", *FAST])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "CUDA" in lines[0]
    assert not (tmp_path / "r.html").exists()


def test_cli_rejects_an_unknown_device(tmp_path):
    result = CliRunner().invoke(main, [str(HJEPA_RUN), "-o", str(tmp_path / "r.html"), "--device", "tpu", *FAST])
    assert result.exit_code == 2
    assert "auto" in result.output


def test_report_keeps_auto_and_names_the_device_used(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(main, [str(HJEPA_RUN), "-o", str(tmp_path / "r.html"), *FAST])
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "r.json").read_text())["settings"]
    assert settings["device"] == "auto" and settings["device_used"] == "cpu"
    html = (tmp_path / "r.html").read_text()
    assert "<dt>Device</dt><dd>cpu" in html and "(--device auto)" in html
