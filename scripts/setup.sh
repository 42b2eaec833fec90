#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for cluster-bench: system packages, Rust, the Python
# plotting environment, the default hostfile, and a release build. Safe to run again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT PROG=setup.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/mca.sh
. "$ROOT/scripts/lib/mca.sh"
# shellcheck source=scripts/lib/install.sh
. "$ROOT/scripts/lib/install.sh"

# What each package is for: Open MPI (runtime, headers for rsmpi's build), libclang (bindgen
# in rsmpi's build), gcc/make (C parts), ssh client+server (launch; the test hosts' sshd),
# iproute2 and nftables (the test hosts' namespaces and firewalls), shellcheck (lint),
# python3-venv (plots), jq (the JSON inventory discover.sh writes; bench_speed.sh and
# bench_cost.sh read run JSONs), time (GNU time: bench_cost.sh's peak memory of a whole job).
readonly APT_PACKAGES=(
  openmpi-bin libopenmpi-dev libclang-dev gcc make pkg-config
  openssh-client openssh-server iproute2 nftables procps util-linux
  shellcheck python3 python3-venv jq time curl ca-certificates
)
# What building and running need, of the above (without the rest: no plots, lint, test hosts).
readonly BUILD_PACKAGES=(openmpi-bin libopenmpi-dev libclang-dev gcc make pkg-config openssh-client)
readonly PY_PACKAGES=(matplotlib numpy)
# shellcheck source=scripts/lib/setup-extras.sh
. "$ROOT/scripts/lib/setup-extras.sh"

