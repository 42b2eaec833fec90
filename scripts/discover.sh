#!/usr/bin/env bash
#
# discover.sh: find the machines of a lab that can run cluster-bench under
# Open MPI, and write a hostfile (plus an inventory JSON of every target).
#
# How it works: every target gets a TCP pre-check of its ssh port (a forked
# subshell using bash's /dev/tcp, all at once, reporting on a FIFO); a host
# whose port answers gets one ssh round trip running PROBE; the records are
# then classified, printed as a table, and written as JSON (jq) and hostfile.
#
# Safety: targets are validated with strict patterns and never reach a shell
# (no eval, everything quoted, `--` before host arguments). The command run on
# each host is a fixed script; the only values sent along (the command to
# look for and the PATH to look in) are validated and travel on ssh's stdin,
# as data.

set -euo pipefail

SSH=${CLUSTER_BENCH_SSH:-ssh}
IP=${CLUSTER_BENCH_IP:-ip}
MPIRUN=${CLUSTER_BENCH_MPIRUN:-mpirun}
MPICHVERSION=${CLUSTER_BENCH_MPICHVERSION:-mpichversion}

REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT PROG=discover.sh
# shellcheck source=scripts/lib/common.sh
. "$REPO_ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/ssh.sh
. "$REPO_ROOT/scripts/lib/ssh.sh"
# shellcheck source=scripts/lib/hostfile.sh
. "$REPO_ROOT/scripts/lib/hostfile.sh"
# shellcheck source=scripts/lib/mca.sh
. "$REPO_ROOT/scripts/lib/mca.sh"
# shellcheck source=scripts/lib/install.sh
. "$REPO_ROOT/scripts/lib/install.sh"
# shellcheck source=scripts/lib/targets.sh
. "$REPO_ROOT/scripts/lib/targets.sh"
# shellcheck source=scripts/lib/probe.sh
. "$REPO_ROOT/scripts/lib/probe.sh"

readonly HOSTFILE_MARK="# written by scripts/discover.sh"
readonly JSON_MARK='"generator": "scripts/discover.sh"'

# A record's fields, in order: target address status detail hostname logical_cores
# physical_cores cpu_model mem_kb load1 mpi binary binary_path (a pre-check's stop at detail).

# The probe run on every host: POSIX sh, one line, no single quotes and no
# "!" (so that csh-family login shells accept it too). It reads from stdin
# the command to look for and the PATH to look in (empty: the host's own, as
# a non-interactive ssh shell there has it), and looks it up as mpirun's
# daemon will. Output: key=value lines.
# shellcheck disable=SC2016 # expanded on the remote host, on purpose
readonly PROBE='IFS= read -r cb_bin || cb_bin=""; IFS= read -r cb_path || cb_path=""; echo cb_probe=1; echo "hostname=$(uname -n)"; echo "nproc=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"; echo "physical=$( { lscpu -p=Core,Socket 2>/dev/null || true; } | grep -v "^#" | sort -u | wc -l)"; echo "model=$(sed -n "s/^model name[[:space:]]*:[[:space:]]*//p" /proc/cpuinfo 2>/dev/null | head -n 1)"; echo "mem_kb=$(sed -n "s/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p" /proc/meminfo 2>/dev/null)"; echo "load1=$(cut -d " " -f 1 /proc/loadavg 2>/dev/null)"; echo "mpi=$( { mpirun --version 2>/dev/null || ompi_info --version 2>/dev/null; } | head -n 1)"; echo "mpich=$(mpichversion 2>/dev/null | head -n 1)"; if [ -z "$cb_bin" ]; then echo binary=skip; else if [ -n "$cb_path" ]; then PATH=$cb_path; fi; cb_at=$(command -v "$cb_bin" 2>/dev/null); if [ -n "$cb_at" ] && [ -f "$cb_at" ] && [ -x "$cb_at" ]; then echo binary=yes; echo "binary_path=$cb_at"; else echo binary=no; fi; fi'

