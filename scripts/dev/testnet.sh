#!/usr/bin/env bash
#
# testnet.sh: test hosts made by the project, on this machine only.
#
# Each host is a Linux network namespace on a private bridge (10.213.0.0/24,
# this machine is 10.213.0.1), with its own hostname (UTS namespace), its own
# key-only sshd (private tmpfs /run holding /run/sshd) and keys, and an
# ssh_config generated under a state folder. Negative hosts exist so that
# discovery's classification can be tested. Traffic only ever goes to
# addresses this script created.

set -euo pipefail

IP=${CLUSTER_BENCH_IP:-ip}
SSHD=${CLUSTER_BENCH_SSHD:-/usr/sbin/sshd}
SSH_KEYGEN=${CLUSTER_BENCH_SSH_KEYGEN:-ssh-keygen}
NFT=${CLUSTER_BENCH_NFT:-nft}

readonly NET=10.213.0
readonly BRIDGE=cbnet-br0
readonly OWNER_FILE=/run/cbnet-testnet.owner
readonly MAX_HOSTS=40
CGROUP_CPU=${CLUSTER_BENCH_CGROUP_CPU:-/sys/fs/cgroup/cpu}
CGROUP_CPUSET=${CLUSTER_BENCH_CGROUP_CPUSET:-/sys/fs/cgroup/cpuset}

REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO_ROOT PROG=dev/testnet.sh
STATE=${CLUSTER_BENCH_TESTNET_DIR:-$REPO_ROOT/.testnet}

# shellcheck source=scripts/lib/common.sh
source "$REPO_ROOT/scripts/lib/common.sh"

# shellcheck source=scripts/dev/testnet-slurm.sh
source "$REPO_ROOT/scripts/dev/testnet-slurm.sh"
# shellcheck source=scripts/dev/testnet-lab.sh
source "$REPO_ROOT/scripts/dev/testnet-lab.sh"

# Where a private host's sshd finds the state folder once its own /tmp covers the
# machine's (a bind mount on its private /run).
readonly VIEW_STATE=/run/cbnet-state
PRIVATE=0
LAB_USER=""
declare -A UP=() # what `up` makes (parse_up_options)

usage() {
  cat <<EOF
Usage: scripts/dev/testnet.sh up N [--slurm] [SEPARATE...] [NEGATIVES...]
       scripts/dev/testnet.sh limit K RATE
       scripts/dev/testnet.sh cap K PERCENT
       scripts/dev/testnet.sh cpus K LIST
       scripts/dev/testnet.sh down
       scripts/dev/testnet.sh status
       scripts/dev/testnet.sh -h | --help

Test hosts on this machine (root, Linux network namespaces) for discovery
and multi-host MPI tests. Subnet ${NET}.0/24 on bridge ${BRIDGE}; this
machine is ${NET}.1.

  up N        create N good hosts (1..${MAX_HOSTS}): namespace cbnet-hostK,
              hostname cbhostK, address ${NET}.(10+K), key-only sshd.
              Negative hosts (any combination):
                --refused    ${NET}.101  namespace, no sshd   (refused)
                --bad-key    ${NET}.102  sshd rejects our key (auth-failed)
                --drop       ${NET}.103  answers ARP, never TCP (timeout)
                --no-mpi     ${NET}.104  sshd, mpirun broken   (no-mpi)
                --old-mpi    ${NET}.105  sshd, fake mpirun 0.0.1
                                                   (mpi-version-mismatch)
                --negatives  all of the above
              ${NET}.200 (and every other unused address) has nothing
              at all (unreachable).
              Separate machines (good hosts only; see testnet-lab.sh):
                --private    own /home, /root, /tmp, machine id, boot id,
                             an empty /usr/local/bin
                --user NAME  login user NAME, key STATE/keys/NAME_ed25519
                             (implies --private)
                --dup-iface  cbdock0 with 172.17.0.1/16 on every host
                --firewall   nftables: ssh and TCP 50000-50199 only
                --clone K    host K is a clone of host 1 (same host name and
                             machine id; implies --private)
                --lab        --private --user student --dup-iface --firewall
              --here: also an sshd on this machine itself at ${NET}.1 (its own
              host name, files and user; port 22 there must be free), so
              that a scan of the subnet finds the launching machine
              --slurm: also a Slurm cluster: munged and slurmctld (cbctl,
              ${NET}.1:6827) on this machine, a slurmd in each good host
              (node name = host name); prints the SLURM_CONF to export.
  limit K RATE
              limit test host K's link to RATE (e.g. 100mbit) both ways: a
              tbf queue on its veth (traffic to it) and on its eth0 (traffic
              from it). Gone with the host at down.
  cap K PERCENT
              give test host K at most PERCENT (1..100) of one core: a
              cgroup v1 CPU quota (\$CLUSTER_BENCH_CGROUP_CPU/cbnet-hostK,
              period 10 ms) holding its sshd, so every session, orted and
              rank started after this inherits it. Removed at down.
  cpus K LIST give test host K only the CPUs LIST (e.g. 0, or 0-1,3): a cgroup
              v1 cpuset (\$CLUSTER_BENCH_CGROUP_CPUSET/cbnet-hostK) holding its
              sshd, as cap does; nproc there counts LIST. Removed at down.
  down        stop the Slurm daemons and every sshd (by saved PID), remove
              namespaces, veths and the bridge, delete the state folder.
              Idempotent.
  status      list what exists.

State folder (keys, ssh_config, sshd configs, PID files):
  \$CLUSTER_BENCH_TESTNET_DIR, default <repo>/.testnet
Use the hosts with:  ssh -F "\$STATE/ssh_config" cbhost1
Tools: \$CLUSTER_BENCH_IP (ip), \$CLUSTER_BENCH_SSHD (/usr/sbin/sshd),
       \$CLUSTER_BENCH_SSH_KEYGEN (ssh-keygen).
EOF
}

