# shellcheck shell=bash disable=SC2034 # read by the scripts that source this file
# install.sh: where the cluster-bench command lives, on this machine and on every host.

readonly CB_COMMAND=cluster-bench

# cb_install_dir: the folder setup.sh installs the command into. As root /usr/local/bin,
# on the default PATH of every shell, ssh's non-interactive ones too; otherwise the user's
# own ~/.local/bin (no root needed), which mpirun's ranks find through the PATH mpirun
# forwards (mca_base_env_list, written by setup.sh).
cb_install_dir() {
  if (($(id -u) == 0)); then
    echo /usr/local/bin
  else
    echo "$HOME/.local/bin"
  fi
}

# cb_install_needs_path_forwarding: the install folder is not on the PATH a non-interactive
# ssh shell starts with (Debian's sshd: /usr/local/bin:/usr/bin:/bin:/usr/games).
cb_install_needs_path_forwarding() {
  [[ "$(cb_install_dir)" != /usr/local/bin ]]
}
