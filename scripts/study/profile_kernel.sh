#!/usr/bin/env bash
# Where our eigenvalue kernel's instructions go: runs examples/kernel_loop.rs under
# `valgrind --tool=callgrind` for each size and writes, per size, the instructions per task of
# each phase (scripts/study/kernel_phases.py). Instruction counts are exact and repeatable, so
# two builds compare without the noise of timings; they are not time, so with -s `perf record`
# samples the same binary's time too and each phase gets its share of both.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT PROG=study/profile_kernel.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"

build_loop() {
    cargo build --release --example kernel_loop --message-format=json 2>/dev/null \
        | jq -r 'select(.reason == "compiler-artifact" and .target.name == "kernel_loop")
                 | .executable // empty'
}

usage() {
    cat <<USAGE
Counts, with callgrind, the instructions each phase of the eigenvalue kernel executes
and, with -s, samples with perf the share of the time each takes.

Usage: $(basename "$0") [-d DIMS] [-p PATH] [-t TASKS] [-s] [-o FILE] [-h]

  -d DIMS    comma-separated matrix sizes (default 50,100)
  -p PATH    the kernel's SIMD path: avx2 or baseline (default avx2); not avx512, which
             valgrind's virtual CPU does not have (avx2 runs the same arithmetic)
  -t TASKS   tasks per size, cycling through the benchmark's 8 matrices (default 40)
  -s         also sample time (perf record -e cpu-clock, about 1 s per size)
  -o FILE    the markdown report (default results/kernel-phases.md)
  -h         this help

Needs valgrind and addr2line (Debian: apt-get install valgrind binutils), and perf for -s
(linux-perf). Takes about a minute for the defaults: callgrind runs the kernel some 50
times slower. Time shares are only as good as the machine is quiet.
USAGE
}

# sample_time BIN D PATH: perf's samples of about 1 s of tasks (6·10⁹ flops at 10·d³ per
# task) at size D, as `perf script` text in $tmp/perf.D.txt.
sample_time() {
    local bin=$1 d=$2 path=$3 tasks
    tasks=$((6000000000 / (10 * d * d * d)))
    ((tasks >= 20)) || tasks=20
    perf record -q -e cpu-clock -F 10000 -o "$tmp/perf.$d.data" -- \
        "$bin" "$d" "$tasks" "$path" >/dev/null 2>"$tmp/perf.log" \
        || die "perf record failed at d=$d: $(tail -n 3 "$tmp/perf.log")"
    perf script -i "$tmp/perf.$d.data" --show-mmap-events -F ip,dso \
        >"$tmp/perf.$d.txt" 2>>"$tmp/perf.log" \
        || die "perf script failed at d=$d: $(tail -n 3 "$tmp/perf.log")"
}

# valgrind_failure LOG: why valgrind stopped, in a line. Its decoder lags the instructions
# compilers choose (3.19 has no register form of VEX `vmovq`, 0xC5 .. 0xD6, which LLVM emits for
# some builds of the AVX2 path): then the build, not this script, is what valgrind cannot run.
valgrind_failure() {
    local unhandled
    unhandled="$(grep -m1 -o 'unhandled instruction bytes: .*' "$1" || true)"
    if [[ -n "$unhandled" ]]; then
        echo "$(valgrind --version) cannot decode an instruction of this build ($unhandled);" \
            "a newer valgrind may; scripts/study/ab_kernel.py compares builds by time instead"
    else
        tail -n 3 "$1"
    fi
}

# profile_size BIN D PATH TASKS TIME: the phase table of one size (with time shares if TIME).
profile_size() {
    local bin=$1 d=$2 path=$3 tasks=$4 time=$5 out summary
    local -a perf_text=()
    out="$tmp/callgrind.$d.out"
    summary="$(valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$out" \
        "$bin" "$d" "$tasks" "$path" 2>"$tmp/valgrind.log")" \
        || die "valgrind failed at d=$d: $(valgrind_failure "$tmp/valgrind.log")"
    # Its first line; the second, the time per task, is valgrind's slowness here.
    summary=${summary%%$'\n'*}
    if ((time)); then
        sample_time "$bin" "$d" "$path"
        perf_text=("$tmp/perf.$d.txt")
    fi
    echo "## d = $d"
    echo
    echo "- kernel_loop: \`$summary\`"
    python3 "$ROOT/scripts/study/kernel_phases.py" "$out" "$bin" "${perf_text[@]}"
    echo
}

