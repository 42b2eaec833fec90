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
# shellcheck source=scripts/lib/facts.sh
. "$REPO_ROOT/scripts/lib/facts.sh"
# shellcheck source=scripts/lib/labnet.sh
. "$REPO_ROOT/scripts/lib/labnet.sh"
# shellcheck source=scripts/lib/preflight.sh
. "$REPO_ROOT/scripts/lib/preflight.sh"

readonly HOSTFILE_MARK="# written by scripts/discover.sh"
readonly JSON_MARK='"generator": "scripts/discover.sh"'

# The probe run on every host: POSIX sh, one line, no single quotes and no
# "!" (so that csh-family login shells accept it too). It reads from stdin
# the command to look for and the PATH to look in (empty: the host's own, as
# a non-interactive ssh shell there has it), and looks it up as mpirun's
# daemon will. Output: key=value lines.
# shellcheck disable=SC2016 # expanded on the remote host, on purpose
readonly PROBE='IFS= read -r cb_bin || cb_bin=""; IFS= read -r cb_path || cb_path=""; echo cb_probe=1; echo "hostname=$(uname -n)"; echo "nproc=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"; echo "physical=$( { lscpu -p=Core,Socket 2>/dev/null || true; } | grep -v "^#" | sort -u | wc -l)"; echo "model=$(sed -n "s/^model name[[:space:]]*:[[:space:]]*//p" /proc/cpuinfo 2>/dev/null | head -n 1)"; echo "mem_kb=$(sed -n "s/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p" /proc/meminfo 2>/dev/null)"; echo "load1=$(cut -d " " -f 1 /proc/loadavg 2>/dev/null)"; echo "mpi=$( { mpirun --version 2>/dev/null || ompi_info --version 2>/dev/null; } | head -n 1)"; echo "mpich=$(mpichversion 2>/dev/null | head -n 1)"; echo "machine_id=$(cat /etc/machine-id 2>/dev/null)"; echo "boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"; echo "conn=${SSH_CONNECTION:-}"; echo "home=$HOME"; echo "addrs=$(ip -4 -o addr show 2>/dev/null | awk "{print \$4}" | tr "\n" " ")"; if [ -z "$cb_bin" ]; then echo binary=skip; else if [ -n "$cb_path" ]; then PATH=$cb_path; fi; cb_at=$(command -v "$cb_bin" 2>/dev/null); if [ -z "$cb_at" ] && [ -f "$HOME/.local/bin/$cb_bin" ] && [ -x "$HOME/.local/bin/$cb_bin" ]; then cb_at=$HOME/.local/bin/$cb_bin; fi; if [ -n "$cb_at" ] && [ -f "$cb_at" ] && [ -x "$cb_at" ]; then echo binary=yes; echo "binary_path=$cb_at"; cb_v=$("$cb_at" --version 2>&1 </dev/null); echo "binary_rc=$?"; echo "binary_version=$(printf "%s\n" "$cb_v" | grep -v "^[[:space:]]*$" | head -n 1)"; else echo binary=no; fi; fi'

# Options (set by parse_args).
OUT="$REPO_ROOT/hostfiles/lab.txt"
SSH_CONFIG=""
SSH_USER=""
SSH_KEY=""
JOBS=256
TIMEOUT=1
BINARY=$CB_COMMAND
FORMAT=openmpi
SLOTS=physical
PORTS=""
MCA_CONF=1
PREFLIGHT=1
INCLUDE_LOCAL=0
FORCE=0
RAW_TARGETS=()

# Probing (targets.sh and probe.sh hold the target lists and the probes' state).
LOOKUP_PATH=""     # the PATH the probe looks the command up in (empty: the host's own)
PROBE_INPUT=""     # the probe's stdin (choose_lookup_path)
LOCAL_MPI=""
LOCAL_VERSION=""   # the command's --version line here
LOCAL_KEY=""       # this machine's identity (machine_key)
LOCAL_ADDRS=""     # this machine's a.b.c.d/N addresses

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
  student@lab-pc07         one host, logged in to as that user (as in a hostfile)
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
  --slots S      cores (physical cores the user may use, default), threads
                 (hardware threads, nproc), or idle (threads minus the 1-minute
                 load, at least 1); every line's comment says both counts
  --ports LO-HI  a TCP port range the hosts' firewalls open: Open MPI's
                 wire-up gets the lower half, its MPI messages the upper
                 (the pre-flight check tries both)
  --include-local  add this machine (by its host name, first in the file);
                 a target that is this machine goes first in any case, so
                 that rank 0 and its ./results stay where mpirun is typed
  --no-mca-conf  do not write the Open MPI settings (below)
  --no-preflight skip the check that the hosts reach each other
  --force        allow ranges larger than a /16; overwrite files that
                 discover.sh did not write
  -h, --help     this help

