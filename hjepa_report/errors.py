"""One exception hierarchy: the command line prints the message of these, never a traceback."""


class ReportError(Exception):
    """Base class for every error hjepa-report reports to the user as one clear line."""

    exit_code = 2


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


class StrictModeError(ReportError):
    """A section failed and --strict was given."""

    exit_code = 3
