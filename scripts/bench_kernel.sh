#!/usr/bin/env bash
# Side-by-side timing of our eigenvalue kernels (hqr, faer, auto) and numpy's np.linalg.eigvals
# in one run, interleaved size by size so machine noise hits both sides alike. Writes
# results/kernel-vs-numpy.csv (every measurement) and results/kernel-vs-numpy.md (medians).
set -euo pipefail

usage() {
    cat <<USAGE
Usage: $(basename "$0") [-d DIMS] [-r ROUNDS] [-i INNER] [-o OUTDIR] [-h]

  -d DIMS    comma-separated matrix sizes (default 50,100,120,200,400,800)
  -r ROUNDS  interleaved outer rounds; the table reports the median over them (default 3)
  -i INNER   timed rounds inside each program run, their median is one measurement (default 3)
  -o OUTDIR  output folder (default results)
  -h         this help

numpy runs with OPENBLAS_NUM_THREADS=1 and without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, so
OpenBLAS picks its kernel for this CPU; the report names the kernel it picked.
USAGE
}

die() {
    echo "error: $*" >&2
    exit 1
}

# numpy in the environment the comparison promises: one thread, OpenBLAS's own CPU detection.
run_numpy() {
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
        python3 "$script_dir/bench_numpy.py" "$@"
}

run_rust() {
    "$bench_bin" "$@"
}

main() {
    local dims="50,100,120,200,400,800" rounds=3 inner=3 outdir=results
    while getopts "d:r:i:o:h" opt; do
        case "$opt" in
            d) dims="$OPTARG" ;;
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

    script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    local repo
    repo="$(cd "$script_dir/.." && pwd)"
    cd "$repo"
    python3 -c "import numpy, threadpoolctl" 2>/dev/null \
        || die "needs numpy and threadpoolctl: pip install numpy threadpoolctl"

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
    echo "round,d,kind,median_ns,min_ns,tasks_per_round,rounds" >"$raw"
    local r d
    local -a dim_list
    IFS=',' read -r -a dim_list <<<"$dims"
    for ((r = 1; r <= rounds; r++)); do
        for d in "${dim_list[@]}"; do
            echo "round $r/$rounds d=$d" >&2
            # Alternate who goes first so neither side always runs on a warmer (or hotter) CPU.
            if ((r % 2)); then
                run_rust --dims "$d" --kinds hqr,faer,auto --rounds "$inner" | sed "s/^/$r,/" >>"$raw"
                run_numpy --dims "$d" --rounds "$inner" | sed "s/^/$r,/" >>"$raw"
            else
                run_numpy --dims "$d" --rounds "$inner" | sed "s/^/$r,/" >>"$raw"
                run_rust --dims "$d" --kinds hqr,faer,auto --rounds "$inner" | sed "s/^/$r,/" >>"$raw"
            fi
        done
    done

    local cpu numpy_info rustc_v cmd
    cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    numpy_info="$(run_numpy --info)"
    rustc_v="$(rustc --version)"
    cmd="scripts/bench_kernel.sh -d $dims -r $rounds -i $inner -o $outdir"
    python3 - "$raw" "$outdir/kernel-vs-numpy.md" "$cmd" "$cpu" "$numpy_info" "$rustc_v" <<'PY'
import csv, json, statistics, sys, datetime, os
raw, out, cmd, cpu, numpy_info, rustc_v = sys.argv[1:]
rows = list(csv.DictReader(open(raw)))
med = {}
by_round = {}
for r in rows:
    med.setdefault((int(r["d"]), r["kind"]), []).append(float(r["median_ns"]))
    by_round[(int(r["round"]), int(r["d"]), r["kind"])] = float(r["median_ns"])
dims = sorted({d for d, _ in med})
info = json.loads(numpy_info)
blas = info["blas"][0] if info["blas"] else {}
ms = lambda d, k: statistics.median(med[(d, k)]) / 1e6 if (d, k) in med else float("nan")
lines = [
    "# Eigenvalue kernel vs numpy",
    "",
    f"- command: `{cmd}`",
    f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
    f"- CPU: {cpu}, {os.cpu_count()} logical cores",
    f"- Rust: {rustc_v}, release profile, one thread",
    f"- numpy {info['numpy']}: {blas.get('internal_api')} {blas.get('version')}, "
    f"kernel `{blas.get('architecture')}`, {blas.get('num_threads')} thread(s) "
    "(OPENBLAS_NUM_THREADS=1, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset)",
    "- inputs: dense uniform [0, 1) matrices, 8 distinct per size, cycled",
    "- time cells: median over the outer rounds of the median time per task (ms) of each run;",
    "  Rust and numpy runs interleaved size by size, alternating which goes first",
    "- auto/numpy: ratio of those medians; per-round: median and worst of the ratios taken",
    "  within each round (Rust and numpy seconds apart), which cancels slow drifts in machine load",
    "",
    "| d | hqr ms | faer ms | auto ms | numpy ms | auto/numpy | per-round median | per-round worst | target | met |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
]
for d in dims:
    a, n = ms(d, "auto"), ms(d, "numpy")
    ratio = a / n
    rounds = sorted({rd for rd, dd, _ in by_round if dd == d})
    per = [by_round[(rd, d, "auto")] / by_round[(rd, d, "numpy")] for rd in rounds
           if (rd, d, "auto") in by_round and (rd, d, "numpy") in by_round]
    target = 0.85 if d <= 120 else 1.0
    lines.append(
        f"| {d} | {ms(d, 'hqr'):.3f} | {ms(d, 'faer'):.3f} | {a:.3f} | {n:.3f} | "
        f"{ratio:.2f} | {statistics.median(per):.2f} | {max(per):.2f} | ≤ {target:.2f} | "
        f"{'yes' if ratio <= target else 'NO'} |"
    )
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
    echo "wrote $raw and $outdir/kernel-vs-numpy.md" >&2
}

main "$@"
