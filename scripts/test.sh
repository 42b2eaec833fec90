#!/usr/bin/env bash
# Sets up this machine if needed, then runs every check and test: format, lint, shellcheck,
# unit tests, real-mpirun tests and (as root) the multi-host tests on the project's test hosts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT

usage() {
  cat <<USAGE
Usage: scripts/test.sh [CARGO_TEST_ARGS...]

Runs scripts/setup.sh (which also installs the command cluster-bench that tests/lab.rs
starts by its bare name), cargo fmt --check, cargo clippy -D warnings, cargo doc with
warnings as errors (broken doc links), shellcheck on every script, then cargo test --release
(extra arguments go to cargo test).
USAGE
}

step() { printf '\n== %s\n' "$*" >&2; }

lint_shell() {
  local files=()
  # Tracked files where git knows them, else everything in the folders (a tarball checkout).
  mapfile -t files < <(cd "$ROOT" && git ls-files 'scripts/*' '.ci/*' 2>/dev/null)
  if [[ ${#files[@]} -eq 0 ]]; then
    mapfile -t files < <(cd "$ROOT" && find scripts .ci -type f)
  fi
  local f shell_files=()
  for f in "${files[@]}"; do
    # A shell script by its first line: a shebang naming sh or bash, or a shellcheck
    # directive (the sourced scripts/lib files); "sh" anywhere else is not enough.
    head -n1 "$ROOT/$f" | grep -Eq '^#!.*[/ ](ba)?sh([[:space:]]|$)|^# shellcheck shell=' \
      && shell_files+=("$f")
  done
  (cd "$ROOT" && shellcheck -x "${shell_files[@]}")
}

main() {
  case "${1:-}" in -h|--help) usage; exit 0 ;; esac
  step setup
  # Slurm and MPICH too: tests/slurm.rs and tests/mpich.rs run them on the test hosts.
  "$ROOT/scripts/setup.sh" --slurm --mpi mpich
  cd "$ROOT"
  step "cargo fmt --check"
  cargo fmt --all -- --check
  step "cargo clippy"
  cargo clippy --release --all-targets --quiet -- -D warnings
  step "cargo doc"
  RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
  step shellcheck
  lint_shell
  step "cargo test --release"
  cargo test --release "$@"
}

main "$@"
