#!/usr/bin/env bash
# Scaling study: runs cluster-bench under mpirun for p = 1, 2, 4, … up to the hostfile's slots
# (strong and/or weak scaling, both schedules, repeated), then the analysis and the plots.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT PROG=sweep.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/hostfile.sh
. "$ROOT/scripts/lib/hostfile.sh"
# shellcheck source=scripts/lib/install.sh
. "$ROOT/scripts/lib/install.sh"
# shellcheck source=scripts/lib/study.sh
. "$ROOT/scripts/lib/study.sh"

usage() {
  cat <<USAGE
Usage: scripts/sweep.sh --hostfile FILE [OPTIONS] [-- EXTRA_MPIRUN_ARGS...]

Runs a scaling study of cluster-bench over the hosts of FILE (Open MPI hostfile: one
'host [slots=N]' per line, '#' comments; a host without slots= counts 1 slot) for
p = 1, 2, 4, … up to the total slot count, plus the exact slot count. Every point is run
--repeat times (runs interleaved over the repeats; the median is reported). Writes
OUT_ROOT/<YYYY-MM-DD>-<LABEL>/ (a suffix -2, -3, … if it exists) with every run's JSON in
runs/ (not committed: .gitignore), study-runs.csv, tasks.csv.gz, hosts.csv, points.csv,
fit.json, plots/*.png|svg and SETUP.md.

Options:
  --hostfile FILE        hosts and slots (required)
  --mode M               strong | weak | both            [both]
  --schedule S           static | dynamic | both         [both]
  --repeat N             runs per point                  [3]
  --dim D                matrix size                     [100]
  --tasks N              strong scaling: total tasks     [400]
  --tasks-per-rank N     weak scaling: tasks per rank    [200]
  --warmup N             untimed warm-up tasks per rank  [2]
  --label L              study name ([A-Za-z0-9._-])     [study]
  --out-root DIR         parent of the study folder      [results]
  --max-ranks P          largest p (more than the slots needs --oversubscribe)
  --physical-cores N     cores really there when hosts share a machine (e.g. namespace
                         test hosts): points with p > N are marked oversubscribed
                         [nproc when every host is this machine, else unset]
  --oversubscribe        pass --oversubscribe to mpirun
  -h, --help             this help

Progress (point k/n, elapsed, ETA) goes to stderr. Exit status: 0 done, 1 a run or the
analysis failed, 2 bad input.
Tools: \$MPIRUN (mpirun), \$CLUSTER_BENCH (cluster-bench, the command setup.sh installs),
       \$PYTHON (.venv/bin/python, made by scripts/setup.sh).
Example: scripts/sweep.sh --hostfile hostfiles/localhost.txt --repeat 3 --label local-strong
USAGE
}

# positive_int NAME VALUE: a whole number >= 1 (and not absurdly long).
positive_int() {
  [[ $2 =~ ^[0-9]{1,7}$ && $((10#$2)) -ge 1 ]] || usage_error "$1 must be a whole number >= 1 (got '$2')"
}

# hostfile_slots FILE: prints the total slot count; exits 2 on a malformed line.
hostfile_slots() {
  local slots total=0
  hostfile_read "$1"
  for slots in "${HOSTFILE_SLOTS[@]}"; do total=$((total + slots)); done
  echo "$total"
}

# only_this_machine FILE: every host of the (valid) hostfile is this machine.
only_this_machine() {
  local host me
  me=$(hostname)
  hostfile_read "$1"
  for host in "${HOSTFILE_HOSTS[@]}"; do
    case "$host" in
      localhost | 127.* | "$me") ;;
      *) return 1 ;;
    esac
  done
}

# rank_counts MAX: 1, 2, 4, … below MAX, then MAX.
rank_counts() {
  local max=$1 p=1
  while [[ $p -lt $max ]]; do
    echo "$p"
    p=$((p * 2))
  done
  echo "$max"
}

# fmt_secs S: whole seconds as H:MM:SS or M:SS.
fmt_secs() {
  local s=$1
  if [[ $s -ge 3600 ]]; then
    printf '%d:%02d:%02d' $((s / 3600)) $((s % 3600 / 60)) $((s % 60))
  else
    printf '%d:%02d' $((s / 60)) $((s % 60))
  fi
}

# run_point STUDY MODE SCHEDULE P REPEAT TASKS: one mpirun; appends a manifest row.
run_point() {
  local study=$1 mode=$2 schedule=$3 p=$4 rep=$5 tasks=$6
  local label="$mode-$schedule-p$p-r$rep" log json load
  load=$(load1)
  log="$study/runs/$label.log"
  local cmd=("$MPIRUN" --hostfile "$HOSTFILE" -np "$p")
  [[ $(id -u) -eq 0 ]] && cmd+=(--allow-run-as-root)
  [[ $OVERSUBSCRIBE -eq 1 ]] && cmd+=(--oversubscribe)
  cmd+=("${EXTRA_MPIRUN[@]}" "$CLUSTER_BENCH" --dim "$DIM" --tasks "$tasks" --schedule "$schedule"
    --warmup "$WARMUP" --out "$study/runs" --label "$label" --json --quiet)
  if ! "${cmd[@]}" >/dev/null 2>"$log"; then
    tail -n 20 -- "$log" >&2 || true
    die "run $label failed (command: ${cmd[*]}; log: $log)"
  fi
  json=$(compgen -G "$study/runs/$label-*.json" | head -n 1) || true
  [[ -n $json ]] || die "run $label wrote no JSON in $study/runs"
  [[ -s $log ]] || rm -f -- "$log"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$schedule" "$p" "$rep" "$tasks" "runs/${json##*/}" \
    "$load" >>"$study/manifest.tsv"
}

