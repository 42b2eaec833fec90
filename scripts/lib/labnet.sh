# shellcheck shell=bash
# labnet.sh: the network the hosts of a hostfile share, the Open MPI settings that keep
# mpirun on it (and inside a firewall's port range), written as one block of the user's
# Open MPI parameter file. Needs common.sh,
# mca.sh, probe.sh (FS, clean) and facts.sh (cidr_network); reads LAB_HOSTS (records of
# the hosts in the hostfile), LOCAL_ADDRS, PORTS, SSH_CONFIG, SSH_KEY.

readonly MCA_BLOCK_BEGIN="# >>> written by cluster-bench's scripts/discover.sh"
readonly MCA_BLOCK_END="# <<< end of scripts/discover.sh's settings"

LAB_NETS=""      # the subnets Open MPI may use, comma-separated (lab_networks)
SHARED_ADDRS=""  # addresses that more than one host holds (a docker0 on each, ...)
MCA_SETTINGS=()  # NAME=VALUE, what the hostfile needs (lab_mca_settings)

# lab_field RECORD INDEX: one field of a record.
lab_field() {
  local fields=()
  IFS=$FS read -r -a fields <<<"$1"
  echo "${fields[$2]:-}"
}

# lab_networks: LAB_NETS, every subnet a host was reached on, plus this machine's subnet
# it reached them from (its address as the hosts saw it); SHARED_ADDRS.
lab_networks() {
  local rec net client w nets=() seen=" " addrs
  local -A holders=()
  for rec in "${LAB_HOSTS[@]}"; do
    net=$(lab_field "$rec" 18)
    client=$(lab_field "$rec" 17)
    [[ -z "$net" || "$seen" == *" $net "* ]] || { nets+=("$net") && seen+="$net "; }
    for w in $LOCAL_ADDRS; do
      [[ -n "$client" && "${w%/*}" == "$client" ]] || continue
      net=$(cidr_network "$w")
      [[ "$seen" == *" $net "* ]] || { nets+=("$net") && seen+="$net "; }
    done
    read -r -a addrs <<<"$(lab_field "$rec" 20)"
    for w in "${addrs[@]}"; do
      [[ "$w" == 127.* ]] || holders[$w]=$((${holders[$w]:-0} + 1))
    done
  done
  LAB_NETS=$(IFS=,; echo "${nets[*]}")
  SHARED_ADDRS=""
  for w in "${!holders[@]}"; do
    ((holders[$w] < 2)) || SHARED_ADDRS+="$w "
  done
  SHARED_ADDRS=${SHARED_ADDRS% }
}