check_state_path() {
  # The path goes into sshd_config and ssh_config: keep it free of spaces
  # and quotes instead of relying on config-file quoting rules.
  [[ "$STATE" =~ ^/[A-Za-z0-9._/+-]+$ ]] \
    || die "state folder must be an absolute path of [A-Za-z0-9._/+-]: '$STATE'"
}

require_root() {
  [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces)"
  "$IP" netns list >/dev/null 2>&1 || die "'$IP netns' does not work here"
  command -v unshare >/dev/null || die "unshare (util-linux) not found"
  [[ -x "$SSHD" ]] || die "sshd not found at $SSHD (apt-get install -y openssh-server)"
}

gen_key() {
  local file=$1 comment=$2
  [[ -f "$file" ]] || "$SSH_KEYGEN" -q -t ed25519 -N '' -C "$comment" -f "$file"
}

make_bridge() {
  "$IP" link add "$BRIDGE" type bridge
  echo "$BRIDGE" >"$STATE/bridge"
  "$IP" addr add "$NET.1/24" dev "$BRIDGE"
  "$IP" link set "$BRIDGE" up
}

# make_ns NAME ADDR PREFIXLEN: namespace cbnet-NAME, veth cbnet-vOCTET on the bridge.
make_ns() {
  local name=$1 addr=$2 plen=$3
  local ns="cbnet-$name" veth="cbnet-v${addr##*.}" dir="$STATE/hosts/$name"
  mkdir -p "$dir"
  echo "$addr" >"$dir/addr"
  echo "$ns" >"$dir/ns"
  "$IP" netns add "$ns"
  echo "$veth" >"$dir/veth"
  "$IP" link add "$veth" type veth peer name eth0 netns "$ns"
  "$IP" link set "$veth" master "$BRIDGE" up
  "$IP" -n "$ns" addr add "$addr/$plen" dev eth0
  "$IP" -n "$ns" link set lo up
  "$IP" -n "$ns" link set eth0 up
}

# host_view DIR: the host's state folder as its sshd sees it (private hosts see the
# state folder at VIEW_STATE).
host_view() {
  if [[ -d "$1/fs" ]]; then
    echo "$VIEW_STATE/hosts/${1##*/}"
  else
    echo "$1"
  fi
}

write_sshd_config() {
  local dir=$1 addr=$2 view
  view=$(host_view "$dir")
  cat >"$dir/sshd_config" <<EOF
# generated by scripts/dev/testnet.sh (test host only)
ListenAddress $addr:22
HostKey $view/ssh_host_ed25519_key
PidFile $view/sshd.pid
AuthorizedKeysFile $view/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
# The state folder may live under /tmp (world-writable parent).
StrictModes no
X11Forwarding no
AllowAgentForwarding no
PrintMotd no
MaxStartups 100:30:200
Subsystem sftp internal-sftp
EOF
  lab_sshd_match >>"$dir/sshd_config"
}

