# shellcheck shell=bash
# hostfile.sh: host names and MPI hostfiles, read and written in one place. Needs common.sh.
#
# Syntax read: Open MPI '[user@]host [slots=N] [max_slots=N]' and MPICH 'host[:N]' lines,
# '#' comments, blank lines; a host without a count has 1 slot. Written: what discover.sh
# finds. A host keeps its 'user@' (ssh, scp and Open MPI's hostfile all read it so).

readonly RE_OCTET='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
readonly RE_IPV4="$RE_OCTET\\.$RE_OCTET\\.$RE_OCTET\\.$RE_OCTET"
readonly RE_LABEL='[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?'

is_ipv4() {
  [[ "$1" =~ ^$RE_IPV4$ ]]
}

readonly RE_USER='[A-Za-z_][A-Za-z0-9_.-]{0,31}'

# valid_host STRING: an IPv4 address or a DNS host name (nothing a shell or ssh could
# read as an option or a command).
valid_host() {
  is_ipv4 "$1" && return 0
  [[ "$1" =~ ^[0-9.]+$ ]] && return 1
  ((${#1} <= 253)) && [[ "$1" =~ ^$RE_LABEL(\.$RE_LABEL)*$ ]]
}

# hostfile_read FILE: HOSTFILE_HOSTS and HOSTFILE_SLOTS, one entry per host line, in file
# order. A malformed line, or a file without hosts, is a usage error naming FILE:LINE.
hostfile_read() {
  local file=$1 line n=0 words=()
  [[ -e "$file" ]] || usage_error "hostfile not found: $file"
  [[ -f "$file" && -r "$file" ]] || usage_error "hostfile is not a readable file: $file"
  HOSTFILE_HOSTS=() HOSTFILE_SLOTS=()
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    line=${line%%#*}
    read -r -a words <<<"$line"
    ((${#words[@]} > 0)) || continue
    hostfile_entry "$file:$n" "${words[@]}"
  done <"$file"
  ((${#HOSTFILE_HOSTS[@]} > 0)) || usage_error "hostfile $file lists no hosts"
}

# hostfile_entry WHERE WORD...: appends one line's host and slots.
hostfile_entry() {
  local where=$1 host=$2 slots=1 word
  shift 2
  if [[ "$host" =~ ^([^:]+):([^:]*)$ ]]; then # MPICH host:N
    host=${BASH_REMATCH[1]} slots=${BASH_REMATCH[2]}
    (($# == 0)) || usage_error "$where: nothing may follow an MPICH 'host:N'"
    hostfile_check_slots "$where" "$slots"
  fi
  if [[ "$host" =~ ^$RE_USER@(.*)$ ]]; then
    valid_host "${BASH_REMATCH[1]}" || usage_error "$where: $(quoted "$host") is not user@host"
  else
    valid_host "$host" || usage_error "$where: $(quoted "$host") is not a host name or address"
  fi
  for word in "$@"; do
    case "$word" in
      slots=*) slots=${word#slots=} && hostfile_check_slots "$where" "$slots" ;;
      max_slots=* | max-slots=*) [[ ${word#*=} =~ ^[0-9]{1,5}$ ]] || usage_error "$where: bad $(quoted "$word")" ;;
      *) usage_error "$where: unknown field $(quoted "$word") (expected 'host [slots=N] [max_slots=N]')" ;;
    esac
  done
  HOSTFILE_HOSTS+=("$host")
  HOSTFILE_SLOTS+=($((10#$slots)))
}

# hostfile_check_slots WHERE VALUE
hostfile_check_slots() {
  if ! [[ "$2" =~ ^[0-9]{1,5}$ ]] || ((10#$2 < 1)); then
    usage_error "$1: slots must be a whole number >= 1 (got $(quoted "$2"))"
  fi
}

# hostfile_line FORMAT HOST SLOTS COMMENT: one host as FORMAT (openmpi or mpich) writes it.
hostfile_line() {
  local format=$1 host=$2 slots=$3 comment=${4//#/}
  case "$format" in
    openmpi) printf '%s slots=%s # %s\n' "$host" "$slots" "$comment" ;;
    mpich) printf '# %s: %s\n%s:%s\n' "$host" "$comment" "$host" "$slots" ;;
  esac
}
