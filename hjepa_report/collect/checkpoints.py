"""Load checkpoints safely and describe them without reading their tensors.

Safety: `torch.load(weights_only=True)` only rebuilds tensors, containers and allow-listed classes, so a
checkpoint cannot run code while it is read. Real H-JEPA checkpoints pickle numpy float64 scalars (metrics,
best_metric), which the weights-only unpickler refuses; we allow-list exactly the numpy globals that rebuild
plain numeric scalars (`multiarray.scalar`, `dtype` and the numeric DType classes below). The object DType is
NOT allow-listed, so a numpy "scalar" can never smuggle in an arbitrary object. Anything else that needs full
unpickling raises UnsafeCheckpointError, unless the user opted in (trust=True, `--trust-checkpoints`).

Memory: `mmap=True` maps the tensor storages from the file instead of reading them, so a multi-GB checkpoint
does not need its size in RAM and inspecting one touches only its pickle (metadata); legacy (pre-zip) files
cannot be mapped and are read normally. safetensors files are opened lazily with `safe_open`.

Naming conventions (see tests/fixtures/README.md): H-JEPA `checkpoint_epoch_NNNN.pth` holds the 0-based
'epoch' NNNN, `checkpoint_latest.pth` / `checkpoint_best.pth` are byte copies of one of them; I-JEPA
`{tag}-ep{N}.pth.tar` holds 'epoch' N-1 and `{tag}-latest.pth.tar` the last epoch.
"""

from __future__ import annotations

import re
import struct
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, UnsafeCheckpointError
from .checkpoint_contents import describe_contents
from .run import CheckpointRef

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".pth.tar", ".ckpt", ".safetensors")
_NUMPY_DTYPES = ("Float64DType", "Float32DType", "Float16DType", "Int64DType", "Int32DType", "BoolDType")
# torch words it "Unsupported global: GLOBAL x.y" or "unsupported GLOBAL x.y whose module x is blocked"
_UNSUPPORTED_GLOBAL = re.compile(r"unsupported (?:global: )?GLOBAL ([\w.]+)", re.IGNORECASE)
_NAME_RULES = (  # (pattern on the file name, role, how the number in the name maps to the stored epoch)
    (re.compile(r"^checkpoint_epoch_(\d+)\.pth$"), "epoch", 0),  # H-JEPA: number = 0-based epoch field
    (re.compile(r"-ep(\d+)\.pth\.tar$"), "epoch", -1),  # I-JEPA: ep{N} holds epoch N-1
    (re.compile(r"-e(\d+)\.pth\.tar$"), "epoch", 1),  # V-JEPA: {tag}-e{E} is saved after epoch E+1, holds E+1
    (re.compile(r"^e(\d+)\.pt$"), "epoch", 1),  # V-JEPA 2: e{E}.pt, the same
    (re.compile(r"^e(\d+)\.pth\.tar$"), "epoch", 1),  # V-JEPA 2.1: e{E}.pth.tar (app/vjepa_2_1/train.py), the same
    (re.compile(r"(?:^|[-_])epoch[=_]?(\d+)"), "epoch", 0),  # Lightning epoch=N-step=M.ckpt and similar
)


def is_checkpoint(path: Path) -> bool:
    """Tell whether a file name has a checkpoint suffix."""
    return path.name.lower().endswith(CHECKPOINT_SUFFIXES)


def load_checkpoint(path: Path | str, trust: bool = False) -> Any:
    """Load a checkpoint on the CPU without running code in it (unless `trust`), memory-mapped when possible.

    torch files return what was saved (usually a dict); safetensors files return a lazy read-only mapping
    of tensor name -> tensor. Raises UnsafeCheckpointError (naming the refused global) or CheckpointError.
    """
    path = Path(path)
    if path.name.lower().endswith(".safetensors"):
        return SafetensorsDict(path)
    import pickle

    import torch

    mmap = _is_zip(path)  # legacy (pre-1.6) files are not zip archives and cannot be mapped
    try:
        with warnings.catch_warnings():  # torch's warnings about odd files ("pickle protocol 118"): the error says it
            warnings.simplefilter("ignore", UserWarning)
            if trust:
                return torch.load(path, map_location="cpu", weights_only=False, mmap=mmap)
            with torch.serialization.safe_globals(_numpy_scalar_globals()):
                return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        if _UNSUPPORTED_GLOBAL.search(str(exc)) or (mmap or _starts_like_pickle(path)):
            raise UnsafeCheckpointError(_unsafe_message(path, exc)) from None
        raise CheckpointError(f"{path.name}: not a readable torch checkpoint ({_first_line(exc)})") from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: not a readable torch checkpoint ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - any other failure to unpickle untrusted bytes: not a checkpoint
        # seen (tests/test_fuzz_readers.py): a memo index never stored (KeyError), a stack too short (IndexError),
        # torch's legacy reader asserting on a storage key its pickle lacks (AssertionError), a mutated codec
        # name in a pickled numpy scalar (LookupError); a list of types would miss the next one
        raise CheckpointError(
            f"{path.name}: not a readable torch checkpoint ({type(exc).__name__}: {_first_line(exc)})"
        ) from None


