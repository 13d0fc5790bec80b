"""Sample clips of a video run: where they are below the run, which frames a clip is, and reading them.

A run's sample clips live below `clips/`:
  clips/<name>/*.png            a folder of frames, in file-name order (also .jpg .jpeg .bmp .webp)
  clips/<name>.mp4              a video file (also .webm .avi .mkv .mov), decoded with PyAV (optional extra
                                `hjepa-report[video]`: without it the file is listed with that hint)
  clips/<class>/<name>/*.png    the same one folder deeper: <class> is the clip's class label (as sub-folders
  clips/<class>/<name>.mp4      of the sample images are), used by the kNN and linear probe

Frames of a video file are sampled as V-JEPA's and V-JEPA 2's VideoDataset.loadvideo_decord does
(facebookresearch/jepa @ 51c59d5 and facebookresearch/vjepa2 @ c2963a4, src/datasets/video_dataset.py):
frames_per_clip fpc, a frame step fstp, clip_len = fpc * fstp; a window of clip_len frames gives
indices = int(clip(linspace(start, start + clip_len, fpc), start, start + clip_len - 1)); a video shorter than
clip_len gives linspace(0, len, len // fstp) followed by the last frame repeated up to fpc (the
allow_clip_overlap=False branch, both repositories' default). The step: V-JEPA 2 with data.fps:
ceil(average fps) // fps; with a clip duration (V-JEPA's data.clip_duration): int(duration * fps / fpc)
(V-JEPA's rule, the average fps as is; V-JEPA 2 rounds it up first, and its configs set fps instead);
else the frame step (V-JEPA's data.sampling_rate, default 4 as make_videodataset's). Where this differs: the
report takes the FIRST window (start 0) of ONE clip per video, deterministically, where training draws the
window's end at random (random_clip_sampling=True) and may cut num_clips segments; and it decodes every
frame up to the last index it needs with PyAV instead of seeking with decord. A frame folder is taken as the
video's frames already sampled: its first fpc frames, the last one repeated when it has fewer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ReportError

VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mkv", ".mov")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
AV_MISSING = "video file: not decoded: PyAV is not installed (install hjepa-report[video])"
AV_WARNING = (
    "The run's sample clips include video files, not decoded: PyAV is not installed (install hjepa-report[video])"
)
DEFAULT_FRAME_STEP = 4  # make_videodataset(frame_step=4) in both repositories
_CLIP = re.compile(r"^(?:.*/)?clips/(.+)$")


class ClipError(ReportError):
    """A sample clip cannot be read (a truncated, empty or non-video file, an unreadable frame)."""


@dataclass(frozen=True)
class ClipPath:
    """Where a file below clips/ belongs: its clip's name and class label, and what it is."""

    name: str
    label: str | None
    kind: str  # frame | video | other


def clip_path(rel: str) -> ClipPath | None:
    """The clip a file `.../clips/...` of the run belongs to (module docstring), else None."""
    found = _CLIP.match(rel)
    if found is None:
        return None
    parts = found.group(1).split("/")
    lower = parts[-1].lower()
    if lower.endswith(VIDEO_SUFFIXES) and len(parts) <= 2:
        return ClipPath(parts[-1].rsplit(".", 1)[0], parts[0] if len(parts) == 2 else None, "video")
    if len(parts) in (2, 3):
        kind = "frame" if lower.endswith(FRAME_SUFFIXES) else "other"
        return ClipPath(parts[-2], parts[0] if len(parts) == 3 else None, kind)
    return ClipPath(parts[0], None, "other")


