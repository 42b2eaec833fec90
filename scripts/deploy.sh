#!/usr/bin/env bash
#
# deploy.sh: put the cluster-bench binary at the same path on every host of a
# hostfile (where there is no shared home), and check that every host has
# the same MPI as this machine.
#
# Host strings from the hostfile are validated with strict patterns; the
# commands run remotely are fixed scripts that read the (validated) path from
# stdin; `--` goes before host arguments.

set -euo pipefail

SSH=${CLUSTER_BENCH_SSH:-ssh}
SCP=${CLUSTER_BENCH_SCP:-scp}
MPIRUN=${CLUSTER_BENCH_MPIRUN:-mpirun}

REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT

HOSTFILE=""
BINARY="$REPO_ROOT/target/release/cluster-bench"
SSH_CONFIG=""
SSH_USER=""
SSH_KEY=""
CHECK_ONLY=0
SSH_ARGS=()

# Remote: prints the MPI version line and the binary's sha256 (or "none").
# shellcheck disable=SC2016 # expanded on the remote host, on purpose
readonly CHECK='IFS= read -r p || p=""; echo "mpi=$( { mpirun --version 2>/dev/null || ompi_info --version 2>/dev/null; } | head -n 1)"; if [ -f "$p" ]; then echo "sha=$(sha256sum < "$p" | cut -d " " -f 1)"; else echo sha=none; fi'
# Remote: creates the folder of the path read from stdin.
# shellcheck disable=SC2016
readonly MKDIR='IFS= read -r p && mkdir -p -- "${p%/*}"'
# Remote: moves the uploaded PATH.cb-deploy into place, executable.
# shellcheck disable=SC2016
readonly INSTALL='IFS= read -r p && chmod 0755 -- "$p.cb-deploy" && mv -f -- "$p.cb-deploy" "$p"'

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh HOSTFILE [options]

Copies the cluster-bench binary to the same absolute path on every host of
HOSTFILE (Open MPI 'host slots=N' or MPICH 'host:N' lines; '#' comments), over
ssh in batch mode (keys only), unless the host already has an identical file
there (shared home, or deployed before). Checks that each host's mpirun
reports the same Open MPI version as this machine's.

Options:
  --binary PATH  the binary (default: <repo>/target/release/cluster-bench);
                 an absolute path of [A-Za-z0-9._/+-]
  -F SSH_CONFIG  ssh configuration file
  -u USER        remote user name
  -i KEY         private key file
  --check        only check (MPI version, binary present and identical)
  -h, --help     this help

Exit status: 0 every host is ready, 1 some host is not, 2 bad usage.
Environment: CLUSTER_BENCH_SSH (ssh), CLUSTER_BENCH_SCP (scp),
CLUSTER_BENCH_MPIRUN (mpirun).
EOF
}

die() {
  echo "deploy.sh: $*" >&2
  exit 1
}

usage_error() {
  echo "deploy.sh: $*" >&2
  echo "Try 'scripts/deploy.sh --help'." >&2
  exit 2
}

quoted() {
  printf '%q' "$1"
}

need_value() {
  (($# >= 2)) || usage_error "option $1 needs a value"
}

parse_args() {
  while (($#)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --binary) need_value "$@"; BINARY=$2; shift ;;
      -F) need_value "$@"; SSH_CONFIG=$2; shift ;;
      -u) need_value "$@"; SSH_USER=$2; shift ;;
      -i) need_value "$@"; SSH_KEY=$2; shift ;;
      --check) CHECK_ONLY=1 ;;
      -*) usage_error "unknown option $(quoted "$1")" ;;
      *)
        [[ -z "$HOSTFILE" ]] || usage_error "one hostfile only"
        HOSTFILE=$1
        ;;
    esac
    shift
  done
  [[ -n "$HOSTFILE" ]] || usage_error "no hostfile given"
  [[ -f "$HOSTFILE" && -r "$HOSTFILE" ]] || usage_error "cannot read hostfile $(quoted "$HOSTFILE")"
  [[ "$BINARY" =~ ^/[A-Za-z0-9._/+-]+$ && "$BINARY" != */ ]] \
    || usage_error "--binary needs an absolute path of [A-Za-z0-9._/+-], got $(quoted "$BINARY")"
  if [[ -n "$SSH_USER" && ! "$SSH_USER" =~ ^[A-Za-z_][A-Za-z0-9_.-]{0,31}$ ]]; then
    usage_error "-u: not a user name: $(quoted "$SSH_USER")"
  fi
  if [[ -n "$SSH_CONFIG" ]]; then
    [[ "$SSH_CONFIG" != -* && -r "$SSH_CONFIG" ]] || usage_error "-F: cannot read $(quoted "$SSH_CONFIG")"
    SSH_ARGS+=(-F "$SSH_CONFIG")
  fi
  [[ -z "$SSH_USER" ]] || SSH_ARGS+=(-o "User=$SSH_USER")
  if [[ -n "$SSH_KEY" ]]; then
    [[ "$SSH_KEY" != -* && -r "$SSH_KEY" ]] || usage_error "-i: cannot read $(quoted "$SSH_KEY")"
    SSH_ARGS+=(-i "$SSH_KEY")
  fi
  SSH_ARGS+=(-o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new)
}