# start_sshd NAME HOSTNAME KEYFILE.pub [FAKE_MPIRUN]
start_sshd() {
  local name=$1 host=$2 pubkey=$3 fake=${4:-}
  local dir="$STATE/hosts/$name" addr view fs="" netns=()
  addr=$(<"$dir/addr")
  # Every host in its own network namespace; "here" is this machine itself.
  [[ ! -f "$dir/ns" ]] || netns=("$IP" netns exec "$(<"$dir/ns")")
  echo "$host" >"$dir/hostname"
  gen_key "$dir/ssh_host_ed25519_key" "$host"
  cp -- "$pubkey" "$dir/authorized_keys"
  [[ ! -d "$dir/fs" ]] || fs="$dir/fs"
  write_sshd_config "$dir" "$addr"
  view=$(host_view "$dir")
  # A private UTS namespace (own hostname) and mount namespace (tmpfs /run
  # with /run/sshd; optionally a replaced mpirun; an empty ~/.bashrc, as on
  # a fresh account: bash sources it for every ssh command, and a developer's
  # shell set-up such as pyenv costs ~0.3 s per ssh and per orted; for a
  # private host its own folders and identity, an empty /usr/local/bin (nothing
  # this machine installed), /tmp last, as the state folder may be under it). No host data is parsed by the shell: everything arrives
  # as positional parameters.
  # shellcheck disable=SC2016 # expanded by the inner sh, on purpose
  "${netns[@]}" unshare --uts --mount --propagation private \
    sh -c 'hostname "$1" && mount -t tmpfs -o mode=0755 cbnet-run /run \
      && mkdir -m 0755 /run/sshd \
      && { [ -z "$5" ] || { mount --bind "$5" /usr/bin/mpirun \
             && mount --bind "$5" /usr/bin/ompi_info; }; } \
      && { [ -z "$8" ] || { mkdir /run/cbnet-state && mount --bind "$9" /run/cbnet-state \
             && mount --bind "$8/home" /home && mount --bind "$8/root" /root \
             && mount -t tmpfs -o mode=0755 cbnet-local /usr/local/bin \
             && mount --bind "$8/machine-id" /etc/machine-id \
             && mount --bind "$8/boot_id" /proc/sys/kernel/random/boot_id \
             && { [ ! -f "$8/passwd" ] || { mount --bind "$8/passwd" /etc/passwd \
                    && mount --bind "$8/group" /etc/group \
                    && mount --bind "$8/shadow" /etc/shadow; }; } \
             && mount --bind "$8/tmp" /tmp; }; } \
      && { [ -n "$8" ] || [ ! -f "$6" ] || mount --bind "$7" "$6"; } \
      && exec "$2" -D -f "$3" -E "$4"' \
    sh "$host" "$SSHD" "$view/sshd_config" "$view/sshd-events.log" "$fake" \
    "$HOME/.bashrc" "$STATE/empty-bashrc" "$fs" "$STATE" \
    </dev/null >>"$dir/sshd.log" 2>&1 &
  echo "$!" >"$dir/launcher.pid"
}

wait_sshd() {
  local name=$1 dir="$STATE/hosts/$1" addr i
  addr=$(<"$dir/addr")
  for ((i = 0; i < 50; i++)); do
    # shellcheck disable=SC2016 # $1 is the inner bash's argument
    if [[ -s "$dir/sshd.pid" ]] \
      && timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/22"' _ "$addr" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  cat -- "$dir/sshd.log" "$dir/sshd-events.log" >&2 2>/dev/null || true
  die "sshd for $name ($addr) did not start"
}

write_fake_mpi() {
  cat >"$STATE/fake-mpirun" <<'EOF'
#!/bin/sh
echo "mpirun (Open MPI) 0.0.1"
EOF
  chmod 0755 "$STATE/fake-mpirun"
  # An empty, non-executable file: running mpirun fails, as on a host without MPI.
  : >"$STATE/no-mpirun"
  : >"$STATE/empty-bashrc"
  chmod 0644 "$STATE/no-mpirun"
}

