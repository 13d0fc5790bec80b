"""Figures encoded in worker processes have exactly the bytes of encoding them in this process, in report order."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from matplotlib.ticker import FuncFormatter

from hjepa_report.analysis.base import Animation, Picture
from hjepa_report.plotting import new_figure, plot_style
from hjepa_report.render.encoding import FigureEncoder, encode_content


def _figure():
    with plot_style():
        fig, axes = new_figure(5, 2.5, 1, 2)
        x = np.linspace(0, 3, 200)
        axes[0].plot(x, np.sin(x), label="sin")
        axes[0].legend()
        axes[0].set_title("curve")
        axes[1].imshow(np.random.default_rng(0).random((16, 16)))
        fig.colorbar(axes[1].images[0], ax=axes[1])
    return fig


def _picture(size=128):
    return Picture(np.random.default_rng(1).integers(0, 255, (size, size, 3), dtype=np.uint8))


def _animation():
    frames = [np.full((40, 40, 3), i * 30, np.uint8) for i in range(5)]
    for i, f in enumerate(frames):
        f[i * 8 : i * 8 + 8, :, 0] = 255
    return Animation(frames, duration_ms=[200, 300, 200, 300, 500])


@pytest.fixture
def encoder():
    enc = FigureEncoder(workers=2)
    yield enc
    enc.close()


def _in_workers(encoder, contents, scale=1.0):
    """Return the encoder's results once its workers have encoded every content (this process then has none left)."""
    encoder.submit(contents, scale)
    deadline = time.monotonic() + 120
    while encoder.finished(scale) < len(contents) and time.monotonic() < deadline:
        time.sleep(0.05)
    return encoder.results(contents, scale)


def _contents():
    return [_figure(), _picture(), _picture(40), _animation()]


def test_workers_give_the_bytes_of_serial_encoding_for_every_kind(encoder):
    serial = [encode_content(c) for c in _contents()]  # what encoding in this process gave before workers
    parallel = _in_workers(encoder, _contents())
    assert encoder.encoded_here == 0  # the workers did encode them: the comparison is not serial vs serial
    assert [(e.mime, e.kind) for e in parallel] == [
        ("image/png", "figure"),
        ("image/webp", "picture"),
        ("image/png", "picture"),
        ("image/gif", "animation"),
    ]
    assert [e.payload for e in parallel] == [e.payload for e in serial]


def test_scaled_encoding_in_workers_matches_serial_too(encoder):
    serial = [encode_content(c, 0.5) for c in _contents()]
    assert [e.payload for e in _in_workers(encoder, _contents(), 0.5)] == [e.payload for e in serial]
    assert encoder.encoded_here == 0


def test_encoding_again_at_another_scale_gives_the_same_bytes_with_or_without_workers(encoder):
    # --max-report-mb encodes every figure again, smaller: a Figure drawn once draws differently the second
    # time, so both ways must draw an undrawn copy, or the bytes would depend on the number of cores.
    here = FigureEncoder(workers=0)
    shared = _contents()
    for scale in (1.0, 0.6):
        ours = [e.payload for e in here.results(shared, scale)]
        theirs = [e.payload for e in _in_workers(encoder, shared, scale)]
        assert ours == theirs
        assert ours == [encode_content(c, scale).payload for c in _contents()]
    assert here.encoded_here == 2 * len(shared) and encoder.encoded_here == 0


def test_results_come_in_the_order_asked_whatever_order_they_were_started(encoder):
    contents = _contents()[::-1]
    encoder.submit(reversed(contents))  # as the pipeline does, section by section, long before the render
    assert [e.payload for e in encoder.results(contents)] == [encode_content(c).payload for c in _contents()[::-1]]


def test_this_process_helps_with_figures_no_worker_started_and_the_bytes_stay_the_same():
    contents = _contents() + _contents()
    one = FigureEncoder(workers=1)  # one worker holds at most a few jobs: the last ones are left to this process
    try:
        result = one.results(contents)
    finally:
        one.close()
    assert 1 <= one.encoded_here < len(contents)
    assert [e.payload for e in result] == [encode_content(c).payload for c in _contents() + _contents()]


def test_a_figure_that_cannot_be_pickled_is_encoded_here_with_the_same_bytes(encoder):
    def unpicklable():
        fig = _figure()
        fig.axes[0].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.1f}s"))  # a lambda does not pickle
        return [_picture(), fig]

    result = encoder.results(unpicklable())
    assert encoder.encoded_here == 1
    assert [e.payload for e in result] == [encode_content(c).payload for c in unpicklable()]


def test_an_error_in_a_figure_is_raised_not_hidden(encoder):
    bad = Animation([])  # an animation needs at least one frame
    with pytest.raises(ValueError, match="at least one frame"):
        encoder.results([_picture(), bad])


def test_no_workers_encodes_everything_here():
    enc = FigureEncoder(workers=0)
    assert [e.payload for e in enc.results(_contents())] == [encode_content(c).payload for c in _contents()]
    assert enc.encoded_here == 4 and enc.finished() == 0


def test_a_copied_encoder_carries_no_processes():
    import pickle

    enc = FigureEncoder(workers=2)
    enc.submit([_picture()])
    copy = pickle.loads(pickle.dumps(enc))
    assert copy.workers == 2 and copy.finished() == 0
    enc.close()


def test_workers_do_not_run_an_unguarded_script_again(tmp_path):
    # spawn imports the parent's script in every worker: a script calling generate() at its top level
    # (no `if __name__ == "__main__":`) would otherwise build its report again in each worker.
    runs = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import time\n"
        "import numpy as np\n"
        "from hjepa_report.analysis.base import Picture\n"
        "from hjepa_report.render.encoding import FigureEncoder\n"
        f"open({str(runs)!r}, 'a').write('ran\\n')\n"
        "enc = FigureEncoder(workers=2)\n"
        "pictures = [Picture(np.full((120, 120, 3), i, np.uint8)) for i in range(4)]\n"
        "enc.submit(pictures)\n"
        "while enc.finished() < len(pictures):\n"
        "    time.sleep(0.05)\n"
        "enc.results(pictures)\n"
        "assert enc.encoded_here == 0, enc.encoded_here\n"
        "enc.close()\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert runs.read_text() == "ran\n"


def test_workers_run_at_the_lowest_cpu_priority_so_the_sections_keep_the_cores(encoder):
    import os

    assert encoder._workers().submit(os.nice, 0).result(timeout=60) == 19  # os.nice(0) reads the niceness