Every target is classified: ok, refused, timeout, unreachable, auth-failed,
host-key-changed (the fix, ssh-keygen -R, is named), no-mpi,
mpi-version-mismatch (differs from this machine's mpirun), no-binary,
binary-fails (its --version does not run there: architecture, glibc, libmpi),
binary-version-mismatch, hostname-clash (another machine, by machine id and boot
id, with a host name already listed: a cloned image), probe-failed (logged in
but the probe printed nothing usable). Only ok hosts go into the hostfile, once
per machine, with -u as USER@HOST. A summary goes to stderr.

Open MPI settings: with an Open MPI hostfile, discover.sh writes what a plain
'mpirun --hostfile FILE cluster-bench' needs into a marked block of
~/.openmpi/mca-params.conf (the block is replaced by each run, the rest of the
file kept): plm_rsh_agent (ssh with -F/-i as given), oob_tcp_if_include and
btl_tcp_if_include (the subnets the hosts were reached on: an address that
every host holds, such as docker0's, is never used), the ports of --ports, and
mca_base_env_list = PATH=... when the command is in the remote user's
~/.local/bin (where deploy.sh puts it for a user other than root). Then every
ok host tries to reach every other one and this machine on those ports
(pre-flight); a pair that cannot is named.

SSH: ssh -o BatchMode=yes -o ConnectTimeout=N -o StrictHostKeyChecking=accept-new;
passwords are never asked for. A timeout to an address of a local network
that never answered ARP is reported as unreachable (nothing there).
Exit status: 0 some host qualifies, 1 none does or the pre-flight check found
hosts that cannot reach each other, 2 bad usage or target.
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
      --ports) need_value "$@"; PORTS=$2; shift ;;
      --no-mca-conf) MCA_CONF=0 ;;
      --no-preflight) PREFLIGHT=0 ;;
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
  case "$SLOTS" in
    cores | physical | threads | logical | idle) ;;
    *) usage_error "--slots is cores, threads or idle, got $(quoted "$SLOTS")" ;;
  esac
  check_ports_option
  ssh_options "$SSH_CONFIG" "$SSH_USER" "$SSH_KEY"
  check_agent_paths
  check_binary_option
  [[ "$OUT" != -* && -n "$OUT" && "$OUT" != */ ]] || usage_error "-o: bad file name $(quoted "$OUT")"
  ((${#RAW_TARGETS[@]} > 0)) || usage_error "no targets given"
}

# check_ports_option: --ports LO-HI, at least 4 ports (two halves of 2), above 1023.
check_ports_option() {
  [[ -n "$PORTS" ]] || return 0
  if ! [[ "$PORTS" =~ ^([0-9]{4,5})-([0-9]{4,5})$ ]] || ((10#${BASH_REMATCH[1]} < 1024)) \
    || ((10#${BASH_REMATCH[2]} > 65535 || 10#${BASH_REMATCH[2]} - 10#${BASH_REMATCH[1]} < 3)); then
    usage_error "--ports needs LO-HI, 1024 <= LO, LO + 3 <= HI <= 65535; got $(quoted "$PORTS")"
  fi
  PORTS="$((10#${BASH_REMATCH[1]}))-$((10#${BASH_REMATCH[2]}))"
}

# check_agent_paths: -F and -i go into Open MPI's plm_rsh_agent, which is split at
# spaces: their absolute paths must have none (or the settings are not written).
check_agent_paths() {
  local f
  ((MCA_CONF)) && [[ "$FORMAT" == openmpi ]] || return 0
  for f in "$SSH_CONFIG" "$SSH_KEY"; do
    [[ -z "$f" || "$(realpath -- "$f")" =~ ^/[A-Za-z0-9._/+-]+$ ]] \
      || usage_error "$(quoted "$f"): Open MPI cannot take a path with spaces or quotes in" \
        "plm_rsh_agent; move it, or use --no-mca-conf"
  done
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
    *"IDENTIFICATION HAS CHANGED"* | *"has changed and you have requested strict"*) echo host-key-changed ;;
    *"Permission denied"* | *"Too many authentication failures"*) echo auth-failed ;;
    *"Host key verification failed"*) echo auth-failed ;;
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
  local i=$1 target=${TARGETS[$1]} addr=${TARGET_ADDR[$1]} rc=0 out line status
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
      status=$(classify_ssh_error "$(<"$WORKDIR/e.$i")")
      [[ "$status" != host-key-changed ]] || line=$(host_key_detail "$target")
      record "$target" "$addr" "$status" "$line"
    else
      record "$target" "$addr" probe-failed "exit $rc: $line"
    fi
  else
    emit_facts "$target" "$addr" "$out"
  fi
}

# host_key_detail TARGET: what a changed host key means, and the one command that forgets
# the old key: the name ssh stored it under (its HostName, [name]:port off port 22), in the
# known-hosts file ssh's configuration names.
host_key_detail() {
  local key value name="" port=22 file=""
  while read -r key value; do
    case "$key" in
      hostname) name=$value ;;
      port) port=$value ;;
      userknownhostsfile) file=${value%% *} ;;
    esac
  done < <("$SSH" "${SSH_ARGS[@]}" -G -- "$1" 2>/dev/null)
  [[ -n "$name" ]] || name=${1#*@}
  [[ "$port" == 22 ]] || name="[$name]:$port"
  clean name "$name"
  clean file "$file"
  echo "the host key differs from the one known for $name (reinstalled or replaced?):" \
    "if that is expected, run: ssh-keygen -R '$name'${file:+ -f $file}, then discover again"
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

# probe_local: this machine's record (the probe run here, no ssh).
probe_local() {
  local out
  out=$(sh -c "$PROBE" <<<"$PROBE_INPUT" 2>/dev/null) || true
  emit_facts "$(uname -n)" local "$out"
}

# know_this_machine: LOCAL_KEY, this machine's identity (machine_key), and its
# addresses, from the probe run here.
know_this_machine() {
  local target addr status detail hostname rest machine_id boot_id
  IFS=$FS read -r target addr status detail hostname rest rest rest rest rest rest rest rest rest \
    machine_id boot_id rest rest rest rest LOCAL_ADDRS <<<"$(probe_local)"
  LOCAL_KEY=$(machine_key "$hostname" "$machine_id" "$boot_id")
}

# ---------------------------------------------------------------- report

# The inventory JSON, from the annotated records on stdin (the fields of facts.sh, then
# slots, in_hostfile, duplicate_of, this_machine): empty strings become null, numbers
# numbers.
# shellcheck disable=SC2016 # jq's own variables
readonly JQ_INVENTORY='
  def str: if . == null or . == "" then null else . end;
  def num: if type == "string" and test("^[0-9]+([.][0-9]+)?$") then tonumber else null end;
  def words: if . == null or . == "" then [] else split(" ") end;
  def target: {
    target: .[0], address: (.[1] | str), status: .[2], detail: (.[3] | str),
    hostname: (.[4] | str), logical_cores: (.[5] | num), physical_cores: (.[6] | num),
    cpu_model: (.[7] | str), mem_kb: (.[8] | num), load1: (.[9] | num), mpi: (.[10] | str),
    binary: (.[11] | str), binary_path: (.[12] | str), binary_version: (.[13] | str),
    machine_id: (.[14] | str), boot_id: (.[15] | str), reached_at: (.[16] | str),
    network: (.[18] | str), home: (.[19] | str), addresses: (.[20] | words),
    slots: (.[21] | num), in_hostfile: (.[22] == "true"), duplicate_of: (.[23] | str),
    this_machine: (.[24] == "true")
  };
  {
    generator: "scripts/discover.sh",
    created: $created,
    local_mpi: ($local_mpi | str),
    options: {format: $format, slots: $slots_mode, binary: ($binary | str), timeout_s: $timeout,
      ports: ($ports | str)},
    hostfile: (if $hosts > 0 then $hostfile else null end),
    networks: ($nets | split(",") | map(select(length > 0))),
    shared_addresses: ($shared | words),
    mca_settings: ($settings | split("\n") | map(select(length > 0))),
    mca_conf: ($mca_conf | str),
    preflight_blocked: [$blocked | split("\n")[] | select(length > 0) | split(" ")
      | {from: .[0], to: .[1], port: (.[2] | num), result: .[3]}],
    hosts: $hosts,
    slots: $slots,
    targets: [split("\n")[] | select(length > 0) | split("\u001f") | target]
  }'

# slots_for NPROC PHYSICAL LOAD1
slots_for() {
  local nproc=$1 physical=$2 load=$3 whole frac idle
  case "$SLOTS" in
    threads | logical) echo "$nproc" ;;
    physical | cores) echo "${physical:-$nproc}" ;;
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

# hostfile_name TARGET HERE: the host as the hostfile names it: with -u, USER@TARGET
# (Open MPI's ssh logs in as USER there), except for this machine (HERE=true), which
# mpirun starts without ssh.
hostfile_name() {
  if [[ "$2" == true || -z "$SSH_USER" || "$1" == *@* || "$FORMAT" == mpich ]]; then
    echo "$1"
  else
    echo "$SSH_USER@$1"
  fi
}

# clash_detail TARGET FIRST SAME_MACHINE_ID: why a second host with a known host name is
# left out.
clash_detail() {
  local how="another machine id"
  [[ "$3" == true ]] && how="the same machine id, another boot id"
  echo "host name also used by $2, which is another machine ($how; a cloned image?):" \
    "Open MPI would take the two for one host; give each machine its own host name" \
    "(hostnamectl set-hostname) and discover again"
}

# classify_records: an ok host goes into the hostfile once per machine (a host
# answering on two addresses is a duplicate; another machine with a host name already
# seen is a hostname-clash), this machine first. Sets ANNOTATED (records plus slots,
# in_hostfile, duplicate_of, this_machine), HOSTFILE_BODY, HOSTS, SLOTS_TOTAL, TABLE (the
# summary rows), COUNTS (per status), LAB_HOSTS (the records in the hostfile).
classify_records() {
  local -A by_key=() by_name=() mid_of=()
  local rec row hidden=0 first="" rest="" line
  ANNOTATED="" HOSTFILE_BODY="" TABLE="" HOSTS=0 SLOTS_TOTAL=0 LAB_HOSTS=()
  COUNTS=()
  for rec in "${RECORDS[@]}"; do
    classify_one "$rec"
    COUNTS[$C_STATUS]=$((${COUNTS[$C_STATUS]:-0} + 1))
    ANNOTATED+=$REC$'\n'
    if [[ -n "$C_LINE" ]]; then
      if [[ "$C_HERE" == true ]]; then first+=$C_LINE; else rest+=$C_LINE; fi
    fi
    if ((${#RECORDS[@]} > 32)) && [[ "$C_STATUS" == unreachable ]]; then
      hidden=$((hidden + 1))
    else
      printf -v row '%-18s %-20s %-16s %5s  %s\n' "$C_TARGET" "$C_STATUS" \
        "${C_HOSTNAME:--}" "${C_SLOTS:--}" "$C_SHOWN"
      TABLE+=$row
    fi
  done
  HOSTFILE_BODY=$first$rest
  ((hidden == 0)) || TABLE+="(and $hidden unreachable targets, listed in the JSON)"$'\n'
}

# classify_one RECORD: REC = the annotated record; C_* what the summary needs; C_LINE
# its hostfile line (empty when left out). Uses classify_records' by_key, by_name, mid_of.
classify_one() {
  local target addr status detail hostname nproc physical model mem_kb load1 mpi binary
  local binary_path binary_version machine_id boot_id reached client network home addrs
  local key slots="" in_file=false dup="" here=false same_mid=false
  IFS=$FS read -r target addr status detail hostname nproc physical model mem_kb load1 mpi \
    binary binary_path binary_version machine_id boot_id reached client network home addrs <<<"$1"
  C_LINE=""
  key=$(machine_key "$hostname" "$machine_id" "$boot_id")
  if [[ "$status" == ok && -n "${by_key[$key]:-}" ]]; then
    dup=${by_key[$key]}
    detail="same host as $dup"
  elif [[ "$status" == ok && -n "${by_name[$hostname]:-}" ]]; then
    [[ "${mid_of[$hostname]}" != "$machine_id" ]] || same_mid=true
    status=hostname-clash detail=$(clash_detail "$target" "${by_name[$hostname]}" "$same_mid")
  elif [[ "$status" == ok ]]; then
    by_key[$key]=$target by_name[$hostname]=$target mid_of[$hostname]=$machine_id
    [[ "$key" != "$LOCAL_KEY" ]] || here=true
    slots=$(slots_for "$nproc" "$physical" "$load1")
    in_file=true HOSTS=$((HOSTS + 1)) SLOTS_TOTAL=$((SLOTS_TOTAL + slots))
    C_LINE=$(hostfile_line "$FORMAT" "$(hostfile_name "$target" "$here")" "$slots" \
      "${model:-unknown cpu}, $physical cores / $nproc threads, load ${load1:-?}")$'\n'
    LAB_HOSTS+=("$1")
  fi
  if [[ "$status" == refused || "$status" == timeout ]] && [[ " $LOCAL_ADDRS " == *" $addr/"* ]]; then
    detail="this machine, where mpirun starts ranks without ssh: --include-local puts it first"
  fi
  C_TARGET=$target C_STATUS=$status C_HOSTNAME=$hostname C_SLOTS=$slots C_HERE=$here
  C_SHOWN=${detail:-${mpi:-}}
  set_rec "$target" "$addr" "$status" "$detail" "$hostname" "$nproc" "$physical" "$model" \
    "$mem_kb" "$load1" "$mpi" "$binary" "$binary_path" "$binary_version" "$machine_id" \
    "$boot_id" "$reached" "$client" "$network" "$home" "$addrs" "$slots" "$in_file" "$dup" "$here"
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

# inventory_json NOW MCA_CONF: the JSON of every target.
inventory_json() {
  printf '%s' "$ANNOTATED" | jq -R -s \
    --arg created "$1" --arg local_mpi "$LOCAL_MPI" --arg format "$FORMAT" \
    --arg slots_mode "$SLOTS" --arg binary "$BINARY" --argjson timeout "$TIMEOUT" \
    --arg hostfile "$OUT" --argjson hosts "$HOSTS" --argjson slots "$SLOTS_TOTAL" \
    --arg ports "$PORTS" --arg nets "$LAB_NETS" --arg shared "$SHARED_ADDRS" \
    --arg settings "$(printf '%s\n' "${MCA_SETTINGS[@]}")" --arg mca_conf "$2" \
    --arg blocked "$(printf '%s\n' "${BLOCKED[@]}")" \
    "$JQ_INVENTORY"
}

# write_inventory NOW MCA_CONF: the JSON of every target, beside the hostfile.
write_inventory() {
  local json_file
  json_file=$(json_path "$OUT")
  write_atomic "$json_file" inventory_json "$1" "$2"
  log "inventory: $json_file"
}

# hostfile_text NOW: the hostfile's lines.
hostfile_text() {
  echo "$HOSTFILE_MARK on $1: $HOSTS host(s), $SLOTS_TOTAL slot(s), --slots $SLOTS"
  echo "# re-running discover.sh overwrites this file; details in $(basename -- "$(json_path "$OUT")")"
  printf '%s' "$HOSTFILE_BODY"
}

# write_hostfile NOW: the hosts that qualify (exit status 1 when none does:
# an earlier hostfile is left as it was).
write_hostfile() {
  if ((HOSTS == 0)); then
    log "no host qualifies; hostfile $(quoted "$OUT") not written"
    return 1
  fi
  write_atomic "$OUT" hostfile_text "$1"
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
  if [[ -n "$BINARY" ]]; then
    LOCAL_VERSION=$("$BINARY" --version 2>/dev/null </dev/null | head -n 1) || LOCAL_VERSION=""
  fi
}

# lab_settings: the network, the Open MPI settings and the pre-flight check of the hosts
# in the hostfile (an Open MPI hostfile; Hydra reads none of these settings).
lab_settings() {
  LAB_NETS="" SHARED_ADDRS="" MCA_SETTINGS=() BLOCKED=()
  ((HOSTS > 0)) && [[ "$FORMAT" == openmpi ]] || return 0
  lab_networks
  lab_mca_settings "$(mca_user_conf)"
  if ((PREFLIGHT)); then preflight; fi
}

# write_mca_conf: the settings block, when asked and there is something to say; prints
# the file written.
write_mca_conf() {
  ((MCA_CONF && HOSTS > 0 && ${#MCA_SETTINGS[@]} > 0)) || return 0
  local file
  file=$(mca_user_conf)
  lab_write_mca_block "$file" "$(realpath -m -- "$OUT")"
  lab_report_settings "$file"
  echo "$file"
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
  local started=$SECONDS now rc=0 conf
  log "probing ${#TARGETS[@]} target(s), $JOBS at a time, timeout ${TIMEOUT}s"
  resolve_groups
  target_addrs
  know_this_machine
  run_probes
  collect_records
  classify_records
  print_summary
  lab_settings
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  write_hostfile "$now" || rc=$?
  conf=$(write_mca_conf)
  write_inventory "$now" "$conf"
  preflight_report || rc=1
  log "done in $((SECONDS - started))s"
  return "$rc"
}

main "$@"
