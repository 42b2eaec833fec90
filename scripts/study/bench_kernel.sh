#!/usr/bin/env bash
# Side-by-side timing of our eigenvalue kernels (hqr and auto on each SIMD path, faer) and numpy's
# np.linalg.eigvals in one run, interleaved size by size so machine noise hits both sides alike.
# Writes results/kernel-vs-numpy.csv (every measurement) and results/kernel-vs-numpy.md (medians).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT PROG=study/bench_kernel.sh
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"

usage() {
    cat <<USAGE
Usage: $(basename "$0") [-d DIMS] [-p PATHS] [-r ROUNDS] [-i INNER] [-o OUTDIR] [-h]

  -d DIMS    comma-separated matrix sizes (default 50,100,120,200,400,800)
  -p PATHS   our kernel's SIMD paths to run side by side (default avx512,avx2,baseline;
             a path this CPU lacks is skipped)
  -r ROUNDS  interleaved outer rounds; the table reports the median over them (default 3)
  -i INNER   timed rounds inside each program run, their median is one measurement (default 3)
  -o OUTDIR  output folder (default results)
  -h         this help

numpy runs with OPENBLAS_NUM_THREADS=1 and without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, so
OpenBLAS picks its kernel for this CPU; the report names the kernel it picked. PYTHON names the
interpreter with numpy (default python3), e.g. PYTHON=.venv/bin/python3.

The table has wall time (what a quiet machine should be measured by); the CSV also has each
process's thread CPU time, the fairer figure on a loaded machine. GF/s counts 10·d³ flops per
task (the usual estimate for Hessenberg reduction plus eigenvalues-only QR), next to the
one-core peak of each path: FMA lanes × 2 flops × 2 FMA units × the clock /proc/cpuinfo reports.
USAGE
}

# numpy in the environment the comparison promises: one thread, OpenBLAS's own CPU detection.
run_numpy() {
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
        "$python" "$script_dir/bench_numpy.py" "$@"
}

run_rust() {
    "$bench_bin" "$@"
}

