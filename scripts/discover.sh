#!/usr/bin/env bash
#
# discover.sh: find the machines of a lab that can run cluster-bench under
# Open MPI, and write a hostfile (plus an inventory JSON of every target).
#
# Safety: targets are validated with strict patterns and never reach a shell
# (no eval, everything quoted, `--` before host arguments). The command run on
# each host is a fixed script; the only value sent along (the binary path) is
# validated and travels on ssh's stdin, as data.

set -euo pipefail

SSH=${CLUSTER_BENCH_SSH:-ssh}
IP=${CLUSTER_BENCH_IP:-ip}
MPIRUN=${CLUSTER_BENCH_MPIRUN:-mpirun}
MPICHVERSION=${CLUSTER_BENCH_MPICHVERSION:-mpichversion}

REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly MAX_ADDRS=65536 # a /16
readonly HOSTFILE_MARK="# written by scripts/discover.sh"
readonly JSON_MARK='"generator": "scripts/discover.sh"'
# Field separator of result records (clean() removes control characters from values).
readonly FS=$'\x1f'

# The probe run on every host: POSIX sh, one line, no single quotes and no
# "!" (so that csh-family login shells accept it too). It reads the binary
# path to check from stdin. Output: key=value lines.
# shellcheck disable=SC2016 # expanded on the remote host, on purpose
readonly PROBE='IFS= read -r cb_bin || cb_bin=""; echo cb_probe=1; echo "hostname=$(uname -n)"; echo "nproc=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"; echo "physical=$( { lscpu -p=Core,Socket 2>/dev/null || true; } | grep -v "^#" | sort -u | wc -l)"; echo "model=$(sed -n "s/^model name[[:space:]]*:[[:space:]]*//p" /proc/cpuinfo 2>/dev/null | head -n 1)"; echo "mem_kb=$(sed -n "s/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p" /proc/meminfo 2>/dev/null)"; echo "load1=$(cut -d " " -f 1 /proc/loadavg 2>/dev/null)"; echo "mpi=$( { mpirun --version 2>/dev/null || ompi_info --version 2>/dev/null; } | head -n 1)"; echo "mpich=$(mpichversion 2>/dev/null | head -n 1)"; if [ -z "$cb_bin" ]; then echo binary=skip; elif [ -f "$cb_bin" ] && [ -x "$cb_bin" ]; then echo binary=yes; else echo binary=no; fi'

# Options (set by parse_args).
OUT="$REPO_ROOT/hostfiles/lab.txt"
SSH_CONFIG=""
SSH_USER=""
SSH_KEY=""
JOBS=256
TIMEOUT=1
BINARY="$REPO_ROOT/target/release/cluster-bench"
FORMAT=openmpi
SLOTS=logical
INCLUDE_LOCAL=0
FORCE=0
RAW_TARGETS=()

# Results.
JSON_OBJ=""      # scratch for json_field
REC=""           # scratch for set_rec
TARGET_ADDR=()   # per target: the address its pre-check connects to
GROUP_KIND=()    # per group: ip or name
declare -a PRE_PID PRE_START PRE_STATE
ACTIVE=0         # probes running
EVENTS=""        # fd of the event pipe
declare -A NO_ARP
TARGETS=()       # addresses and names to probe
TARGET_GROUP=()  # per target: index into the GROUP_* arrays
GROUP_REP=()     # per target argument: the target ssh -G is asked about
GROUP_ADDR=()
GROUP_PORT=()
GROUP_PROXY=()
WORKDIR=""
LOCAL_MPI=""

