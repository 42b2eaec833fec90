#!/usr/bin/env bash
# Cost per task of a run: rank 0's peak memory and the bytes on disk per task of --dim 4
# dynamic runs on 2 ranks (dispatch at full speed, so the records are what costs), for several
# task counts; then cost.csv and cost.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT PROG=study/bench_cost.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/install.sh
. "$ROOT/scripts/lib/install.sh"
# shellcheck source=scripts/lib/study.sh
. "$ROOT/scripts/lib/study.sh"
GNU_TIME=${GNU_TIME:-/usr/bin/time}
readonly COST_COLUMNS="tasks,json_bytes,journal_bytes,runs_csv_row_bytes,disk_bytes_per_task,\
rank0_peak_rss_bytes,rss_bytes_per_task,job_max_rss_bytes,wall_s,process_s,load1_before,json"

usage() {
  cat <<USAGE
Usage: scripts/study/bench_cost.sh [OPTIONS] [-- EXTRA_MPIRUN_ARGS...]

For each task count N, once: $GNU_TIME -v mpirun -np 2 cluster-bench --dim 4 --tasks N
--schedule dynamic --out DIR --quiet. Records the bytes the run left on disk (its JSON, its
journal, its runs.csv row), rank 0's peak resident memory (the JSON's rank0_peak_rss_bytes,
VmHWM) and the largest process of the job (GNU time's maximum RSS), each also per task, and
the wall and whole-run seconds. Writes OUT_ROOT/<YYYY-MM-DD>-<LABEL>/ with cost.csv, cost.md
(the table, the command, the machine) and runs/ (the runs' files and logs: not committed; the
journal of 10^7 tasks is about 300 MB).

Options:
  --tasks "N..."   task counts: whole numbers or 1e5-style, at most 1e7   ["1e5 1e6 1e7"]
  --label L        study name ([A-Za-z0-9._-])                          [cost]
  --out-root DIR   parent of the study folder                           [results]
  -h, --help       this help

Exit status: 0 done, 1 a run failed, 2 bad input.
Tools: \$MPIRUN (mpirun), \$CLUSTER_BENCH (cluster-bench), \$GNU_TIME (/usr/bin/time), jq.
Example: scripts/study/bench_cost.sh --tasks "1e5 1e6"
USAGE
}