# write_conf STUDY: the study's settings, key=value, read by scripts/scaling.py.
write_conf() {
  local study=$1
  {
    printf 'label=%s\n' "$LABEL"
    printf 'started_at=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'modes=%s\n' "${MODES[*]}"
    printf 'schedules=%s\n' "${SCHEDULES[*]}"
    printf 'ranks=%s\n' "${RANKS[*]}"
    printf 'repeat=%s\n' "$REPEAT"
    printf 'dim=%s\n' "$DIM"
    printf 'tasks=%s\n' "$TASKS"
    printf 'tasks_per_rank=%s\n' "$TASKS_PER_RANK"
    printf 'warmup=%s\n' "$WARMUP"
    printf 'slots=%s\n' "$SLOTS"
    printf 'physical_cores=%s\n' "$PHYSICAL_CORES"
    printf 'launch_host=%s\n' "$(hostname)"
    printf 'launch_host_cores=%s\n' "$(nproc)"
    printf 'loadavg_start=%s\n' "$(loadavg)"
    printf 'oversubscribe=%s\n' "$OVERSUBSCRIBE"
    printf 'hostfile=%s\n' "$HOSTFILE"
    printf 'extra_mpirun_args=%s\n' "${EXTRA_MPIRUN[*]}"
    printf 'command=%s\n' "$COMMAND"
    printf 'mpi_env=%s\n' "$(env | grep '^OMPI_MCA_' | LC_ALL=C sort | tr '\n' ' ' || true)"
  } >"$study/study.conf"
  cp -- "$HOSTFILE" "$study/hostfile.txt"
  printf 'mode\tschedule\tp\trepeat\ttasks\tjson\tload1_before\n' >"$study/manifest.tsv"
}

