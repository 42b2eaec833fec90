# shellcheck shell=bash
#
# testnet-lab.sh: what makes the test hosts separate machines (sourced by
# scripts/dev/testnet.sh for `up N --private|--user|--dup-iface|--firewall|--clone`).
#
#   --private    each good host sees its own /home, /root and /tmp (folders under its
#                state folder, bind-mounted in its mount namespace), an empty
#                /usr/local/bin (what this machine installed is not there), its own
#                /etc/machine-id and its own boot id (a file bound over
#                /proc/sys/kernel/random/boot_id): nothing one host writes there is
#                seen by another host or by this machine
#   --user NAME  a login user NAME on every good host (its own /etc/passwd, group and
#                shadow bound over the machine's), home /home/NAME, reachable only with
#                the key STATE/keys/NAME_ed25519 (its ~/.ssh/authorized_keys)
#   --dup-iface  a bridge cbdock0 without ports, 172.17.0.1/16, in every good host, as
#                docker0 gives every machine of a lab the same address
#   --firewall   nftables in every good host: ssh and TCP LAB_PORTS only
#   --clone K    good host K is a cloned image of host 1: same host name and machine
#                id; only its boot id (and host key) differ
#
# Uses from testnet.sh: STATE, IP, NFT, die, log.

readonly DUP_IFACE=cbdock0
readonly DUP_ADDR=172.17.0.1/16
readonly DUP_NET=172.17.0.0/16
readonly LAB_PORTS=50000-50199
LAB_UID="" # the lab user's uid and gid: the first from 2000 this machine does not use

# lab_random_hex: 32 hex digits, as in /etc/machine-id.
lab_random_hex() {
  od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}

# lab_make_view NAME CLONE_OF: the host's own folders and identity files under
# STATE/hosts/NAME/fs (CLONE_OF: a host whose machine id it copies).
lab_make_view() {
  local clone_of=$2 fs="$STATE/hosts/$1/fs"
  mkdir -p "$fs/home" "$fs/root" "$fs/tmp"
  chmod 0755 "$fs/home"
  chmod 0700 "$fs/root"
  chmod 1777 "$fs/tmp"
  if [[ -n "$clone_of" ]]; then
    cp -- "$STATE/hosts/$clone_of/fs/machine-id" "$fs/machine-id"
  else
    lab_random_hex >"$fs/machine-id"
  fi
  cat /proc/sys/kernel/random/uuid >"$fs/boot_id"
  if [[ -n "${LAB_USER:-}" ]]; then lab_add_user "$fs"; fi
}

# lab_add_user FS: the user LAB_USER in the host's own account files, with a home
# that only the user's key opens.
lab_add_user() {
  local fs=$1 home="$1/home/$LAB_USER"
  cp -- /etc/passwd "$fs/passwd"
  cp -- /etc/group "$fs/group"
  cp -- /etc/shadow "$fs/shadow" 2>/dev/null || : >"$fs/shadow"
  echo "$LAB_USER:x:$LAB_UID:$LAB_UID:lab user:/home/$LAB_USER:/bin/bash" >>"$fs/passwd"
  echo "$LAB_USER:x:$LAB_UID:" >>"$fs/group"
  # '*': no password can open it, and sshd (UsePAM no) does not count it as locked.
  echo "$LAB_USER:*:19000:0:99999:7:::" >>"$fs/shadow"
  chmod 0644 "$fs/passwd" "$fs/group"
  chmod 0640 "$fs/shadow"
  mkdir -p "$home/.ssh"
  cp -- "$STATE/keys/${LAB_USER}_ed25519.pub" "$home/.ssh/authorized_keys"
  chmod 0700 "$home" "$home/.ssh"
  chmod 0600 "$home/.ssh/authorized_keys"
  chown -R "$LAB_UID:$LAB_UID" "$home"
}

# lab_check_user NAME: a user name that is not this machine's already; sets LAB_UID.
lab_check_user() {
  local id
  [[ "$1" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || usage_error "--user needs a user name, got '$1'"
  ! getent passwd "$1" >/dev/null || usage_error "--user $1: this machine has that user already"
  for ((id = 2000; id < 3000; id++)); do
    if ! getent passwd "$id" >/dev/null && ! getent group "$id" >/dev/null; then
      LAB_UID=$id
      return 0
    fi
  done
  die "--user: no free uid in 2000..2999 on this machine"
}

# lab_sshd_match: the sshd_config lines for LAB_USER (its own authorized_keys only).
lab_sshd_match() {
  [[ -n "${LAB_USER:-}" ]] || return 0
  printf 'Match User %s\n    AuthorizedKeysFile .ssh/authorized_keys\n' "$LAB_USER"
}

# lab_dup_iface NS: the duplicate-address interface in NS.
lab_dup_iface() {
  "$IP" -n "$1" link add "$DUP_IFACE" type bridge
  "$IP" -n "$1" addr add "$DUP_ADDR" dev "$DUP_IFACE"
  "$IP" -n "$1" link set "$DUP_IFACE" up
}

# lab_guard_dup_net: traffic from this machine to the duplicate subnet must never leave
# it (the hosts' 172.17.0.1 is ours, the real network's is not): an unreachable route,
# unless this machine has its own route there (a real docker0). Removed at down.
lab_guard_dup_net() {
  [[ -z "$("$IP" -4 route show "$DUP_NET" 2>/dev/null)" ]] || return 0
  "$IP" route add unreachable "$DUP_NET"
  echo "$DUP_NET" >"$STATE/unreachable-route"
}

lab_unguard_dup_net() {
  [[ -f "$STATE/unreachable-route" ]] || return 0
  "$IP" route del unreachable "$DUP_NET" 2>/dev/null || true
}

# lab_firewall NS: inbound ssh and TCP LAB_PORTS only (and what this host started).
lab_firewall() {
  command -v "$NFT" >/dev/null || die "--firewall needs nft (apt-get install -y nftables)"
  "$IP" netns exec "$1" "$NFT" -f - <<EOF
table inet cbnet {
  chain input {
    type filter hook input priority 0; policy drop;
    iif lo accept
    ct state established,related accept
    tcp dport 22 accept
    tcp dport $LAB_PORTS accept
    icmp type echo-request accept
  }
}
EOF
}