usage() {
  cat <<'EOF'
Usage: scripts/discover.sh [options] TARGET...

Probe machines over SSH (keys only, in parallel) and write an MPI hostfile of
the ones that can run cluster-bench, plus an inventory JSON of every target.

Targets:
  136.159.54.0/24          CIDR (network and broadcast addresses skipped)
  136.159.54.30-39         range in the last octet
  10.0.0.5-10.0.0.40       range of full addresses
  lab-pc07, lab-pc07.cs.x  host names (and ~/.ssh/config aliases)
  @FILE                    one target per line, '#' comments
  Ranges larger than a /16 (65536 addresses) are refused without --force.

Options:
  -o FILE        hostfile to write (default: <repo>/hostfiles/lab.txt); the
                 inventory JSON goes beside it (lab.txt -> lab.json). A file
                 not written by discover.sh is never overwritten (--force).
  -F SSH_CONFIG  ssh configuration file (default: ssh's own, ~/.ssh/config)
  -u USER        remote user name
  -i KEY         private key file
  -j JOBS        parallel probes (default 256)
  -t SECONDS     TCP connect timeout of the pre-check of the ssh port, in seconds
                 (default 1: plenty on a LAN; raise it across a WAN or VPN).
                 Hosts that answered get ssh -o ConnectTimeout=max(SECONDS,5).
  --binary PATH  absolute path cluster-bench must have on every host
                 (default: <repo>/target/release/cluster-bench);
                 'none' skips the check (e.g. before scripts/deploy.sh)
  --format F     openmpi ('host slots=N', default) or mpich ('host:N', a
                 Hydra hostfile; hosts must have this machine's MPICH
                 version, from mpichversion, instead of its Open MPI)
  --slots S      logical (nproc, default), physical (cores), or idle
                 (logical cores minus the 1-minute load, at least 1)
  --include-local  add this machine (by its host name, first in the file)
  --force        allow ranges larger than a /16; overwrite files that
                 discover.sh did not write
  -h, --help     this help

Every target is classified: ok, refused, timeout, unreachable, auth-failed,
no-mpi, mpi-version-mismatch (differs from this machine's mpirun), no-binary,
probe-failed (logged in but the probe printed nothing usable). Only ok hosts
go into the hostfile, once per remote host name. A summary goes to stderr.

SSH: ssh -o BatchMode=yes -o ConnectTimeout=N -o StrictHostKeyChecking=accept-new;
passwords are never asked for. A timeout to an address of a local network
that never answered ARP is reported as unreachable (nothing there).
Exit status: 0 some host qualifies, 1 none does, 2 bad usage or target.

Environment: CLUSTER_BENCH_SSH (ssh), CLUSTER_BENCH_IP (ip),
CLUSTER_BENCH_MPIRUN (mpirun, for this machine's MPI version),
CLUSTER_BENCH_MPICHVERSION (mpichversion, the same for --format mpich).

Example:
  scripts/discover.sh -u student 136.159.54.0/24
  mpirun --hostfile hostfiles/lab.txt target/release/cluster-bench
EOF
}

die() {
  echo "discover.sh: $*" >&2
  exit 1
}

usage_error() {
  echo "discover.sh: $*" >&2
  echo "Try 'scripts/discover.sh --help'." >&2
  exit 2
}

# quoted STRING: the string shown safely (no terminal escapes, visible quoting).
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
      -o) need_value "$@"; OUT=$2; shift ;;
      -F) need_value "$@"; SSH_CONFIG=$2; shift ;;
      -u) need_value "$@"; SSH_USER=$2; shift ;;
      -i) need_value "$@"; SSH_KEY=$2; shift ;;
      -j) need_value "$@"; JOBS=$2; shift ;;
      -t) need_value "$@"; TIMEOUT=$2; shift ;;
      --binary) need_value "$@"; BINARY=$2; shift ;;
      --format) need_value "$@"; FORMAT=$2; shift ;;
      --slots) need_value "$@"; SLOTS=$2; shift ;;
      --include-local) INCLUDE_LOCAL=1 ;;
      --force) FORCE=1 ;;
      --) shift; RAW_TARGETS+=("$@"); break ;;
      -*) usage_error "unknown option $(quoted "$1") (targets never start with '-')" ;;
      *) RAW_TARGETS+=("$1") ;;
    esac
    shift
  done
}

