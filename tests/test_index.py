"""`hjepa-report index DIR` (render/index.py): every report below a folder in one sortable, self-contained page."""

import json
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from hjepa_report.errors import ReportError
from hjepa_report.render.index import build_index, find_report_files, write_index
from hjepa_report.render.summary import format_value
from reportfixtures import cached_report


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return {kind: cached_report(tmp_path_factory, kind) for kind in ("base", "changed")}


def _copy_report(report_json: Path, folder: Path, stem: str = "report") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(report_json, folder / f"{stem}.json")
    shutil.copy(report_json.with_name("report.html"), folder / f"{stem}.html")
    return folder / f"{stem}.json"


@pytest.fixture
def archive(reports, tmp_path):
    """A folder of reports as people keep them, plus files the index must not take for reports."""
    root = tmp_path / "archive"
    _copy_report(reports["base"], root / "2026" / "base")
    _copy_report(reports["changed"], root / "2026" / "changed")
    _copy_report(reports["base"], root / "named", stem="exp1")  # hjepa-report RUN -o named/exp1.html
    (root / "foreign").mkdir()
    (root / "foreign" / "report.json").write_text('{"results": [1, 2]}')
    (root / "broken").mkdir()
    (root / "broken" / "report.json").write_text('{"tool": ')
    (root / "2026" / "base" / "metrics.json").write_text("{}")  # no metrics.html beside it: not a report
    _copy_report(reports["base"], root / ".trash" / "old")  # hidden folders are not entered
    return root


def _rows(html: str) -> list[str]:
    body = html.split('<table class="sortable" id="reports">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr class=\"row-[a-z]*\">(.*?)</tr>", body, re.S)


def test_index_lists_every_report_with_verdict_metrics_and_links(archive, reports):
    out = write_index(archive)
    assert out == archive / "index.html"
    html = out.read_text()
    rows = _rows(html)
    assert len(rows) == 3
    docs = {k: json.loads(p.read_text()) for k, p in reports.items()}
    # newest first: the changed run's report was built after the base run's
    names = [re.search(r'<a href="[^"]+">([^<]+)</a>', r).group(1) for r in rows]
    order = sorted(
        [("base", docs["base"]), ("changed", docs["changed"]), ("base", docs["base"])],
        key=lambda x: x[1]["created_at"],
        reverse=True,
    )
    assert names == [n for n, _ in order]
    changed_row = rows[names.index("changed")]
    assert '<span class="badge badge-fail">fail</span>' in changed_row
    log = next(s for s in docs["changed"]["sections"] if s["name"] == "log-health")["metrics"]
    assert f'data-sort="{log["loss_end_median"]}">{format_value(log["loss_end_median"])}</td>' in changed_row
    for href in re.findall(r'href="([^"#]+)"', html):
        assert (archive / unquote(href)).is_file(), href
    assert "named/exp1.html" in html and ".trash" not in html and "metrics.json" not in html


def test_unreadable_and_foreign_files_get_a_note_row(archive):
    html = write_index(archive).read_text()
    notes = html.split("Files not listed", 1)[1]
    assert re.search(r"<code>broken/report.json</code></td><td>cannot read this file: JSONDecodeError", notes)
    assert "<code>foreign/report.json</code></td><td>this file is not a report.json written by hjepa-report" in notes


def test_rerunning_updates_the_index(archive, reports):
    write_index(archive)
    shutil.rmtree(archive / "2026" / "changed")
    _copy_report(reports["changed"], archive / "2027" / "again")
    html = write_index(archive).read_text()
    assert len(_rows(html)) == 3 and "2027/again/report.html" in html and "2026/changed" not in html
    assert sorted(p.name for p in archive.iterdir() if p.is_file()) == ["index.html"]  # no temporary left over


def test_index_elsewhere_links_relative_to_itself(archive):
    out = write_index(archive, archive.parent / "site")  # a folder: index.html inside
    assert out == archive.parent / "site" / "index.html"
    hrefs = re.findall(r'href="([^"#]+)"', out.read_text())
    assert hrefs and all((out.parent / unquote(h)).is_file() for h in hrefs)


def test_index_is_self_contained(archive):
    html = write_index(archive).read_text()
    assert not re.search(r'(?:src|href)="[a-z][a-z0-9+.-]*://', html)
    assert "<script>" in html and "<script src" not in html and "<link" not in html


def test_comparisons_are_listed_apart(archive, reports):
    from hjepa_report.compare import build_comparison

    build_comparison([archive / "2026" / "base", archive / "2026" / "changed"], archive / "cmp" / "compare.html")
    view = build_index(archive, archive)
    assert view.comparisons == [("cmp/compare.html", "base vs changed")]
    assert len(view.rows) == 3 and len(view.notes) == 2  # the comparison is neither a row nor a note


def test_finds_named_reports_and_rejects_a_missing_folder(archive, tmp_path):
    found = {p.relative_to(archive).as_posix() for p in find_report_files(archive)}
    assert found == {
        "2026/base/report.json",
        "2026/changed/report.json",
        "named/exp1.json",
        "foreign/report.json",
        "broken/report.json",
    }
    with pytest.raises(ReportError, match="is not a folder"):
        write_index(tmp_path / "nothing-here")


def test_an_empty_folder_gives_an_index_that_says_so(tmp_path):
    assert "No hjepa-report report.json was found" in write_index(tmp_path).read_text()


def test_a_json_only_report_does_not_link_a_stale_html_beside_it(reports, tmp_path):
    """--json-only writes report.json alone; an older report.html left in the folder is not its page."""
    path = _copy_report(reports["base"], tmp_path / "runs" / "exp1")
    doc = json.loads(path.read_text())
    doc["settings"]["json_only"] = True
    path.write_text(json.dumps(doc))
    rows = build_index(tmp_path / "runs", tmp_path / "runs").rows
    assert [r.html_link for r in rows] == [None] and rows[0].json_link.endswith("report.json")
