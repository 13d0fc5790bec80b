"""The README's "What a bad input gets" section is generated from the bad-input corpus and matches it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "bad_inputs"))
from readme_section import README, current, section  # noqa: E402


def test_readme_bad_input_section_is_generated_from_the_corpus():
    """Fails when the corpus or an exit status changed: run python tests/bad_inputs/readme_section.py."""
    assert current(README.read_text(encoding="utf-8")) == section()


def test_every_exit_status_in_the_section_is_one_the_cli_defines():
    from make_corpus import CASES

    from hjepa_report.errors import ExitCode

    assert {c.exit for c in CASES} <= {int(code) for code in ExitCode}
