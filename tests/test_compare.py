"""`hjepa-report compare` (hjepa_report/compare, render/compare.py) on reports of the fixture runs and a changed one."""

import json
import os
import re
import shutil
import stat
from pathlib import Path
from urllib.parse import unquote

import pytest

from hjepa_report.compare import build_comparison, find_report_json
from hjepa_report.errors import ReportError
from hjepa_report.render.assets import data_uri
from hjepa_report.render.figures_file import SavedFigure, read_figures_file
from reportfixtures import LOSS_SCALE, NAN_TAG, cached_report, fast_sections


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Reports (log sections) of the H-JEPA fixture and of its copy with doubled loss and a NaN."""
    return cached_report(tmp_path_factory, "base"), cached_report(tmp_path_factory, "changed")


@pytest.fixture(scope="module")
def with_figures(tmp_path_factory):
    """The H-JEPA fixture's report with the masking (and attention, when registered) sections."""
    if "masking" not in fast_sections():
        pytest.skip("the masking section is not registered in this checkout")
    return cached_report(tmp_path_factory, "base", fast_sections())


@pytest.fixture(scope="module")
def compared(pair, tmp_path_factory):
    base, changed = pair
    out = tmp_path_factory.mktemp("compare") / "cmp" / "compare.html"
    # one source given as its report folder, one as its report.json
    path = build_comparison([base.parent, changed], out)
    return path, json.loads(path.with_suffix(".json").read_text()), path.read_text()


def _doc(path: Path) -> dict:
    return json.loads(path.read_text())


def test_runs_and_verdicts_side_by_side(pair, compared):
    path, data, html = compared
    assert path.is_file() and data["kind"] == "comparison" and data["baseline"] == "base"
    assert [r["label"] for r in data["runs"]] == ["base", "changed"]
    assert [r["verdict"] for r in data["runs"]] == [_doc(p)["health"]["verdict"] for p in pair]
    assert data["runs"][1]["verdict"] == "fail"
    row = next(r for r in data["checks"] if r["name"] == "non-finite-values")
    assert row["statuses"] == ["pass", "fail"] and row["changed"]
    assert NAN_TAG in row["details"][1]
    assert data["checks"][0]["statuses"].count("fail") >= 1  # worst first


def test_metric_and_scalar_deltas_against_the_baseline(pair, compared):
    _, data, html = compared
    base, changed = (_doc(p) for p in pair)
    loss = next(r for r in data["metrics"] if r["key"] == "loss_end")
    logged = [
        next(s for s in d["sections"] if s["name"] == "log-health")["metrics"]["loss_end_median"]
        for d in (base, changed)
    ]
    assert loss["values"] == logged
    assert loss["deltas"][1]["abs"] == pytest.approx(logged[1] - logged[0])
    assert loss["deltas"][1]["rel"] == pytest.approx(LOSS_SCALE - 1.0, rel=1e-6)
    last = next(r for r in data["scalars"] if r["tag"] == "train/loss")
    assert last["last"] == [base["scalars"]["train/loss"]["last"], changed["scalars"]["train/loss"]["last"]]
    assert last["deltas"][1]["rel"] == pytest.approx(LOSS_SCALE - 1.0, rel=1e-6)
    assert "(+100.0%)" in html and 'class="delta worse"' in html  # a doubled loss is worse


