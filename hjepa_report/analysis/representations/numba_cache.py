"""numba's on-disk cache for UMAP: its compilation (about 12 s) paid once per machine, not once per report.

numba keeps compiled functions beside their source (`site-packages/.../__pycache__`) and silently caches
nothing when that folder is read-only (a system, shared or container install); NUMBA_CACHE_DIR sends the
cache to a folder of the user's instead. umap-learn also compiles most of its functions without
`cache=True`, so after importing it its module-level dispatchers get numba's own caching switched on
(`Dispatcher.enable_caching`, what `cache=True` does). A cache entry is checked against the source file's
time stamp and size and the compiler's target, so the cached machine code is the code a fresh compilation
would give: the report's numbers do not change.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

# umap-learn's modules that define the jitted functions a fit runs (pynndescent already caches its own)
UMAP_MODULES = ("umap.umap_", "umap.layouts", "umap.spectral", "umap.distances", "umap.sparse", "umap.utils")


def numba_cache_dir(environ: MutableMapping[str, str] = os.environ) -> Path:
    """Return the user cache folder for numba: $XDG_CACHE_HOME/hjepa-report/numba or ~/.cache/hjepa-report/numba."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hjepa-report" / "numba"


def use_numba_cache(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Point NUMBA_CACHE_DIR at the user cache folder unless the user set it; call before numba is imported.

    Return the cache folder in effect, or None when the folder cannot be created (numba then caches where it
    would anyway, or not at all: the report is the same, only slower).
    """
    if environ.get("NUMBA_CACHE_DIR"):
        return environ["NUMBA_CACHE_DIR"]
    folder = numba_cache_dir(environ)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK | os.X_OK):
        return None
    environ["NUMBA_CACHE_DIR"] = str(folder)
    return str(folder)


def cache_umap_functions() -> int:
    """Switch numba's on-disk caching on for umap-learn's module-level jitted functions; return how many.

    numba's cache index tells compiled variants apart by signature and bytecode, not by options, so of a
    function jitted twice (umap's serial and parallel layout epoch) only the serial one is cached (a seeded
    UMAP, as the report's, runs its layout serially); the other compiles as before.
    """
    import importlib

    try:
        from numba.core.caching import NullCache
        from numba.core.registry import CPUDispatcher
    except Exception:  # noqa: BLE001 - another numba layout: compile as before
        return 0
    dispatchers = []
    for name in UMAP_MODULES:
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module this umap-learn version lacks
            continue
        dispatchers += [v for v in vars(module).values() if isinstance(v, CPUDispatcher)]
    twins: dict[int, dict[int, CPUDispatcher]] = {}
    for d in dispatchers:
        twins.setdefault(id(d.py_func), {})[id(d)] = d
    enabled = 0
    for group in twins.values():
        chosen = list(group.values())
        if len(chosen) > 1:
            chosen = [d for d in chosen if not d.targetoptions.get("parallel")]
        if len(chosen) != 1 or not isinstance(getattr(chosen[0], "_cache", None), NullCache):
            continue
        d = chosen[0]
        try:
            d.enable_caching()
        except Exception:  # noqa: BLE001 - e.g. no writable cache locator: this one compiles as before
            continue
        enabled += 1
    return enabled
