#!/usr/bin/env bash
#
# deploy.sh: put the cluster-bench command on every host of a hostfile (where there is no
# shared home): for root at the same path as here, for another user in that user's own
# ~/.local/bin; and check that every host has the same MPI as this machine.
#
# Host strings from the hostfile are validated with strict patterns; the
# commands run remotely are fixed scripts that read the (validated) path from
# stdin; `--` goes before host arguments.

set -euo pipefail

SSH=${CLUSTER_BENCH_SSH:-ssh}
SCP=${CLUSTER_BENCH_SCP:-scp}
MPIRUN=${CLUSTER_BENCH_MPIRUN:-mpirun}

LIB=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/lib" && pwd)
readonly LIB PROG=deploy.sh
# shellcheck source=scripts/lib/common.sh
. "$LIB/common.sh"
# shellcheck source=scripts/lib/ssh.sh
. "$LIB/ssh.sh"
# shellcheck source=scripts/lib/hostfile.sh
. "$LIB/hostfile.sh"
# shellcheck source=scripts/lib/install.sh
. "$LIB/install.sh"

HOSTFILE=""
BINARY="$(cb_install_dir)/$CB_COMMAND"
SSH_CONFIG=""
SSH_USER=""
SSH_KEY=""
CHECK_ONLY=0

# Remote: prints the MPI version line, where the command goes there (the path read from
# stdin for root, else the same file name in the user's own ~/.local/bin) and that file's
# sha256 (or "none").
# shellcheck disable=SC2016 # expanded on the remote host, on purpose
readonly CHECK='IFS= read -r p || p=""; echo "mpi=$( { mpirun --version 2>/dev/null || ompi_info --version 2>/dev/null; } | head -n 1)"; if [ "$(id -u)" = 0 ]; then d=$p; else d=$HOME/.local/bin/${p##*/}; fi; echo "dest=$d"; if [ -f "$d" ]; then echo "sha=$(sha256sum < "$d" | cut -d " " -f 1)"; else echo sha=none; fi'
# Remote: creates the folder of the path read from stdin.
# shellcheck disable=SC2016
readonly MKDIR='IFS= read -r p && mkdir -p -- "${p%/*}"'
# Remote: moves the uploaded PATH.cb-deploy into place, executable.
# shellcheck disable=SC2016
readonly INSTALL='IFS= read -r p && chmod 0755 -- "$p.cb-deploy" && mv -f -- "$p.cb-deploy" "$p"'

usage() {
  cat <<EOF
Usage: scripts/deploy.sh HOSTFILE [options]

Copies the cluster-bench command to every host of HOSTFILE (Open MPI
'[user@]host slots=N' or MPICH 'host:N' lines; '#' comments), over ssh in batch
mode (keys only), unless the host already has an identical file there (shared
home, or deployed before): for root to the same absolute path as here, for any
other remote user into that user's own ~/.local/bin (discover.sh finds it there
and gives the ranks the PATH that holds it). Checks that each host's mpirun
reports the same Open MPI version as this machine's.

The default is the command scripts/setup.sh installed: /usr/local/bin/cluster-bench
as root (on every host's default PATH), else ~/.local/bin/cluster-bench, which
ranks find through the PATH mpirun forwards (setup.sh sets mca_base_env_list).
Then 'mpirun --hostfile HOSTFILE cluster-bench' runs it on every host.

Options:
  --binary PATH  the file to copy (default: the installed command,
                 $(cb_install_dir)/cluster-bench);
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
  ssh_options "$SSH_CONFIG" "$SSH_USER" "$SSH_KEY"
  SSH_ARGS+=("${SSH_BATCH[@]}" -o ConnectTimeout=10)
}

# read_hosts: HOSTS = the hosts of HOSTFILE, in order, once each.
read_hosts() {
  local host
  local -A seen=()
  hostfile_read "$HOSTFILE"
  HOSTS=()
  for host in "${HOSTFILE_HOSTS[@]}"; do
    [[ -z "${seen[$host]:-}" ]] || continue
    seen[$host]=1
    HOSTS+=("$host")
  done
}

# remote_state HOST: sets R_MPI, R_DEST (where the command goes there) and R_SHA (empty
# R_SHA: ssh failed, or the remote path is not one we write to).
remote_state() {
  local host=$1 out key value
  R_MPI="" R_SHA="" R_DEST=""
  out=$("$SSH" "${SSH_ARGS[@]}" -- "$host" "$CHECK" <<<"$BINARY" 2>/dev/null) || return 1
  while IFS='=' read -r key value; do
    case "$key" in
      mpi) R_MPI=$(mpi_version "$value") ;;
      dest) R_DEST=$value ;;
      sha) R_SHA=$value ;;
    esac
  done <<<"$out"
  [[ "$R_DEST" =~ ^/[A-Za-z0-9._/+-]+$ && "$R_DEST" != */ ]] || R_SHA=""
  [[ -n "$R_SHA" ]]
}

copy_to() {
  local host=$1
  "$SSH" "${SSH_ARGS[@]}" -- "$host" "$MKDIR" <<<"$R_DEST" \
    && "$SCP" -q "${SSH_ARGS[@]}" -- "$BINARY" "$host:$R_DEST.cb-deploy" \
    && "$SSH" "${SSH_ARGS[@]}" -- "$host" "$INSTALL" <<<"$R_DEST"
}

main() {
  parse_args "$@"
  read_hosts
  [[ -f "$BINARY" && -x "$BINARY" ]] || die "no executable $BINARY (scripts/setup.sh installs it)"
  local local_mpi local_sha host status failed=0 local_name
  local_mpi=$(local_mpi_version)
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
      status="identical binary already there ($R_DEST)"
    elif ((CHECK_ONLY)); then
      printf '%-24s %-10s %s\n' "$host" missing "binary absent or different" >&2
      failed=1
      continue
    elif copy_to "$host" && remote_state "$host" && [[ "$R_SHA" == "$local_sha" ]]; then
      status="copied to $R_DEST"
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
