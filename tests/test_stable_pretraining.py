"""Issue 17 item 4: stable-pretraining run folders. The fixture is a LeJEPA run written by stable-pretraining's own
Manager, Module, RegistryLogger and callbacks on random images (tests/fixtures/stable_pretraining_small/PROVENANCE.md).
Its summary.json (last / min / max / count per metric, accumulated by RegistryLogger.log_metrics from the same
values Lightning wrote to metrics.csv) is the reference the scalar table must match exactly."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from hjepa_report.collect import collect_run
from hjepa_report.collect.layout import Evidence, detect_layout
from hjepa_report.collect.stable_pretraining import HEARTBEAT_TIMEOUT_S, lejepa_terms, logged_evaluations

FIXTURES = Path(__file__).parent / "fixtures"
RUN = FIXTURES / "stable_pretraining_small" / "run"
SUMMARY = json.loads((RUN / "summary.json").read_text())
SIDECAR = json.loads((RUN / "sidecar.json").read_text())


@pytest.fixture(scope="module")
def run():
    return collect_run(RUN)


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(RUN, dst)
    return dst


def test_detected_as_stable_pretraining_by_its_own_files(run):
    assert run.layout == "stable-pretraining"
    assert "stable-pretraining run files (heartbeat, run_meta.json, sidecar.json, summary.json)" in run.layout_reason
    assert "Lightning metrics.csv" in run.layout_reason


def test_the_other_layouts_are_detected_as_before():
    assert collect_run(FIXTURES / "hjepa_small").layout == "hjepa"
    assert collect_run(FIXTURES / "ijepa_small").layout == "ijepa"
    assert detect_layout(Evidence())[0] == "generic"
    # a Lightning metrics.csv alone is any Lightning run, not stable-pretraining
    assert detect_layout(Evidence(lightning_csv=True))[0] == "generic"
    assert detect_layout(Evidence(), forced="stable-pretraining")[0] == "stable-pretraining"


def test_metrics_csv_matches_the_loggers_own_summary_exactly(run):
    metrics = SUMMARY["metrics"]
    assert set(metrics) - {"epoch"} <= set(run.scalars.tags())
    for tag, stats in metrics.items():
        steps, values = run.scalars.arrays(tag)
        assert len(values) == stats["count"], tag
        assert (values.min(), values.max()) == (stats["min"], stats["max"]), tag
        assert values[-1] == stats["last"], tag
    assert run.scalars.arrays("fit/loss_step")[0].max() == SUMMARY["step"]


def test_status_from_the_sidecar(run):
    (status,) = run.statuses
    assert SIDECAR["status"] == "completed" and status.state == "completed"
    assert status.line.startswith("stable-pretraining: completed, ended ") and "at step 8, epoch 2" in status.line


def _with_status(tmp_path: Path, status: str, heartbeat_age: float | None) -> Path:
    run = _copy(tmp_path)
    sidecar = dict(SIDECAR, status=status, ended_at=None)
    (run / "sidecar.json").write_text(json.dumps(sidecar))
    if heartbeat_age is None:
        (run / "heartbeat").unlink()
    else:
        now = time.time()
        os.utime(run / "heartbeat", (now - heartbeat_age, now - heartbeat_age))
    return run


def test_a_running_run_with_a_stale_heartbeat(tmp_path):
    (status,) = collect_run(_with_status(tmp_path, "running", 3 * 3600)).statuses
    assert status.state == "stale"
    assert (
        "says running" in status.line and "3.0 h old" in status.line and f"{HEARTBEAT_TIMEOUT_S:.0f} s" in status.line
    )


def test_a_running_run_with_a_fresh_heartbeat(tmp_path):
    (status,) = collect_run(_with_status(tmp_path, "running", 5)).statuses
    assert status.state == "running" and "heartbeat 5 s ago" in status.line


def test_without_a_heartbeat_the_sidecars_update_time_tells(tmp_path):
    (status,) = collect_run(_with_status(tmp_path, "running", None)).statuses
    assert status.state == "stale" and "updated_at (no heartbeat file)" in status.line  # written in 2026-12


def test_a_failed_run(tmp_path):
    (status,) = collect_run(_with_status(tmp_path, "failed", 5)).statuses
    assert status.state == "failed" and status.line.startswith("stable-pretraining: failed")


def test_a_half_written_sidecar_is_skipped_with_a_reason(tmp_path):
    run = _copy(tmp_path)
    (run / "sidecar.json").write_text('{"schema_version": 1, "run_id": "8b4')
    read = collect_run(run)
    record = {f.path: f for f in read.files}["sidecar.json"]
    assert record.status == "skipped" and "not JSON" in record.detail and read.statuses == []


def test_hparams_is_the_config_and_the_state_files_are_not_logs(run):
    files = {f.path: f for f in run.files}
    assert run.config_path.name == "hparams.yaml" and run.config["slurm.job_id"] == "N/A"
    for name in ("sidecar.json", "summary.json", "heartbeat", "run_meta.json"):
        assert files[name].kind == "stable-pretraining" and files[name].status == "read", name
    assert not any(t.startswith("metrics/") or t.startswith("summary/") for t in run.scalars.tags())


def test_media_index(tmp_path):
    run = _copy(tmp_path)
    events = [
        {"step": 3, "tag": "viz/views", "type": "image", "path": "media/viz__views/00000003_0.png", "caption": None}
    ]
    (run / "media.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events * 2) + '{"step": 4, "ta\n')
    record = {f.path: f for f in collect_run(run).files}["media.jsonl"]
    assert record.kind == "stable-pretraining"
    assert record.detail == "stable-pretraining media index: 2 image under 'viz/views'; 1 broken lines skipped"


def test_the_lightning_checkpoint_loads_weights_only(run):
    by_name = {c.name: c for c in run.checkpoints}
    last = by_name["checkpoints/last.ckpt"]
    assert last.readable and last.same_as == "checkpoints/epoch=2-step=9.ckpt"
    original = by_name["checkpoints/epoch=2-step=9.ckpt"]
    assert (original.epoch, original.step) == (2, 9) and "state_dict" in original.top_level_keys


def test_lejepa_loss_components(run):
    line = lejepa_terms(run.scalars)
    # make_fixture.py trains LeJEPA(lamb=0.02): loss = inv + 0.02 * sigreg at every logged step
    assert "fit/loss_step = fit/inv_step + lambda * fit/sigreg_step with lambda = 0.02 at all 9 logged" in line


def test_logged_evaluations_name_their_method(run):
    found = {tag: (method, ours, last) for tag, method, ours, last in logged_evaluations(run.scalars)}
    assert found["eval/knn_probe_top1"][1] == "kNN accuracy"
    assert found["eval/knn_probe_top1"][2] == SIDECAR["summary"]["eval/knn_probe_top1"]
    assert found["rankme"][1] == "RankMe" and "Garrido et al. 2023" in found["rankme"][0]
    assert found["eval/linear_probe_top1_epoch"][1] == "linear probe"
    assert not any("loss" in t or "lr_" in t for t in found)


def test_the_cli_accepts_the_layout():
    from click.testing import CliRunner

    from hjepa_report.cli import main

    result = CliRunner().invoke(main, ["report", "--help"])
    assert "stable-pretraining" in result.output


@pytest.mark.slow
def test_a_minimal_report_has_no_error_section(tmp_path):
    from hjepa_report.pipeline import generate
    from hjepa_report.settings import ReportSettings

    _, _, json_path = generate(RUN, ReportSettings(output=tmp_path / "report.html", quiet=True, minimal=True))
    report = json.loads(Path(json_path).read_text())
    status = {s["name"]: s["status"] for s in report["sections"]}
    assert "error" not in status.values() and status["training"] == "ok"
    assert status["masking"] == "skipped"  # hparams.yaml names no masks: I-JEPA's defaults would be made up
    overview = next(s for s in report["sections"] if s["name"] == "overview")
    assert overview["metrics"]["status"] == [
        {"state": "completed", "source": "sidecar.json", "line": collect_run(RUN).statuses[0].line}
    ]
    assert any(n.startswith("LeJEPA loss components") for n in overview["notes"])
    assert report["run"]["layout"] == "stable-pretraining"


def test_hostile_state_files_never_raise(tmp_path):
    """Fuzzing (hypothesis, seeded): any bytes as sidecar.json / summary.json / media.jsonl give a record, no raise."""
    pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from hjepa_report.collect.stable_pretraining import StateFolder, read_state_file, run_status

    odd = b'{"status": 1, "run_id": [], "summary": 5, "ended_at": "x", "updated_at": 1e308}'
    samples = [(RUN / "sidecar.json").read_bytes(), (RUN / "summary.json").read_bytes(), odd]

    @settings(max_examples=100, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
    @given(st.sampled_from(["sidecar.json", "summary.json", "media.jsonl"]),
           st.one_of(st.binary(max_size=400), st.sampled_from(samples).map(lambda b: b[: len(b) // 2]),
                     st.sampled_from(samples)))  # fmt: skip
    def check(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        folders: dict[str, StateFolder] = {}
        status, detail = read_state_file(path, name, folders)
        assert status in ("read", "skipped") and isinstance(detail, str)
        for state in folders.values():
            found = run_status(state, now=2e9)
            assert found is None or found.state in ("running", "completed", "failed", "orphaned", "stale", "unknown")

    check()


def test_other_layouts_get_no_stable_pretraining_evaluation_table():
    from hjepa_report.analysis.context import ReportContext
    from hjepa_report.analysis.overview import OverviewPass
    from hjepa_report.settings import ReportSettings

    hjepa = collect_run(FIXTURES / "hjepa_small")  # logs online_eval/knn_accuracy: H-JEPA's own kNN, not OnlineKNN
    assert hjepa.scalars.has("online_eval/knn_accuracy")
    assert OverviewPass().compute(ReportContext(hjepa, ReportSettings())).evaluations == []
    spt = OverviewPass().compute(ReportContext(collect_run(RUN), ReportSettings()))
    assert "eval/knn_probe_top1" in [e[0] for e in spt.evaluations]
