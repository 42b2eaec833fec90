# shellcheck shell=bash
# study.sh: a study's tools, folder, clock and load average, shared by sweep.sh,
# bench_ranks.sh and bench_cost.sh. Needs ROOT, die (common.sh) and CB_COMMAND (install.sh).

# The tools a study runs; the environment may name others.
MPIRUN=${MPIRUN:-mpirun}
CLUSTER_BENCH=${CLUSTER_BENCH:-$CB_COMMAND}
# shellcheck disable=SC2034 # read by the scripts that source this file
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}

# make_study_dir ROOT NAME: creates ROOT/NAME (or NAME-2, NAME-3, …) and prints it; never reuses one.
make_study_dir() {
  local root=$1 name=$2 dir k=1
  mkdir -p -- "$root"
  dir="$root/$name"
  until mkdir -- "$dir" 2>/dev/null; do
    [[ -d "$root" && -w "$root" ]] || die "cannot create a folder in $root"
    k=$((k + 1))
    [[ $k -le 999 ]] || die "too many studies named $name in $root"
    dir="$root/$name-$k"
  done
  mkdir -- "$dir/runs"
  printf '%s\n' "$dir"
}

# now_ms: wall clock in milliseconds.
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  echo $((t / 1000))
}

# loadavg: this machine's 1, 5 and 15 minute load averages (other work skews the timings).
loadavg() {
  local a b c _
  read -r a b c _ </proc/loadavg 2>/dev/null || { echo '?'; return; }
  echo "$a $b $c"
}

# load1: the 1-minute load average alone (empty if unknown).
load1() {
  local a _
  read -r a _ </proc/loadavg 2>/dev/null || { echo ''; return; }
  echo "$a"
}

# check_run_tools: mpirun and cluster-bench are there.
check_run_tools() {
  command -v "$MPIRUN" >/dev/null || die "$MPIRUN not found (scripts/setup.sh installs Open MPI)"
  [[ -x "$(command -v -- "$CLUSTER_BENCH")" ]] || die "$CLUSTER_BENCH not found: scripts/setup.sh installs it"
}

# check_tools: mpirun, cluster-bench and the Python with matplotlib are there.
check_tools() {
  check_run_tools
  [[ -x $PYTHON ]] || die "$PYTHON not found: run scripts/setup.sh --no-build"
}
