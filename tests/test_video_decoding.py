"""Sample clips given as video files (collect/clips.py): decoded with PyAV, frames sampled as V-JEPA's and
V-JEPA 2's VideoDataset samples them, a one-line hint without PyAV, one line for a bad file. The videos are
written here with PyAV: a red square that moves one pixel right per frame, so each decoded frame tells which
source frame it is."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from hjepa_report.collect import collect_run
from hjepa_report.collect.clips import (
    AV_MISSING,
    AV_WARNING,
    ClipError,
    Sampling,
    clip_path,
    decode_video,
    frame_indices,
    sampling_of,
)
from hjepa_report.models.vjepa_nets import VideoGrid, load_clip

av = pytest.importorskip("av")  # the [video] extra, in the [test] extra too

FIXTURES = Path(__file__).parent / "fixtures"
SIDE = 32
RED = np.array([255, 0, 0])


def write_video(path: Path, frames: int, fps: int = 8) -> None:
    """An H.264 video (4:4:4 chroma, so the square's edges stay sharp; qp 0) of `frames` frames: an 8 x 8 red
    square at column t in frame t, rows 12-19."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = SIDE
        stream.pix_fmt = "yuv444p"
        stream.options = {"qp": "0"}
        for t in range(frames):
            frame = np.full((SIDE, SIDE, 3), 20, np.uint8)
            frame[12:20, t : t + 8] = RED
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def square_column(frame: np.ndarray) -> int:
    """The left edge of the red square in a decoded frame (row 16, the square's middle)."""
    red = (frame[16, :, 0] > 128) & (frame[16, :, 1] < 100)
    return int(np.flatnonzero(red)[0])


def test_the_sampling_rule_of_the_original_video_dataset():
    # length > clip_len: linspace(0, clip_len, fpc), clipped to clip_len - 1 (loadvideo_decord, start 0)
    assert frame_indices(24, 8, 2).tolist() == [0, 2, 4, 6, 9, 11, 13, 15]
    # shorter: linspace(0, len, len // step), then the last frame repeated up to fpc
    assert frame_indices(10, 8, 2).tolist() == [0, 2, 5, 7, 9, 9, 9, 9]
    assert sampling_of({"data": {"fps": 4}}, 8).step(30.0) == 7  # V-JEPA 2: ceil(video fps) // fps
    assert sampling_of({"data": {"fps": 4}}, 8).step(29.97) == 7
    assert sampling_of({"data": {"sampling_rate": 3}}, 16).step(25.0) == 3  # V-JEPA: frame_step
    assert sampling_of({"data": {"clip_duration": 2}}, 8).step(30.0) == 7  # int(duration * fps / fpc)
    assert sampling_of({}, 8).step(None) == 4  # make_videodataset's default frame_step


def test_decoded_frames_keep_colour_count_and_order(tmp_path):
    write_video(tmp_path / "clip.mp4", frames=24)
    read = decode_video(tmp_path / "clip.mp4", Sampling(8, 2))
    assert read.indices == [0, 2, 4, 6, 9, 11, 13, 15] and read.note == ""
    assert len(read.frames) == 8 and all(f.shape == (SIDE, SIDE, 3) for f in read.frames)
    assert [square_column(f) for f in read.frames] == read.indices  # frame t has the square at column t
    for f, t in zip(read.frames, read.indices, strict=True):
        inside = f[14:18, t + 2 : t + 6].reshape(-1, 3).astype(int)
        assert np.abs(inside - RED).max() <= 8  # the RGB -> YUV -> RGB round trip
        assert np.abs(f[2:6, 26:30].astype(int) - 20).max() <= 20  # the background


def test_a_short_video_repeats_its_last_frame_with_a_note(tmp_path):
    write_video(tmp_path / "short.mp4", frames=10)
    read = decode_video(tmp_path / "short.mp4", Sampling(8, 2))
    assert read.indices == [0, 2, 5, 7, 9, 9, 9, 9]
    assert [square_column(f) for f in read.frames] == read.indices
    assert "10 frames, shorter than one window of 16" in read.note


def test_video_clips_are_collected_with_labels_and_feed_the_networks(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "vjepa2_small", run, ignore=shutil.ignore_patterns("clips"))
    write_video(run / "clips" / "right" / "a.mp4", frames=24)
    write_video(run / "clips" / "b.mp4", frames=24)
    assert clip_path("clips/right/a.mp4").label == "right" and clip_path("clips/b.mp4").label is None
    found = collect_run(run)
    assert [(c.name, c.label, c.video is not None) for c in found.clips] == [("b", None, True), ("a", "right", True)]
    record = {f.path: f for f in found.files}["clips/right/a.mp4"]
    assert record.status == "read" and "decoded with PyAV" in record.detail
    # data.fps 4 on an 8 fps video: step ceil(8) // 4 = 2; 8 frames for 4 tubelets of 2
    tensor, pictures, note = load_clip(found.clips[1], VideoGrid(4, 8, 8, 2, 4), found.config)
    assert tuple(tensor.shape) == (3, 8, 32, 32) and note == ""
    assert [square_column(p) for p in pictures] == [0, 2, 4, 6, 9, 11, 13, 15]


def test_without_pyav_the_file_is_listed_with_the_extras_hint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "vjepa2_small", run, ignore=shutil.ignore_patterns("clips"))
    write_video(run / "clips" / "a.mp4", frames=8)
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    found = collect_run(run)
    record = {f.path: f for f in found.files}["clips/a.mp4"]
    assert (record.status, record.detail) == ("skipped", AV_MISSING) and "hjepa-report[video]" in AV_MISSING
    assert found.warnings.count(AV_WARNING) == 1 and found.clips == []
    with pytest.raises(ClipError, match=r"install hjepa-report\[video\]"):
        decode_video(run / "clips" / "a.mp4", Sampling(8, 2))


@pytest.mark.parametrize("damage", ["empty", "truncated", "text"])
def test_a_bad_video_file_is_one_line_and_no_clip(tmp_path, damage):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "vjepa2_small", run, ignore=shutil.ignore_patterns("clips"))
    good = tmp_path / "good.mp4"
    write_video(good, frames=24)
    bad = run / "clips" / "bad.mp4"
    bad.parent.mkdir()
    data = {"empty": b"", "truncated": good.read_bytes()[: good.stat().st_size // 2], "text": b"not a video\n" * 200}
    bad.write_bytes(data[damage])
    found = collect_run(run)
    record = {f.path: f for f in found.files}["clips/bad.mp4"]
    assert record.status == "skipped" and record.detail.startswith("video file: ") and "\n" not in record.detail
    assert found.clips == []
    with pytest.raises(ClipError) as caught:
        decode_video(bad, Sampling(8, 2))
    assert "\n" not in str(caught.value)