def av_available() -> bool:
    """Tell whether PyAV can be imported (the [video] extra)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def probe_video(path: Path) -> str | None:
    """Why a video file cannot be a sample clip (PyAV missing, no video stream, no decodable first frame), in
    one line for the file listing, or None. Opens the file and decodes its first frame only."""
    try:
        import av
    except ImportError:
        return AV_MISSING
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "video file: holds no video stream"
            next(container.decode(container.streams.video[0]))
    except StopIteration:
        return "video file: no frame could be decoded (empty or truncated)"
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        return f"video file: cannot be decoded ({type(exc).__name__}: {_first_line(exc, path)})"
    return None


# -- which frames ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sampling:
    """The frame sampling rule of a run's config (module docstring)."""

    frames_per_clip: int
    frame_step: int | None  # None: from the video's fps (fps or duration set)
    fps: float | None = None  # V-JEPA 2 data.fps
    duration: float | None = None  # V-JEPA data.clip_duration (seconds)

    def step(self, video_fps: float | None) -> int:
        """The frame step for a video of `video_fps` frames per second (loadvideo_decord's fstp)."""
        if self.duration is not None and video_fps:
            return max(1, int(self.duration * video_fps / self.frames_per_clip))
        if self.fps is not None and video_fps:
            return max(1, math.ceil(video_fps) // int(self.fps))
        return int(self.frame_step or DEFAULT_FRAME_STEP)


def sampling_of(config: dict | None, frames_per_clip: int) -> Sampling:
    """The run's sampling rule: frames_per_clip (the networks' clip length) and data.fps (V-JEPA 2),
    data.clip_duration or data.sampling_rate (V-JEPA)."""
    data = (config or {}).get("data") or {}
    fps, duration = data.get("fps"), data.get("clip_duration")
    return Sampling(
        int(frames_per_clip),
        None if (fps or duration) else int(data.get("sampling_rate") or DEFAULT_FRAME_STEP),
        float(fps) if fps else None,
        float(duration) if duration else None,
    )


def frame_indices(length: int, frames_per_clip: int, step: int) -> np.ndarray:
    """The frame indices of the first window of a video of `length` frames (loadvideo_decord, num_clips=1,
    start 0; the short-video branch when length <= clip_len)."""
    fpc, clip_len = frames_per_clip, frames_per_clip * step
    if length > clip_len:
        indices = np.linspace(0, clip_len, num=fpc)
        return np.clip(indices, 0, clip_len - 1).astype(np.int64)
    indices = np.linspace(0, length, num=length // step)
    indices = np.concatenate((indices, np.ones(fpc - length // step) * length))
    return np.clip(indices, 0, length - 1).astype(np.int64)


# -- reading -------------------------------------------------------------------------------------------------


@dataclass
class ClipFrames:
    """A clip's frames as RGB uint8 arrays [H, W, 3], which source frame each is, and a note ("" when plain)."""

    frames: list[np.ndarray]
    indices: list[int]
    note: str = ""


def read_frame_folder(frames: list[Path], frames_per_clip: int) -> ClipFrames:
    """The first `frames_per_clip` frame files (the last repeated when there are fewer), as RGB arrays."""
    from PIL import Image, UnidentifiedImageError

    if not frames:
        raise ClipError("the clip folder holds no frames")
    indices = [min(i, len(frames) - 1) for i in range(frames_per_clip)]
    note = f"{len(frames)} frames, the last repeated to {frames_per_clip}" if len(frames) < frames_per_clip else ""
    pictures = []
    for i in indices:
        try:
            with Image.open(frames[i]) as im:
                pictures.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        except (OSError, UnidentifiedImageError) as exc:
            raise ClipError(f"frame {frames[i].name} cannot be read ({type(exc).__name__})") from None
    return ClipFrames(pictures, indices, note)


def decode_video(path: Path, sampling: Sampling) -> ClipFrames:
    """Decode the frames `sampling` picks from a video file with PyAV (module docstring). Raises ClipError
    in one line for a file PyAV cannot open or decode (empty, truncated, not a video) or when PyAV is
    missing."""
    try:
        import av
    except ImportError:
        raise ClipError(AV_MISSING) from None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ClipError("the file holds no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate) if stream.average_rate else None
            step = sampling.step(rate)
            wanted = sampling.frames_per_clip * step  # frames a full window spans
            decoded = []
            for frame in container.decode(stream):
                decoded.append(frame.to_ndarray(format="rgb24"))
                if len(decoded) > wanted:  # enough to know the video is longer than one window
                    break
    except ClipError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise ClipError(f"cannot be decoded ({type(exc).__name__}: {_first_line(exc, path)})") from None
    if not decoded:
        raise ClipError("no frame could be decoded (empty or truncated video)")
    indices = frame_indices(len(decoded), sampling.frames_per_clip, step)
    note = ""
    if len(decoded) < wanted:
        note = f"{len(decoded)} frames, shorter than one window of {wanted}: the last frame repeats"
    return ClipFrames([decoded[i] for i in indices], [int(i) for i in indices], note)


def _first_line(exc: Exception, path: Path) -> str:
    """The first line of PyAV's message, without the file's full path (the listing names the file)."""
    text = (str(exc).splitlines() or [""])[0].replace(f": '{path}'", "").replace(str(path), Path(path).name)
    return text[:160]
