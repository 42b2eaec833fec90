#!/usr/bin/env bash
# Sets up this machine if needed, then runs the benchmark on a hostfile (default: this machine).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT PROG=run.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/mca.sh
. "$ROOT/scripts/lib/mca.sh"
# shellcheck source=scripts/lib/install.sh
. "$ROOT/scripts/lib/install.sh"

usage() {
  cat <<USAGE
Usage: scripts/run.sh [--hostfile FILE] [-- CLUSTER_BENCH_FLAGS...]

Runs scripts/setup.sh (packages, build, the command '$CB_COMMAND' installed), then
'mpirun --hostfile FILE $CB_COMMAND FLAGS' in the current folder: results go to ./results/.
FILE defaults to hostfiles/localhost.txt (one rank per core of this machine).
Example: scripts/run.sh --hostfile hostfiles/lab.txt -- --dim 120 --tasks 4000
USAGE
}

main() {
  local hostfile="$ROOT/hostfiles/localhost.txt"
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --hostfile) need_value "$@"; hostfile="$2"; shift ;;
      --) shift; break ;;
      *) usage_error "unknown option: $(quoted "$1")" ;;
    esac
    shift
  done
  "$ROOT/scripts/setup.sh" --no-python
  [[ -r "$hostfile" ]] || usage_error "cannot read hostfile $(quoted "$hostfile")"
  local args=(--hostfile "$hostfile")
  # Open MPI refuses root unless told; CI and containers run as root.
  [[ $(id -u) -eq 0 ]] && args+=(--allow-run-as-root)
  # ob1 skips probing of transports this machine doesn't have (~0.2 s at start-up).
  mca_export pml=ob1 "${MCA_KEEPALIVE[@]}"
  # The command setup.sh installed, found by its bare name (first on PATH, or warned about).
  PATH="$(cb_install_dir):$PATH" exec mpirun "${args[@]}" "$CB_COMMAND" "$@"
}

main "$@"
