# shellcheck shell=bash disable=SC2034 # REC is read by the caller
# probe.sh: probes every target at once, JOBS at a time, and keeps one record per target.
#
# A TCP pre-check of each target's ssh port (a forked subshell using bash's /dev/tcp,
# reporting on a FIFO, killed at its deadline of TIMEOUT s); a target whose port answers
# (or that is behind a proxy) gets the caller's `probe_ssh INDEX`, whose output is its
# record. Reads TARGETS, TARGET_ADDR, TARGET_GROUP, GROUP_PORT, GROUP_PROXY (targets.sh),
# JOBS, TIMEOUT, WORKDIR and IP; precheck_record gives the record of a port that did not
# answer. Records are fields joined by FS (clean removes control characters from values).

readonly FS=$'\x1f'

declare -a PRE_PID PRE_START PRE_STATE
declare -A NO_ARP # addresses that got no ARP answer
ACTIVE=0          # probes running
NEXT=0            # the next target to launch
OLDEST=0          # the oldest pre-check that may still be pending
EVENTS=""         # fd of the event pipe
WAIT_S=1          # how long to wait for the next event (event_wait)
REC=""            # scratch for set_rec

# clean VAR STRING: VAR = STRING on one line, without control characters.
clean() {
  printf -v "$1" '%s' "${2//[[:cntrl:]]/ }"
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

# start_precheck INDEX: a TCP connect to the ssh port with bash's own
# /dev/tcp, in a forked subshell (no exec: cheap enough for a /24 at once).
# When done it writes "INDEX open|closed" to the event pipe; the main loop
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
  ACTIVE=$((ACTIVE + 1))
}

# start_ssh INDEX: the ssh probe in the background; its record goes to
# WORKDIR/r.INDEX, then "INDEX ssh" to the event pipe.
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
  local n=${#TARGETS[@]}
  ACTIVE=0 NEXT=0 OLDEST=0
  PRE_PID=() PRE_START=() PRE_STATE=()
  mkfifo -- "$WORKDIR/events"
  exec {EVENTS}<>"$WORKDIR/events"
  while ((NEXT < n || ACTIVE > 0)); do
    launch_probes "$n"
    event_wait "$n"
    take_events "$WAIT_S"
    expire_prechecks
  done
  exec {EVENTS}>&-
  wait || true
}

# launch_probes N: start every probe the pool allows before starting any
# ssh: the forks are quick while the CPU is not busy with ssh key exchanges.
# A target behind a proxy gets no pre-check (its port is not ours to test).
launch_probes() {
  while ((NEXT < $1 && ACTIVE < JOBS)); do
    if ((GROUP_PROXY[TARGET_GROUP[NEXT]])); then
      start_ssh "$NEXT"
    else
      start_precheck "$NEXT"
    fi
    NEXT=$((NEXT + 1))
  done
}

# pending INDEX: a pre-check that was started and has no result yet.
pending() {
  [[ -n "${PRE_PID[$1]:-}" && -z "${PRE_STATE[$1]:-}" ]]
}

# event_wait N: WAIT_S = how long (seconds, "S.mmm") to wait for an event:
# until the oldest pending pre-check's deadline (pre-checks start in index
# order); briefly while more probes may be launched. No subshell.
event_wait() {
  local now wait_ms
  while ((OLDEST < NEXT)) && ! pending "$OLDEST"; do OLDEST=$((OLDEST + 1)); done
  if ((NEXT < $1 && ACTIVE < JOBS)); then
    WAIT_S=0.01
  elif ((OLDEST < NEXT)); then
    now=${EPOCHREALTIME//[.,]/}
    wait_ms=$(((PRE_START[OLDEST] + TIMEOUT * 1000000 - now) / 1000 + 1))
    ((wait_ms > 0)) || wait_ms=1
    printf -v WAIT_S '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000))
  else
    WAIT_S=1
  fi
}

# take_events SECONDS: handle every event that comes, waiting at most
# SECONDS for the first one (then only for what is already there).
take_events() {
  local wait_s=$1 line rest rc
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
    handle_event "${line%% *}" "${line#* }"
  done
}

# handle_event INDEX open|closed|ssh
handle_event() {
  local idx=$1 what=$2
  [[ "$idx" =~ ^[0-9]+$ ]] || return 0
  case "$what" in
    ssh) ACTIVE=$((ACTIVE - 1)) ;;
    open | closed)
      [[ -z "${PRE_STATE[idx]:-}" ]] || return 0 # already timed out
      PRE_STATE[idx]=$what
      ACTIVE=$((ACTIVE - 1))
      if [[ "$what" == open ]]; then start_ssh "$idx"; fi
      ;;
  esac
}

# expire_prechecks: pre-checks past their deadline count as timed out; their
# subshells are killed by PID (disowned first: no "Killed" job notice).
expire_prechecks() {
  local now=${EPOCHREALTIME//[.,]/} late=()
  while ((OLDEST < NEXT)); do
    if ! pending "$OLDEST"; then
      OLDEST=$((OLDEST + 1))
    elif ((now - PRE_START[OLDEST] >= TIMEOUT * 1000000)); then
      late+=("${PRE_PID[OLDEST]}")
      PRE_STATE[OLDEST]=timeout
      ACTIVE=$((ACTIVE - 1))
      OLDEST=$((OLDEST + 1))
    else
      break
    fi
  done
  ((${#late[@]} > 0)) || return 0
  disown "${late[@]}" 2>/dev/null || true
  kill -KILL "${late[@]}" 2>/dev/null || true
  note_unreachable_neighbours
}

# note_unreachable_neighbours: remember (in NO_ARP) the addresses this
# machine asked for on a local link (ARP) without an answer, now, while the
# kernel still has them: nothing is there. A timeout to one of them is
# "unreachable"; a timeout to a host that answers ARP is a real "timeout".
note_unreachable_neighbours() {
  local addr rest
  while read -r addr rest; do
    case "$rest" in
      *INCOMPLETE* | *FAILED*) NO_ARP[$addr]=1 ;;
    esac
  done < <("$IP" -4 neigh show 2>/dev/null || true)
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