write_ssh_config() {
  local n=$1 k
  {
    echo "# generated by scripts/dev/testnet.sh: ssh -F $STATE/ssh_config cbhost1"
    for ((k = 1; k <= n; k++)); do
      printf 'Host cbhost%d\n    HostName %s.%d\n' "$k" "$NET" $((10 + k))
    done
    printf 'Host cbbadkey\n    HostName %s.102\n' "$NET"
    echo "Host $NET.* cbhost* cbbadkey"
    echo "    User root"
    echo "    Port 22"
    echo "    IdentityFile $STATE/keys/client_ed25519"
    echo "    IdentitiesOnly yes"
    echo "    UserKnownHostsFile $STATE/known_hosts"
    echo "    GlobalKnownHostsFile /dev/null"
    echo "    StrictHostKeyChecking accept-new"
    echo "    BatchMode yes"
    echo "    LogLevel ERROR"
  } >"$STATE/ssh_config"
}

cleanup_failed_up() {
  if ((UP_DONE == 0)); then
    log "up failed; cleaning up"
    cmd_down >/dev/null 2>&1 || true
  fi
}

# parse_up_options N OPTION...: UP[...] = 1 for each part asked for (UP[clone] = K).
parse_up_options() {
  local n=$1
  shift
  UP=([refused]=0 [badkey]=0 [drop]=0 [nompi]=0 [oldmpi]=0 [slurm]=0 [dup]=0 [firewall]=0
    [clone]=0 [here]=0)
  while (($#)); do
    case "$1" in
      --private) PRIVATE=1 ;;
      --user) (($# > 1)) || usage_error "--user needs a name"; LAB_USER=$2 PRIVATE=1; shift ;;
      --dup-iface) UP[dup]=1 ;;
      --firewall) UP[firewall]=1 ;;
      --clone) (($# > 1)) || usage_error "--clone needs a host number"; UP[clone]=$2 PRIVATE=1; shift ;;
      --lab) PRIVATE=1 LAB_USER=student UP[dup]=1 UP[firewall]=1 ;;
      --here) UP[here]=1 ;;
      --refused) UP[refused]=1 ;;
      --bad-key) UP[badkey]=1 ;;
      --drop) UP[drop]=1 ;;
      --no-mpi) UP[nompi]=1 ;;
      --old-mpi) UP[oldmpi]=1 ;;
      --negatives) UP[refused]=1 UP[badkey]=1 UP[drop]=1 UP[nompi]=1 UP[oldmpi]=1 ;;
      --slurm) UP[slurm]=1 ;;
      *) usage_error "unknown option for up: '$1'" ;;
    esac
    shift
  done
  if [[ ! "${UP[clone]}" =~ ^[0-9]+$ ]] || ((UP[clone] == 1 || UP[clone] > n)); then
    usage_error "--clone needs a host number 2..$n, got '${UP[clone]}'"
  fi
}

# make_good_hosts N: cbhost1..N (as UP asks: separate machines, a clone), and this machine
# itself with --here.
make_good_hosts() {
  local n=$1 k name twin pub="$STATE/keys/client_ed25519.pub"
  if ((UP[dup])); then lab_guard_dup_net; fi
  for ((k = 1; k <= n; k++)); do
    make_ns "host$k" "$NET.$((10 + k))" 24
    name="cbhost$k" twin=""
    if ((k == UP[clone])); then name=cbhost1 twin=host1; fi
    if ((PRIVATE)); then lab_make_view "host$k" "$twin"; fi
    if ((UP[dup])); then lab_dup_iface "cbnet-host$k"; fi
    if ((UP[firewall])); then lab_firewall "cbnet-host$k"; fi
    start_sshd "host$k" "$name" "$pub"
  done
  if ((UP[here])); then
    mkdir -p "$STATE/hosts/here"
    echo "$NET.1" >"$STATE/hosts/here/addr"
    start_sshd here "$(uname -n)" "$pub"
  fi
}

