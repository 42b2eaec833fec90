# shellcheck shell=bash
# preflight.sh: before mpirun, can every host of a hostfile reach every other (and this
# machine) on the TCP ports Open MPI will use? A connect that is answered, even refused
# (nothing listens yet), went through; one with no answer within PREFLIGHT_TIMEOUT s
# was dropped (a firewall), and mpirun would hang at start-up. Needs common.sh, probe.sh
# and labnet.sh (lab_field); reads LAB_HOSTS, PORTS, SSH, SSH_ARGS, SSH_BATCH,
# WORKDIR. Each host runs a fixed bash script whose only data (addresses and ports) were
# validated here.

readonly PREFLIGHT_TIMEOUT=2
BLOCKED=() # "FROM TO PORT WHY" of every connect that did not go through

# The check one host runs: c ADDR PORT prints "ADDR PORT open|refused|timeout|unreachable".
# shellcheck disable=SC2016 # expanded where it runs
readonly PREFLIGHT_FN='c() {
  local m rc=0
  m=$(timeout '"$PREFLIGHT_TIMEOUT"' bash -c '\''exec 3<>"/dev/tcp/$0/$1"'\'' "$1" "$2" 2>&1) || rc=$?
  if ((rc == 0)); then echo "$1 $2 open"
  elif ((rc == 124)); then echo "$1 $2 timeout"
  elif [[ "$m" == *refused* ]]; then echo "$1 $2 refused"
  else echo "$1 $2 unreachable"; fi
}'

# preflight_ports: the ports to try: the first of each half of --ports, else one port
# from the range Open MPI's listeners are given by the kernel (nothing listens there).
preflight_ports() {
  if [[ -n "$PORTS" ]]; then
    local lo=${PORTS%-*} hi=${PORTS#*-}
    echo "$lo $((lo + (hi - lo + 1) / 2))"
  else
    echo $((33000 + RANDOM % 27000))
  fi
}

# preflight_script PORTS ADDR...: the script for one host.
preflight_script() {
  local ports=$1 a p
  shift
  echo "$PREFLIGHT_FN"
  for a in "$@"; do
    for p in $ports; do echo "c $a $p &"; done
  done
  echo wait
}

# preflight_targets RECORD: the addresses one host must reach: every other host's, and
# this machine's as that host saw it.
preflight_targets() {
  local rec me client a
  me=$(lab_field "$1" 16)
  client=$(lab_field "$1" 17)
  for rec in "${LAB_HOSTS[@]}"; do
    a=$(lab_field "$rec" 16)
    [[ -z "$a" || "$a" == "$me" ]] || echo "$a"
  done
  [[ -z "$client" ]] || echo "$client"
}

# preflight: BLOCKED = every (host, address, port) that did not go through; the hosts
# are asked at once (one ssh each), this machine checks its way to each of them.
preflight() {
  local ports k rec target from addrs=() line
  BLOCKED=()
  ports=$(preflight_ports)
  for k in "${!LAB_HOSTS[@]}"; do
    rec=${LAB_HOSTS[k]}
    from=$(lab_field "$rec" 16)
    [[ -n "$from" ]] || continue
    mapfile -t addrs < <(preflight_targets "$rec")
    target=$(lab_field "$rec" 0)
    preflight_script "$ports" "${addrs[@]}" \
      | timeout $((PREFLIGHT_TIMEOUT + 20)) "$SSH" "${SSH_ARGS[@]}" "${SSH_BATCH[@]}" \
        -o ConnectTimeout=5 -- "$target" bash -s >"$WORKDIR/pf.$k" 2>/dev/null &
  done
  mapfile -t addrs < <(for rec in "${LAB_HOSTS[@]}"; do lab_field "$rec" 16; done | grep .)
  if ((${#addrs[@]} > 0)); then
    preflight_script "$ports" "${addrs[@]}" | bash -s >"$WORKDIR/pf.here" 2>/dev/null &
  fi
  wait
  for k in "${!LAB_HOSTS[@]}" here; do
    [[ -f "$WORKDIR/pf.$k" ]] || continue
    from=this-machine
    [[ "$k" == here ]] || from=$(lab_field "${LAB_HOSTS[k]}" 16)
    while read -r line; do
      case "${line##* }" in
        timeout | unreachable) BLOCKED+=("$from ${line}") ;;
      esac
    done <"$WORKDIR/pf.$k"
  done
}

# preflight_name ADDR: "host (ADDR)" for a host of the hostfile, else ADDR.
preflight_name() {
  local rec
  for rec in "${LAB_HOSTS[@]}"; do
    if [[ "$(lab_field "$rec" 16)" == "$1" ]]; then
      echo "$(lab_field "$rec" 4) ($1)"
      return 0
    fi
  done
  echo "$1"
}

# preflight_report: one line per blocked pair and the fix, on stderr; false if any.
preflight_report() {
  local b from to port why
  ((${#BLOCKED[@]} > 0)) || return 0
  for b in "${BLOCKED[@]}"; do
    read -r from to port why <<<"$b"
    case "$why" in
      timeout) why="no answer within ${PREFLIGHT_TIMEOUT}s (a firewall drops it)" ;;
      *) why="no route" ;;
    esac
    log "pre-flight: $(preflight_name "$from") cannot reach $(preflight_name "$to")" \
      "on TCP port $port: $why"
  done
  log "mpirun would hang at start-up on these hosts: allow TCP between them, or give" \
    "--ports LO-HI (a range their firewalls open) and discover.sh sets Open MPI's ports"
  return 1
}