check_options() {
  if ! [[ "$JOBS" =~ ^[0-9]{1,4}$ ]] || ((10#$JOBS < 1 || 10#$JOBS > 1024)); then
    usage_error "-j needs a number 1..1024, got $(quoted "$JOBS")"
  fi
  if ! [[ "$TIMEOUT" =~ ^[0-9]{1,3}$ ]] || ((10#$TIMEOUT < 1 || 10#$TIMEOUT > 120)); then
    usage_error "-t needs whole seconds 1..120, got $(quoted "$TIMEOUT")"
  fi
  JOBS=$((10#$JOBS)) TIMEOUT=$((10#$TIMEOUT))
  case "$FORMAT" in openmpi | mpich) ;; *) usage_error "--format is openmpi or mpich, got $(quoted "$FORMAT")" ;; esac
  case "$SLOTS" in logical | physical | idle) ;; *) usage_error "--slots is logical, physical or idle, got $(quoted "$SLOTS")" ;; esac
  if [[ -n "$SSH_USER" && ! "$SSH_USER" =~ ^[A-Za-z_][A-Za-z0-9_.-]{0,31}$ ]]; then
    usage_error "-u: not a user name: $(quoted "$SSH_USER")"
  fi
  if [[ -n "$SSH_CONFIG" ]]; then
    [[ "$SSH_CONFIG" != -* && -r "$SSH_CONFIG" ]] || usage_error "-F: cannot read $(quoted "$SSH_CONFIG")"
  fi
  if [[ -n "$SSH_KEY" ]]; then
    [[ "$SSH_KEY" != -* && -r "$SSH_KEY" ]] || usage_error "-i: cannot read $(quoted "$SSH_KEY")"
  fi
  if [[ "$BINARY" == none ]]; then
    BINARY=""
  elif [[ ! "$BINARY" =~ ^/[A-Za-z0-9._/+-]+$ ]]; then
    usage_error "--binary needs an absolute path of [A-Za-z0-9._/+-], or 'none'; got $(quoted "$BINARY")"
  fi
  [[ "$OUT" != -* && -n "$OUT" && "$OUT" != */ ]] || usage_error "-o: bad file name $(quoted "$OUT")"
  ((${#RAW_TARGETS[@]} > 0)) || usage_error "no targets given"
}

# ---------------------------------------------------------------- targets

readonly OCTET='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
readonly IPV4="$OCTET\\.$OCTET\\.$OCTET\\.$OCTET"
readonly LABEL='[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?'

is_ipv4() {
  [[ "$1" =~ ^$IPV4$ ]]
}

ip_to_int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# new_group REPRESENTATIVE ip|name
new_group() {
  GROUP=${#GROUP_REP[@]}
  GROUP_REP+=("$1")
  GROUP_KIND+=("$2")
}

# add_single TARGET ip|name
add_single() {
  new_group "$1" "$2"
  TARGET_GROUP+=("$GROUP")
  TARGETS+=("$1")
}

bad_target() {
  usage_error "invalid target $(quoted "$1"): $2"
}

# add_range FIRST LAST TARGET: append addresses FIRST..LAST (integers).
add_range() {
  local first=$1 last=$2 target=$3 n count=$(($2 - $1 + 1))
  if ((count > MAX_ADDRS && FORCE == 0)); then
    bad_target "$target" "$count addresses is larger than a /16; use --force if you mean it"
  fi
  new_group "$(((first >> 24) & 255)).$(((first >> 16) & 255)).$(((first >> 8) & 255)).$((first & 255))" ip
  for ((n = first; n <= last; n++)); do
    TARGET_GROUP+=("$GROUP")
    TARGETS+=("$(((n >> 24) & 255)).$(((n >> 16) & 255)).$(((n >> 8) & 255)).$((n & 255))")
  done
}

# add_target STRING [FROM_FILE]: validate one target and expand it.
add_target() {
  local t=$1 from_file=${2:-0}
  if [[ "$t" == @* ]]; then
    ((from_file == 0)) || bad_target "$t" "@file inside @file is not allowed"
    add_target_file "${t#@}"
  elif [[ "$t" == -* ]]; then
    bad_target "$t" "targets never start with '-'"
  elif [[ "$t" =~ ^($IPV4)/([0-9]{1,2})$ ]]; then
    local base=${BASH_REMATCH[1]} plen=${BASH_REMATCH[6]}
    ((10#$plen <= 32)) || bad_target "$t" "prefix length must be 0..32"
    plen=$((10#$plen))
    local size=$((1 << (32 - plen))) net
    net=$(($(ip_to_int "$base") & ~(size - 1) & 0xFFFFFFFF))
    if ((plen <= 30)); then
      add_range $((net + 1)) $((net + size - 2)) "$t" # skip network, broadcast
    else
      add_range "$net" $((net + size - 1)) "$t"
    fi
  elif [[ "$t" =~ ^($IPV4)-($IPV4)$ ]]; then
    local first last
    first=$(ip_to_int "${BASH_REMATCH[1]}")
    last=$(ip_to_int "${BASH_REMATCH[6]}")
    ((first <= last)) || bad_target "$t" "range is reversed (first address is after the last)"
    add_range "$first" "$last" "$t"
  elif [[ "$t" =~ ^($IPV4)-([0-9]{1,3})$ ]]; then
    local first end=$((10#${BASH_REMATCH[6]})) last
    ((end <= 255)) || bad_target "$t" "range end must be 0..255"
    first=$(ip_to_int "${BASH_REMATCH[1]}")
    last=$(((first & ~255) | end))
    ((first <= last)) || bad_target "$t" "range is reversed (first address is after the last)"
    add_range "$first" "$last" "$t"
  elif is_ipv4 "$t"; then
    add_single "$t" ip
  elif [[ "$t" =~ ^[0-9./-]+$ ]]; then
    bad_target "$t" "not a valid IPv4 address, CIDR (a.b.c.d/0..32) or range (a.b.c.d-e)"
  elif ((${#t} <= 253)) && [[ "$t" =~ ^$LABEL(\.$LABEL)*$ ]]; then
    add_single "$t" name
  else
    bad_target "$t" "not an IPv4 address, CIDR, range, host name or @file"
  fi
}

add_target_file() {
  local file=$1 line extra lines=()
  [[ -n "$file" && "$file" != -* && -f "$file" && -r "$file" ]] \
    || usage_error "cannot read target file $(quoted "$file")"
  mapfile -t lines <"$file"
  for line in "${lines[@]}"; do
    line=${line%%#*}
    line=${line//[[:space:]]/ }
    extra=""
    read -r line extra <<<"$line" || true
    [[ -z "$extra" ]] || bad_target "$line $extra" "one target per line in $(quoted "$file")"
    [[ -n "$line" ]] || continue
    add_target "$line" 1
  done
}

expand_targets() {
  local t
  for t in "${RAW_TARGETS[@]}"; do
    add_target "$t"
  done
  ((${#TARGETS[@]} > 0)) || usage_error "the targets hold no address"
  if ((${#TARGETS[@]} > MAX_ADDRS && FORCE == 0)); then
    usage_error "${#TARGETS[@]} targets in all, more than a /16; use --force if you mean it"
  fi
  # Drop repeated targets, keep order.
  local -A seen=()
  local unique=() groups=() i
  for i in "${!TARGETS[@]}"; do
    t=${TARGETS[i]}
    [[ -n "${seen[$t]:-}" ]] && continue
    seen[$t]=1
    unique+=("$t")
    groups+=("${TARGET_GROUP[i]}")
  done
  TARGETS=("${unique[@]}")
  TARGET_GROUP=("${groups[@]}")
}

# ---------------------------------------------------------------- outputs

json_path() {
  local out=$1
  if [[ "$out" == *.txt ]]; then
    echo "${out%.txt}.json"
  else
    echo "$out.json"
  fi
}

# check_writable FILE MARK: FILE may be (over)written by us.
check_writable() {
  local file=$1 mark=$2
  if [[ -e "$file" || -L "$file" ]]; then
    [[ -f "$file" ]] || usage_error "$(quoted "$file") exists and is not a regular file"
    if ((FORCE == 0)) && ! head -n 3 -- "$file" | grep -qF -- "$mark"; then
      usage_error "$(quoted "$file") was not written by discover.sh; not overwriting it (use --force or another -o)"
    fi
  fi
}

check_outputs() {
  local dir
  dir=$(dirname -- "$OUT")
  mkdir -p -- "$dir" || die "cannot create folder $(quoted "$dir")"
  check_writable "$OUT" "$HOSTFILE_MARK"
  check_writable "$(json_path "$OUT")" "$JSON_MARK"
}

# write_atomic FILE: stdin to FILE via a temporary file in the same folder.
write_atomic() {
  local file=$1 tmp
  tmp=$(mktemp -- "$(dirname -- "$file")/.discover.XXXXXX")
  if ! cat >"$tmp"; then
    rm -f -- "$tmp"
    die "cannot write $(quoted "$file")"
  fi
  chmod 0644 -- "$tmp"
  mv -f -- "$tmp" "$file"
}

# json_escape VAR STRING: VAR = STRING as a JSON string literal. No
# subshells (a /24 scan formats thousands of values).
json_escape() {
  local s=$2 out="" c i
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  if [[ "$s" == *[[:cntrl:]]* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ "$c" == [[:cntrl:]] ]]; then
        printf -v c '\\u%04x' "'$c"
      fi
      out+=$c
    done
    s=$out
  fi
  printf -v "$1" '"%s"' "$s"
}

# json_field KEY str|num VALUE: append "KEY": VALUE to JSON_OBJ (null if empty
# or, for num, not a number).
json_field() {
  local key=$1 kind=$2 value=$3 v=null
  if [[ "$kind" == str && -n "$value" ]]; then
    json_escape v "$value"
  elif [[ "$kind" == num && "$value" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    v=$value
  elif [[ "$kind" == raw ]]; then
    v=$value
  fi
  JSON_OBJ+="${JSON_OBJ:+, }\"$key\": $v"
}

# ---------------------------------------------------------------- probing

ssh_base() {
  SSH_ARGS=()
  [[ -z "$SSH_CONFIG" ]] || SSH_ARGS+=(-F "$SSH_CONFIG")
  [[ -z "$SSH_USER" ]] || SSH_ARGS+=(-l "$SSH_USER")
  [[ -z "$SSH_KEY" ]] || SSH_ARGS+=(-i "$SSH_KEY")
}

# clean VAR STRING: VAR = STRING on one line, without control characters.
clean() {
  printf -v "$1" '%s' "${2//[[:cntrl:]]/ }"
}

# classify_ssh_error STDERR: status for a failed ssh (exit 255).
classify_ssh_error() {
  case "$1" in
    *"Permission denied"* | *"Too many authentication failures"*) echo auth-failed ;;
    *"Host key verification failed"* | *"IDENTIFICATION HAS CHANGED"*) echo auth-failed ;;
    *"Connection refused"* | *"Connection closed"* | *"Connection reset"*) echo refused ;;
    *"timed out"*) echo timeout ;;
    *) echo unreachable ;;
  esac
}

# resolve_groups: what ssh's configuration says (ssh -G) about each target
# group: the connect address of a host name, the port, and whether a proxy
# is used. One ssh -G per name and one per CIDR/range (its first address
# stands for the range), not one per address: the fast pre-check of a large
# scan must stay cheap. The real ssh probe always honours the full config.
resolve_groups() {
  local g key value cfg
  for g in "${!GROUP_REP[@]}"; do
    GROUP_ADDR[g]=""
    GROUP_PORT[g]=22
    GROUP_PROXY[g]=0
    cfg=$("$SSH" "${SSH_ARGS[@]}" -G -- "${GROUP_REP[g]}" 2>/dev/null) || cfg=""
    while IFS=' ' read -r key value; do
      case "$key" in
        hostname) GROUP_ADDR[g]=$value ;;
        port) [[ "$value" =~ ^[0-9]{1,5}$ ]] && GROUP_PORT[g]=$value ;;
        proxycommand | proxyjump) [[ "$value" == none ]] || GROUP_PROXY[g]=1 ;;
      esac
    done <<<"$cfg"
  done
}

# target_addrs: TARGET_ADDR[i], the address each target's pre-check connects
# to: the target itself for IPv4 addresses, what ssh -G says for names.
target_addrs() {
  local i g
  TARGET_ADDR=()
  for i in "${!TARGETS[@]}"; do
    g=${TARGET_GROUP[i]}
    TARGET_ADDR[i]=${TARGETS[i]}
    if [[ "${GROUP_KIND[g]}" == name && -n "${GROUP_ADDR[g]}" ]]; then
      clean "TARGET_ADDR[i]" "${GROUP_ADDR[g]}"
    fi
  done
}

# start_precheck INDEX: a TCP connect to the ssh port with bash's own
# /dev/tcp, in a forked subshell (no exec: cheap enough for a /24 at once).
# When done it writes "INDEX open|closed" to the event pipe; run_probes
# kills it at the deadline.
start_precheck() {
  local i=$1
  (
    if : 3<>"/dev/tcp/${TARGET_ADDR[i]}/${GROUP_PORT[TARGET_GROUP[i]]}"; then
      echo "$i open" >&"$EVENTS"
    else
      echo "$i closed" >&"$EVENTS"
    fi
  ) 2>"$WORKDIR/e.$i" &
  PRE_PID[i]=$!
  PRE_START[i]=${EPOCHREALTIME//[.,]/}
}

# precheck_record INDEX: REC = the record of a target whose port did not
# answer (empty when it did, or when it was never pre-checked).
precheck_record() {
  REC=""
  local i=$1 err="" port=${GROUP_PORT[TARGET_GROUP[$1]]}
  local target=${TARGETS[$1]} addr=${TARGET_ADDR[$1]}
  case "${PRE_STATE[i]:-}" in
    timeout)
      if [[ -n "${NO_ARP[$addr]:-}" ]]; then
        set_rec "$target" "$addr" unreachable "no ARP reply: nothing at this address"
      else
        set_rec "$target" "$addr" timeout "no TCP answer on port $port within ${TIMEOUT}s"
      fi
      ;;
    closed)
      IFS= read -r err <"$WORKDIR/e.$i" || true
      clean err "${err##*: }"
      if [[ "$err" == *refused* ]]; then
        set_rec "$target" "$addr" refused "port $port: $err"
      else
        set_rec "$target" "$addr" unreachable "${err:-connect failed}"
      fi
      ;;
  esac
}

# probe_ssh INDEX: the one ssh round trip; the record goes to stdout.
probe_ssh() {
  local i=$1 target=${TARGETS[$1]} addr=${TARGET_ADDR[$1]} err rc=0 out line=""
  # The port already answered: give ssh's own connect and banner exchange
  # some slack (a busy host's sshd can be slow to greet).
  local ct=$((TIMEOUT > 5 ? TIMEOUT : 5))
  out=$(timeout $((ct * 2 + 10)) "$SSH" "${SSH_ARGS[@]}" \
    -o BatchMode=yes -o ConnectTimeout="$ct" -o StrictHostKeyChecking=accept-new \
    -- "$target" "$PROBE" <<<"$BINARY" 2>"$WORKDIR/e.$i") || rc=$?
  while IFS= read -r err; do
    [[ "$err" == "Warning: Permanently added"* ]] && continue
    line=$err
    break
  done <"$WORKDIR/e.$i"
  clean line "$line"
  if ((rc == 124)); then
    record "$target" "$addr" timeout "probe did not finish"
  elif [[ "$out" != *cb_probe=1* ]]; then
    if ((rc == 255)); then
      record "$target" "$addr" "$(classify_ssh_error "$line")" "$line"
    else
      record "$target" "$addr" probe-failed "exit $rc: $line"
    fi
  else
    emit_facts "$target" "$addr" "$out"
  fi
}

start_ssh() {
  local i=$1
  (
    probe_ssh "$i" >"$WORKDIR/r.$i" 2>/dev/null || true
    echo "$i ssh" >&"$EVENTS"
  ) &
  ACTIVE=$((ACTIVE + 1))
}

# run_probes: at most JOBS probes at a time. Pre-checks are forked
# subshells that report on an event pipe (no polling of files); a host
# whose port answers gets its ssh probe at once; pre-checks still waiting
# at their deadline are killed (by the PID this script started) and count
# as timeouts.
run_probes() {
  local n=${#TARGETS[@]} next=0 oldest=0 now wait_s idx what late line rest rc
  local limit=$((TIMEOUT * 1000000))
  ACTIVE=0
  PRE_PID=() PRE_START=() PRE_STATE=()
  mkfifo -- "$WORKDIR/events"
  exec {EVENTS}<>"$WORKDIR/events"
  while ((next < n || ACTIVE > 0)); do
    # Launch every pre-check the pool allows before starting any ssh: the
    # forks are quick while the CPU is not busy with ssh key exchanges.
    while ((next < n && ACTIVE < JOBS)); do
      if ((GROUP_PROXY[TARGET_GROUP[next]])); then
        start_ssh "$next"
      else
        start_precheck "$next"
        ACTIVE=$((ACTIVE + 1))
      fi
      next=$((next + 1))
    done
    # Wait for an event, at most until the oldest pending pre-check's
    # deadline (pre-checks start in index order), then take every event that
    # came: a pre-check counts as timed out only if its answer is not there.
    while ((oldest < next)) && [[ -n "${PRE_STATE[oldest]:-}" || -z "${PRE_PID[oldest]:-}" ]]; do
      oldest=$((oldest + 1))
    done
    now=${EPOCHREALTIME//[.,]/}
    if ((next < n && ACTIVE < JOBS)); then
      wait_s=0.01
    elif ((oldest < next)); then
      wait_s=$(((PRE_START[oldest] + limit - now) / 1000 + 1))
      ((wait_s > 0)) || wait_s=1
      printf -v wait_s '%d.%03d' $((wait_s / 1000)) $((wait_s % 1000))
    else
      wait_s=1
    fi
    while :; do
      line="" rc=0
      IFS= read -r -t "$wait_s" -u "$EVENTS" line || rc=$?
      if ((rc > 128)); then
        [[ -n "$line" ]] || break # nothing came
        # The timer cut a line (writes of a line are atomic, so the rest is
        # there): finish it.
        rest=""
        IFS= read -r -u "$EVENTS" rest || true
        line+=$rest
      elif ((rc != 0)); then
        break
      fi
      wait_s=0.01
      idx=${line%% *} what=${line#* }
      [[ "$idx" =~ ^[0-9]+$ ]] || continue
      case "$what" in
        ssh) ACTIVE=$((ACTIVE - 1)) ;;
        open | closed)
          [[ -z "${PRE_STATE[idx]:-}" ]] || continue # already timed out
          PRE_STATE[idx]=$what
          ACTIVE=$((ACTIVE - 1))
          if [[ "$what" == open ]]; then start_ssh "$idx"; fi
          ;;
      esac
    done
    # Pre-checks past their deadline (they started in index order).
    now=${EPOCHREALTIME//[.,]/}
    late=()
    while ((oldest < next)); do
      if [[ -n "${PRE_STATE[oldest]:-}" || -z "${PRE_PID[oldest]:-}" ]]; then
        oldest=$((oldest + 1))
      elif ((now - PRE_START[oldest] >= limit)); then
        late+=("${PRE_PID[oldest]}")
        PRE_STATE[oldest]=timeout
        ACTIVE=$((ACTIVE - 1))
        oldest=$((oldest + 1))
      else
        break
      fi
    done
    if ((${#late[@]} > 0)); then
      # Disowned first: no "Killed" job notice from bash.
      disown "${late[@]}" 2>/dev/null || true
      kill -KILL "${late[@]}" 2>/dev/null || true
      note_unreachable_neighbours
    fi
  done
  exec {EVENTS}>&-
  wait || true
}

# record FIELD...: one result record, fields joined by $FS.
record() {
  local IFS=$FS
  printf '%s\n' "$*"
}

# set_rec FIELD...: REC = the record (no subshell).
set_rec() {
  local IFS=$FS
  REC="$*"
}

# unreachable_neighbours: addresses this machine asked for on a local link
# (ARP) without an answer: nothing is there. A timeout to one of them is
# "unreachable"; a timeout to a host that answers ARP is a real "timeout".
unreachable_neighbours() {
  "$IP" -4 neigh show 2>/dev/null | while read -r addr rest; do
    case "$rest" in
      *INCOMPLETE* | *FAILED*) echo "$addr" ;;
    esac
  done || true
}

# note_unreachable_neighbours: remember (in NO_ARP) the addresses that got
# no ARP answer, now, while the kernel still has them in its table.
note_unreachable_neighbours() {
  local a
  while IFS= read -r a; do
    [[ -n "$a" ]] && NO_ARP[$a]=1
  done < <(unreachable_neighbours)
}

# mpi_version LINE: "Open MPI 4.1.4" from mpirun's or ompi_info's first line,
# "MPICH 4.0.2" from mpichversion's.
mpi_version() {
  if [[ "$1" =~ Open\ MPI\)?\ v?([0-9][0-9A-Za-z.+-]*) ]]; then
    echo "Open MPI ${BASH_REMATCH[1]}"
  elif [[ "$1" =~ ^MPICH\ Version:[[:space:]]*([0-9][0-9A-Za-z.+-]*) ]]; then
    echo "MPICH ${BASH_REMATCH[1]}"
  else
    echo "$1"
  fi
}

# emit_facts TARGET ADDR PROBE_OUTPUT: classify a host that answered.
emit_facts() {
  local target=$1 addr=$2 out=$3 key value
  local hostname="" nproc="" physical="" model="" mem_kb="" load1="" mpi="" binary=""
  while IFS='=' read -r key value; do
    clean value "$value"
    case "$key" in
      hostname) hostname=$value ;;
      nproc) nproc=$value ;;
      physical) physical=${value//[[:space:]]/} ;;
      model) model=$value ;;
      mem_kb) mem_kb=$value ;;
      load1) load1=$value ;;
      mpi) [[ "$FORMAT" == mpich ]] || mpi=$(mpi_version "$value") ;;
      mpich) [[ "$FORMAT" != mpich ]] || mpi=$(mpi_version "$value") ;;
      binary) binary=$value ;;
    esac
  done <<<"$out"
  [[ "$nproc" =~ ^[0-9]+$ ]] || nproc=""
  [[ "$physical" =~ ^[1-9][0-9]*$ ]] || physical=$nproc
  [[ "$mem_kb" =~ ^[0-9]+$ ]] || mem_kb=""
  [[ "$load1" =~ ^[0-9]+(\.[0-9]+)?$ ]] || load1=""
  [[ "$hostname" =~ ^$LABEL(\.$LABEL)*$ ]] || hostname=""
  local status=ok detail=""
  if [[ -z "$hostname" || -z "$nproc" ]]; then
    status=probe-failed detail="no host name or core count"
  elif [[ -z "$mpi" ]]; then
    status=no-mpi detail="no MPI version ($([[ "$FORMAT" == mpich ]] && echo mpichversion || echo "mpirun --version"))"
  elif [[ -n "$LOCAL_MPI" && "$mpi" != "$LOCAL_MPI" ]]; then
    status=mpi-version-mismatch detail="'$mpi' there, '$LOCAL_MPI' here"
  elif [[ "$binary" == no ]]; then
    status=no-binary detail="no executable $BINARY"
  fi
  record "$target" "$addr" "$status" "$detail" "$hostname" "$nproc" "$physical" \
    "$model" "$mem_kb" "$load1" "$mpi" "$binary"
}

probe_local() {
  local out
  out=$(sh -c "$PROBE" <<<"$BINARY" 2>/dev/null) || true
  emit_facts "$(uname -n)" local "$out"
}


# ---------------------------------------------------------------- report

readonly JSON_NO_FACTS='"hostname": null, "logical_cores": null, "physical_cores": null, "cpu_model": null, "mem_kb": null, "load1": null, "mpi": null, "binary": null, "slots": null, "in_hostfile": false, "duplicate_of": null'

# slots_for NPROC PHYSICAL LOAD1
slots_for() {
  local nproc=$1 physical=$2 load=$3 whole frac idle
  case "$SLOTS" in
    logical) echo "$nproc" ;;
    physical) echo "${physical:-$nproc}" ;;
    idle)
      whole=${load%%.*}
      frac=0
      if [[ "$load" == *.* ]]; then
        frac=${load#*.}00
        frac=$((10#${frac:0:2}))
      fi
      idle=$(((nproc * 100 - (10#${whole:-0} * 100 + frac) + 50) / 100))
      ((idle >= 1)) || idle=1
      echo "$idle"
      ;;
  esac
}

main() {
  parse_args "$@"
  check_options
  expand_targets
  check_outputs
  ssh_base
  command -v "$SSH" >/dev/null || die "ssh not found ($SSH); apt-get install -y openssh-client"
  local version_tool=$MPIRUN
  [[ "$FORMAT" == openmpi ]] || version_tool=$MPICHVERSION
  LOCAL_MPI=$(mpi_version "$("$version_tool" --version 2>/dev/null | head -n 1)") || LOCAL_MPI=""
  [[ -n "$LOCAL_MPI" ]] || echo "discover.sh: warning: no mpirun here; MPI versions are not compared" >&2

  WORKDIR=$(mktemp -d -t cb-discover.XXXXXX)
  trap 'rm -rf -- "$WORKDIR"' EXIT
  local started=$SECONDS
  echo "discover.sh: probing ${#TARGETS[@]} target(s), $JOBS at a time, timeout ${TIMEOUT}s" >&2
  resolve_groups
  target_addrs
  run_probes

  # Collect: the local machine first (if asked), then targets in order.
  local records=() i rec
  if ((INCLUDE_LOCAL)); then
    records+=("$(probe_local)")
  fi
  for i in "${!TARGETS[@]}"; do
    precheck_record "$i"
    rec=$REC
    if [[ -z "$rec" ]]; then
      IFS= read -r rec <"$WORKDIR/r.$i" 2>/dev/null || true
    fi
    [[ -n "$rec" ]] || rec=$(record "${TARGETS[i]}" "${TARGET_ADDR[i]}" probe-failed "probe crashed")
    records+=("$rec")
  done
  local rc=0
  report "${records[@]}" || rc=$?
  echo "discover.sh: done in $((SECONDS - started))s" >&2
  return "$rc"
}

report() {
  local -A first_by_name=() counts=()
  local hostfile="" json_targets="" table="" hidden=0 hosts=0 slots_total=0
  local rec target addr status detail hostname nproc physical model mem_kb load1 mpi binary
  local slots in_file dup sep="" row
  for rec in "$@"; do
    IFS=$FS read -r target addr status detail hostname nproc physical model mem_kb load1 mpi binary <<<"$rec"
    slots="" in_file=false dup=""
    if [[ "$status" == ok ]]; then
      if [[ -n "${first_by_name[$hostname]:-}" ]]; then
        dup=${first_by_name[$hostname]}
        detail="same host as $dup"
      else
        first_by_name[$hostname]=$target
        slots=$(slots_for "$nproc" "$physical" "$load1")
        in_file=true
        hosts=$((hosts + 1))
        slots_total=$((slots_total + slots))
        local comment="${model:-unknown cpu}, load ${load1:-?}"
        comment=${comment//#/}
        if [[ "$FORMAT" == openmpi ]]; then
          hostfile+="$target slots=$slots # $comment"$'\n'
        else
          hostfile+="# $target: $comment"$'\n'"$target:$slots"$'\n'
        fi
      fi
    fi
    counts[$status]=$((${counts[$status]:-0} + 1))
    if [[ -z "$hostname" ]]; then
      # Fast path (most targets of a scan): nothing but the connect result.
      local jt ja jd
      json_escape jt "$target"
      json_escape ja "$addr"
      json_escape jd "$detail"
      printf -v JSON_OBJ '"target": %s, "address": %s, "status": "%s", "detail": %s, %s' \
        "$jt" "$ja" "$status" "$jd" "$JSON_NO_FACTS"
    else
      JSON_OBJ=""
      json_field target str "$target"
      json_field address str "$addr"
      json_field status str "$status"
      json_field detail str "$detail"
      json_field hostname str "$hostname"
      json_field logical_cores num "$nproc"
      json_field physical_cores num "$physical"
      json_field cpu_model str "$model"
      json_field mem_kb num "$mem_kb"
      json_field load1 num "$load1"
      json_field mpi str "$mpi"
      json_field binary str "$binary"
      json_field slots num "$slots"
      json_field in_hostfile raw "$in_file"
      json_field duplicate_of str "$dup"
    fi
    json_targets+="$sep"$'\n'"    {$JSON_OBJ}"
    sep=","
    if (($# > 32)) && [[ "$status" == unreachable ]]; then
      hidden=$((hidden + 1))
    else
      printf -v row '%-18s %-20s %-16s %5s  %s\n' "$target" "$status" \
        "${hostname:--}" "${slots:--}" "${detail:-${mpi:-}}"
      table+=$row
    fi
  done

  {
    printf '%-18s %-20s %-16s %5s  %s\n' TARGET STATUS HOSTNAME SLOTS DETAIL
    printf '%s' "$table"
    ((hidden == 0)) || echo "(and $hidden unreachable targets, listed in the JSON)"
    local s line=""
    for s in "${!counts[@]}"; do line+=" $s=${counts[$s]}"; done
    echo "totals:$line; hostfile: $hosts host(s), $slots_total slot(s)"
  } >&2

  local json_file
  json_file=$(json_path "$OUT")
  {
    echo "{"
    echo "  $JSON_MARK,"
    JSON_OBJ=""
    json_field created str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    json_field local_mpi str "$LOCAL_MPI"
    echo "  $JSON_OBJ,"
    JSON_OBJ=""
    json_field format str "$FORMAT"
    json_field slots str "$SLOTS"
    json_field binary str "$BINARY"
    json_field timeout_s num "$TIMEOUT"
    echo "  \"options\": {$JSON_OBJ},"
    JSON_OBJ=""
    if ((hosts > 0)); then json_field hostfile str "$OUT"; else json_field hostfile raw null; fi
    echo "  $JSON_OBJ,"
    echo "  \"hosts\": $hosts,"
    echo "  \"slots\": $slots_total,"
    echo "  \"targets\": [${json_targets}"
    echo "  ]"
    echo "}"
  } | write_atomic "$json_file"
  echo "discover.sh: inventory: $json_file" >&2

  if ((hosts == 0)); then
    echo "discover.sh: no host qualifies; hostfile $(quoted "$OUT") not written" >&2
    return 1
  fi
  {
    echo "$HOSTFILE_MARK on $(date -u +%Y-%m-%dT%H:%M:%SZ): $hosts host(s), $slots_total slot(s), --slots $SLOTS"
    echo "# re-running discover.sh overwrites this file; details in $(basename -- "$json_file")"
    printf '%s' "$hostfile"
  } | write_atomic "$OUT"
  echo "discover.sh: hostfile: $OUT ($hosts host(s), $slots_total slot(s))" >&2
  return 0
}

main "$@"