# task_count WORD: WORD (digits, or MeE for M·10^E) as a whole number in [1, 10^7].
task_count() {
  local word=$1 n
  if [[ $word =~ ^([0-9]{1,8})e([0-7])$ ]]; then
    n=$((10#${BASH_REMATCH[1]} * 10 ** BASH_REMATCH[2]))
  elif [[ $word =~ ^[0-9]{1,8}$ ]]; then
    n=$((10#$word))
  else
    usage_error "--tasks: '$word' is not a whole number (or 1e5-style)"
  fi
  ((n >= 1 && n <= 10000000)) || usage_error "--tasks: '$word' is not between 1 and 1e7"
  echo "$n"
}

# check_cost_tools: what the runs and the bookkeeping need.
check_cost_tools() {
  check_run_tools
  [[ -x $GNU_TIME ]] || die "$GNU_TIME not found (scripts/setup.sh installs GNU time)"
  command -v jq >/dev/null || die "jq not found (scripts/setup.sh installs it)"
}

# file_bytes FILE: its size, 0 if it does not exist.
file_bytes() {
  if [[ -e $1 ]]; then stat -c %s -- "$1"; else echo 0; fi
}

# per_task BYTES TASKS: BYTES / TASKS, one decimal.
per_task() {
  awk -v b="$1" -v n="$2" 'BEGIN { printf "%.1f", b / n }'
}

# run_point STUDY N: one timed mpirun of N tasks; appends its row to cost.csv.
run_point() {
  local study=$1 n=$2 label="cost-$2" runs="$1/runs" log start took csv_before json load
  log="$runs/$label.log"
  local cmd=("$GNU_TIME" -v -o "$runs/$label.time.log" "$MPIRUN" -np 2)
  [[ $(id -u) -eq 0 ]] && cmd+=(--allow-run-as-root)
  cmd+=("${EXTRA_MPIRUN[@]}" "$CLUSTER_BENCH" --dim 4 --tasks "$n" --schedule dynamic
    --out "$runs" --label "$label" --quiet)
  csv_before=$(file_bytes "$runs/runs.csv")
  load=$(load1)
  start=$(now_ms)
  if ! "${cmd[@]}" >/dev/null 2>"$log"; then
    tail -n 20 -- "$log" >&2 || true
    die "run $label failed (command: ${cmd[*]}; log: $log)"
  fi
  took=$(($(now_ms) - start))
  [[ -s $log ]] || rm -f -- "$log"
  json=$(compgen -G "$runs/$label-*.json" | head -n 1) || true
  [[ -n $json ]] || die "run $label wrote no JSON in $runs"
  cost_row "$n" "$json" "$(($(file_bytes "$runs/runs.csv") - csv_before))" \
    "$runs/$label.time.log" "$took" "$load" >>"$study/cost.csv"
}

# cost_row N JSON ROW_BYTES TIME_LOG TOOK_MS LOAD: one line of cost.csv.
cost_row() {
  local n=$1 json=$2 row=$3 time_log=$4 took=$5 load=$6 name json_b journal_b=0 rss max_kib
  name=$(jq -r '.tasks_file // empty' "$json")
  json_b=$(file_bytes "$json")
  [[ -n $name ]] && journal_b=$(file_bytes "$(dirname -- "$json")/$name")
  rss=$(jq -r '.rank0_peak_rss_bytes // 0' "$json")
  max_kib=$(awk -F': *' '/Maximum resident set size/ { print $2 }' "$time_log")
  printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s.%03d,%s,%s\n' "$n" "$json_b" "$journal_b" "$row" \
    "$(per_task $((json_b + journal_b + row)) "$n")" "$rss" "$(per_task "$rss" "$n")" \
    $((${max_kib:-0} * 1024)) "$(jq -r .wall_s "$json")" $((took / 1000)) $((took % 1000)) \
    "$load" "runs/${json##*/}"
}

# cost_report STUDY: cost.md's text, the table of cost.csv with the command and the machine.
cost_report() {
  local study=$1
  echo "# Cost per task: 2 ranks, --dim 4, --schedule dynamic"
  echo
  echo "\`$COMMAND\` on $(uname -n) ($(nproc) CPUs, $(local_mpi_version), git" \
    "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)), $(date -u +%Y-%m-%dT%H:%M:%SZ),"
  echo "binary $CLUSTER_BENCH ($("$CLUSTER_BENCH" --version 2>/dev/null || echo '?'))."
  echo "Disk: the run's JSON + journal + runs.csv row. Rank 0's peak RSS is the JSON's"
  echo "rank0_peak_rss_bytes (VmHWM); per task it includes the process's fixed part, and 'added"
  echo "per task' is the growth from the row above. The largest process of the job is GNU time's"
  echo "maximum RSS (mpirun itself at small counts). Times depend on the load (last column: the"
  echo "1-minute load average before the run), bytes do not."
  echo
  echo "| tasks | disk B/task | rank 0 peak RSS, MB | RSS B/task | added per task, B | largest process, MB | JSON bytes | journal bytes | wall_s | whole run, s | load before |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 {
    added = (NR > 2 && $1 > n) ? sprintf("%.1f", ($6 - rss) / ($1 - n)) : ""
    printf "| %d | %s | %.1f | %s | %s | %.1f | %d | %d | %.3f | %s | %s |\n", \
      $1, $5, $6 / 1e6, $7, added, $8 / 1e6, $2, $3, $9, $10, $11
    n = $1; rss = $6
  }' "$study/cost.csv"
}

main() {
  COMMAND="scripts/study/bench_cost.sh$(printf ' %q' "$@")"
  local words="1e5 1e6 1e7" label=cost out_root=results word
  EXTRA_MPIRUN=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --tasks) need_value "$@"; words=$2; shift ;;
      --label) need_value "$@"; label=$2; shift ;;
      --out-root) need_value "$@"; out_root=$2; shift ;;
      --) shift; EXTRA_MPIRUN=("$@"); break ;;
      *) usage_error "unknown option: $1" ;;
    esac
    shift
  done
  [[ -n ${words// /} ]] || usage_error "--tasks needs at least one value"
  local counts=()
  for word in $words; do counts+=("$(task_count "$word")"); done
  [[ $label =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$ ]] \
    || usage_error "--label must be 1-64 characters of A-Z a-z 0-9 . _ - not starting with . or - (got '$label')"
  check_cost_tools
  export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
  local study n k=0
  study=$(make_study_dir "$out_root" "$(date +%Y-%m-%d)-$label")
  echo "$COST_COLUMNS" >"$study/cost.csv"
  for n in "${counts[@]}"; do
    k=$((k + 1))
    log "[$k/${#counts[@]}] $n tasks | load $(load1)"
    run_point "$study" "$n"
  done
  write_atomic "$study/cost.md" cost_report "$study"
  log "done: $study/cost.md"
}

main "$@"
