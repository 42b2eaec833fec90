#!/usr/bin/env bash
# lab-demo.sh: the README's "from a room of machines to a speedup plot", typed exactly as a lab
# user would, on the project's test hosts (scripts/dev/testnet.sh) instead of a real lab.
set -euo pipefail

PROG=study/lab-demo.sh
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"

readonly SUBNET=10.213.0.0/24

usage() {
  cat <<USAGE
Usage: scripts/study/lab-demo.sh [-o DIR] [--repeat N] [-- CLUSTER_BENCH_FLAGS...]

As root: brings up 3 test hosts (scripts/dev/testnet.sh, network namespaces on $SUBNET: no
other address is ever contacted), then in a fresh folder runs exactly

  scripts/discover.sh -F SSH_CONFIG -o lab.txt $SUBNET
  mpirun --hostfile lab.txt -np 1 cluster-bench          (the 1-rank reference)
  mpirun --hostfile lab-1.txt cluster-bench              (the first host: all its cores)
  mpirun --hostfile lab-2.txt cluster-bench              (two hosts)
  mpirun --hostfile lab.txt cluster-bench                (all three)
  scripts/plot.py results/runs.csv

N times each, interleaved (default 3), with only the test hosts' ssh config (and, as root,
Open MPI's root consent) in the environment. lab-K.txt is lab.txt cut to its first K hosts.
Copies runs.csv, the plots and the commands into DIR (default: a new folder printed at
the end) and takes the test hosts down.

The test hosts share this machine's cores: with 2 cores, speedup stops at 2 however many
hosts take part. The figure shows the path, not a real lab's hardware.
USAGE
}

# first_hosts K FILE: the hostfile FILE cut to its first K host lines (comments kept).
first_hosts() {
  awk -v k="$1" '/^[[:space:]]*(#|$)/ { print; next } n < k { print; n++ }' "$2"
}

# lab_mpirun ARGS...: mpirun in the environment a lab user has, plus the test hosts' ssh
# config (and, as root, Open MPI's root consent).
lab_mpirun() {
  env -u OMPI_MCA_pml -u OMPI_MCA_btl \
    OMPI_MCA_plm_rsh_agent="ssh -F $STATE/ssh_config" \
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun "$@"
}

run_rounds() {
  local repeat=$1 r
  shift
  for ((r = 1; r <= repeat; r++)); do
    log "round $r of $repeat"
    lab_mpirun --hostfile lab.txt -np 1 cluster-bench --quiet "$@" >/dev/null
    lab_mpirun --hostfile lab-1.txt cluster-bench --quiet "$@" >/dev/null
    lab_mpirun --hostfile lab-2.txt cluster-bench --quiet "$@" >/dev/null
    lab_mpirun --hostfile lab.txt cluster-bench --quiet "$@" >/dev/null
  done
}

main() {
  local out="" repeat=3
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      -o) need_value "$@"; out=$2; shift ;;
      --repeat) need_value "$@"; repeat=$2; shift ;;
      --) shift; break ;;
      *) usage_error "unknown option: $(quoted "$1")" ;;
    esac
    shift
  done
  [[ "$repeat" =~ ^[1-9][0-9]?$ ]] || usage_error "--repeat takes 1 to 99"
  (($(id -u) == 0)) || die "needs root (network namespaces for the test hosts)"
  command -v cluster-bench >/dev/null || die "cluster-bench is not on PATH: run scripts/setup.sh"
  [[ -z "$out" || ! -e "$out" ]] || usage_error "$(quoted "$out") exists: choose a new folder"

  [[ -n "$out" ]] || out="$ROOT/results/lab-demo-$(date -u +%Y%m%dT%H%M%SZ)"
  out=$(realpath -m -- "$out")

  WORK=$(mktemp -d /tmp/cluster-bench-lab-demo.XXXXXX)
  STATE="$WORK/testnet"
  export CLUSTER_BENCH_TESTNET_DIR=$STATE
  trap '"$ROOT/scripts/dev/testnet.sh" down >/dev/null 2>&1 || true; rm -rf -- "$WORK"' EXIT
  "$ROOT/scripts/dev/testnet.sh" up 3 >/dev/null

  mkdir "$WORK/lab" && cd "$WORK/lab"
  "$ROOT/scripts/discover.sh" --no-mca-conf -F "$STATE/ssh_config" -o lab.txt "$SUBNET"
  first_hosts 1 lab.txt >lab-1.txt
  first_hosts 2 lab.txt >lab-2.txt
  run_rounds "$repeat" "$@"
  "$ROOT/scripts/plot.py" results/runs.csv

  mkdir -p -- "$out"
  cp -- results/runs.csv lab.txt "$out/"
  cp -- results/plots/*.png "$out/"
  printf 'scripts/study/lab-demo.sh --repeat %s%s\n' "$repeat" "${*:+ -- $*}" >"$out/COMMAND"
  log "wrote $out"
}

main "$@"
