# shellcheck shell=bash
# common.sh: messages, option checks, atomic writes and the MPI version line, shared by the
# scripts. The sourcing script sets PROG (its path under scripts/, e.g. discover.sh or
# study/bench_cost.sh) first.

# die MESSAGE...: an error that is not the user's input (exit 1).
die() {
  echo "$PROG: $*" >&2
  exit 1
}

# usage_error MESSAGE...: bad options or input (exit 2), with a pointer to --help.
usage_error() {
  echo "$PROG: $*" >&2
  echo "Try 'scripts/$PROG --help'." >&2
  exit 2
}

log() {
  echo "$PROG: $*" >&2
}

# quoted STRING: the string shown safely (no terminal escapes, visible quoting).
quoted() {
  printf '%q' "$1"
}

# need_value "$@": the option in $1 has a value in $2.
need_value() {
  (($# >= 2)) || usage_error "option $1 needs a value"
}

# write_atomic FILE CMD [ARG...]: CMD's output to FILE through a temporary file in the same
# folder, renamed into place only if CMD succeeds: readers never see half a file, and a CMD
# that fails (a command in it fails, or it calls die) leaves FILE as it was and no temporary
# file. CMD runs in a subshell with errexit of its own: a pipe into this function could not
# see its producer fail, and renamed a partial report over a good one.
write_atomic() {
  # Prefixed locals: CMD runs in this function's scope and would see plain names shadow its own.
  local _wa_file=$1 _wa_tmp _wa_status
  shift
  _wa_tmp=$(mktemp -- "$(dirname -- "$_wa_file")/.${_wa_file##*/}.XXXXXX") || die "cannot write in the folder of $(quoted "$_wa_file")"
  # Not `if ! (...)`: bash ignores errexit inside a condition, even in a subshell.
  set +e
  (
    set -e
    "$@"
  ) >"$_wa_tmp"
  _wa_status=$?
  set -e
  if ((_wa_status != 0)); then
    rm -f -- "$_wa_tmp"
    die "$(quoted "$_wa_file") not written: making its contents failed (exit status $_wa_status)"
  fi
  if ! chmod 0644 -- "$_wa_tmp" || ! mv -f -- "$_wa_tmp" "$_wa_file"; then
    rm -f -- "$_wa_tmp"
    die "cannot write $(quoted "$_wa_file")"
  fi
}

# mpi_version LINE: "Open MPI 4.1.4" from mpirun's or ompi_info's first line, "MPICH 4.0.2"
# from mpichversion's (else LINE).
mpi_version() {
  if [[ "$1" =~ Open\ MPI\)?\ v?([0-9][0-9A-Za-z.+-]*) ]]; then
    echo "Open MPI ${BASH_REMATCH[1]}"
  elif [[ "$1" =~ ^MPICH\ Version:[[:space:]]*([0-9][0-9A-Za-z.+-]*) ]]; then
    echo "MPICH ${BASH_REMATCH[1]}"
  else
    echo "$1"
  fi
}

# local_mpi_version: this machine's MPI ($MPIRUN, default mpirun), empty without one.
local_mpi_version() {
  local line
  line=$("${MPIRUN:-mpirun}" --version 2>/dev/null | head -n 1) || true
  [[ -z "$line" ]] || mpi_version "$line"
}
