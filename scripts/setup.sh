#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for cluster-bench: system packages, Rust, the Python
# plotting environment, the default hostfile, and a release build. Safe to run again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# What each package is for: Open MPI (runtime, headers for rsmpi's build), libclang (bindgen
# in rsmpi's build), gcc/make (C parts), ssh client+server (launch; the test hosts' sshd),
# iproute2 (test hosts' namespaces), shellcheck (lint), python3-venv (plots), jq (discovery's JSON).
readonly APT_PACKAGES=(
  openmpi-bin libopenmpi-dev libclang-dev gcc make pkg-config
  openssh-client openssh-server iproute2 procps util-linux
  shellcheck python3 python3-venv jq curl ca-certificates
)
readonly PY_PACKAGES=(matplotlib numpy)
# shellcheck source=scripts/lib/setup-extras.sh
source "$ROOT/scripts/lib/setup-extras.sh"

usage() {
  cat <<USAGE
Usage: scripts/setup.sh [--no-build] [--no-python] [--no-mca-defaults] [--slurm] [--mpi mpich]

Installs what cluster-bench needs (apt packages with sudo when not root, Rust via rustup if
cargo is missing, a Python venv in .venv with matplotlib), writes hostfiles/localhost.txt
(slots = this machine's cores) if it is missing, adds Open MPI TCP keep-alive defaults to
~/.openmpi/mca-params.conf unless set (so a job with a host that lost power ends in seconds,
not ~15 minutes; --no-mca-defaults skips this), and builds target/release/cluster-bench.

  --slurm      also Debian's munge, slurmctld, slurmd, slurm-client (services left off), for
               scripts/testnet.sh up N --slurm
  --mpi mpich  also MPICH (mpich, libmpich-dev) with Open MPI kept as mpirun/mpicc/mpiexec,
               and cluster-bench built on it (MPICC=mpicc.mpich, target/mpich) and installed
               as cluster-bench-mpich in /usr/local/bin (root) or ~/.local/bin
USAGE
}

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# install_apt_packages PKG...: the ones not installed yet.
install_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return
  fi
  command -v apt-get >/dev/null || die "no apt-get: install by hand: ${missing[*]}"
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_rust() {
  if command -v cargo >/dev/null; then
    return
  fi
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
    return
  fi
  log "installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
}

install_python_env() {
  local venv="$ROOT/.venv"
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import matplotlib, numpy' 2>/dev/null; then
    return
  fi
  log "creating $venv with ${PY_PACKAGES[*]}"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
}

write_local_hostfile() {
  local file="$ROOT/hostfiles/localhost.txt"
  if [[ -e "$file" ]]; then
    return
  fi
  mkdir -p "$ROOT/hostfiles"
  printf '# this machine; written by scripts/setup.sh (slots = nproc)\nlocalhost slots=%s\n' "$(nproc)" >"$file.tmp.$$"
  mv "$file.tmp.$$" "$file"
  log "wrote $file"
}

# mpirun only notices a host that lost power (no TCP reset) through TCP keep-alive on its
# daemon connections, off by default: without it a job with such a host waits ~15 min to end.
# Per-user Open MPI defaults apply to every mpirun this user starts, however it is started;
# values already there, or set in the environment, win.
write_mca_defaults() {
  local conf="$HOME/.openmpi/mca-params.conf"
  if [[ -f "$conf" ]] && grep -q '^[[:space:]]*oob_tcp_keepalive_time' "$conf"; then
    return
  fi
  mkdir -p "$HOME/.openmpi"
  cat >>"$conf" <<'CONF'
# added by cluster-bench's scripts/setup.sh: notice a silent host within ~11 s
oob_tcp_keepalive_time = 5
oob_tcp_keepalive_intvl = 2
oob_tcp_keepalive_probes = 3
CONF
  log "added Open MPI keep-alive defaults to $conf (see docs/faults.md)"
}

build() {
  log "building target/release/cluster-bench"
  (cd "$ROOT" && cargo build --release --quiet)
}

main() {
  local build=1 python=1 mca=1 slurm=0 mpich=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --no-build) build=0 ;;
      --no-python) python=0 ;;
      --no-mca-defaults) mca=0 ;;
      --slurm) slurm=1 ;;
      --mpi)
        [[ "${2:-}" == mpich || "${2:-}" == openmpi ]] || { usage >&2; die "--mpi takes mpich (or openmpi)"; }
        [[ "$2" == mpich ]] && mpich=1
        shift
        ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  install_apt_packages "${APT_PACKAGES[@]}"
  [[ $slurm -eq 1 ]] && install_slurm
  install_rust
  [[ $python -eq 1 ]] && install_python_env
  write_local_hostfile
  [[ $mca -eq 1 ]] && write_mca_defaults
  [[ $build -eq 1 ]] && build
  [[ $mpich -eq 1 ]] && install_mpich "$build"
  return 0
}

main "$@"