# make_negative_hosts: the hosts discovery must leave out, as UP asks.
make_negative_hosts() {
  local pub="$STATE/keys/client_ed25519.pub"
  if ((UP[refused])); then make_ns refused "$NET.101" 24; fi
  if ((UP[badkey])); then
    make_ns badkey "$NET.102" 24
    start_sshd badkey cbbadkey "$STATE/keys/stranger_ed25519.pub"
  fi
  if ((UP[drop])); then
    # A /32 address with no route back: ARP is answered, SYNs are never
    # answered (neither SYN-ACK nor RST), like a firewall that drops.
    make_ns drop "$NET.103" 32
  fi
  if ((UP[nompi])); then
    make_ns nompi "$NET.104" 24
    start_sshd nompi cbnompi "$pub" "$STATE/no-mpirun"
  fi
  if ((UP[oldmpi])); then
    make_ns oldmpi "$NET.105" 24
    start_sshd oldmpi cboldmpi "$pub" "$STATE/fake-mpirun"
  fi
}

cmd_up() {
  local n=${1:-} d
  shift || true
  if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n < 1 || n > MAX_HOSTS)); then
    usage_error "up needs a host count 1..$MAX_HOSTS, got '${n}'"
  fi
  parse_up_options "$n" "$@"
  check_state_path
  require_root
  if ((UP[slurm])); then slurm_require_tools; fi
  if [[ -n "$LAB_USER" ]]; then lab_check_user "$LAB_USER"; fi
  if "$IP" link show "$BRIDGE" >/dev/null 2>&1; then
    local owner="(unknown)"
    [[ -r "$OWNER_FILE" ]] && owner=$(<"$OWNER_FILE")
    die "a testnet is already up (bridge $BRIDGE, state folder $owner);" \
      "run: CLUSTER_BENCH_TESTNET_DIR=$owner scripts/dev/testnet.sh down"
  fi
  mkdir -p "$STATE/keys" "$STATE/hosts"
  chmod 0700 "$STATE"
  echo "cluster-bench testnet state" >"$STATE/.cbnet-state"
  echo "$STATE" >"$OWNER_FILE"
  # Anything half-made is cleaned up by down if up fails part-way.
  UP_DONE=0
  trap 'cleanup_failed_up' EXIT
  gen_key "$STATE/keys/client_ed25519" cbnet-client
  gen_key "$STATE/keys/stranger_ed25519" cbnet-stranger
  [[ -z "$LAB_USER" ]] || gen_key "$STATE/keys/${LAB_USER}_ed25519" "cbnet-$LAB_USER"
  write_fake_mpi
  make_bridge
  make_good_hosts "$n"
  make_negative_hosts
  for d in "$STATE"/hosts/*/; do
    d=${d%/}
    [[ -f "$d/sshd_config" ]] && wait_sshd "${d##*/}"
  done
  write_ssh_config "$n"
  if ((UP[slurm])); then slurm_up "$n"; fi
  UP_DONE=1
  log "up: $n host(s); ssh -F $STATE/ssh_config cbhost1"
  cmd_status
}

# cmd_limit K RATE: a token bucket each way, as a slow switch port would be.
cmd_limit() {
  local k=${1:-} rate=${2:-} dir ns veth
  [[ "$k" =~ ^[0-9]+$ ]] || usage_error "limit needs a host number K, got '$k'"
  [[ "$rate" =~ ^[0-9]+(kbit|mbit|gbit)$ ]] \
    || usage_error "limit needs a RATE like 100mbit (kbit, mbit, gbit), got '$rate'"
  check_state_path
  require_root
  dir="$STATE/hosts/host$k"
  [[ -f "$dir/veth" && -f "$dir/ns" ]] || die "no test host $k under $STATE"
  veth=$(<"$dir/veth")
  ns=$(<"$dir/ns")
  # burst: a few full-size TSO segments; latency: the queue a switch port would hold.
  tc qdisc replace dev "$veth" root tbf rate "$rate" burst 64kb latency 50ms
  "$IP" netns exec "$ns" tc qdisc replace dev eth0 root tbf rate "$rate" burst 64kb latency 50ms
  log "limit: cbhost$k ($veth, $ns eth0) at $rate each way"
}

