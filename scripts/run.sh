#!/usr/bin/env bash
# Sets up this machine if needed, then runs the benchmark on a hostfile (default: this machine).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT

usage() {
  cat <<USAGE
Usage: scripts/run.sh [--hostfile FILE] [-- CLUSTER_BENCH_FLAGS...]

Runs 'mpirun --hostfile FILE target/release/cluster-bench FLAGS' after scripts/setup.sh.
FILE defaults to hostfiles/localhost.txt (one rank per core of this machine).
Example: scripts/run.sh --hostfile hostfiles/lab.txt -- --dim 120 --tasks 4000
USAGE
}

main() {
  local hostfile="$ROOT/hostfiles/localhost.txt"
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --hostfile) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; hostfile="$2"; shift ;;
      --) shift; break ;;
      *) printf 'run: unknown option: %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
    shift
  done
  "$ROOT/scripts/setup.sh" --no-python
  [[ -r "$hostfile" ]] || { printf 'run: cannot read hostfile %s\n' "$hostfile" >&2; exit 2; }
  local args=(--hostfile "$hostfile")
  # Open MPI refuses root unless told; CI and containers run as root.
  [[ $(id -u) -eq 0 ]] && args+=(--allow-run-as-root)
  # ob1 skips probing of transports this machine doesn't have (~0.2 s at start-up).
  export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
  # mpirun notices a host that went silent (power cut, no TCP reset) in <= 11 s instead of
  # ~15 min: see docs/faults.md. Values already set win.
  export OMPI_MCA_oob_tcp_keepalive_time="${OMPI_MCA_oob_tcp_keepalive_time:-5}"
  export OMPI_MCA_oob_tcp_keepalive_intvl="${OMPI_MCA_oob_tcp_keepalive_intvl:-2}"
  export OMPI_MCA_oob_tcp_keepalive_probes="${OMPI_MCA_oob_tcp_keepalive_probes:-3}"
  cd "$ROOT"
  exec mpirun "${args[@]}" target/release/cluster-bench "$@"
}

main "$@"
