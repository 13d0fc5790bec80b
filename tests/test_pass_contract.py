"""The pass contract (analysis/base.py): compute -> typed result -> present, assembled into a Section.

Regression test named after the bug it pins: a pass that raised after adding checks kept them, so stale checks
counted in the verdict and --fail-on and linked to a figure that no longer existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from hjepa_report.analysis.base import AnalysisPass, PassResult, Presentation
from hjepa_report.analysis.report import Report
from hjepa_report.status import SectionStatus, Status


@dataclass
class _Result(PassResult):
    value: float = 0.0


class _Pass(AnalysisPass[_Result]):
    name = "demo"
    title = "Demo"

    def __init__(self, fail_in: str | None = None):
        self.fail_in = fail_in
        self.presented = 0

    def compute(self, ctx) -> _Result:
        result = _Result(value=1.5)
        result.metrics["value"] = 1.5
        result.notes.append("a note")
        result.add_check("demo-check", "fail", "failing check", figure_id="curve")
        result.add_check("other-figure", "pass", "links elsewhere", figure_id="#training-group-train-0")
        if self.fail_in == "compute":
            raise RuntimeError("compute broke after adding checks")
        return result

    def present(self, result: _Result) -> Presentation:
        self.presented += 1
        shown = Presentation(intro="intro")
        shown.add_figure("curve", "Curve", "How to read it.", object())
        shown.add_table("numbers", "Numbers", ["a"], [[result.value]])
        if self.fail_in == "present":
            raise ValueError("present broke after drawing")
        return shown


@pytest.mark.parametrize("where", ["compute", "present"])
def test_error_section_keeps_nothing_of_the_failed_attempt(where):
    section = _Pass(fail_in=where).run(SimpleNamespace())
    assert section.status is SectionStatus.ERROR
    assert section.checks == [] and section.metrics == {} and section.figures == [] and section.tables == []
    assert section.notes == [] and section.intro == ""
    assert where in section.error["why"] and section.error["traceback"]
    report = Report(run=None, settings=None, sections=[section], created_at="", version="")
    assert report.verdict() == "pass"  # the failing check of the failed attempt does not count


def test_assembled_section_prefixes_ids_and_resolves_check_figures():
    section = _Pass().run(SimpleNamespace())
    assert section.status is SectionStatus.OK
    assert [f.id for f in section.figures] == ["demo-curve"] and [t.id for t in section.tables] == ["demo-numbers"]
    assert [c.figure_id for c in section.checks] == ["demo-curve", "training-group-train-0"]
    assert section.checks[0].status is Status.FAIL and section.metrics == {"value": 1.5}
    assert section.notes == ["a note"] and section.intro == "intro"


def test_json_only_run_computes_checks_without_drawing():
    demo = _Pass()
    section = demo.run(SimpleNamespace(), draw=False)
    assert demo.presented == 0
    assert section.figures == [] and section.tables == []
    assert [c.name for c in section.checks] == ["demo-check", "other-figure"] and section.metrics == {"value": 1.5}


def test_present_failure_does_not_leak_into_the_next_run():
    demo = _Pass(fail_in="present")
    assert demo.run(SimpleNamespace()).status is SectionStatus.ERROR
    demo.fail_in = None
    section = demo.run(SimpleNamespace())
    assert section.status is SectionStatus.OK and len(section.checks) == 2 and len(section.figures) == 1


def test_check_status_is_validated():
    with pytest.raises(ValueError, match="check status must be one of"):
        _Result().add_check("x", "bad", "detail")
