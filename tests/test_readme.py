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