main() {
    local dims="50,100,120,200,400,800" paths="avx512,avx2,baseline" rounds=3 inner=3
    local outdir=results
    while getopts "d:p:r:i:o:h" opt; do
        case "$opt" in
            d) dims="$OPTARG" ;;
            p) paths="$OPTARG" ;;
            r) rounds="$OPTARG" ;;
            i) inner="$OPTARG" ;;
            o) outdir="$OPTARG" ;;
            h) usage; exit 0 ;;
            *) usage >&2; exit 2 ;;
        esac
    done
    [[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "-r needs a positive integer"
    [[ "$inner" =~ ^[1-9][0-9]*$ ]] || die "-i needs a positive integer"
    [[ "$dims" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "-d needs comma-separated integers"
    [[ "$paths" =~ ^(avx512|avx2|avx2-fma|baseline)(,(avx512|avx2|avx2-fma|baseline))*$ ]] \
        || die "-p needs comma-separated paths out of avx512, avx2, baseline"
    python="${PYTHON:-python3}"

    script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    local repo
    repo="$ROOT"
    cd "$repo"
    "$python" -c "import numpy" 2>/dev/null \
        || die "$python has no numpy: pip install numpy, or set PYTHON to one that has it"

    echo "building benches/kernel_table.rs ..." >&2
    bench_bin="$(cargo bench --bench kernel_table --no-run --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "kernel_table" and m.get("executable"):
        print(m["executable"])')"
    [[ -x "$bench_bin" ]] || die "could not build the kernel_table bench"

    mkdir -p "$outdir"
    local raw="$outdir/kernel-vs-numpy.csv"
    echo "round,d,kind,median_ns,min_ns,tasks_per_round,rounds,cpu_median_ns,cpu_min_ns" >"$raw"
    local r d
    local -a dim_list
    IFS=',' read -r -a dim_list <<<"$dims"
    for ((r = 1; r <= rounds; r++)); do
        for d in "${dim_list[@]}"; do
            echo "round $r/$rounds d=$d" >&2
            # Alternate who goes first so neither side always runs on a warmer (or hotter) CPU.
            if ((r % 2)); then
                run_rust --dims "$d" --kinds hqr,faer,auto --paths "$paths" --rounds "$inner" | sed "s/^/$r,/" >>"$raw"
                run_numpy --dims "$d" --rounds "$inner" | sed "s/^/$r,/" >>"$raw"
            else
                run_numpy --dims "$d" --rounds "$inner" | sed "s/^/$r,/" >>"$raw"
                run_rust --dims "$d" --kinds hqr,faer,auto --paths "$paths" --rounds "$inner" | sed "s/^/$r,/" >>"$raw"
            fi
        done
    done

    local numpy_info rustc_v cmd
    numpy_info="$(run_numpy --info)"
    rustc_v="$(rustc --version)"
    cmd="scripts/study/bench_kernel.sh -d $dims -p $paths -r $rounds -i $inner -o $outdir"
    python3 - "$raw" "$outdir/kernel-vs-numpy.md" "$cmd" "$numpy_info" "$rustc_v" <<'PY'
import csv, json, statistics, sys, datetime, os
raw, out, cmd, numpy_info, rustc_v = sys.argv[1:]
rows = list(csv.DictReader(open(raw)))
med, by_round = {}, {}
for r in rows:
    med.setdefault((int(r["d"]), r["kind"]), []).append(float(r["median_ns"]))
    by_round[(int(r["round"]), int(r["d"]), r["kind"])] = float(r["median_ns"])
dims = sorted({d for d, _ in med})
kinds = {k for _, k in med}
paths = [p for p in ("avx512", "avx2-fma", "baseline") if f"auto@{p}" in kinds]
cpuinfo = open("/proc/cpuinfo").read().splitlines()
field = lambda name: next((l.split(":", 1)[1].strip() for l in cpuinfo if l.startswith(name)), "")
model, mhz, flags = field("model name"), float(field("cpu MHz") or "nan"), field("flags").split()
# One-core peak: FMA lanes x 2 flops x 2 FMA units x clock (the baseline: 2 SSE2 lanes, separate
# multiply and add, still 2 ports).
lanes = {"avx512": 8, "avx2-fma": 4, "baseline": 2}
per_cycle = {p: lanes[p] * (2 if p != "baseline" else 1) * 2 for p in lanes}
peak = {p: per_cycle[p] * mhz / 1e3 for p in lanes}
info = json.loads(numpy_info)
blas = info["blas"][0] if info["blas"] else {}
ms = lambda d, k: statistics.median(med[(d, k)]) / 1e6 if (d, k) in med else float("nan")
gfs = lambda d, t_ms: 10 * d**3 / (t_ms * 1e6)
target = lambda d: 0.30 if d <= 120 else 0.5 if d <= 200 else 0.7 if d <= 400 else 1.0
lines = [
    "# Eigenvalue kernel vs numpy",
    "",
    f"- command: `{cmd}`",
    f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
    f"- CPU: {model}, {os.cpu_count()} logical cores, {mhz:.0f} MHz (/proc/cpuinfo), "
    f"AVX-512F: {'yes' if 'avx512f' in flags else 'no'}, AVX2+FMA: {'yes' if 'avx2' in flags and 'fma' in flags else 'no'}",
    f"- our kernel's SIMD paths run: {', '.join(paths)} (one binary, chosen at run time; "
    "CLUSTER_BENCH_SIMD caps it per process)",
    "- one-core peak, GF/s (FMA lanes × 2 flops × 2 FMA units × clock, assuming 2 FMA units): "
    + ", ".join(f"{p} {peak[p]:.0f}" for p in paths),
    f"- Rust: {rustc_v}, release profile, one thread",
    f"- numpy {info['numpy']}: {blas.get('internal_api')} {blas.get('version')}, "
    f"kernel `{blas.get('architecture')}`, {blas.get('num_threads')} thread(s) "
    "(OPENBLAS_NUM_THREADS=1, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset)",
    "- inputs: dense uniform [0, 1) matrices, 8 distinct per size, cycled",
    "- time cells: median over the outer rounds of the median wall time per task (ms) of each run;",
    "  Rust and numpy runs interleaved size by size, alternating which goes first; thread CPU",
    "  times are in the CSV",
    "- ratio: auto / numpy of those medians; worst: the largest of the ratios taken within each",
    "  round (Rust and numpy seconds apart); GF/s: 10·d³ flops per task / time",
    "",
]
head = "| d | numpy ms | numpy GF/s | faer ms |"
rule = "|---:|---:|---:|---:|"
for p in paths:
    head += f" auto@{p} ms | GF/s | ratio | worst |"
    rule += "---:|---:|---:|---:|"
lines += [head + " target |", rule + "---:|"]
for d in dims:
    n = ms(d, "numpy")
    row = f"| {d} | {n:.3f} | {gfs(d, n):.1f} | {ms(d, 'faer'):.3f} |"
    for p in paths:
        k = f"auto@{p}"
        a = ms(d, k)
        per = [by_round[(rd, d, k)] / by_round[(rd, d, "numpy")] for rd, dd, kk in by_round
               if dd == d and kk == k and (rd, d, "numpy") in by_round]
        met = "" if a / n <= target(d) else " ✗"
        row += f" {a:.3f} | {gfs(d, a):.1f} | {a / n:.2f}{met} | {max(per):.2f} |"
    lines.append(row + f" ≤ {target(d):.2f} |")
lines += ["", "✗: ratio above the target. `hqr@path` (our kernel at every size) is in the CSV."]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
    echo "wrote $raw and $outdir/kernel-vs-numpy.md" >&2
}

main "$@"
