"""The README's generated parts stay true to the code: section names and the thresholds table."""

from pathlib import Path

from hjepa_report.analysis.registry import pass_names
from hjepa_report.analysis.thresholds import thresholds_markdown

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_section_name_in_report_order():
    assert ", ".join(f"`{n}`" for n in pass_names()) in README


def test_readme_thresholds_table_is_the_codes():
    assert thresholds_markdown() in README


def test_readme_has_exactly_the_two_ci_commands():
    assert README.count("<!-- ci:try -->") == 1 and README.count("<!-- ci:test -->") == 1


def test_readme_documents_every_report_option():
    """Every option of `hjepa-report report` has a row in the README's option table (first cell)."""
    import re

    from hjepa_report.cli import report_command

    first_cells = " ".join(re.findall(r"^\| (`-[^|]*(?:\\\|[^|]*)*)\|", README, re.M))
    documented = set(re.findall(r"--[a-z][a-z-]*", first_cells))
    flags = {opt for param in report_command.params for opt in param.opts if opt.startswith("--")}
    assert "--json-only" in flags and "--output" in documented
    assert sorted(flags - documented) == []
