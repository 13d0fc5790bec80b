"""`hjepa-report RUN_DIR` on the real H-JEPA and I-JEPA runs: one self-contained HTML + a valid report.json."""

from __future__ import annotations

import json
import re

import pytest

from conftest import snapshot

pytestmark = pytest.mark.slow  # every test here reads the full reports of the `reports` fixture

RUNS = ["hjepa_small", "ijepa_small"]


@pytest.mark.parametrize("name", RUNS)
def test_report_builds_with_exit_zero(reports, name):
    r = reports[name]
    assert r["result"].exit_code == 0, r["result"].output
    assert r["html"].stat().st_size > 10_000 and r["json"].is_file()


@pytest.mark.parametrize("name", RUNS)
def test_no_section_of_the_fixture_reports_failed(reports, name):
    """Exit status 0 also means "written, though a section failed": the fixtures must build every section."""
    r = reports[name]
    assert r["result"].exit_code == 0, r["result"].output
    doc = json.loads(r["json"].read_text())
    failed = {s["name"]: s["message"] for s in doc["sections"] if s["status"] not in ("ok", "skipped")}
    assert failed == {}
    assert 'class="error-card"' not in r["html"].read_text()


@pytest.mark.parametrize("name", RUNS)
def test_report_json_validates_against_its_schema(reports, name):
    import jsonschema

    from hjepa_report.render.jsonreport import load_schema

    doc = json.loads(reports[name]["json"].read_text())
    jsonschema.validate(doc, load_schema())
    assert doc["run"]["layout"] == name.split("_")[0]


@pytest.mark.parametrize("name", RUNS)
def test_html_makes_no_network_request(reports, name):
    html = reports[name]["html"].read_text()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""url\(\s*["']?([^"')]+)""", html)
    urls += re.findall(r"""@import\s+["']?([^"';\s]+)""", html)
    remote = [u for u in urls if not (u.startswith("data:") or u.startswith("#"))]
    assert remote == []
    assert "http://" not in html.replace("http://www.w3.org", "") or "xmlns" in html


@pytest.mark.parametrize("name", RUNS)
def test_every_scalar_tag_is_listed_and_drawn(reports, name):
    doc = json.loads(reports[name]["json"].read_text())
    training = next(s for s in doc["sections"] if s["name"] == "training")
    assert training["status"] == "ok"
    assert set(training["metrics"]["tags"]) == set(doc["scalars"])
    html = reports[name]["html"].read_text()
    for tag in doc["scalars"]:
        assert tag in html


def test_hjepa_report_lists_what_the_run_holds(reports):
    doc = json.loads(reports["hjepa_small"]["json"].read_text())
    assert len(doc["scalars"]) == 30
    assert doc["scalars"]["train/loss"]["count"] == 21
    assert {c["path"].rsplit("/", 1)[-1] for c in doc["checkpoints"]} == {
        "checkpoint_latest.pth",
        "checkpoint_epoch_0001.pth",
    }
    assert len(doc["images"]) == 8
    listed = {f["path"] for f in doc["files"]}
    assert "logs/tensorboard/projector_config.pbtxt" in listed


def test_ijepa_report_lists_what_the_run_holds(reports):
    doc = json.loads(reports["ijepa_small"]["json"].read_text())
    assert {"loss", "mask-A", "mask-B", "time (ms)"} <= set(doc["scalars"])
    assert doc["scalars"]["loss"]["count"] == 32
    epochs = {c["path"].rsplit("/", 1)[-1]: c["epoch"] for c in doc["checkpoints"]}
    assert epochs["jepa-ep2.pth.tar"] == 1


@pytest.mark.parametrize("name", RUNS)
def test_run_directory_is_untouched(reports, name):
    r = reports[name]
    assert snapshot(r["run"]) == r["before"]


@pytest.mark.parametrize("name", RUNS)
def test_every_internal_link_resolves(reports, name):
    html = reports[name]["html"].read_text()
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    targets = set(re.findall(r'href="#([^"]+)"', html))
    assert targets - ids == set()
    doc = json.loads(reports[name]["json"].read_text())
    figure_ids = {f["id"] for s in doc["sections"] for f in s["figures"]}
    linked = {c["figure_id"] for c in doc["health"]["checks"] if c["figure_id"]}
    assert linked <= figure_ids