def test_curves_are_overlaid_from_the_run_directories(pair, compared):
    _, data, html = compared
    shared = sorted(set(_doc(pair[0])["scalars"]) & set(_doc(pair[1])["scalars"]))
    assert data["curves"]["tags"] == shared and data["curves"]["missing"] == []
    assert data["curves"]["runs_with_curves"] == ["base", "changed"]
    groups = {}
    for tag in shared:
        groups.setdefault(tag.split("/", 1)[0] if "/" in tag else "other", []).append(tag)
    expected = sum(-(-len(tags) // 6) for tags in groups.values())
    assert (
        len(
            re.findall(
                r'<figure id="curves-\d+" class="fig">\s*<figcaption[^>]*>[^<]*</figcaption>\s*'
                r'<img src="data:image/png;base64,',
                html,
            )
        )
        == expected
    )


@pytest.mark.slow  # reads a report with the masking and attention figures
def test_masking_figures_side_by_side_are_the_reports_own(with_figures, tmp_path):
    out = build_comparison([with_figures, with_figures.parent], tmp_path / "same.html")
    data, html = json.loads(out.with_suffix(".json").read_text()), out.read_text()
    sections = {s["name"]: s for s in _doc(with_figures)["sections"]}
    expected = [f["id"] for name in ("masking", "attention") if name in sections for f in sections[name]["figures"]]
    assert [f["id"] for f in data["figures"]] == expected and expected
    page = with_figures.with_name("report.html").read_text()
    for fid in expected:
        src = re.search(rf'<figure id="{re.escape(fid)}"[^>]*>.*?<img src="([^"]+)"', page, re.S).group(1)
        assert html.count(f'src="{src}"') == 2, f"{fid} is not shown once per run"
    assert html.count("(caption of base's report)") == len(expected)
    assert not any("sample images differ" in n for n in data["notes"])
    alone = tmp_path / "alone" / "report.json"  # a report.json whose report.html is not beside it
    alone.parent.mkdir()
    shutil.copy(with_figures, alone)
    out = build_comparison([with_figures, alone], tmp_path / "alone.html")
    data = json.loads(out.with_suffix(".json").read_text())
    assert any(
        n.startswith("base (2): ") and "cannot be read, so its figures are not shown" in n for n in data["notes"]
    )
    assert data["figures"] == [] and "not in this report" not in out.read_text()


def test_page_is_self_contained_and_links_resolve(compared):
    path, data, html = compared
    for url in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert not re.match(r"^[a-z][a-z0-9+.-]*://", url), url  # no http(s)://, file:// ...
        if not url.startswith(("data:", "#")):
            assert (path.parent / unquote(url)).is_file(), url
    anchors = set(re.findall(r'id="([^"]+)"', html))
    assert all(a in anchors for a in re.findall(r'href="#([^"]+)"', html))
    assert len([r for r in data["runs"] if r["link"]]) == 2


def test_gone_run_directory_is_named(pair, tmp_path):
    moved = tmp_path / "elsewhere" / "report.json"
    moved.parent.mkdir()
    doc = _doc(pair[1])
    doc["run"]["path"] = str(tmp_path / "no-such-run")
    moved.write_text(json.dumps(doc))
    out = build_comparison([pair[0], moved], tmp_path / "out")  # a folder: compare.html inside
    data = json.loads(out.with_suffix(".json").read_text())
    assert out.name == "compare.html"
    assert data["curves"]["missing"] and data["curves"]["runs_with_curves"] == ["base"]
    assert any(n.startswith("Curves need the run directories") for n in data["notes"])
    assert "Curves need the run directories" in out.read_text() and 'id="curves-1"' not in out.read_text()


def test_runs_without_shared_tags(tmp_path_factory, tmp_path):
    hjepa, ijepa = (cached_report(tmp_path_factory, kind) for kind in ("base", "ijepa"))
    out = build_comparison([hjepa, ijepa], tmp_path / "c.html", labels=["H", "I"])
    data = json.loads((tmp_path / "c.json").read_text())
    assert [r["label"] for r in data["runs"]] == ["H", "I"] and data["scalars"] == []
    assert "The runs share no logged tag, so there are no curves to overlay." in data["notes"]
    assert data["figures"] == []
    assert "No masking or attention figure is in two or more of these reports." in out.read_text()


def test_default_report_location_and_duplicate_names(pair, tmp_path, monkeypatch):
    run_dir = tmp_path / "runs" / "exp1"
    run_dir.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ReportError, match=r"no report found for .*exp1.*hjepa-report"):
        find_report_json(run_dir)
    (tmp_path / "reports" / "exp1").mkdir(parents=True)
    shutil.copy(pair[0], tmp_path / "reports" / "exp1" / "report.json")
    assert find_report_json(run_dir) == Path("reports/exp1/report.json").absolute()
    out = build_comparison([run_dir, pair[0]], tmp_path / "same.html")
    assert [r["label"] for r in json.loads(out.with_suffix(".json").read_text())["runs"]] == ["base", "base (2)"]


def test_bad_sources_are_clear_errors(pair, tmp_path):
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"tool": {"name": "other"}}')
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ReportError, match="at least two"):
        build_comparison([pair[0]], tmp_path / "x.html")
    with pytest.raises(ReportError, match="not a report.json written by hjepa-report"):
        build_comparison([pair[0], foreign], tmp_path / "x.html")
    with pytest.raises(ReportError, match="cannot read"):
        build_comparison([pair[0], broken], tmp_path / "x.html")
    with pytest.raises(ReportError, match="3 labels given for 2 runs"):
        build_comparison([pair[0], pair[1]], tmp_path / "x.html", labels=["a", "b", "c"])
    assert not (tmp_path / "x.html").exists()


