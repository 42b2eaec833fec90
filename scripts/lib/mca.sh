# shellcheck shell=bash disable=SC2034 # read by the scripts that source this file
# mca.sh: the Open MPI settings cluster-bench relies on, in one place.

# TCP keep-alive on mpirun's daemon connections: a host that lost power (no TCP reset) is
# noticed within 5 + 2*3 = 11 s instead of ~15 minutes (docs/faults.md).
readonly MCA_KEEPALIVE=(
  oob_tcp_keepalive_time=5
  oob_tcp_keepalive_intvl=2
  oob_tcp_keepalive_probes=3
)

# mca_export NAME=VALUE...: export each as OMPI_MCA_NAME unless the environment sets it.
mca_export() {
  local setting name
  for setting in "$@"; do
    name=OMPI_MCA_${setting%%=*}
    [[ -n "${!name:-}" ]] || export "$name=${setting#*=}"
  done
}

# mca_conf_add FILE COMMENT NAME=VALUE...: appends to an Open MPI parameter file the
# settings it does not have yet (what the user wrote there wins). Prints what it added.
mca_conf_add() {
  local file=$1 comment=$2 setting missing=()
  shift 2
  for setting in "$@"; do
    mca_conf_has "$file" "${setting%%=*}" || missing+=("$setting")
  done
  ((${#missing[@]} > 0)) || return 0
  mkdir -p -- "$(dirname -- "$file")"
  {
    echo "# $comment"
    for setting in "${missing[@]}"; do echo "${setting%%=*} = ${setting#*=}"; done
  } >>"$file"
  printf '%s\n' "${missing[@]%%=*}"
}

# mca_conf_has FILE NAME: FILE sets NAME.
mca_conf_has() {
  [[ -f "$1" ]] && grep -q "^[[:space:]]*$2[[:space:]]*=" -- "$1"
}

# mca_user_conf: the per-user parameter file every mpirun of this user reads.
mca_user_conf() {
  echo "$HOME/.openmpi/mca-params.conf"
}

# mpirun_forwards_path: mpirun passes its own PATH to every rank (mca_base_env_list holds
# PATH, from the environment or the user's or the system's parameter file, in that order
# of precedence). Then a rank finds a command by mpirun's PATH, not by its host's.
mpirun_forwards_path() {
  local list=${OMPI_MCA_mca_base_env_list:-} file
  if [[ -z "$list" ]]; then
    for file in "$(mca_user_conf)" /etc/openmpi/openmpi-mca-params.conf; do
      mca_conf_has "$file" mca_base_env_list || continue
      list=$(sed -n 's/^[[:space:]]*mca_base_env_list[[:space:]]*=[[:space:]]*//p' -- "$file" | tail -n 1)
      break
    done
  fi
  [[ ";$list;" =~ \;[[:space:]]*PATH[[:space:]]*\; ]]
}