readonly OCTET='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
readonly LABEL='[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?'

valid_host() {
  [[ "$1" =~ ^$OCTET\.$OCTET\.$OCTET\.$OCTET$ ]] && return 0
  [[ "$1" =~ ^[0-9.]+$ ]] && return 1
  ((${#1} <= 253)) && [[ "$1" =~ ^$LABEL(\.$LABEL)*$ ]]
}

# read_hosts: HOSTS = the hosts of HOSTFILE, in order, once each.
read_hosts() {
  local line host lines=()
  local -A seen=()
  HOSTS=()
  mapfile -t lines <"$HOSTFILE"
  for line in "${lines[@]}"; do
    line=${line%%#*}
    read -r host _ <<<"$line" || true
    [[ -n "$host" ]] || continue
    host=${host%%:*} # MPICH host:N
    valid_host "$host" || usage_error "bad host $(quoted "$host") in $(quoted "$HOSTFILE")"
    [[ -z "${seen[$host]:-}" ]] || continue
    seen[$host]=1
    HOSTS+=("$host")
  done
  ((${#HOSTS[@]} > 0)) || usage_error "no hosts in $(quoted "$HOSTFILE")"
}

mpi_version() {
  if [[ "$1" =~ Open\ MPI\)?\ v?([0-9][0-9A-Za-z.+-]*) ]]; then
    echo "Open MPI ${BASH_REMATCH[1]}"
  else
    echo "$1"
  fi
}

# remote_state HOST: sets R_MPI and R_SHA (empty R_SHA: ssh failed).
remote_state() {
  local host=$1 out key value
  R_MPI="" R_SHA=""
  out=$("$SSH" "${SSH_ARGS[@]}" -- "$host" "$CHECK" <<<"$BINARY" 2>/dev/null) || return 1
  while IFS='=' read -r key value; do
    case "$key" in
      mpi) R_MPI=$(mpi_version "$value") ;;
      sha) R_SHA=$value ;;
    esac
  done <<<"$out"
  [[ -n "$R_SHA" ]]
}

copy_to() {
  local host=$1
  "$SSH" "${SSH_ARGS[@]}" -- "$host" "$MKDIR" <<<"$BINARY" \
    && "$SCP" -q "${SSH_ARGS[@]}" -- "$BINARY" "$host:$BINARY.cb-deploy" \
    && "$SSH" "${SSH_ARGS[@]}" -- "$host" "$INSTALL" <<<"$BINARY"
}

main() {
  parse_args "$@"
  read_hosts
  [[ -f "$BINARY" && -x "$BINARY" ]] || die "no executable $BINARY (cargo build --release)"
  local local_mpi local_sha host status failed=0 local_name
  local_mpi=$(mpi_version "$("$MPIRUN" --version 2>/dev/null | head -n 1)")
  local_sha=$(sha256sum <"$BINARY" | cut -d ' ' -f 1)
  local_name=$(uname -n)
  printf '%-24s %-10s %s\n' HOST STATUS DETAIL >&2
  for host in "${HOSTS[@]}"; do
    if [[ "$host" == "$local_name" || "$host" == localhost ]]; then
      printf '%-24s %-10s %s\n' "$host" ok "this machine" >&2
      continue
    fi
    if ! remote_state "$host"; then
      printf '%-24s %-10s %s\n' "$host" failed "ssh failed (try: $SSH -- $host true)" >&2
      failed=1
      continue
    fi
    if [[ -z "$R_MPI" ]]; then
      printf '%-24s %-10s %s\n' "$host" no-mpi "no mpirun there" >&2
      failed=1
      continue
    fi
    if [[ "$R_MPI" != "$local_mpi" ]]; then
      printf '%-24s %-10s %s\n' "$host" mismatch "'$R_MPI' there, '$local_mpi' here" >&2
      failed=1
      continue
    fi
    if [[ "$R_SHA" == "$local_sha" ]]; then
      status="identical binary already there"
    elif ((CHECK_ONLY)); then
      printf '%-24s %-10s %s\n' "$host" missing "binary absent or different" >&2
      failed=1
      continue
    elif copy_to "$host" && remote_state "$host" && [[ "$R_SHA" == "$local_sha" ]]; then
      status="copied"
    else
      printf '%-24s %-10s %s\n' "$host" failed "copy failed" >&2
      failed=1
      continue
    fi
    printf '%-24s %-10s %s\n' "$host" ok "$status" >&2
  done
  if ((failed)); then
    echo "deploy.sh: some hosts are not ready; fix them or re-run discover.sh" >&2
    return 1
  fi
  echo "deploy.sh: ${#HOSTS[@]} host(s) ready: $BINARY, $local_mpi" >&2
}

main "$@"
