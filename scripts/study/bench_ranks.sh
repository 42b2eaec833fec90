#!/usr/bin/env bash
# Rank scaling of the schedules: the sleep workload on many oversubscribed local ranks (each
# rank waits instead of computing, so 2 cores emulate a cluster of one core per rank), static
# and dynamic, for several task times; then summary.csv and plots/ranks.png.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT PROG=study/bench_ranks.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/install.sh
. "$ROOT/scripts/lib/install.sh"
# shellcheck source=scripts/lib/study.sh
. "$ROOT/scripts/lib/study.sh"

usage() {
  cat <<USAGE
Usage: scripts/study/bench_ranks.sh [OPTIONS] [-- EXTRA_MPIRUN_ARGS...]

Runs cluster-bench --workload sleep under 'mpirun --oversubscribe -np P' (on this machine,
or on the hosts an extra '--hostfile' names) for every P, schedule and task time, once each.
Each run has P × K tasks, K = 4000 ms / task time clamped to [40, 400] (about 4 s of ideal
wall time, 0.4 s at 1 ms). A run that takes longer than --timeout is stopped and recorded
as timed out; the study goes on. Writes OUT_ROOT/<YYYY-MM-DD>-<LABEL>/ with manifest.tsv (one
row per run: schedule, ranks, task_ms, tasks, the whole mpirun's seconds, the 1-minute load
before it, the JSON or "timeout"), the run JSONs in runs/ (not committed), summary.csv and
plots/ranks.png (scripts/study/plot_ranks.py).

Sets OMPI_MCA_pml=ob1 unless already set. Start-up is mostly Open MPI's MPI_Init, whose
cost grows with the square of the ranks sharing the cores: with cluster-bench's coarse
timers there, 256 ranks on 2 cores start in ~17 s and 512 in ~60 s.
OMPI_MCA_pmix_base_async_modex=1 is not set: with Open MPI 4.1.4 it made MPI_Init fail at
16 ranks ("PML add procs failed").

Options:
  --ranks "P..."       rank counts                      ["16 64 256"]
  --task-ms "MS..."    mean task times, milliseconds    ["1 10 100"]
  --schedule S         static | dynamic | both          [both]
  --label L            study name ([A-Za-z0-9._-])      [ranks]
  --out-root DIR       parent of the study folder       [results]
  --timeout S          seconds one mpirun may take      [300]
  -h, --help           this help

Exit status: 0 done, 1 a run or the summary failed, 2 bad input.
Tools: \$MPIRUN (mpirun), \$CLUSTER_BENCH (cluster-bench), \$PYTHON (.venv/bin/python).
Example: scripts/study/bench_ranks.sh --ranks "16 64 256 512" --label ranks-local
USAGE
}

