"""One exception hierarchy and the exit codes: the command line prints the message of these, never a traceback."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status of the command line (documented in the README)."""

    OK = 0  # report written, even when a section failed (it shows as an error card)
    INTERNAL = 1  # a bug: HJEPA_REPORT_DEBUG=1 prints the traceback
    BAD_INPUT = 2  # missing or unusable run directory, unknown section, unreadable config, unsafe checkpoint
    SECTION_FAILED = 3  # --strict and a section failed
    VERDICT = 4  # --fail-on and the verdict is that bad
    RUNS_FAILED = 5  # `hjepa-report many`: the report of at least one run could not be made (each is listed)
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM (128 + 15, the status a shell reports for it)


class ReportError(Exception):
    """Base class for every error hjepa-report reports to the user as one clear line."""

    exit_code = ExitCode.BAD_INPUT


class RunDirError(ReportError):
    """The run directory is missing, unreadable or holds nothing a report can use."""


class ConfigError(ReportError):
    """A config or thresholds file could not be read or has the wrong shape."""


class CheckpointError(ReportError):
    """A checkpoint cannot be read safely or does not hold what was expected."""


class UnsafeCheckpointError(CheckpointError):
    """Loading the checkpoint would need full unpickling, which can run arbitrary code."""


class ModelBuildError(ReportError):
    """A network could not be rebuilt from a checkpoint exactly (unknown or partial keys, unsupported option)."""


class OutputError(ReportError, OSError):
    """The report cannot be written where asked (a folder that is a file or not writable, a full disk)."""


class StrictModeError(ReportError):
    """A section failed and --strict was given."""

    exit_code = ExitCode.SECTION_FAILED