# Options (set by parse_args).
OUT="$REPO_ROOT/hostfiles/lab.txt"
SSH_CONFIG=""
SSH_USER=""
SSH_KEY=""
JOBS=256
TIMEOUT=1
BINARY=$CB_COMMAND
FORMAT=openmpi
SLOTS=logical
INCLUDE_LOCAL=0
FORCE=0
RAW_TARGETS=()

# Probing (targets.sh and probe.sh hold the target lists and the probes' state).
LOOKUP_PATH=""     # the PATH the probe looks the command up in (empty: the host's own)
PROBE_INPUT=""     # the probe's stdin (choose_lookup_path)
LOCAL_MPI=""

# Results (collect_records and classify_records).
RECORDS=()
ANNOTATED=""
HOSTFILE_BODY=""
TABLE=""
HOSTS=0
SLOTS_TOTAL=0
declare -A COUNTS

usage() {
  cat <<'USAGE'
Usage: scripts/discover.sh [options] TARGET...

Probe machines over SSH (keys only, in parallel) and write an MPI hostfile of
the ones that can run cluster-bench, plus an inventory JSON of every target.

Targets:
  192.0.2.0/24          CIDR (network and broadcast addresses skipped)
  192.0.2.30-39         range in the last octet
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
  --binary CMD   the command mpirun will start, checked on every host as
                 mpirun's daemon will find it: a name (default: cluster-bench)
                 is looked up in the PATH of a non-interactive ssh shell there,
                 or in this shell's PATH when mpirun forwards it
                 (mca_base_env_list, set by scripts/setup.sh); an absolute
                 path must be an executable file. 'none' skips the check
                 (e.g. before scripts/deploy.sh)
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
Needs bash, ssh, coreutils, iproute2 and jq here; a POSIX shell there.

Environment: CLUSTER_BENCH_SSH (ssh), CLUSTER_BENCH_IP (ip),
CLUSTER_BENCH_MPIRUN (mpirun, for this machine's MPI version),
CLUSTER_BENCH_MPICHVERSION (mpichversion, the same for --format mpich).

Example:
  scripts/discover.sh -u student -o lab.txt 192.0.2.0/24
  mpirun --hostfile lab.txt cluster-bench
USAGE
}

# ---------------------------------------------------------------- options

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

# whole_number OPTION VALUE MIN MAX: prints VALUE as a number, or a usage error.
whole_number() {
  if ! [[ "$2" =~ ^[0-9]{1,4}$ ]] || ((10#$2 < $3 || 10#$2 > $4)); then
    usage_error "$1 needs $5 $3..$4, got $(quoted "$2")"
  fi
}

check_options() {
  whole_number -j "$JOBS" 1 1024 "a number"
  whole_number -t "$TIMEOUT" 1 120 "whole seconds"
  JOBS=$((10#$JOBS)) TIMEOUT=$((10#$TIMEOUT))
  case "$FORMAT" in openmpi | mpich) ;; *) usage_error "--format is openmpi or mpich, got $(quoted "$FORMAT")" ;; esac
  case "$SLOTS" in logical | physical | idle) ;; *) usage_error "--slots is logical, physical or idle, got $(quoted "$SLOTS")" ;; esac
  ssh_options "$SSH_CONFIG" "$SSH_USER" "$SSH_KEY"
  check_binary_option
  [[ "$OUT" != -* && -n "$OUT" && "$OUT" != */ ]] || usage_error "-o: bad file name $(quoted "$OUT")"
  ((${#RAW_TARGETS[@]} > 0)) || usage_error "no targets given"
}

check_binary_option() {
  if [[ "$BINARY" == none ]]; then
    BINARY=""
  elif [[ ! "$BINARY" =~ ^/[A-Za-z0-9._/+-]+$ && ! "$BINARY" =~ ^[A-Za-z0-9_+][A-Za-z0-9._+-]*$ ]]; then
    usage_error "--binary needs a command name or an absolute path of [A-Za-z0-9._/+-], or 'none'; got $(quoted "$BINARY")"
  fi
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

# ---------------------------------------------------------------- probing

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

# choose_lookup_path: LOOKUP_PATH = this shell's PATH when mpirun forwards its
# PATH to the ranks (then that is where they look for the command), else empty.
choose_lookup_path() {
  LOOKUP_PATH=""
  if [[ -n "$BINARY" && "$BINARY" != /* ]] && mpirun_forwards_path; then
    clean LOOKUP_PATH "$PATH"
  fi
  # The probe's stdin, two lines of data: the command, the PATH.
  PROBE_INPUT=$BINARY$'\n'$LOOKUP_PATH
}

# probe_ssh INDEX: the one ssh round trip; the record goes to stdout.
probe_ssh() {
  local i=$1 target=${TARGETS[$1]} addr=${TARGET_ADDR[$1]} rc=0 out line
  # The port already answered: give ssh's own connect and banner exchange
  # some slack (a busy host's sshd can be slow to greet).
  local ct=$((TIMEOUT > 5 ? TIMEOUT : 5))
  out=$(timeout $((ct * 2 + 10)) "$SSH" "${SSH_ARGS[@]}" "${SSH_BATCH[@]}" -o ConnectTimeout="$ct" \
    -- "$target" "$PROBE" <<<"$PROBE_INPUT" 2>"$WORKDIR/e.$i") || rc=$?
  first_error "$WORKDIR/e.$i"
  line=$REC
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

# first_error FILE: REC = ssh's first message in FILE that is not the notice
# of a host key it added (no subshell).
first_error() {
  local err
  REC=""
  while IFS= read -r err; do
    [[ "$err" == "Warning: Permanently added"* ]] && continue
    clean REC "$err"
    break
  done <"$1"
}

# emit_facts TARGET ADDR PROBE_OUTPUT: classify a host that answered.
emit_facts() {
  local target=$1 addr=$2 out=$3 key value
  local hostname="" nproc="" physical="" model="" mem_kb="" load1="" mpi="" binary="" binary_path=""
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
      binary_path) binary_path=$value ;;
    esac
  done <<<"$out"
  [[ "$nproc" =~ ^[0-9]+$ ]] || nproc=""
  [[ "$physical" =~ ^[1-9][0-9]*$ ]] || physical=$nproc
  [[ "$mem_kb" =~ ^[0-9]+$ ]] || mem_kb=""
  [[ "$load1" =~ ^[0-9]+(\.[0-9]+)?$ ]] || load1=""
  valid_host "$hostname" || hostname=""
  local status=ok detail=""
  if [[ -z "$hostname" || -z "$nproc" ]]; then
    status=probe-failed detail="no host name or core count"
  elif [[ -z "$mpi" ]]; then
    status=no-mpi detail="no MPI version ($([[ "$FORMAT" == mpich ]] && echo mpichversion || echo "mpirun --version"))"
  elif [[ -n "$LOCAL_MPI" && "$mpi" != "$LOCAL_MPI" ]]; then
    status=mpi-version-mismatch detail="'$mpi' there, '$LOCAL_MPI' here"
  elif [[ "$binary" == no ]]; then
    status=no-binary detail=$(no_binary_detail)
  fi
  record "$target" "$addr" "$status" "$detail" "$hostname" "$nproc" "$physical" \
    "$model" "$mem_kb" "$load1" "$mpi" "$binary" "$binary_path"
}

# no_binary_detail: why mpirun would not find the command there, and the fix.
no_binary_detail() {
  if [[ "$BINARY" == /* ]]; then
    echo "no executable $BINARY: scripts/deploy.sh --binary $BINARY copies it there"
  elif [[ -n "$LOOKUP_PATH" ]]; then
    echo "$BINARY is in no folder of this shell's PATH (mpirun forwards it) there:" \
      "scripts/deploy.sh copies it there (no shared home)"
  else
    echo "$BINARY is not on the PATH of a non-interactive ssh shell there:" \
      "scripts/deploy.sh copies it there (no shared home), or add its folder to that PATH"
  fi
}

probe_local() {
  local out
  out=$(sh -c "$PROBE" <<<"$PROBE_INPUT" 2>/dev/null) || true
  emit_facts "$(uname -n)" local "$out"
}

# ---------------------------------------------------------------- report

# The inventory JSON, from the annotated records on stdin (RECORD_FIELDS, then
# slots, in_hostfile, duplicate_of): empty strings become null, numbers numbers.
# shellcheck disable=SC2016 # jq's own variables
readonly JQ_INVENTORY='
  def str: if . == null or . == "" then null else . end;
  def num: if type == "string" and test("^[0-9]+([.][0-9]+)?$") then tonumber else null end;
  def target: {
    target: .[0], address: (.[1] | str), status: .[2], detail: (.[3] | str),
    hostname: (.[4] | str), logical_cores: (.[5] | num), physical_cores: (.[6] | num),
    cpu_model: (.[7] | str), mem_kb: (.[8] | num), load1: (.[9] | num), mpi: (.[10] | str),
    binary: (.[11] | str), slots: (.[13] | num), in_hostfile: (.[14] == "true"),
    duplicate_of: (.[15] | str), binary_path: (.[12] | str)
  };
  {
    generator: "scripts/discover.sh",
    created: $created,
    local_mpi: ($local_mpi | str),
    options: {format: $format, slots: $slots_mode, binary: ($binary | str), timeout_s: $timeout},
    hostfile: (if $hosts > 0 then $hostfile else null end),
    hosts: $hosts,
    slots: $slots,
    targets: [split("\n")[] | select(length > 0) | split("\u001f") | target]
  }'

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

# collect_records: RECORDS = this machine first (if asked), then every
# target in order.
collect_records() {
  local i rec
  RECORDS=()
  if ((INCLUDE_LOCAL)); then
    RECORDS+=("$(probe_local)")
  fi
  for i in "${!TARGETS[@]}"; do
    precheck_record "$i"
    rec=$REC
    if [[ -z "$rec" ]]; then
      IFS= read -r rec <"$WORKDIR/r.$i" 2>/dev/null || true
    fi
    [[ -n "$rec" ]] || rec=$(record "${TARGETS[i]}" "${TARGET_ADDR[i]}" probe-failed "probe crashed")
    RECORDS+=("$rec")
  done
}

# classify_records: an ok host goes into the hostfile once per host name (a
# host answering on two addresses is a duplicate). Sets ANNOTATED (records
# plus slots, in_hostfile, duplicate_of), HOSTFILE_BODY, HOSTS, SLOTS_TOTAL,
# TABLE (the summary rows), COUNTS (per status).
classify_records() {
  local -A first_by_name=()
  local rec target addr status detail hostname nproc physical model mem_kb load1 mpi binary binary_path
  local slots in_file dup row hidden=0
  ANNOTATED="" HOSTFILE_BODY="" TABLE="" HOSTS=0 SLOTS_TOTAL=0
  COUNTS=()
  for rec in "${RECORDS[@]}"; do
    IFS=$FS read -r target addr status detail hostname nproc physical model mem_kb load1 mpi binary binary_path <<<"$rec"
    slots="" in_file=false dup=""
    if [[ "$status" == ok && -n "${first_by_name[$hostname]:-}" ]]; then
      dup=${first_by_name[$hostname]}
      detail="same host as $dup"
    elif [[ "$status" == ok ]]; then
      first_by_name[$hostname]=$target
      slots=$(slots_for "$nproc" "$physical" "$load1")
      in_file=true HOSTS=$((HOSTS + 1)) SLOTS_TOTAL=$((SLOTS_TOTAL + slots))
      HOSTFILE_BODY+=$(hostfile_line "$FORMAT" "$target" "$slots" "${model:-unknown cpu}, load ${load1:-?}")$'\n'
    fi
    COUNTS[$status]=$((${COUNTS[$status]:-0} + 1))
    set_rec "$target" "$addr" "$status" "$detail" "$hostname" "$nproc" "$physical" "$model" \
      "$mem_kb" "$load1" "$mpi" "$binary" "$binary_path" "$slots" "$in_file" "$dup"
    ANNOTATED+=$REC$'\n'
    if ((${#RECORDS[@]} > 32)) && [[ "$status" == unreachable ]]; then
      hidden=$((hidden + 1))
    else
      printf -v row '%-18s %-20s %-16s %5s  %s\n' "$target" "$status" \
        "${hostname:--}" "${slots:--}" "${detail:-${mpi:-}}"
      TABLE+=$row
    fi
  done
  ((hidden == 0)) || TABLE+="(and $hidden unreachable targets, listed in the JSON)"$'\n'
}

# print_summary: the table and the totals, on stderr.
print_summary() {
  local s line=""
  {
    printf '%-18s %-20s %-16s %5s  %s\n' TARGET STATUS HOSTNAME SLOTS DETAIL
    printf '%s' "$TABLE"
    for s in "${!COUNTS[@]}"; do line+=" $s=${COUNTS[$s]}"; done
    echo "totals:$line; hostfile: $HOSTS host(s), $SLOTS_TOTAL slot(s)"
  } >&2
}

# write_inventory NOW: the JSON of every target, beside the hostfile.
write_inventory() {
  local json_file
  json_file=$(json_path "$OUT")
  printf '%s' "$ANNOTATED" | jq -R -s \
    --arg created "$1" --arg local_mpi "$LOCAL_MPI" --arg format "$FORMAT" \
    --arg slots_mode "$SLOTS" --arg binary "$BINARY" --argjson timeout "$TIMEOUT" \
    --arg hostfile "$OUT" --argjson hosts "$HOSTS" --argjson slots "$SLOTS_TOTAL" \
    "$JQ_INVENTORY" | write_atomic "$json_file"
  log "inventory: $json_file"
}

# write_hostfile NOW: the hosts that qualify (exit status 1 when none does:
# an earlier hostfile is left as it was).
write_hostfile() {
  if ((HOSTS == 0)); then
    log "no host qualifies; hostfile $(quoted "$OUT") not written"
    return 1
  fi
  {
    echo "$HOSTFILE_MARK on $1: $HOSTS host(s), $SLOTS_TOTAL slot(s), --slots $SLOTS"
    echo "# re-running discover.sh overwrites this file; details in $(basename -- "$(json_path "$OUT")")"
    printf '%s' "$HOSTFILE_BODY"
  } | write_atomic "$OUT"
  log "hostfile: $OUT ($HOSTS host(s), $SLOTS_TOTAL slot(s))"
}

# ---------------------------------------------------------------- main

# check_tools: what discovery needs on this machine, and its MPI version.
check_tools() {
  command -v "$SSH" >/dev/null || die "ssh not found ($SSH); apt-get install -y openssh-client"
  command -v jq >/dev/null || die "jq not found; scripts/setup.sh installs it (apt-get install -y jq)"
  if [[ "$FORMAT" == mpich ]]; then
    LOCAL_MPI=$(MPIRUN=$MPICHVERSION local_mpi_version)
  else
    LOCAL_MPI=$(local_mpi_version)
  fi
  [[ -n "$LOCAL_MPI" ]] || log "warning: no mpirun here; MPI versions are not compared"
}

main() {
  parse_args "$@"
  check_options
  expand_targets
  check_outputs
  check_tools
  choose_lookup_path
  WORKDIR=$(mktemp -d -t cb-discover.XXXXXX)
  trap 'rm -rf -- "$WORKDIR"' EXIT
  local started=$SECONDS now rc=0
  log "probing ${#TARGETS[@]} target(s), $JOBS at a time, timeout ${TIMEOUT}s"
  resolve_groups
  target_addrs
  run_probes
  collect_records
  classify_records
  print_summary
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  write_inventory "$now"
  write_hostfile "$now" || rc=$?
  log "done in $((SECONDS - started))s"
  return "$rc"
}

main "$@"
