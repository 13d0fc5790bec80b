"""Contract test over every registered pass: add a pass to the registry and it is checked here.

Three layers: what every pass declares (name, title, docstring, a `present` that takes only the result); what
each pass produced in the full report of both fixture runs (the session's `reports`: captions, figure links,
table shapes, metrics the strict JSON sanitiser accepts, no error section); and compute -> present called
directly on a ReportContext of each fixture, with `present` on a fresh pass object after the networks were
released, so that present can only draw from its result.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from conftest import FIXTURE_SETTINGS, HJEPA_RUN, IJEPA_RUN
from hjepa_report.analysis.base import AnalysisPass, PassResult, Presentation
from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.registry import all_passes
from hjepa_report.collect.run import Run
from hjepa_report.settings import ReportSettings

PASSES = all_passes()
NAMES = [p.name for p in PASSES]
RUNS = {HJEPA_RUN.name: HJEPA_RUN, IJEPA_RUN.name: IJEPA_RUN}


def test_names_are_unique_and_usable_on_the_command_line():
    assert len(NAMES) == len(set(NAMES))
    assert all(n and n == n.lower() and " " not in n and "," not in n for n in NAMES)


@pytest.mark.parametrize("analysis", PASSES, ids=lambda p: p.name)
def test_every_pass_has_a_title_a_docstring_and_overrides_compute_and_present(analysis):
    assert analysis.title and type(analysis).__doc__
    assert type(analysis).compute is not AnalysisPass.compute
    assert type(analysis).present is not AnalysisPass.present


@pytest.mark.parametrize("analysis", PASSES, ids=lambda p: p.name)
def test_present_takes_the_result_and_nothing_else(analysis):
    parameters = list(inspect.signature(type(analysis).present).parameters.values())
    assert [p.name for p in parameters[:1]] == ["self"] and len(parameters) == 2, parameters
    assert parameters[1].kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@pytest.mark.parametrize("analysis", PASSES, ids=lambda p: p.name)
def test_every_pass_on_an_empty_run_skips_or_says_why_never_raises(analysis, tmp_path):
    run = Run(root=Path(tmp_path), name="empty", layout="generic", layout_reason="test")
    section = analysis.run(ReportContext(run, ReportSettings()))
    assert section.status in ("ok", "skipped"), section.error
    if section.status == "skipped":
        assert section.message and "\n" not in section.message


def test_check_names_are_kebab_case():
    """Check names are identifiers people grep for in report.json and CI logs."""
    from hjepa_report.collect import collect_run

    ctx = ReportContext(collect_run(IJEPA_RUN), ReportSettings(minimal=True, max_images=4))
    names = [c.name for p in PASSES if p.name in ("log-health", "masking", "schedules") for c in p.run(ctx).checks]
    assert names and all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names), names


# --- what every pass made of the full fixture reports --------------------------------------------------------


def _section(reports, run: str, name: str):
    report = reports[run]["report"]
    assert report is not None, reports[run]["result"].output
    sections = {s.name: s for s in report.sections}
    assert list(sections) == NAMES  # every registered pass has its section, in registry order
    return report, sections[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("run", RUNS)
def test_no_fixture_section_is_an_error(reports, run, name):
    _, section = _section(reports, run, name)
    assert section.status in ("ok", "skipped"), f"{section.message}\n{(section.error or {}).get('traceback')}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("run", RUNS)
def test_every_figure_has_a_title_and_a_caption(reports, run, name):
    report, section = _section(reports, run, name)
    for figure in section.figures:
        assert figure.title.strip() and figure.caption.strip(), figure.id
        assert figure.id.startswith(f"{name}-"), figure.id
    ids = [f.id for s in report.sections for f in s.figures]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("run", RUNS)
def test_every_check_links_to_a_figure_of_the_same_report(reports, run, name):
    report, section = _section(reports, run, name)
    figures = {f.id for s in report.sections for f in s.figures}
    for check in section.checks:
        assert check.figure_id is None or check.figure_id in figures, (check.name, check.figure_id)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("run", RUNS)
def test_every_table_has_columns_and_rows_of_their_width(reports, run, name):
    _, section = _section(reports, run, name)
    for table in section.tables:
        assert table.columns, table.id
        widths = {len(row) for row in table.rows}
        assert widths <= {len(table.columns)}, (table.id, len(table.columns), widths)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("run", RUNS)
def test_metrics_serialise_with_the_strict_sanitiser(reports, run, name):
    from hjepa_report.render.jsonreport import dumps, jsonable

    _, section = _section(reports, run, name)
    dumps(jsonable(section.metrics, where=f"{name}.metrics"))  # TypeError / ValueError on anything unclean
    dumps(jsonable([dataclasses.asdict(c) for c in section.checks], where=f"{name}.checks"))


# --- compute, then present from the result alone ----------------------------------------------------------


@pytest.fixture(scope="module")
def computed():
    """Per fixture run and pass: (result, presentation), or the skip reason, or the exception raised.

    Every applicable pass's compute runs on one ReportContext of the fixture (settings as the `reports`
    fixture's); then the networks are released and a fresh instance of each pass presents its result, so
    present cannot lean on the context, the session, or state the pass object kept from compute.
    """
    from hjepa_report.collect import collect_run
    from hjepa_report.plotting import plot_style

    out = {}
    for run_name, run_dir in RUNS.items():
        ctx = ReportContext(collect_run(run_dir), ReportSettings(**FIXTURE_SETTINGS[run_dir]))
        results = {}
        for analysis in PASSES:
            try:
                results[analysis.name] = analysis.applies(ctx) or analysis.compute(ctx)
            except Exception as exc:  # noqa: BLE001 - reported by the test of this pass
                results[analysis.name] = exc
        ctx.session.release()
        for analysis in PASSES:
            result = results[analysis.name]
            if isinstance(result, PassResult):
                try:
                    with plot_style():
                        result = (result, type(analysis)().present(result))
                except Exception as exc:  # noqa: BLE001
                    result = exc
            results[analysis.name] = result
        out[run_name] = results
    return out


FORBIDDEN_IN_RESULTS = ("ReportContext", "ModelSession", "Run", "JepaModel", "FeatureCache", "Module")


def _held_types(value, depth: int = 2):
    """Class names of everything a result holds, its fields and one level into their lists and dicts."""
    yield from (c.__name__ for c in type(value).__mro__)
    if depth and dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _held_types(getattr(value, f.name), depth - 1)
    elif depth and isinstance(value, (list, tuple)):
        for item in value:
            yield from _held_types(item, depth - 1)
    elif depth and isinstance(value, dict):
        for item in value.values():
            yield from _held_types(item, depth - 1)


# I-JEPA trains one level, so the hierarchical-losses section has nothing to show on its fixture.
NOT_APPLICABLE = {("ijepa_small", "hierarchy-losses")}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("run", RUNS)
def test_compute_returns_a_typed_result_that_present_draws_alone(computed, run, name):
    from hjepa_report.render.jsonreport import dumps, jsonable

    outcome = computed[run][name]
    if isinstance(outcome, str):
        # only a pass that cannot apply to the fixture by its nature may skip; any other skip is a regression
        assert (run, name) in NOT_APPLICABLE, f"{name} unexpectedly skipped on {run}: {outcome}"
        pytest.skip(f"{name} does not apply to {run}: {outcome}")
    if isinstance(outcome, Exception):
        raise outcome
    result, shown = outcome
    assert dataclasses.is_dataclass(result) and type(result) is not PassResult, type(result)
    held = set(_held_types(result))
    assert not held & set(FORBIDDEN_IN_RESULTS), held & set(FORBIDDEN_IN_RESULTS)
    assert isinstance(shown, Presentation)
    dumps(jsonable(result.metrics, where=f"{name}.metrics"))
    local = {f.id.removeprefix(f"{name}-") for f in shown.figures}
    for check in result.checks:
        if check.figure_id and not check.figure_id.startswith("#"):
            assert check.figure_id.removeprefix(f"{name}-") in local, (check.name, check.figure_id)
