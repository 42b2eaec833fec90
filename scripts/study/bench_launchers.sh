#!/usr/bin/env bash
# The same job under four launchers on the project's test hosts (3 hosts x 2 ranks): mpirun over
# ssh, mpirun inside a Slurm allocation, srun (PMIx) and MPICH's Hydra over ssh. Interleaved
# rounds; start-up and tasks/s per launcher, medians and ratios to mpirun over ssh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT PROG=study/bench_launchers.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/install.sh
. "$ROOT/scripts/lib/install.sh"
# shellcheck source=scripts/lib/study.sh
. "$ROOT/scripts/lib/study.sh"
readonly LAUNCHERS=(ssh slurm-mpirun slurm-srun hydra)
readonly NET="$ROOT/.testnet"

usage() {
  cat <<USAGE
Usage: scripts/study/bench_launchers.sh [--rounds N] [--label L] [--out-root DIR]

As root: brings up 3 test hosts with Slurm (scripts/dev/testnet.sh up 3 --slurm), then per round
runs, for each launcher in turn (${LAUNCHERS[*]}):
  start-up: the launcher's whole command for a near-empty job (--tasks 6 --dim 4 --no-save),
            timed from outside (what a user waits for);
  tasks/s : the JSON's tasks_per_s of --tasks 2000 --dim 100 --schedule dynamic.
Writes OUT_ROOT/<YYYY-MM-DD>-<LABEL>/ with runs.tsv (every run) and summary.tsv (medians,
ratios to mpirun over ssh); takes the test hosts down at the end.

Options:
  --rounds N       interleaved rounds                 [5]
  --label L        study name ([A-Za-z0-9._-])        [launchers-testnet]
  --out-root DIR   parent of the study folder         [results]
  -h, --help       this help

Needs: cluster-bench and cluster-bench-mpich on PATH (scripts/setup.sh --slurm --mpi mpich).
USAGE
}

# launch NAME ARGS...: runs cluster-bench ARGS on the 6 test-host ranks under launcher NAME.
launch() {
  local name=$1
  shift
  case $name in
    ssh) mpirun --hostfile "$ROOT/hostfiles/testnet-3x2.txt" -np 6 --map-by ppr:2:node \
      --bind-to none cluster-bench "$@" ;;
    slurm-mpirun) salloc --quiet -N 3 --ntasks-per-node=2 mpirun --bind-to none cluster-bench "$@" ;;
    slurm-srun) srun --quiet -N 3 --ntasks-per-node=2 --mpi=pmix cluster-bench "$@" ;;
    hydra) mpiexec.mpich -launcher-exec "$STUDY/ssh" -iface cbnet-br0 -f "$STUDY/lab-mpich.txt" \
      -n 6 -ppn 2 cluster-bench-mpich "$@" ;;
  esac
}

# time_startup NAME: seconds of the launcher's whole near-empty job.
time_startup() {
  local t0 t1
  t0=$(now_ms)
  launch "$1" --tasks 6 --dim 4 --no-save --quiet >/dev/null
  t1=$(now_ms)
  awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.3f", ms / 1000 }'
}

# tasks_per_s NAME: the JSON's tasks_per_s of the throughput job (checked complete).
tasks_per_s() {
  launch "$1" --tasks 2000 --dim 100 --schedule dynamic --no-save --json |
    jq -e 'select(.complete and (.hosts | length) == 3) | .tasks_per_s'
}

# prepare: test hosts with Slurm, the Hydra hostfile and ssh wrapper, the environment.
prepare() {
  "$ROOT/scripts/dev/testnet.sh" up 3 --slurm >/dev/null
  printf '10.213.0.1%d:2\n' 1 2 3 >"$STUDY/lab-mpich.txt"
  printf '#!/bin/sh\nexec ssh -F %q "$@"\n' "$NET/ssh_config" >"$STUDY/ssh"
  chmod +x "$STUDY/ssh"
  export SLURM_CONF="$NET/slurm/slurm.conf" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1
  export OMPI_MCA_plm_rsh_agent="ssh -F $NET/ssh_config"
}

# summarize: medians per launcher and ratios to mpirun over ssh, from runs.tsv.
summarize() {
  awk -F'\t' 'NR > 1 { s[$2] = s[$2] " " $3; t[$2] = t[$2] " " $4 }
    function med(list,   a, n, i, j, x) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
      print "launcher\tstartup_s_median\ttasks_per_s_median\tstartup_vs_ssh\ttasks_per_s_vs_ssh\truns"
      split("ssh slurm-mpirun slurm-srun hydra", order, " ")
      for (k = 1; k <= 4; k++) { l = order[k]; ms[l] = med(s[l]); mt[l] = med(t[l]) }
      for (k = 1; k <= 4; k++) {
        l = order[k]
        printf "%s\t%.3f\t%.0f\t%.2f\t%.2f\t%d\n", l, ms[l], mt[l], ms[l] / ms["ssh"], mt[l] / mt["ssh"], split(s[l], x, " ")
      }
    }' "$STUDY/runs.tsv"
}

main() {
  local rounds=5 label=launchers-testnet out_root=$ROOT/results r l su tp
  while (($#)); do
    case $1 in
      --rounds) need_value "$@"; rounds=$2; shift 2 ;;
      --label) need_value "$@"; label=$2; shift 2 ;;
      --out-root) need_value "$@"; out_root=$2; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "unknown option '$1'" ;;
    esac
  done
  [[ $rounds =~ ^[1-9][0-9]{0,2}$ ]] || usage_error "--rounds: '$rounds' is not a whole number 1..999"
  [[ $label =~ ^[A-Za-z0-9._-]{1,64}$ ]] || usage_error "--label: use [A-Za-z0-9._-]"
  [[ $EUID -eq 0 ]] || die "the test hosts need root"
  STUDY=$(make_study_dir "$out_root" "$(date -u +%F)-$label")
  readonly STUDY
  trap '"$ROOT/scripts/dev/testnet.sh" down >/dev/null 2>&1 || true; rm -f "$STUDY/ssh"' EXIT
  prepare
  printf 'round\tlauncher\tstartup_s\ttasks_per_s\tload1_before\n' >"$STUDY/runs.tsv"
  for ((r = 1; r <= rounds; r++)); do
    for l in "${LAUNCHERS[@]}"; do
      local la
      la=$(load1)
      su=$(time_startup "$l") || die "$l: the start-up job failed"
      tp=$(tasks_per_s "$l") || die "$l: the throughput job failed or was incomplete"
      printf '%d\t%s\t%s\t%.1f\t%s\n' "$r" "$l" "$su" "$tp" "$la" | tee -a "$STUDY/runs.tsv" >&2
    done
  done
  summarize | tee "$STUDY/summary.tsv"
  printf 'scripts/study/bench_launchers.sh --rounds %d --label %s\n' "$rounds" "$label" >"$STUDY/command.txt"
}

main "$@"