# host_cgroup K ROOT WHAT: the cgroup ROOT/cbnet-hostK for test host K, made and noted in
# the host's state folder (removed at down): HOST_CGROUP, and HOST_SSHD the PID of the
# host's sshd, which must run.
host_cgroup() {
  local k=$1 root=$2 what=$3 dir cg
  dir="$STATE/hosts/host$k"
  [[ -f "$dir/sshd_config" ]] || die "no test host $k under $STATE"
  HOST_SSHD=$(<"$dir/sshd.pid")
  pid_is_our_sshd "$HOST_SSHD" "$dir/sshd_config" || die "the sshd of test host $k is not running"
  [[ -w "$root/cgroup.procs" ]] || die "no cgroup v1 $what controller at $root"
  cg="$root/cbnet-host$k"
  mkdir -p -- "$cg"
  grep -qxF -- "$cg" "$dir/cgroups" 2>/dev/null || echo "$cg" >>"$dir/cgroups"
  HOST_CGROUP=$cg
}

# cmd_cap K PERCENT: a CPU quota on the host's sshd and all it starts from now on.
cmd_cap() {
  local k=${1:-} pct=${2:-} cg
  [[ "$k" =~ ^[0-9]+$ ]] || usage_error "cap needs a host number K, got '$k'"
  if ! [[ "$pct" =~ ^[0-9]+$ ]] || ((pct < 1 || pct > 100)); then
    usage_error "cap needs a PERCENT of one core, 1..100, got '$pct'"
  fi
  check_state_path
  require_root
  host_cgroup "$k" "$CGROUP_CPU" cpu
  cg=$HOST_CGROUP
  # A short period spreads the quota thinly: a 20 ms task is slowed throughout rather than
  # running at full speed and then waiting out the rest of a long period.
  echo 10000 >"$cg/cpu.cfs_period_us"
  echo $((pct * 100)) >"$cg/cpu.cfs_quota_us"
  echo "$HOST_SSHD" >"$cg/cgroup.procs"
  log "cap: cbhost$k at $pct% of one core ($cg holds sshd $HOST_SSHD)"
}

