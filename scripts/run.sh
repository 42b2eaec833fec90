#!/usr/bin/env bash
# Sets up this machine if needed, then runs the benchmark on a hostfile (default: this machine);
# after a run that lost a host, re-checks the hosts and resumes without the lost ones.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT PROG=run.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/mca.sh
. "$ROOT/scripts/lib/mca.sh"
# shellcheck source=scripts/lib/install.sh
. "$ROOT/scripts/lib/install.sh"
# shellcheck source=scripts/lib/ssh.sh
. "$ROOT/scripts/lib/ssh.sh"
# shellcheck source=scripts/lib/hostfile.sh
. "$ROOT/scripts/lib/hostfile.sh"

# Options (set by parse_args).
HOSTFILE=""   # empty: the default, which setup.sh writes
DEFAULT_HOSTFILE="$ROOT/hostfiles/localhost.txt"
RETRIES=2
SETUP=1
SSH_CONFIG="" SSH_USER="" SSH_KEY=""
BENCH_FLAGS=()
# The command every rank runs: the one setup.sh installs (CLUSTER_BENCH_COMMAND overrides it).
COMMAND=${CLUSTER_BENCH_COMMAND:-$CB_COMMAND}

# State of the runs.
WORK=""           # temporary folder: re-checked hostfiles and the start marker
INTERRUPTED=0     # Ctrl-C or SIGTERM reached this script: never retry then
LOST=()           # hosts of the hostfile that failed a re-check
JOURNAL=""        # the journal of the last run (what --resume reads)

usage() {
  cat <<USAGE
Usage: scripts/run.sh [--hostfile FILE] [--retries N] [-F SSH_CONFIG] [-u USER] [-i KEY]
                      [--no-setup] [-- CLUSTER_BENCH_FLAGS...]

Runs scripts/setup.sh (packages, build, the command '$CB_COMMAND' installed), then
'mpirun --hostfile FILE $CB_COMMAND FLAGS' in the current folder: results go to ./results/
(or --out DIR among the flags). FILE defaults to hostfiles/localhost.txt (one rank per core
of this machine).

When a run ends early without being told to (a host died or was cut off, so mpirun ended
the job: cluster-bench saved what it had), the hostfile's hosts are re-checked with
scripts/discover.sh (ssh options -F, -u, -i as discover.sh takes them), the ones that fail
are left out of a new hostfile (a temporary one; FILE is never changed), and the run is
resumed from its journal (--resume) on the hosts left, at most N times (--retries, default
$RETRIES; 0 never retries). Ctrl-C is never retried. The last lines name the lost hosts and
say whether the run completed; the exit status is 0 only for a complete run.

  --no-setup   skip scripts/setup.sh (run the installed command, or CLUSTER_BENCH_COMMAND)

Example: scripts/run.sh --hostfile hostfiles/lab.txt -- --dim 120 --tasks 4000
USAGE
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --hostfile) need_value "$@"; HOSTFILE="$2"; shift ;;
      --retries) need_value "$@"; RETRIES="$2"; shift ;;
      -F) need_value "$@"; SSH_CONFIG="$2"; shift ;;
      -u) need_value "$@"; SSH_USER="$2"; shift ;;
      -i) need_value "$@"; SSH_KEY="$2"; shift ;;
      --no-setup) SETUP=0 ;;
      --) shift; break ;;
      *) usage_error "unknown option: $(quoted "$1")" ;;
    esac
    shift
  done
  BENCH_FLAGS=("$@")
  [[ "$RETRIES" =~ ^[0-9]{1,3}$ ]] || usage_error "--retries must be a whole number (got $(quoted "$RETRIES"))"
  ssh_options "$SSH_CONFIG" "$SSH_USER" "$SSH_KEY" # validates them
  # A hostfile the user named is checked now, before a long setup; the default one is
  # written by setup.sh, so it is checked after it (check_hostfile).
  [[ -z "$HOSTFILE" ]] || check_hostfile
}

check_hostfile() {
  if [[ -z "$HOSTFILE" ]]; then
    HOSTFILE=$DEFAULT_HOSTFILE
    [[ -r "$HOSTFILE" ]] || die "no default hostfile $(quoted "$HOSTFILE"): run scripts/setup.sh (or drop --no-setup)"
  fi
  [[ -r "$HOSTFILE" ]] || usage_error "cannot read hostfile $(quoted "$HOSTFILE")"
}

# out_dir FLAG...: the folder cluster-bench writes to (its --out), empty with --no-save.
out_dir() {
  local out=results
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --no-save) echo ""; return ;;
      --out) out=${2:-}; shift ;;
      --out=*) out=${1#--out=} ;;
    esac
    shift
  done
  echo "$out"
}