report() {
    local dims=$1 path=$2 tasks=$3 time=$4 bin=$5 d flag=""
    local -a dim_list
    IFS=',' read -r -a dim_list <<<"$dims"
    local title="# Where the kernel's instructions go"
    if ((time)); then
        flag=" -s"
        title="# Where the kernel's instructions and time go"
    fi
    echo "$title"
    echo
    echo "- command: \`scripts/study/profile_kernel.sh -d $dims -p $path -t $tasks$flag\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git -C "$ROOT" rev-parse --short HEAD)"
    echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "- $(valgrind --version), $(rustc --version)"
    echo "- instructions executed in the kernel (\`src/kernel/\`), counted by callgrind and"
    echo "  attributed to the functions they were inlined from (\`kernel_phases.py\`): exact and"
    echo "  repeatable, but not time: a latency-bound chain of few instructions can cost more"
    echo "  than a long vectorised loop"
    if ((time)); then
        echo "- share of time: perf's cpu-clock samples (10 kHz) in each phase, from a separate"
        echo "  run of about 1 s per size outside valgrind; the machine's other load blurs it"
    fi
    echo
    cat <<'LEGEND'
Phases (`src/kernel/sweep.rs` unless named): `sweep_pair/batches/…` is the two-bulge chase in
batches of 16 steps: `make3` the reflectors, `step_near` the entries the next reflector reads,
`step_rest` the other updates near the bulge, `flush` the deferred updates far from it
(with the transposes they need); `sweep_pair/step/…` its last steps, one at a time;
`sweep/…` the one-bulge sweeps of active blocks under 32 rows; `find_split`, `bulge_start` (with
`starts4`, its test of four rows at a time, a function of its own) and `four_shifts` (the 4×4 QR
for the shifts) run once per iteration (`hqr.rs`, `aed.rs`).

LEGEND
    for d in "${dim_list[@]}"; do
        echo "profiling d=$d ..." >&2
        profile_size "$bin" "$d" "$path" "$tasks" "$time"
    done
}

main() {
    local dims="50,100" path="avx2" tasks=40 out="results/kernel-phases.md" time=0
    while (($#)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -s) time=1; shift; continue ;;
            -d) need_value "$@"; dims=$2 ;;
            -p) need_value "$@"; path=$2 ;;
            -t) need_value "$@"; tasks=$2 ;;
            -o) need_value "$@"; out=$2 ;;
            *) usage_error "unknown argument $(quoted "$1")" ;;
        esac
        shift 2
    done
    [[ "$dims" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || usage_error "-d needs comma-separated positive integers"
    [[ "$path" != avx512 ]] \
        || usage_error "-p avx512: valgrind's virtual CPU has no AVX-512; -p avx2 runs the same arithmetic"
    [[ "$path" =~ ^(avx2|baseline)$ ]] || usage_error "-p needs avx2 or baseline"
    [[ "$tasks" =~ ^[1-9][0-9]*$ ]] || usage_error "-t needs a positive integer"
    local tool
    for tool in valgrind addr2line readelf jq python3; do
        command -v "$tool" >/dev/null || die "needs $tool (Debian: apt-get install valgrind binutils jq python3)"
    done
    if ((time)); then
        command -v perf >/dev/null || die "-s needs perf (Debian: apt-get install linux-perf)"
    fi
    cd "$ROOT"
    echo "building examples/kernel_loop.rs ..." >&2
    local bin
    bin="$(build_loop)"
    [[ -x "$bin" ]] || die "could not build examples/kernel_loop.rs"
    tmp="$(mktemp -d)"
    trap 'rm -rf -- "$tmp"' EXIT
    mkdir -p -- "$(dirname -- "$out")"
    write_atomic "$out" report "$dims" "$path" "$tasks" "$time" "$bin"
    echo "wrote $out" >&2
}

main "$@"