# cmd_cpus K LIST: test host K's sshd, and all it starts from now on, on the CPUs LIST only
# (a cgroup v1 cpuset): a machine with fewer CPUs, as nproc and hwloc see it.
cmd_cpus() {
  local k=${1:-} list=${2:-} cg
  [[ "$k" =~ ^[0-9]+$ ]] || usage_error "cpus needs a host number K, got '$k'"
  [[ "$list" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] \
    || usage_error "cpus needs a CPU LIST like 0 or 0-1,3, got '$list'"
  check_state_path
  require_root
  host_cgroup "$k" "$CGROUP_CPUSET" cpuset
  cg=$HOST_CGROUP
  echo "$list" >"$cg/cpuset.cpus" || die "cpus: this machine has no CPUs $list"
  cat -- "$CGROUP_CPUSET/cpuset.mems" >"$cg/cpuset.mems"
  echo "$HOST_SSHD" >"$cg/cgroup.procs"
  log "cpus: cbhost$k on CPUs $list ($cg holds sshd $HOST_SSHD)"
}

# remove_cgroups DIR: the host's cgroups, once the processes in them have ended.
remove_cgroups() {
  local dir=$1 cg i
  [[ -f "$dir/cgroups" ]] || return 0
  while IFS= read -r cg; do
    [[ ("$cg" == "$CGROUP_CPU"/cbnet-host* || "$cg" == "$CGROUP_CPUSET"/cbnet-host*) && -d "$cg" ]] \
      || continue
    for ((i = 0; i < 40; i++)); do
      rmdir -- "$cg" 2>/dev/null && break
      sleep 0.05
    done
    [[ ! -d "$cg" ]] || log "down: could not remove $cg (still in use)"
  done <"$dir/cgroups"
}

# pid_is_our_sshd PID CONFIG: the PID is still the sshd we started.
pid_is_our_sshd() {
  local pid=$1 cfg=$2
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(cat -- "/proc/$pid/comm" 2>/dev/null)" == sshd ]] || return 1
  # sshd rewrites its title; the config path (as the host sees it) stays in it.
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- " -f $(host_view "${cfg%/*}")/sshd_config "
}

# running PID: exists and is not a zombie waiting for its reaper.
running() {
  local stat
  stat=$(cat -- "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != Z ]]
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    running "$pid" || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_host() {
  local dir=$1 pid pidfile ns
  if [[ -f "$dir/sshd_config" ]]; then
    for pidfile in "$dir/sshd.pid" "$dir/launcher.pid"; do
      [[ -r "$pidfile" ]] || continue
      pid=$(<"$pidfile")
      if pid_is_our_sshd "$pid" "$dir/sshd_config"; then
        stop_pid "$pid"
      fi
    done
  fi
  [[ -f "$dir/ns" ]] || return 0
  ns=$(<"$dir/ns")
  [[ "$ns" =~ ^cbnet-[a-z0-9]+$ ]] || return 0
  if "$IP" netns list 2>/dev/null | grep -qE "^$ns( |$)"; then
    # Whatever still runs inside a namespace we created (ssh sessions,
    # orted) was started by our sshd: end it by namespace membership.
    for pid in $("$IP" netns pids "$ns" 2>/dev/null); do
      stop_pid "$pid"
    done
    "$IP" netns del "$ns" 2>/dev/null || true
  fi
}

cmd_down() {
  check_state_path
  if [[ ! -d "$STATE" ]]; then
    log "down: nothing to do ($STATE does not exist)"
    return 0
  fi
  [[ -f "$STATE/.cbnet-state" ]] || die "$STATE is not a testnet state folder; not touching it"
  local dir veth
  slurm_down
  for dir in "$STATE"/hosts/*/; do
    [[ -d "$dir" ]] || continue
    dir=${dir%/}
    stop_host "$dir"
    remove_cgroups "$dir"
    if [[ -f "$dir/veth" ]]; then
      veth=$(<"$dir/veth")
      if [[ "$veth" =~ ^cbnet-v[0-9]+$ ]] && "$IP" link show "$veth" >/dev/null 2>&1; then
        "$IP" link del "$veth" 2>/dev/null || true
      fi
    fi
  done
  if [[ -f "$STATE/bridge" ]] && "$IP" link show "$BRIDGE" >/dev/null 2>&1; then
    "$IP" link del "$BRIDGE"
  fi
  lab_unguard_dup_net
  if [[ -r "$OWNER_FILE" && "$(<"$OWNER_FILE")" == "$STATE" ]]; then
    rm -f -- "$OWNER_FILE"
  fi
  rm -rf -- "$STATE"
  log "down: removed everything under $STATE"
}

cmd_status() {
  check_state_path
  if "$IP" link show "$BRIDGE" >/dev/null 2>&1; then
    echo "bridge $BRIDGE up ($NET.1/24)"
  else
    echo "bridge $BRIDGE absent"
  fi
  if [[ ! -d "$STATE/hosts" ]]; then
    echo "no hosts (state folder $STATE)"
    return 0
  fi
  echo "state folder $STATE"
  printf '%-8s %-14s %-10s %s\n' NAME ADDRESS HOSTNAME SSHD
  local dir name addr host sshd pid
  for dir in "$STATE"/hosts/*/; do
    [[ -d "$dir" ]] || continue
    dir=${dir%/}
    name=${dir##*/}
    addr=$(cat -- "$dir/addr" 2>/dev/null || echo '?')
    host=$(cat -- "$dir/hostname" 2>/dev/null || echo '-')
    sshd=none
    if [[ -f "$dir/sshd_config" ]]; then
      pid=$(cat -- "$dir/sshd.pid" 2>/dev/null || echo '')
      if pid_is_our_sshd "$pid" "$dir/sshd_config"; then
        sshd="running (pid $pid)"
      else
        sshd=dead
      fi
    fi
    printf '%-8s %-14s %-10s %s\n' "$name" "$addr" "$host" "$sshd"
  done
  slurm_status
}

main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    up) cmd_up "$@" ;;
    limit) (($# == 2)) || usage_error "limit takes K and RATE"; cmd_limit "$@" ;;
    cap) (($# == 2)) || usage_error "cap takes K and PERCENT"; cmd_cap "$@" ;;
    cpus) (($# == 2)) || usage_error "cpus takes K and LIST"; cmd_cpus "$@" ;;
    down) (($# == 0)) || usage_error "down takes no arguments"; cmd_down ;;
    status) (($# == 0)) || usage_error "status takes no arguments"; cmd_status ;;
    -h | --help) usage ;;
    '') usage >&2; exit 2 ;;
    *) usage_error "unknown command '$cmd'" ;;
  esac
}

main "$@"
