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

# write_atomic FILE: stdin to FILE through a temporary file in the same folder, renamed
# into place (readers never see half a file; a failed write leaves no temporary file).
write_atomic() {
  local file=$1 tmp
  tmp=$(mktemp -- "$(dirname -- "$file")/.${file##*/}.XXXXXX") || die "cannot write in the folder of $(quoted "$file")"
  if ! cat >"$tmp" || ! chmod 0644 -- "$tmp" || ! mv -f -- "$tmp" "$file"; then
    rm -f -- "$tmp"
    die "cannot write $(quoted "$file")"
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