# run_once HOSTFILE FLAG...: one mpirun; its exit status.
run_once() {
  local args=(--hostfile "$1")
  shift
  # Open MPI refuses root unless told; CI and containers run as root.
  [[ $(id -u) -eq 0 ]] && args+=(--allow-run-as-root)
  local rc=0
  PATH="$(cb_install_dir):$PATH" mpirun "${args[@]}" "$COMMAND" "$@" || rc=$?
  return "$rc"
}

# newest_journal DIR: the journal (*.tasks.csv.gz) in DIR written since this attempt began.
newest_journal() {
  local dir=$1
  [[ -n "$dir" && -d "$dir" ]] || return 0
  find "$dir" -maxdepth 1 -name '*.tasks.csv.gz' -newer "$WORK/started" -printf '%T@ %p\n' \
    | sort -n | tail -n 1 | cut -d ' ' -f 2-
}

# ended_early JOURNAL: the run in JOURNAL was stopped from outside (a lost host, mpirun's
# SIGTERM) or killed outright, rather than finishing, failing a check or reaching its
# --time-limit.
ended_early() {
  local last
  last=$(gzip -dc -- "$1" 2>/dev/null | grep -E '^#(attempt|stop) ' | tail -n 1) || true
  [[ "$last" == "#attempt "* || "$last" == *'"stop_reason":"interrupted'* \
    || "$last" == *'"stop_reason":"rank-lost'* ]]
}

# recheck ATTEMPT: re-checks the original hostfile's hosts; writes the ones that pass to
# $WORK/retry-ATTEMPT.txt and adds the others to LOST.
recheck() {
  local new="$WORK/retry-$1.txt" host ssh=()
  hostfile_read "$HOSTFILE"
  local hosts=("${HOSTFILE_HOSTS[@]}")
  [[ -z "$SSH_CONFIG" ]] || ssh+=(-F "$SSH_CONFIG")
  [[ -z "$SSH_USER" ]] || ssh+=(-u "$SSH_USER")
  [[ -z "$SSH_KEY" ]] || ssh+=(-i "$SSH_KEY")
  log "re-checking ${hosts[*]}"
  "$ROOT/scripts/discover.sh" --no-mca-conf -o "$new" --force --binary "$COMMAND" "${ssh[@]}" -- "${hosts[@]}" >&2 \
    || log "no host passed the re-check"
  [[ -s "$new" ]] || return 1
  hostfile_read "$new"
  for host in "${hosts[@]}"; do
    if ! printf '%s\n' "${HOSTFILE_HOSTS[@]}" | grep -qxF -- "$host" \
      && ! printf '%s\n' "${LOST[@]}" | grep -qxF -- "$host"; then
      LOST+=("$host")
    fi
  done
}

# report RC: the last lines: the lost hosts, and whether the run completed.
report() {
  local rc=$1
  if ((${#LOST[@]} > 0)); then log "lost hosts: ${LOST[*]}"; else log "lost hosts: none"; fi
  if ((rc == 0)); then
    log "run complete"
  elif [[ -n "$JOURNAL" ]]; then
    log "run NOT complete (exit $rc); what was done is in $JOURNAL (--resume it)"
  else
    log "run NOT complete (exit $rc)"
  fi
}

main() {
  parse_args "$@"
  ((SETUP == 0)) || "$ROOT/scripts/setup.sh" --no-python
  check_hostfile
  # ob1 skips probing of transports this machine doesn't have (~0.2 s at start-up).
  mca_export pml=ob1 "${MCA_KEEPALIVE[@]}"
  WORK=$(mktemp -d) || die "cannot make a temporary folder"
  trap 'rm -rf -- "$WORK"' EXIT
  trap 'INTERRUPTED=1' INT TERM
  local out hostfile=$HOSTFILE attempt=0 rc resume=()
  out=$(out_dir "${BENCH_FLAGS[@]}")
  while :; do
    touch "$WORK/started"
    rc=0
    run_once "$hostfile" "${BENCH_FLAGS[@]}" "${resume[@]}" || rc=$?
    JOURNAL=$(newest_journal "$out")
    ((rc != 0 && INTERRUPTED == 0 && attempt < RETRIES)) || break
    if [[ -z "$JOURNAL" ]] || ! ended_early "$JOURNAL"; then break; fi
    attempt=$((attempt + 1))
    log "the run ended early (exit $rc); retry $attempt of $RETRIES"
    recheck "$attempt" || break
    hostfile="$WORK/retry-$attempt.txt"
    resume=(--resume "$JOURNAL")
  done
  report "$rc"
  exit "$rc"
}

main "$@"
