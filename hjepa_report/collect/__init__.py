"""The collector: read a run directory (never writing to it) into a `Run`.

Public API: `collect_run` (the entry point), `load_checkpoint` (the one safe checkpoint loader every layer
uses), and the records `Run`, `FileRecord`, `CheckpointRef`, `ImageRef`, `ScalarTable`.
"""

from .checkpoints import load_checkpoint
from .collector import collect_run
from .run import CheckpointRef, FileRecord, ImageRef, Run
from .scalars import ScalarTable

__all__ = ["collect_run", "load_checkpoint", "Run", "FileRecord", "CheckpointRef", "ImageRef", "ScalarTable"]