# run_study STUDY: every (repeat, mode, schedule, p) with progress and ETA on stderr.
run_study() {
  local study=$1 points=() point
  local rep mode schedule p
  for ((rep = 1; rep <= REPEAT; rep++)); do
    for mode in "${MODES[@]}"; do
      for schedule in "${SCHEDULES[@]}"; do
        for p in "${RANKS[@]}"; do
          points+=("$mode $schedule $p $rep")
        done
      done
    done
  done
  local n=${#points[@]} k=0 start done_ms tasks eta
  start=$(now_ms)
  for point in "${points[@]}"; do
    read -r mode schedule p rep <<<"$point"
    k=$((k + 1))
    done_ms=$(($(now_ms) - start))
    eta='?'
    [[ $k -gt 1 ]] && eta=$(fmt_secs $((done_ms * (n - k + 1) / (k - 1) / 1000)))
    tasks=$TASKS
    [[ $mode == weak ]] && tasks=$((TASKS_PER_RANK * p))
    log "[$k/$n] $mode $schedule p=$p repeat $rep/$REPEAT ($tasks tasks)" \
      "| elapsed $(fmt_secs $((done_ms / 1000))) | ETA $eta | load $(load1)"
    run_point "$study" "$mode" "$schedule" "$p" "$rep" "$tasks"
  done
  log "all $n runs done in $(fmt_secs $((($(now_ms) - start) / 1000)))"
}

analyse() {
  local study=$1
  "$PYTHON" "$ROOT/scripts/scaling.py" "$study" || die "analysis failed (scripts/scaling.py $study)"
  "$PYTHON" "$ROOT/scripts/plot.py" "$study" >/dev/null || die "plots failed (scripts/plot.py $study)"
}

main() {
  COMMAND="scripts/sweep.sh$(printf ' %q' "$@")"
  HOSTFILE='' LABEL=study OUT_ROOT=results REPEAT=3 DIM=100 TASKS=400 TASKS_PER_RANK=200
  WARMUP=2 MAX_RANKS='' PHYSICAL_CORES='' OVERSUBSCRIBE=0 EXTRA_MPIRUN=()
  local mode=both schedule=both
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --hostfile) need_value "$@"; HOSTFILE=$2; shift ;;
      --mode) need_value "$@"; mode=$2; shift ;;
      --schedule) need_value "$@"; schedule=$2; shift ;;
      --repeat) need_value "$@"; REPEAT=$2; shift ;;
      --dim) need_value "$@"; DIM=$2; shift ;;
      --tasks) need_value "$@"; TASKS=$2; shift ;;
      --tasks-per-rank) need_value "$@"; TASKS_PER_RANK=$2; shift ;;
      --warmup) need_value "$@"; WARMUP=$2; shift ;;
      --label) need_value "$@"; LABEL=$2; shift ;;
      --out-root) need_value "$@"; OUT_ROOT=$2; shift ;;
      --max-ranks) need_value "$@"; MAX_RANKS=$2; shift ;;
      --physical-cores) need_value "$@"; PHYSICAL_CORES=$2; shift ;;
      --oversubscribe) OVERSUBSCRIBE=1 ;;
      --) shift; EXTRA_MPIRUN=("$@"); break ;;
      *) usage_error "unknown option: $1" ;;
    esac
    shift
  done
  [[ -n $HOSTFILE ]] || usage_error "--hostfile FILE is required"
  case "$mode" in
    strong | weak) MODES=("$mode") ;;
    both) MODES=(strong weak) ;;
    *) usage_error "--mode must be strong, weak or both (got '$mode')" ;;
  esac
  case "$schedule" in
    static | dynamic) SCHEDULES=("$schedule") ;;
    both) SCHEDULES=(static dynamic) ;;
    *) usage_error "--schedule must be static, dynamic or both (got '$schedule')" ;;
  esac
  positive_int --repeat "$REPEAT"
  positive_int --dim "$DIM"
  positive_int --tasks "$TASKS"
  positive_int --tasks-per-rank "$TASKS_PER_RANK"
  [[ $WARMUP =~ ^[0-9]{1,7}$ ]] || usage_error "--warmup must be a whole number >= 0 (got '$WARMUP')"
  [[ $LABEL =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$ ]] \
    || usage_error "--label must be 1-64 characters of A-Z a-z 0-9 . _ - not starting with . or - (got '$LABEL')"
  SLOTS=$(hostfile_slots "$HOSTFILE")
  if [[ -n $PHYSICAL_CORES ]]; then
    positive_int --physical-cores "$PHYSICAL_CORES"
  elif only_this_machine "$HOSTFILE"; then
    PHYSICAL_CORES=$(nproc)
  fi
  local max=$SLOTS
  if [[ -n $MAX_RANKS ]]; then
    positive_int --max-ranks "$MAX_RANKS"
    max=$((10#$MAX_RANKS))
    [[ $max -le $SLOTS || $OVERSUBSCRIBE -eq 1 ]] \
      || usage_error "--max-ranks $max is more than the hostfile's $SLOTS slots: add --oversubscribe"
  fi
  HOSTFILE=$(cd "$(dirname -- "$HOSTFILE")" && pwd)/$(basename -- "$HOSTFILE")
  mapfile -t RANKS < <(rank_counts "$max")
  [[ $mode == strong || $mode == both ]] && [[ $((10#$TASKS)) -lt $max ]] \
    && log "note: --tasks $TASKS < $max ranks: some ranks get no task"
  check_tools
  export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
  local study
  study=$(make_study_dir "$OUT_ROOT" "$(date +%Y-%m-%d)-$LABEL")
  log "study folder $study: p = ${RANKS[*]}; ${MODES[*]} × ${SCHEDULES[*]} × $REPEAT repeat(s)"
  write_conf "$study"
  run_study "$study"
  printf 'loadavg_end=%s\n' "$(loadavg)" >>"$study/study.conf"
  analyse "$study"
  log "done: $study (SETUP.md, points.csv, plots/)"
}

main "$@"
