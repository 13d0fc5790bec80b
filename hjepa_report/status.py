"""The report's one vocabulary of statuses: health-check statuses with their severity, and section statuses.

Every layer (analysis, render, the command line, compare and index) orders and counts statuses through this
module, so "worst first" and "how bad is the verdict" mean the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Status(str, Enum):
    """A health check's status. A str, so it compares equal to and serialises as its value ("pass")."""

    FAIL = "fail"
    WARN = "warn"
    PASS = "pass"
    SKIP = "skip"

    def __str__(self) -> str:
        return self.value

    @property
    def severity(self) -> int:
        """How bad it is for a verdict: fail 2, warn 1, pass and skip 0."""
        return _SEVERITY[self]

    @property
    def rank(self) -> int:
        """Sort key, worst first: fail 0, warn 1, pass 2, skip 3."""
        return _ORDER.index(self)

    @classmethod
    def parse(cls, value: str | Status) -> Status:
        """Return the Status of a string; ValueError names the allowed values."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"check status must be one of {[s.value for s in cls]}, got {value!r}") from None


_ORDER = (Status.FAIL, Status.WARN, Status.PASS, Status.SKIP)
_SEVERITY = {Status.FAIL: 2, Status.WARN: 1, Status.PASS: 0, Status.SKIP: 0}
VERDICTS = ("fail", "warn", "pass")  # what a report's overall verdict can be, worst first


def status_rank(value: str | None) -> int:
    """Sort key, worst first, for a status string read from a file (unknown values sort last)."""
    try:
        return Status(value).rank
    except ValueError:
        return len(_ORDER)


def severity(value: str | None) -> int:
    """Severity of a status string (unknown values count as harmless)."""
    try:
        return Status(value).severity
    except ValueError:
        return 0


def verdict(statuses: Iterable[str]) -> str:
    """The overall verdict of a set of check statuses: the worst of fail > warn, 'pass' otherwise."""
    worst = max((severity(s) for s in statuses), default=0)
    return {2: "fail", 1: "warn"}.get(worst, "pass")


def count_statuses(statuses: Iterable[str], order: Iterable[str] = tuple(s.value for s in _ORDER)) -> dict[str, int]:
    """Count statuses, one entry per status of `order` (worst first by default)."""
    values = list(statuses)
    return {s: sum(v == s for v in values) for s in order}


class SectionStatus(str, Enum):
    """A section's status: it ran (ok), could not run on this run (skipped), or raised (error)."""

    OK = "ok"
    SKIPPED = "skipped"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value