@pytest.mark.slow  # reads a report with the masking and attention figures
def test_figures_come_from_the_figures_file_not_the_html(with_figures, tmp_path):
    """compare reads the figures file named in report.json; report.html is not needed (nor parsed)."""
    doc = _doc(with_figures)
    assert doc["render"]["figures_file"] == "report.figures.json"
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("report.json", "report.figures.json"):  # no report.html
        shutil.copy(with_figures.with_name(name), copy / name)
    out = build_comparison([with_figures, copy / "report.json"], tmp_path / "c.html")
    data = json.loads(out.with_suffix(".json").read_text())
    saved = read_figures_file(with_figures.with_name("report.figures.json"))
    assert [f["id"] for f in data["figures"]] == list(saved) and all(
        f["runs"] == ["base", "base (2)"] for f in data["figures"]
    )
    html = out.read_text()
    for figure in saved.values():
        assert html.count(f'src="{data_uri(figure.payload, figure.mime)}"') == 2
    assert [r["link"] for r in data["runs"]][1] is None and "no HTML" in html  # no report.html to link to


@pytest.mark.slow  # reads a report with the masking and attention figures
def test_a_json_only_report_has_no_figures_to_compare_and_says_why(with_figures, tmp_path):
    doc = _doc(with_figures)
    doc["settings"]["json_only"], doc["render"]["figures_file"] = True, None
    for section in doc["sections"]:
        section["figures"] = []
    bare = tmp_path / "bare" / "report.json"
    bare.parent.mkdir()
    bare.write_text(json.dumps(doc))
    out = build_comparison([with_figures, bare], tmp_path / "c.html")
    data = json.loads(out.with_suffix(".json").read_text())
    assert "base (2): it was built with --json-only (no figures drawn), so its figures are not shown." in data["notes"]
    assert data["figures"] == []


def test_read_figures_file_keeps_images_only_and_refuses_foreign_or_damaged_files(tmp_path):
    good = {
        "kind": "report-figures",
        "figures": [
            {
                "id": "masking-a",
                "section": "masking",
                "title": "A",
                "caption": "read it",
                "kind": "figure",
                "mime": "image/png",
                "base64": "AAEC",
            },
            {
                "id": "masking-b",
                "section": "masking",
                "title": "B",
                "caption": "",
                "kind": "figure",
                "mime": "text/html",
                "base64": "AAEC",
            },
        ],
    }
    path = tmp_path / "report.figures.json"
    path.write_text(json.dumps(good))
    assert read_figures_file(path) == {
        "masking-a": SavedFigure("masking-a", "masking", "A", "read it", "figure", "image/png", b"\x00\x01\x02")
    }
    path.write_text(json.dumps({"kind": "comparison"}))
    with pytest.raises(ReportError, match="not a figures file"):
        read_figures_file(path)
    good["figures"][0]["base64"] = "not base64!"
    path.write_text(json.dumps(good))
    with pytest.raises(ReportError, match="damaged figure entry"):
        read_figures_file(path)


def test_compare_files_get_the_plain_file_mode(pair, tmp_path):
    """Regression (issue 12, bug 5): compare.html and compare.json were written 0600."""
    old = os.umask(0o022)
    try:
        out = build_comparison(list(pair), tmp_path / "c.html")
    finally:
        os.umask(old)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (out, out.with_suffix(".json"))] == [0o644, 0o644]
