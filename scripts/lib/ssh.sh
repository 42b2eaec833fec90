# shellcheck shell=bash disable=SC2034 # read by the scripts that source this file
# ssh.sh: the ssh options every remote step uses (keys only, never a password prompt).
# Needs common.sh.

# ssh_options CONFIG USER KEY: validates -F/-u/-i (usage errors) and sets SSH_ARGS for
# ssh, scp and ssh -G alike (User= rather than -l, which scp reads as a bandwidth limit).
ssh_options() {
  local config=$1 user=$2 key=$3
  SSH_ARGS=()
  if [[ -n "$config" ]]; then
    [[ "$config" != -* && -r "$config" ]] || usage_error "-F: cannot read $(quoted "$config")"
    SSH_ARGS+=(-F "$config")
  fi
  if [[ -n "$user" ]]; then
    [[ "$user" =~ ^[A-Za-z_][A-Za-z0-9_.-]{0,31}$ ]] || usage_error "-u: not a user name: $(quoted "$user")"
    SSH_ARGS+=(-o "User=$user")
  fi
  if [[ -n "$key" ]]; then
    [[ "$key" != -* && -r "$key" ]] || usage_error "-i: cannot read $(quoted "$key")"
    SSH_ARGS+=(-i "$key")
  fi
}

# The options of every connection: keys only, new host keys accepted once, never blindly.
readonly SSH_BATCH=(-o BatchMode=yes -o StrictHostKeyChecking=accept-new)
