"""ReportContext: what a pass's compute may use - the run, the settings, the model session, seeds, progress."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .session import ModelSession

if TYPE_CHECKING:  # pragma: no cover
    from ..collect.run import Run
    from ..settings import ReportSettings


class ReportContext:
    """The run, the settings and the report's one ModelSession (networks, images, masks, encodings).

    Passes share nothing else: there is no string-keyed scratch space, so what one pass offers another lives
    in the session, typed, and does not depend on which pass happened to run first.
    """

    def __init__(self, run: Run, settings: ReportSettings, progress: Callable[[str], None] | None = None):
        self.run = run
        self.settings = settings
        self._progress = progress or (lambda msg: None)
        self.session = ModelSession(run, settings, rng=self.rng, progress=self.progress)

    def progress(self, message: str) -> None:
        """Report progress of a long step (printed on stderr by the CLI unless --quiet)."""
        self._progress(message)

    def rng(self, purpose: str) -> np.random.Generator:
        """Return a numpy generator seeded from the report seed and a purpose name (stable across runs)."""
        return np.random.default_rng([self.settings.seed, zlib.crc32(purpose.encode())])
