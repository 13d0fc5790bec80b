"""The notebook entry points at the top of the package work as the README shows."""

import json

import hjepa_report
from conftest import IJEPA_RUN


def test_generate_from_python(tmp_path):
    settings = hjepa_report.ReportSettings(output=tmp_path / "r.html", sections=["training", "log-health"])
    report, html_path, json_path = hjepa_report.generate(IJEPA_RUN, settings)
    assert report.section("training").figures and html_path.is_file()
    assert json.loads(json_path.read_text())["run"]["layout"] == "ijepa"
    fig = report.section("training").figures[0].content
    assert fig.axes  # a matplotlib Figure a notebook can display


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError):
        hjepa_report.no_such_thing  # noqa: B018
