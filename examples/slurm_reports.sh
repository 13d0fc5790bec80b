#!/usr/bin/env bash
# The reports of a sweep as a Slurm job array: one run per array task, then one index over the shared folder.
#
#   examples/slurm_reports.sh SWEEP_DIR REPORTS_DIR [hjepa-report many options, e.g. --minimal]
#
# Run on a login node, it writes REPORTS_DIR/runs.txt (`hjepa-report many --under SWEEP_DIR --list`: one run
# folder per line), submits itself as an array of that many tasks and, after the array (whatever its tasks
# ended with), `hjepa-report index REPORTS_DIR`. Each array task reports the run on line SLURM_ARRAY_TASK_ID
# of the list into REPORTS_DIR/<run name>/ with `hjepa-report many`, so a run whose report is up to date is
# skipped (resubmitting after a fix only redoes what changed) and a run that fails fails its task alone,
# its reason in the task's log and in the index. Set HJEPA_REPORT to the command if it is not on PATH, and
# SBATCH_ARGS for your cluster's options (partition, account); the #SBATCH lines below are defaults.
#
#SBATCH --job-name=hjepa-reports
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=01:00:00
#SBATCH --output=hjepa-reports-%A_%a.out
set -euo pipefail

hjepa_report=${HJEPA_REPORT:-hjepa-report}
if [[ $# -lt 2 ]]; then
  echo "usage: $0 SWEEP_DIR REPORTS_DIR [hjepa-report many options]" >&2
  exit 2
fi
sweep=$1 reports=$2
shift 2

if [[ -z "${SLURM_ARRAY_TASK_ID:-}" ]]; then
  # On the login node: list the runs, submit the array and the index after it.
  mkdir -p "$reports"
  list="$reports/runs.txt"
  $hjepa_report many --under "$sweep" --list "$list" >/dev/null
  count=$(grep -c . "$list")
  # shellcheck disable=SC2086  # SBATCH_ARGS holds several options
  array=$(sbatch --parsable ${SBATCH_ARGS:-} --array="1-$count" "$0" "$sweep" "$reports" "$@")
  array=${array%%;*}  # --parsable prints "jobid" or "jobid;cluster"
  # shellcheck disable=SC2086
  index=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency="afterany:$array" --job-name=hjepa-index \
    --wrap="$(printf '%q ' "$hjepa_report" index "$reports")")
  echo "submitted $count report task(s) as job $array and the index as job ${index%%;*}: $reports/index.html"
  exit 0
fi

# One array task: the run on line SLURM_ARRAY_TASK_ID of the list, on the cores Slurm gave this task.
run=$(sed -n "${SLURM_ARRAY_TASK_ID}p" "$reports/runs.txt")
if [[ -z "$run" ]]; then
  echo "no run on line $SLURM_ARRAY_TASK_ID of $reports/runs.txt" >&2
  exit 2
fi
exec $hjepa_report many "$run" -o "$reports" --jobs 1 --no-index "$@"