# whole_numbers NAME LIST: every word of LIST is a whole number >= 1.
whole_numbers() {
  local x
  [[ -n ${2// /} ]] || usage_error "$1 needs at least one value"
  for x in $2; do
    [[ $x =~ ^[0-9]{1,6}$ && $((10#$x)) -ge 1 ]] || usage_error "$1: '$x' is not a whole number >= 1"
  done
}

# tasks_for P MS: P × K tasks, K = 4000/MS clamped to [40, 400].
tasks_for() {
  local k=$((4000 / $2))
  ((k < 40)) && k=40
  ((k > 400)) && k=400
  echo $(($1 * k))
}

# run_point STUDY SCHEDULE P MS: one mpirun, timed as a whole; appends a manifest row.
run_point() {
  local study=$1 schedule=$2 p=$3 ms=$4 tasks label log load start took json
  tasks=$(tasks_for "$p" "$ms")
  label="$schedule-p$p-t$ms"
  log="$study/runs/$label.log"
  local cmd=("$MPIRUN" --oversubscribe -np "$p")
  [[ $(id -u) -eq 0 ]] && cmd+=(--allow-run-as-root)
  cmd+=("${EXTRA_MPIRUN[@]}" "$CLUSTER_BENCH" --workload sleep --task-ms "$ms" --tasks "$tasks"
    --schedule "$schedule" --warmup 0 --out "$study/runs" --label "$label" --quiet)
  load=$(load1)
  start=$(now_ms)
  local status=0
  timeout --kill-after=10 "$TIMEOUT" "${cmd[@]}" >/dev/null 2>"$log" || status=$?
  took=$(($(now_ms) - start))
  if ((status == 124 || status == 137)); then
    log "run $label stopped after ${TIMEOUT} s (log: $log)"
    json=timeout
    pkill -KILL -f -- "--label $label --quiet" 2>/dev/null || true
  elif ((status != 0)); then
    tail -n 20 -- "$log" >&2 || true
    die "run $label failed (command: ${cmd[*]}; log: $log)"
  else
    json=$(compgen -G "$study/runs/$label-*.json" | head -n 1) || true
    [[ -n $json ]] || die "run $label wrote no JSON in $study/runs"
    json="runs/${json##*/}"
    [[ -s $log ]] || rm -f -- "$log"
  fi
  printf '%s\t%s\t%s\t%s\t%s.%03d\t%s\t%s\n' "$schedule" "$p" "$ms" "$tasks" $((took / 1000)) \
    $((took % 1000)) "$load" "$json" >>"$study/manifest.tsv"
}

# run_study STUDY: every point, task times outermost so one slow setting does not hide.
run_study() {
  local study=$1 ms p schedule k=0 n
  n=$((${#TASK_MS[@]} * ${#RANKS[@]} * ${#SCHEDULES[@]}))
  printf 'schedule\tranks\ttask_ms\ttasks\tprocess_s\tload1_before\tjson\n' >"$study/manifest.tsv"
  for ms in "${TASK_MS[@]}"; do
    for p in "${RANKS[@]}"; do
      for schedule in "${SCHEDULES[@]}"; do
        k=$((k + 1))
        log "[$k/$n] $schedule p=$p task_ms=$ms | load $(load1)"
        run_point "$study" "$schedule" "$p" "$ms"
      done
    done
  done
}

# study_conf: the command and the machine, for the reader of the committed summary.
study_conf() {
  echo "command=$COMMAND"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc=$(nproc)"
  echo "mpi=$(local_mpi_version)"
  echo "git_revision=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "load_before=$(loadavg)"
  env | grep '^OMPI_MCA_' | sort || true
}

main() {
  COMMAND="scripts/study/bench_ranks.sh$(printf ' %q' "$@")"
  local ranks="16 64 256" task_ms="1 10 100" schedule=both label=ranks out_root=results
  EXTRA_MPIRUN=()
  TIMEOUT=300
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --ranks) need_value "$@"; ranks=$2; shift ;;
      --task-ms) need_value "$@"; task_ms=$2; shift ;;
      --schedule) need_value "$@"; schedule=$2; shift ;;
      --label) need_value "$@"; label=$2; shift ;;
      --out-root) need_value "$@"; out_root=$2; shift ;;
      --timeout) need_value "$@"; TIMEOUT=$2; shift ;;
      --) shift; EXTRA_MPIRUN=("$@"); break ;;
      *) usage_error "unknown option: $1" ;;
    esac
    shift
  done
  whole_numbers --ranks "$ranks"
  whole_numbers --task-ms "$task_ms"
  whole_numbers --timeout "$TIMEOUT"
  read -r -a RANKS <<<"$ranks"
  read -r -a TASK_MS <<<"$task_ms"
  case "$schedule" in
    static | dynamic) SCHEDULES=("$schedule") ;;
    both) SCHEDULES=(static dynamic) ;;
    *) usage_error "--schedule must be static, dynamic or both (got '$schedule')" ;;
  esac
  [[ $label =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$ ]] \
    || usage_error "--label must be 1-64 characters of A-Z a-z 0-9 . _ - not starting with . or - (got '$label')"
  check_tools
  export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
  local study
  study=$(make_study_dir "$out_root" "$(date +%Y-%m-%d)-$label")
  write_atomic "$study/study.conf" study_conf
  run_study "$study"
  "$PYTHON" "$ROOT/scripts/study/plot_ranks.py" "$study" || die "summary failed (scripts/study/plot_ranks.py $study)"
  log "done: $study"
}

main "$@"
