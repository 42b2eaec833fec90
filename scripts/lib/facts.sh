# shellcheck shell=bash
# facts.sh: what discover.sh's probe printed about one host, checked and turned into a
# record (one line of fields joined by FS), and the status that follows from it. Needs
# common.sh, hostfile.sh and probe.sh (clean, record); reads FORMAT, BINARY, LOOKUP_PATH,
# LOCAL_MPI and LOCAL_VERSION (the command's --version line here).
#
# A record's fields, in order (RECORD_FIELDS): target address status detail hostname
# logical_cores physical_cores cpu_model mem_kb load1 mpi binary binary_path
# binary_version machine_id boot_id reached_at client_at network home addresses. A
# pre-check's record stops at detail.

# facts_parse PROBE_OUTPUT: F[key] = value for every key=value line (one line each, no
# control characters).
facts_parse() {
  local key value
  F=()
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^[a-z_0-9]+$ ]] || continue
    clean value "$value"
    F[$key]=$value
  done <<<"$1"
}

# facts_check: F's values kept only where they have the expected form.
facts_check() {
  local k
  [[ "${F[nproc]:-}" =~ ^[1-9][0-9]*$ ]] || F[nproc]=""
  F[physical]=${F[physical]//[[:space:]]/}
  [[ "${F[physical]:-}" =~ ^[1-9][0-9]*$ ]] || F[physical]=${F[nproc]}
  # Cores this user may use: no more than the CPUs it may use (a cpuset, taskset).
  local cores=${F[physical]} threads=${F[nproc]}
  if [[ -n "$threads" ]] && ((cores > threads)); then F[physical]=$threads; fi
  [[ "${F[mem_kb]:-}" =~ ^[0-9]+$ ]] || F[mem_kb]=""
  [[ "${F[load1]:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || F[load1]=""
  valid_host "${F[hostname]:-}" || F[hostname]=""
  [[ "${F[machine_id]:-}" =~ ^[0-9a-f]{32}$ ]] || F[machine_id]=""
  [[ "${F[boot_id]:-}" =~ ^[0-9a-f-]{36}$ ]] || F[boot_id]=""
  [[ "${F[home]:-}" =~ ^/[A-Za-z0-9._/+-]*$ ]] || F[home]=""
  [[ "${F[binary_rc]:-}" =~ ^[0-9]+$ ]] || F[binary_rc]=""
  for k in hostname nproc physical model mem_kb load1 mpi mpich binary binary_path binary_version conn addrs; do
    F[$k]=${F[$k]:-}
  done
  facts_addresses
}

# facts_addresses: F[reached_at] and F[client_at] from the ssh connection (the address
# the host was reached at, and this machine's as the host saw it), F[network] the subnet
# of the host's interface holding reached_at, F[addrs] only a.b.c.d/N words.
facts_addresses() {
  local words=() w kept=() reached="" client=""
  read -r -a words <<<"${F[conn]}"
  if ((${#words[@]} == 4)) && is_ipv4 "${words[0]}" && is_ipv4 "${words[2]}"; then
    client=${words[0]} reached=${words[2]}
  fi
  F[reached_at]=$reached F[client_at]=$client F[network]=""
  read -r -a words <<<"${F[addrs]}"
  for w in "${words[@]}"; do
    if ! [[ "$w" =~ ^($RE_IPV4)/([0-9]{1,2})$ ]] || ((10#${BASH_REMATCH[6]} > 32)); then continue; fi
    kept+=("$w")
    [[ -n "$reached" && "${w%/*}" == "$reached" ]] && F[network]=$(cidr_network "$w")
  done
  F[addrs]=${kept[*]}
}

# cidr_network A.B.C.D/N: the network it lies in, as a CIDR.
cidr_network() {
  local addr=${1%/*} plen=${1#*/} mask
  mask=$(((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF))
  echo "$(int_to_ip $(($(ip_to_int "$addr") & mask)))/$plen"
}

# facts_status: STATUS and DETAIL of a host whose probe answered (F checked).
facts_status() {
  local mpi
  STATUS=ok DETAIL=""
  if [[ "$FORMAT" == mpich ]]; then mpi=${F[mpich]}; else mpi=${F[mpi]}; fi
  [[ -z "$mpi" ]] || mpi=$(mpi_version "$mpi")
  F[mpi_version]=$mpi
  if [[ -z "${F[hostname]}" || -z "${F[nproc]}" ]]; then
    STATUS=probe-failed DETAIL="no host name or core count"
  elif [[ -z "$mpi" ]]; then
    STATUS=no-mpi DETAIL="no MPI version ($([[ "$FORMAT" == mpich ]] && echo mpichversion || echo "mpirun --version"))"
  elif [[ -n "$LOCAL_MPI" && "$mpi" != "$LOCAL_MPI" ]]; then
    STATUS=mpi-version-mismatch DETAIL="'$mpi' there, '$LOCAL_MPI' here"
  elif [[ "${F[binary]}" == no ]]; then
    STATUS=no-binary DETAIL=$(no_binary_detail)
  elif [[ "${F[binary]}" == yes && "${F[binary_rc]}" != 0 ]]; then
    STATUS=binary-fails
    DETAIL="${F[binary_path]} --version failed there (${F[binary_version]:-exit ${F[binary_rc]}}):"
    DETAIL+=" another architecture or a missing library? scripts/deploy.sh copies this machine's"
  elif [[ "${F[binary]}" == yes && -n "$LOCAL_VERSION" && "${F[binary_version]}" != "$LOCAL_VERSION" ]]; then
    STATUS=binary-version-mismatch
    DETAIL="'${F[binary_version]}' there, '$LOCAL_VERSION' here: scripts/deploy.sh copies this one"
  fi
}

# no_binary_detail: why mpirun would not find the command there, and the fix.
no_binary_detail() {
  if [[ "$BINARY" == /* ]]; then
    echo "no executable $BINARY: scripts/deploy.sh --binary $BINARY copies it there"
  elif [[ -n "$LOOKUP_PATH" ]]; then
    echo "$BINARY is in no folder of this shell's PATH (mpirun forwards it) there:" \
      "scripts/deploy.sh copies it there (no shared home)"
  else
    echo "$BINARY is neither on the PATH of a non-interactive ssh shell there nor in" \
      "the user's .local/bin: scripts/deploy.sh copies it there (no shared home)"
  fi
}

# emit_facts TARGET ADDR PROBE_OUTPUT: the record of a host that answered.
emit_facts() {
  local -A F=()
  facts_parse "$3"
  facts_check
  facts_status
  record "$1" "$2" "$STATUS" "$DETAIL" "${F[hostname]}" "${F[nproc]}" "${F[physical]}" \
    "${F[model]}" "${F[mem_kb]}" "${F[load1]}" "${F[mpi_version]}" "${F[binary]}" \
    "${F[binary_path]}" "${F[binary_version]}" "${F[machine_id]}" "${F[boot_id]}" \
    "${F[reached_at]}" "${F[client_at]}" "${F[network]}" "${F[home]}" "${F[addrs]}"
}

# machine_key HOSTNAME MACHINE_ID BOOT_ID: one machine, one key. Host name alone is not
# enough (a cloned image keeps it, and often its machine id too); the boot id differs
# between any two running kernels, and the machine id between namespaces that share one.
machine_key() {
  printf '%s|%s|%s' "$1" "$2" "$3"
}
