"""examples/slurm_reports.sh, the README's Slurm recipe, run with a stand-in `sbatch` that executes the job
array's tasks here, one after the other, and then the index job: so the recipe cannot rot.

The stand-in does what the recipe relies on from Slurm: `--parsable` prints the job id, `--array=1-N` runs the
script N times with SLURM_ARRAY_TASK_ID = 1..N, `--wrap=CMD` runs CMD, and a dependency is met because every
job ends before sbatch returns; other options are accepted and ignored. It records each task's exit status.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hjepa_report.errors import ExitCode
from sweepfixtures import BROKEN, QUICK, make_runs

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "slurm_reports.sh"

STAND_IN_SBATCH = r"""#!/usr/bin/env bash
# stand-in sbatch for tests/test_slurm_recipe.py: runs the job here, now, and prints its id
set -u
array="" wrap=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --array=*) array=${1#--array=} ;;
    --wrap=*) wrap=${1#--wrap=} ;;
    --*) ;;  # --parsable, --dependency=..., --job-name=...: nothing to do here
    *) break ;;
  esac
  shift
done
echo "$*" >> "$SBATCH_STATE/scripts"
id=$(( $(cat "$SBATCH_STATE/next" 2>/dev/null || echo 100) + 1 ))
echo "$id" > "$SBATCH_STATE/next"
if [[ -n $wrap ]]; then
  bash -c "$wrap" > "$SBATCH_STATE/job$id.out" 2>&1
  echo "$id $?" >> "$SBATCH_STATE/exits"
else
  for ((i = ${array%-*}; i <= ${array#*-}; i++)); do
    SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$i bash "$@" > "$SBATCH_STATE/job${id}_$i.out" 2>&1
    echo "${id}_$i $?" >> "$SBATCH_STATE/exits"
  done
fi
echo "$id"
"""


@pytest.fixture(scope="module")
def submitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm")
    make_runs(root / "sweep")
    bin_dir, state = root / "bin", root / "state"
    bin_dir.mkdir()
    state.mkdir()
    (bin_dir / "sbatch").write_text(STAND_IN_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    hjepa = shutil.which("hjepa-report", path=str(Path(sys.executable).parent))
    assert hjepa, "hjepa-report is not installed beside this Python"
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        SBATCH_STATE=str(state),
        OMP_NUM_THREADS="1",
    )
    env.pop("SLURM_ARRAY_TASK_ID", None)
    done = subprocess.run(
        ["bash", str(SCRIPT), str(root / "sweep"), str(root / "reports"), *QUICK],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=900,
    )
    return root, state, done


def test_the_script_is_valid_bash_and_says_how_to_use_it():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("usage:")


def test_one_array_task_per_run_then_the_index(submitted):
    root, state, done = submitted
    assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted(p for p in (root / "sweep").iterdir())
    assert (root / "reports" / "runs.txt").read_text().splitlines() == [str(r.resolve()) for r in runs]
    assert f"submitted {len(runs)} report task(s) as job 101 and the index as job 102" in done.stdout
    exits = dict(line.split() for line in (state / "exits").read_text().splitlines())
    tasks = {f"101_{i}": runs[i - 1].name for i in range(1, len(runs) + 1)}
    assert set(exits) == set(tasks) | {"102"}
    for task, name in tasks.items():  # the broken run fails its task alone, with many's status
        want = ExitCode.RUNS_FAILED if name == BROKEN else 0
        assert int(exits[task]) == want, (name, (state / f"job{task}.out").read_text())
    assert exits["102"] == "0"
    broken_task = next(t for t, n in tasks.items() if n == BROKEN)
    assert "nothing usable" in (state / f"job{broken_task}.out").read_text()


def test_the_reports_and_the_index_are_in_the_shared_folder(submitted):
    root, _, _ = submitted
    reports = root / "reports"
    good = [p.name for p in (root / "sweep").iterdir() if p.name != BROKEN]
    for name in good:
        assert json.loads((reports / name / "report.json").read_text())["run"]["name"] == name
    html = (reports / "index.html").read_text()
    assert html.count('class="pick"') == len(good) and "Runs without a report" in html and BROKEN in html


def test_a_resubmission_skips_the_reports_already_made(submitted):
    root, state, _ = submitted
    run = next(p for p in sorted((root / "sweep").iterdir()) if p.name != BROKEN)
    env = dict(os.environ, SLURM_ARRAY_TASK_ID="1", OMP_NUM_THREADS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", str(SCRIPT), str(root / "sweep"), str(root / "reports"), *QUICK],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"skipped {run.resolve()} (up to date)" in done.stderr and "0 built, 1 up to date" in done.stderr