# lab_home_path: a PATH for every rank when some host's command is in its user's
# ~/.local/bin, off a non-interactive shell's PATH: those folders, then this machine's
# install folder and the usual ones (mca_base_env_list sets it for every rank).
lab_home_path() {
  local rec bin home dirs=() seen=" " d
  for rec in "${LAB_HOSTS[@]}"; do
    bin=$(lab_field "$rec" 12)
    home=$(lab_field "$rec" 19)
    [[ -n "$home" && "$bin" == "$home/.local/bin/"* ]] || continue
    d=${bin%/*}
    [[ "$seen" == *" $d "* ]] || { dirs+=("$d") && seen+="$d "; }
  done
  ((${#dirs[@]} > 0)) || return 0
  d=$(cb_install_dir)
  [[ "$seen" == *" $d "* ]] || dirs+=("$d")
  (IFS=:; echo "${dirs[*]}:/usr/local/bin:/usr/bin:/bin")
}

# lab_mca_settings FILE: MCA_SETTINGS for the hosts found: ssh as discover.sh used it,
# started from this machine only (the hosts hold no key of ours: no tree spawn), wire-up
# and MPI messages on LAB_NETS only, PORTS split between the two. A parameter file is read
# only where it lies, so mpirun hands these to every host's daemon and ranks as
# OMPI_MCA_* variables (mca_base_env_list), together with what the list held in FILE
# outside our block, and the PATH ranks need when the command is in a user's ~/.local/bin.
lab_mca_settings() {
  local agent=(ssh -o BatchMode=yes) path lo hi half s items=()
  MCA_SETTINGS=()
  if [[ -n "$SSH_CONFIG" || -n "$SSH_KEY" ]]; then
    [[ -z "$SSH_CONFIG" ]] || agent+=(-F "$(realpath -- "$SSH_CONFIG")")
    [[ -z "$SSH_KEY" ]] || agent+=(-i "$(realpath -- "$SSH_KEY")")
    MCA_SETTINGS+=("plm_rsh_agent=${agent[*]}" plm_rsh_no_tree_spawn=1)
  fi
  if [[ -n "$LAB_NETS" ]]; then
    MCA_SETTINGS+=("oob_tcp_if_include=$LAB_NETS" "btl_tcp_if_include=$LAB_NETS")
  fi
  if [[ -n "$PORTS" ]]; then
    lo=${PORTS%-*} hi=${PORTS#*-}
    half=$(((hi - lo + 1) / 2))
    MCA_SETTINGS+=("oob_tcp_dynamic_ipv4_ports=$lo-$((lo + half - 1))"
      "btl_tcp_port_min_v4=$((lo + half))" "btl_tcp_port_range_v4=$((hi - lo + 1 - half))")
  fi
  path=$(lab_home_path)
  for s in $(lab_prior_env_list "$1" | tr ';' ' '); do
    # A PATH of our own replaces the forwarding of this shell's.
    [[ -n "$path" && "$s" == PATH ]] || items+=("$s")
  done
  [[ -z "$path" ]] || items+=("PATH=$path")
  for s in "${MCA_SETTINGS[@]}"; do
    [[ "$s" == plm_* ]] || items+=("OMPI_MCA_$s")
  done
  ((${#items[@]} == 0)) || MCA_SETTINGS+=("mca_base_env_list=$(IFS=';'; echo "${items[*]}")")
}

# lab_prior_env_list FILE: the mca_base_env_list FILE sets outside our block.
lab_prior_env_list() {
  [[ -f "$1" ]] || return 0
  awk -v b="$MCA_BLOCK_BEGIN" -v e="$MCA_BLOCK_END" '
    index($0, b) == 1 { skip = 1 }
    !skip && /^[ \t]*mca_base_env_list[ \t]*=/ { sub(/^[^=]*=[ \t]*/, ""); v = $0 }
    index($0, e) == 1 { skip = 0 }
    END { print v }' "$1"
}

# lab_write_mca_block FILE HOSTFILE: FILE with its discover.sh block replaced by
# MCA_SETTINGS (appended last: a parameter file's last value wins), the user's own lines
# kept, written atomically.
lab_write_mca_block() {
  local file=$1 kept=""
  mkdir -p -- "$(dirname -- "$file")" || die "cannot create the folder of $(quoted "$file")"
  if [[ -f "$file" ]]; then
    kept=$(awk -v b="$MCA_BLOCK_BEGIN" -v e="$MCA_BLOCK_END" \
      'index($0, b) == 1 { skip = 1 } !skip { print } index($0, e) == 1 { skip = 0 }' "$file") \
      || die "cannot read $(quoted "$file")"
  fi
  write_atomic "$file" mca_block_text "$kept" "$2"
}

# mca_block_text KEPT HOSTFILE: the user's lines KEPT, then the block of MCA_SETTINGS.
mca_block_text() {
  local s
  [[ -z "$1" ]] || printf '%s\n' "$1"
  echo "$MCA_BLOCK_BEGIN for $2 (replaced by each run; --no-mca-conf leaves it)"
  for s in "${MCA_SETTINGS[@]}"; do echo "${s%%=*} = ${s#*=}"; done
  echo "$MCA_BLOCK_END"
}

# lab_report_settings FILE: what the block says, on stderr.
lab_report_settings() {
  local s
  log "Open MPI settings for this hostfile, in $1 (environment OMPI_MCA_* wins):"
  for s in "${MCA_SETTINGS[@]}"; do log "  ${s%%=*} = ${s#*=}"; done
  [[ -z "$SHARED_ADDRS" ]] || log "  (left out: $SHARED_ADDRS, held by more than one host)"
}
