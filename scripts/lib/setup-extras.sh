# shellcheck shell=bash
#
# setup-extras.sh: the optional parts of scripts/setup.sh (sourced by it):
#   --slurm      Debian's Slurm and munge, for `scripts/dev/testnet.sh up N --slurm`
#   --mpi mpich  MPICH beside Open MPI, and cluster-bench built on it as
#                cluster-bench-mpich (target/mpich), installed on PATH
# Uses from setup.sh: ROOT, CB_COMMAND, log, die, as_root, install_apt_packages,
# install_command.

readonly SLURM_APT_PACKAGES=(munge slurmctld slurmd slurm-client)
readonly MPICH_APT_PACKAGES=(mpich libmpich-dev)
readonly SLURM_SERVICES=(munge slurmctld slurmd)

# stop_package_services: Debian starts munge and slurmd when they are installed; the test
# cluster runs its own daemons from its state folder, so the system's stay off.
stop_package_services() {
  local s
  for s in "${SLURM_SERVICES[@]}"; do
    if [[ -d /run/systemd/system ]]; then
      as_root systemctl disable --now "$s" >/dev/null 2>&1 || true
    elif [[ -x "/etc/init.d/$s" ]]; then
      as_root "/etc/init.d/$s" stop >/dev/null 2>&1 || true
    fi
  done
}

install_slurm() {
  install_apt_packages "${SLURM_APT_PACKAGES[@]}"
  stop_package_services
}

# pin_open_mpi: mpicc, mpirun, mpiexec and the MPI headers stay Open MPI's. Installing MPICH
# may switch these alternatives to it (auto mode, higher priority on some architectures),
# and everything else here (rsmpi's build, mpirun, discover.sh) expects Open MPI.
pin_open_mpi() {
  local arch
  arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  pin_alternative mpi /usr/bin/mpicc.openmpi
  pin_alternative mpirun /usr/bin/mpirun.openmpi
  pin_alternative "mpi-$arch" "/usr/lib/$arch/openmpi/include"
}

# pin_alternative NAME PATH: NAME set to PATH (manual mode), if both exist.
pin_alternative() {
  local name=$1 path=$2
  update-alternatives --query "$name" >/dev/null 2>&1 || return 0
  [[ -e "$path" ]] || return 0
  as_root update-alternatives --quiet --set "$name" "$path"
}

# build_mpich: cluster-bench on MPICH, in its own target folder (rsmpi's build script does not
# notice a changed MPICC, so one folder per MPI), installed beside cluster-bench.
build_mpich() {
  local bin="$ROOT/target/mpich/release/cluster-bench"
  log "building $bin with MPICC=mpicc.mpich"
  (cd "$ROOT" && MPICC=mpicc.mpich cargo build --release --quiet --target-dir "$ROOT/target/mpich")
  # grep reads all of ldd's output: with -q it could stop early and, under pipefail, the
  # pipeline would fail on ldd's SIGPIPE (the loader writes one line per library).
  ldd "$bin" | grep libmpich >/dev/null || die "$bin is not linked to MPICH (ldd $bin)"
  install_command "$bin" "$CB_COMMAND-mpich"
}

# install_mpich BUILD: MPICH's packages, Open MPI kept as the default, and (BUILD=1) the binary.
install_mpich() {
  pin_open_mpi
  install_apt_packages "${MPICH_APT_PACKAGES[@]}"
  pin_open_mpi
  [[ "$(readlink -f "$(command -v mpirun)")" == *orterun* ]] \
    || die "mpirun is not Open MPI's after installing MPICH (update-alternatives --display mpirun)"
  if (($1)); then build_mpich; fi
}
