# shellcheck shell=bash disable=SC2034 # the arrays are read by probe.sh and discover.sh
# targets.sh: discover.sh's TARGET arguments (addresses, CIDRs, ranges, host names,
# USER@HOST, @files), validated and expanded into TARGETS, grouped by the argument they came
# from (one ssh -G per group), then resolved through ssh's configuration (ssh -G: address,
# port, proxy). Needs common.sh, hostfile.sh and probe.sh (clean); FORCE=1 allows more than
# a /16; SSH and SSH_ARGS are the ssh command and its options.

readonly MAX_ADDRS=65536 # a /16

TARGETS=()       # addresses and names to probe, each once, in the order given
TARGET_GROUP=()  # per target: index into the GROUP_* arrays
TARGET_ADDR=()   # per target: the address its pre-check connects to (resolve_groups)
GROUP_REP=()     # per target argument: the target ssh -G is asked about
GROUP_KIND=()    # per group: ip or name
GROUP_ADDR=()    # per group: the HostName ssh's config gives
GROUP_PORT=()    # per group: the ssh port
GROUP_PROXY=()   # per group: 1 when ssh goes through a proxy (no pre-check then)

ip_to_int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

int_to_ip() {
  echo "$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"
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
  new_group "$(int_to_ip "$first")" ip
  for ((n = first; n <= last; n++)); do
    TARGET_GROUP+=("$GROUP")
    TARGETS+=("$(((n >> 24) & 255)).$(((n >> 16) & 255)).$(((n >> 8) & 255)).$((n & 255))")
  done
}

# add_cidr TARGET BASE PREFIXLEN
add_cidr() {
  local t=$1 base=$2 plen=$3 size net
  ((10#$plen <= 32)) || bad_target "$t" "prefix length must be 0..32"
  plen=$((10#$plen))
  size=$((1 << (32 - plen)))
  net=$(($(ip_to_int "$base") & ~(size - 1) & 0xFFFFFFFF))
  if ((plen <= 30)); then
    add_range $((net + 1)) $((net + size - 2)) "$t" # skip network, broadcast
  else
    add_range "$net" $((net + size - 1)) "$t"
  fi
}

# add_ip_range TARGET FIRST LAST: FIRST and LAST as integers.
add_ip_range() {
  (($2 <= $3)) || bad_target "$1" "range is reversed (first address is after the last)"
  add_range "$2" "$3" "$1"
}

# add_target STRING [FROM_FILE]: validate one target and expand it.
add_target() {
  local t=$1 from_file=${2:-0} first
  if [[ "$t" == @* ]]; then
    ((from_file == 0)) || bad_target "$t" "@file inside @file is not allowed"
    add_target_file "${t#@}"
  elif [[ "$t" == -* ]]; then
    bad_target "$t" "targets never start with '-'"
  elif [[ "$t" =~ ^($RE_IPV4)/([0-9]{1,2})$ ]]; then
    add_cidr "$t" "${BASH_REMATCH[1]}" "${BASH_REMATCH[6]}"
  elif [[ "$t" =~ ^($RE_IPV4)-($RE_IPV4)$ ]]; then
    add_ip_range "$t" "$(ip_to_int "${BASH_REMATCH[1]}")" "$(ip_to_int "${BASH_REMATCH[6]}")"
  elif [[ "$t" =~ ^($RE_IPV4)-([0-9]{1,3})$ ]]; then
    ((10#${BASH_REMATCH[6]} <= 255)) || bad_target "$t" "range end must be 0..255"
    first=$(ip_to_int "${BASH_REMATCH[1]}")
    add_ip_range "$t" "$first" $(((first & ~255) | 10#${BASH_REMATCH[6]}))
  elif is_ipv4 "$t"; then
    add_single "$t" ip
  elif [[ "$t" =~ ^$RE_USER@(.+)$ ]]; then
    # USER@HOST, as a hostfile names a host: one host, ssh logs in as USER.
    is_ipv4 "${BASH_REMATCH[1]}" || valid_host "${BASH_REMATCH[1]}" \
      || bad_target "$t" "USER@ takes one host name or address"
    add_single "$t" name
  elif [[ "$t" =~ ^[0-9./-]+$ ]]; then
    bad_target "$t" "not a valid IPv4 address, CIDR (a.b.c.d/0..32) or range (a.b.c.d-e)"
  elif valid_host "$t"; then
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
  drop_repeated_targets
}

# drop_repeated_targets: each target once, in the order first given.
drop_repeated_targets() {
  local -A seen=()
  local unique=() groups=() i t
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

# resolve_groups: what ssh's configuration says (ssh -G) about each target
# group: the connect address of a host name, the port, and whether a proxy
# is used. One ssh -G per name and one per CIDR/range (its first address
# stands for the range), not one per address: the fast pre-check of a large
# scan must stay cheap. The real ssh probe always honours the full config.
resolve_groups() {
  local g key value cfg
  for g in "${!GROUP_REP[@]}"; do
    GROUP_ADDR[g]="" GROUP_PORT[g]=22 GROUP_PROXY[g]=0
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