usage() {
  cat <<USAGE
Usage: scripts/setup.sh [--user] [--no-build] [--no-python] [--no-mca-defaults] [--slurm]
                       [--mpi mpich]

Installs what cluster-bench needs (apt packages with sudo when not root, Rust via rustup if
cargo is missing, a Python venv in .venv with matplotlib), writes hostfiles/localhost.txt
(slots = this machine's physical cores) if it is missing, builds the release binary and installs it
as the command 'cluster-bench' in $(cb_install_dir) (/usr/local/bin as root, ~/.local/bin
otherwise; --no-build skips both).

Adds to ~/.openmpi/mca-params.conf what is not set there yet (--no-mca-defaults skips this):
Open MPI TCP keep-alive (a job with a host that lost power ends in seconds, not ~15 minutes)
and, for a ~/.local/bin install, mca_base_env_list = PATH: mpirun gives every rank its own
PATH, so ranks on other hosts find 'cluster-bench' where it is here (a shared home, or
scripts/deploy.sh).

  --user       no root and no sudo (the default for a user that sudo does not allow): the
               system packages are only checked; the missing ones are printed as the one
               apt-get line for an administrator; Rust, the venv, the build and the
               command (~/.local/bin) are done when what building needs is there
  --slurm      also Debian's munge, slurmctld, slurmd, slurm-client (services left off), for
               scripts/dev/testnet.sh up N --slurm
  --mpi mpich  also MPICH (mpich, libmpich-dev) with Open MPI kept as mpirun/mpicc/mpiexec,
               and cluster-bench built on it (MPICC=mpicc.mpich, in target/mpich), installed
               beside 'cluster-bench' as 'cluster-bench-mpich'
USAGE
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# missing_packages PKG...: prints those not installed, one a line.
missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

# install_apt_packages PKG...: the ones not installed yet.
install_apt_packages() {
  local missing=()
  mapfile -t missing < <(missing_packages "$@")
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

# physical_cores: this machine's cores (core and socket pairs), at most its hardware threads.
physical_cores() {
  local threads cores
  threads=$(nproc)
  cores=$( { lscpu -p=Core,Socket 2>/dev/null || true; } | grep -v '^#' | sort -u | wc -l)
  ((cores >= 1 && cores <= threads)) || cores=$threads
  echo "$cores"
}

write_local_hostfile() {
  local file="$ROOT/hostfiles/localhost.txt"
  if [[ -e "$file" ]]; then
    return
  fi
  mkdir -p "$ROOT/hostfiles"
  write_atomic "$file" printf \
    '# this machine; written by scripts/setup.sh (slots = cores: %s cores / %s threads)\nlocalhost slots=%s\n' \
    "$(physical_cores)" "$(nproc)" "$(physical_cores)"
  log "wrote $file"
}

# mpirun only notices a host that lost power (no TCP reset) through TCP keep-alive on its
# daemon connections, off by default: without it a job with such a host waits ~15 min to end.
# Per-user Open MPI defaults apply to every mpirun this user starts, however it is started;
# values already there, or set in the environment, win.
write_mca_defaults() {
  local conf added
  conf=$(mca_user_conf)
  added=$(mca_conf_add "$conf" "added by cluster-bench's scripts/setup.sh: notice a silent host within ~11 s" \
    "${MCA_KEEPALIVE[@]}")
  [[ -z "$added" ]] || log "added Open MPI keep-alive defaults to $conf (see docs/faults.md)"
  cb_install_needs_path_forwarding || return 0
  added=$(mca_conf_add "$conf" "added by cluster-bench's scripts/setup.sh: ranks find commands by mpirun's PATH" \
    mca_base_env_list=PATH)
  if [[ -n "$added" ]]; then
    log "added mca_base_env_list = PATH to $conf: ranks on every host get mpirun's PATH"
  elif ! mpirun_forwards_path; then
    log "warning: $conf sets mca_base_env_list without PATH: ranks on other hosts may not" \
      "find $CB_COMMAND in $(cb_install_dir) (add ';PATH' to it, or use mpirun -x PATH)"
  fi
}

build() {
  log "building target/release/$CB_COMMAND"
  (cd "$ROOT" && cargo build --release --quiet)
}

# install_command [BINARY NAME]: BINARY (default: the release binary) as the command NAME
# (default: cluster-bench), replaced atomically (a copy under a temporary name in the same
# folder, renamed): a running job keeps its file.
install_command() {
  local src=${1:-$ROOT/target/release/$CB_COMMAND} name=${2:-$CB_COMMAND} dir tmp
  dir=$(cb_install_dir)
  mkdir -p -- "$dir" || die "cannot create $dir"
  tmp=$(mktemp -- "$dir/.$name.XXXXXX") || die "cannot write in $dir"
  if ! cp -- "$src" "$tmp" || ! chmod 0755 -- "$tmp" \
    || ! mv -f -- "$tmp" "$dir/$name"; then
    rm -f -- "$tmp"
    die "cannot install $dir/$name"
  fi
  log "installed $dir/$name"
  check_command_on_path "$dir" "$name"
}

# check_command_on_path DIR [NAME]: the bare name (default: cluster-bench) finds the command
# just installed in DIR.
check_command_on_path() {
  local dir=$1 name=${2:-$CB_COMMAND} found
  found=$(command -v "$name" || true)
  if [[ "$found" != "$dir/$name" ]]; then
    log "warning: '$name' here runs ${found:-nothing}, not $dir/$name:" \
      "put $dir first on your PATH (a new login shell does it for ~/.local/bin on Debian)"
  fi
}

# no_root_access: not root, and sudo is absent or refuses this user (a sudo that only asks
# for a password is access: it asks).
no_root_access() {
  local err
  (($(id -u) != 0)) || return 1
  command -v sudo >/dev/null || return 0
  err=$(sudo -n -l 2>&1 >/dev/null) && return 1
  [[ "$err" != *"password is required"* ]]
}

# check_user_packages PKG...: without root, what is missing, as the one line an
# administrator types; fails when building needs some of it.
check_user_packages() {
  local missing=() needed=()
  mapfile -t missing < <(missing_packages "$@")
  if ((${#missing[@]} == 0)); then
    log "every system package is installed"
    return 0
  fi
  log "missing system packages; an administrator installs them with:"
  echo "sudo apt-get install -y --no-install-recommends ${missing[*]}"
  mapfile -t needed < <(missing_packages "${BUILD_PACKAGES[@]}")
  ((${#needed[@]} == 0)) || die "cannot build without ${needed[*]} (the line above installs them)"
  log "building anyway: what is missing is not needed to build and run cluster-bench"
}

# python_env_possible: python3 can make a venv here (python3-venv).
python_env_possible() {
  [[ -x "$ROOT/.venv/bin/python" ]] || python3 -c 'import ensurepip, venv' 2>/dev/null
}

main() {
  local build=1 python=1 mca=1 slurm=0 mpich=0 user=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --user) user=1 ;;
      --no-build) build=0 ;;
      --no-python) python=0 ;;
      --no-mca-defaults) mca=0 ;;
      --slurm) slurm=1 ;;
      --mpi)
        need_value "$@"
        case "$2" in mpich) mpich=1 ;; openmpi) ;; *) usage_error "--mpi is openmpi or mpich, got $(quoted "$2")" ;; esac
        shift
        ;;
      *) usage_error "unknown option: $(quoted "$1")" ;;
    esac
    shift
  done
  if ((user == 0)) && no_root_access; then
    log "no root and no sudo here: the user set-up (--user)"
    user=1
  fi
  if ((user)); then
    local pkgs=("${APT_PACKAGES[@]}")
    ((slurm == 0)) || pkgs+=("${SLURM_APT_PACKAGES[@]}")
    ((mpich == 0)) || pkgs+=("${MPICH_APT_PACKAGES[@]}")
    check_user_packages "${pkgs[@]}"
    slurm=0
  else
    install_apt_packages "${APT_PACKAGES[@]}"
  fi
  if ((slurm)); then install_slurm; fi
  if ((build)); then install_rust; fi
  if ((python)) && ((user)) && ! python_env_possible; then
    log "no python3-venv: plots need it (the apt line above); skipping the venv"
    python=0
  fi
  if ((python)); then install_python_env; fi
  write_local_hostfile
  if ((mca)); then write_mca_defaults; fi
  if ((build)); then
    build
    install_command
  fi
  if ((mpich && user)); then
    if [[ -n "$(missing_packages "${MPICH_APT_PACKAGES[@]}")" ]]; then
      log "no MPICH packages: cluster-bench-mpich is not built"
    elif ((build)); then
      build_mpich
    fi
  elif ((mpich)); then
    install_mpich "$build"
  fi
}

main "$@"