def _is_zip(path: Path) -> bool:
    """zipfile.is_zipfile, which itself raises BadZipFile on some damaged end records (a ZIP64 locator naming
    several disks: found by tests/test_fuzz_readers.py); such a file is read as a legacy one, and refused there."""
    try:
        return zipfile.is_zipfile(path)
    except (zipfile.BadZipFile, ValueError, struct.error):
        return False


def _starts_like_pickle(path: Path) -> bool:
    """Tell whether a (legacy, non-zip) file starts with a pickle protocol opcode (0x80)."""
    with open(path, "rb") as fh:
        return fh.read(1) == b"\x80"


def _unsafe_message(path: Path, exc: Exception) -> str:
    """Say which global the weights-only loader refused and what the user can do."""
    refused = _UNSUPPORTED_GLOBAL.search(str(exc))
    what = f"the global '{refused.group(1)}'" if refused else "full unpickling"
    return (
        f"{path.name}: refused to load, it needs {what}, and full unpickling can run code from the file; "
        "pass --trust-checkpoints only if you trust it"
    )


def _numpy_scalar_globals() -> list:
    """Return the numpy globals that rebuild plain numeric scalars (numpy 1.x and 2.x names)."""
    import numpy as np

    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import scalar
    dtype_classes = [getattr(np.dtypes, n) for n in _NUMPY_DTYPES if hasattr(getattr(np, "dtypes", None), n)]
    return [scalar, np.dtype, *dtype_classes]


class SafetensorsDict(Mapping):
    """A read-only name -> tensor mapping over a .safetensors file; tensors are read when accessed."""

    def __init__(self, path: Path) -> None:
        from safetensors import safe_open

        try:
            self._file = safe_open(str(path), framework="pt", device="cpu")
            self._keys = list(self._file.keys())
        except Exception as exc:  # safetensors raises its own SafetensorError / OSError variants
            raise CheckpointError(f"{path.name}: not a readable safetensors file ({_first_line(exc)})") from None

    def __getitem__(self, key: str):
        if key not in self._keys:
            raise KeyError(key)
        return self._file.get_tensor(key)

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def shapes(self) -> dict[str, tuple[list[int], str]]:
        """Return name -> (shape, dtype) from the header, without reading any tensor."""
        out = {}
        for key in self._keys:
            sl = self._file.get_slice(key)
            out[key] = (list(sl.get_shape()), str(sl.get_dtype()))
        return out


def inspect_checkpoint(path: Path, name: str, trust: bool = False) -> CheckpointRef:
    """Describe one checkpoint: role and epoch from its name and contents, sizes, keys, counts, metadata.

    A file that cannot be read safely is still described (size, role), with the reason in `note`.
    """
    role, name_epoch, offset = checkpoint_role(path.name)
    fmt = "safetensors" if path.name.lower().endswith(".safetensors") else "torch"
    ref = CheckpointRef(path=path, name=name, size=path.stat().st_size, format=fmt, role=role)
    try:
        describe_contents(ref, load_checkpoint(path, trust=trust))
    except CheckpointError as exc:
        ref.note, ref.readable = str(exc), False
    _reconcile_epoch(ref, name_epoch, offset)
    return ref


def checkpoint_role(file_name: str) -> tuple[str, int | None, int]:
    """Return (role, number in the name, offset from that number to the stored epoch) for a file name."""
    lowered = file_name.lower()
    for pattern, role, offset in _NAME_RULES:
        found = pattern.search(lowered)
        if found:
            return role, int(found.group(1)), offset
    if "best" in lowered:
        return "best", None, 0
    if "latest" in lowered or re.search(r"(?:^|[-_])last\b", lowered):
        return "latest", None, 0
    return "other", None, 0


def _reconcile_epoch(ref: CheckpointRef, name_epoch: int | None, offset: int) -> None:
    """Fill a missing stored epoch from the name; note the I-JEPA off-by-one and any disagreement."""
    if name_epoch is None:
        return
    implied = name_epoch + offset
    notes = [ref.note] if ref.note else []
    if ref.epoch is None:
        ref.epoch = implied
        notes.append(f"epoch {implied} taken from the file name")
    elif ref.epoch != implied:
        notes.append(f"file name says epoch {name_epoch} but the file holds epoch {ref.epoch}")
    if offset == -1:
        notes.append(f"I-JEPA names a checkpoint ep{name_epoch} and stores 'epoch': {name_epoch - 1} in it")
    if offset == 1:
        notes.append(f"V-JEPA names a checkpoint e{name_epoch} (0-based) and stores 'epoch': {name_epoch + 1} in it")
    ref.note = "; ".join(notes)


def _first_line(exc: BaseException) -> str:
    """Return the first non-empty line of an exception message, without terminal escapes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
