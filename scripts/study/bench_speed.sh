#!/usr/bin/env bash
# Side-by-side speed study of issue 2's targets, in one run on this machine: cluster-bench vs
# an mpi4py + numpy job (tasks/s, whole-process time), strong-scaling efficiency of both
# schedules, start-up overhead over an MPI no-op, and the dynamic schedule's dispatch rate.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT PROG=study/bench_speed.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
MPIRUN="${MPIRUN:-mpirun}"
readonly BIN="$ROOT/target/release/cluster-bench"
readonly PY="$ROOT/.venv/bin/python"
readonly NOOP="$ROOT/target/mpi_noop"

usage() {
  cat <<USAGE
Usage: scripts/study/bench_speed.sh [--rounds N] [--dispatch-tasks N] [--out-root DIR]

Interleaves every case in each of N rounds (default 5) so that machine noise hits all alike,
then writes DIR/speed-YYYYMMDDTHHMMSSZ/{raw.csv,summary.md} (DIR defaults to results/).
Cases: d=100, 200 tasks at -np 1 and 2 for cluster-bench (static, dynamic) and mpi4py+numpy;
an MPI init/finalize no-op at -np 2; dispatch rate with d=4 at -np 2 and -np 16.
USAGE
}

ensure_tools() {
  [[ -x "$BIN" ]] || (cd "$ROOT" && cargo build --release --quiet)
  "$ROOT/scripts/setup.sh" --no-build
  if ! "$PY" -c 'import mpi4py, numpy' 2>/dev/null; then
    log "installing mpi4py into .venv (builds against this machine's Open MPI)"
    MPICC="$(command -v mpicc)" "$PY" -m pip install -q --disable-pip-version-check mpi4py numpy
  fi
  [[ -x "$NOOP" ]] || mpicc -O2 -o "$NOOP" "$ROOT/benches/compare/mpi_noop.c"
}

# Seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# run_case ROUND CASE NP CMD... : runs CMD under mpirun -np NP, appends a raw.csv row with
# the whole-process time and, when CMD prints a JSON line, its wall_s and tasks_per_s.
run_case() {
  local round="$1" name="$2" np="$3"
  shift 3
  local t0 t1 out
  t0="$(now)"
  out="$("$MPIRUN" "${MPI_ARGS[@]}" -np "$np" "$@")" || die "case $name -np $np failed"
  t1="$(now)"
  local wall tps
  wall="$(jq -r '.wall_s // empty' <<<"$out" 2>/dev/null | tail -n1)"
  tps="$(jq -r '.tasks_per_s // empty' <<<"$out" 2>/dev/null | tail -n1)"
  printf '%s,%s,%s,%s,%s,%s\n' "$round" "$name" "$np" "${wall:-}" "${tps:-}" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" >>"$RAW"
}

measure_round() {
  local r="$1" np schedule
  local job=(--dim 100 --tasks 200 --no-save --quiet --json)
  for np in 1 2; do
    for schedule in static dynamic; do
      run_case "$r" "cluster-bench-$schedule" "$np" "$BIN" "${job[@]}" --schedule "$schedule"
    done
    run_case "$r" mpi4py "$np" -x OPENBLAS_NUM_THREADS=1 "$PY" "$ROOT/benches/compare/mpi4py_eigvals.py" --dim 100 --tasks 200
  done
  run_case "$r" mpi-noop 2 "$NOOP"
  for np in 2 16; do
    run_case "$r" dispatch-d4 "$np" --oversubscribe "$BIN" --dim 4 --tasks "$DISPATCH_TASKS" \
      --schedule dynamic --no-save --quiet --json
  done
}

main() {
  local rounds=5 out_root="$ROOT/results"
  DISPATCH_TASKS=1000000
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --rounds) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage_error "--rounds takes a positive integer"; rounds="$2"; shift ;;
      --dispatch-tasks) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage_error "--dispatch-tasks takes a positive integer"; DISPATCH_TASKS="$2"; shift ;;
      --out-root) [[ -n "${2:-}" ]] || usage_error "--out-root takes a folder"; out_root="$2"; shift ;;
      *) usage_error "unknown option: $(quoted "$1")" ;;
    esac
    shift
  done
  ensure_tools
  MPI_ARGS=()
  [[ $(id -u) -eq 0 ]] && MPI_ARGS+=(--allow-run-as-root)
  export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}" OPENBLAS_NUM_THREADS=1
  local dir
  dir="$out_root/speed-$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$out_root"
  mkdir "$dir" || usage_error "$(quoted "$dir") exists: not overwriting it"
  RAW="$dir/raw.csv"
  echo "round,case,np,wall_s,tasks_per_s,process_s" >"$RAW"
  local r
  for ((r = 1; r <= rounds; r++)); do
    log "round $r/$rounds"
    measure_round "$r"
  done
  "$PY" "$ROOT/benches/compare/summarize.py" "$RAW" \
    --command "scripts/study/bench_speed.sh --rounds $rounds --dispatch-tasks $DISPATCH_TASKS" >"$dir/summary.md.tmp"
  mv "$dir/summary.md.tmp" "$dir/summary.md"
  cat "$dir/summary.md"
  log "wrote $dir"
}

main "$@"
