"""Contract test over every registered pass: add a pass to the registry and it is checked here."""

from __future__ import annotations

from pathlib import Path

import pytest

from hjepa_report.analysis.base import AnalysisPass, ReportContext
from hjepa_report.analysis.registry import all_passes
from hjepa_report.collect.run import Run
from hjepa_report.settings import ReportSettings

PASSES = all_passes()


def test_names_are_unique_and_usable_on_the_command_line():
    names = [p.name for p in PASSES]
    assert len(names) == len(set(names))
    assert all(n and n == n.lower() and " " not in n and "," not in n for n in names)


@pytest.mark.parametrize("analysis", PASSES, ids=lambda p: p.name)
def test_every_pass_has_a_title_a_docstring_and_overrides_compute_and_present(analysis):
    assert analysis.title and type(analysis).__doc__
    assert type(analysis).compute is not AnalysisPass.compute
    assert type(analysis).present is not AnalysisPass.present


@pytest.mark.parametrize("analysis", PASSES, ids=lambda p: p.name)
def test_every_pass_on_an_empty_run_skips_or_says_why_never_raises(analysis, tmp_path):
    run = Run(root=Path(tmp_path), name="empty", layout="generic", layout_reason="test")
    section = analysis.run(ReportContext(run, ReportSettings()))
    assert section.status in ("ok", "skipped"), section.error
    if section.status == "skipped":
        assert section.message and "\n" not in section.message


def test_check_names_are_kebab_case():
    """Check names are identifiers people grep for in report.json and CI logs."""
    import re

    from conftest import IJEPA_RUN
    from hjepa_report.collect import collect_run

    ctx = ReportContext(collect_run(IJEPA_RUN), ReportSettings(minimal=True, max_images=4))
    names = [c.name for p in PASSES if p.name in ("log-health", "masking", "schedules")
             for c in p.run(ctx).checks]
    assert names and all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names), names
