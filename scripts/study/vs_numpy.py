#!/usr/bin/env python3
"""Our kernel against numpy's `eigvals`, in pairs, so that a noisy machine's drift cancels.

Each round times numpy, our kernel, our kernel, numpy (`timing.paired`), each run about 50 ms
of our kernel's work and at least 8 tasks, all on one core (core 1 when there are two); the
report gives per size and SIMD path the median and quartiles of the rounds' ratios ours / numpy,
with the issue's targets. `bench_kernel.sh` times longer blocks unpaired and reports medians of
each side; on a VM whose speed drifts within minutes its ratios moved by up to 0.1 between runs.

numpy runs in this process with one OpenBLAS thread and OpenBLAS's own choice of kernel
(OPENBLAS_NUM_THREADS=1 is set and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset before numpy
loads); ours is `examples/kernel_loop.rs` (built here unless -b names a copy). Matrices are
uniform [0, 1), 8 per size cycled; the two sides draw different ones from that distribution.
A size and path run at least 10 rounds (`timing.paired`), then stop after -t seconds or -r
rounds, whichever comes first.

Run: .venv/bin/python scripts/study/vs_numpy.py -d 50,100,120,200,400,800 -p avx512,avx2 -o FILE
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy loads OpenBLAS
for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(var, None)

import numpy as np  # noqa: E402

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from bench_numpy import MATRICES, openblas_corename  # noqa: E402
from cbtools.timing import build_kernel_loop, check_out_folder, cpu_model, emit, git_head, ms_per_task, paired, run, tasks_for  # noqa: E402

PATHS = ("avx512", "avx2", "baseline")


def target(d: int) -> float:
    """The largest ratio ours / numpy the kernel is meant to reach at size d."""
    return 0.30 if d <= 120 else 0.5 if d <= 200 else 0.7 if d <= 400 else 1.0


def numpy_timer(d: int, tasks: int):
    """A function that times `tasks` calls of np.linalg.eigvals, ms per call."""
    rng = np.random.default_rng(42)
    mats = [rng.random((d, d)) for _ in range(MATRICES)]
    np.linalg.eigvals(mats[0])  # warm-up, discarded

    def timer() -> float:
        t0 = time.perf_counter()
        for t in range(tasks):
            np.linalg.eigvals(mats[t % MATRICES])
        return (time.perf_counter() - t0) / tasks * 1e3

    return timer


def measure(loop: str, d: int, path: str, cpu: int | None, args: argparse.Namespace) -> dict:
    """One size and path: rounds of numpy, ours, ours, numpy until -r or -t is reached."""
    tasks = tasks_for(d, least=MATRICES)

    def ours() -> float:
        return ms_per_task(run(loop, d, tasks, path, cpu=cpu))

    r = paired(numpy_timer(d, tasks), ours, args.rounds, args.seconds)
    return {"d": d, "path": path, "tasks": tasks, **r}


def render(rows: list[dict], header: list[str]) -> str:
    """The markdown report: header lines, then one row per size and path."""
    lines = ["# Our kernel against numpy's eigvals, paired", ""] + [f"- {h}" for h in header] + [""]
    lines.append("| d | path | tasks/run | rounds | numpy ms | ours ms | ours GF/s | ours / numpy | q25 | q75 | target |")
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        met = "" if r["ratio"] <= target(r["d"]) else " ✗"
        gfs = 10 * r["d"] ** 3 / (r["b"] * 1e6)
        lines.append(
            f"| {r['d']} | {r['path']} | {r['tasks']} | {r['rounds']} | {r['a']:.3f} | {r['b']:.3f} | {gfs:.1f} "
            f"| {r['ratio']:.3f}{met} | {r['q25']:.3f} | {r['q75']:.3f} | ≤ {target(r['d']):.2f} |"
        )
    lines += ["", "✗: above the target. ms: medians of every run; GF/s: 10·d³ flops per task / ours ms."]
    return "\n".join(lines) + "\n"


def header_lines(args: argparse.Namespace, cpu: int | None, skipped: list[str]) -> list[str]:
    lines = [
        f"command: `scripts/study/vs_numpy.py -d {args.dims} -p {args.paths} -r {args.rounds} -t {args.seconds:g}`",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, git {git_head()}",
        f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; both sides on "
        + (f"core {cpu} only" if cpu is not None else "any core"),
        f"numpy {np.__version__}, OpenBLAS kernel `{openblas_corename() or '?'}`, one thread; "
        "ours: `examples/kernel_loop.rs` on the named SIMD path, "
        + (f"the copy {args.binary}" if args.binary else "built from this checkout"),
        "ratio: median over rounds of (ours + ours) / (numpy + numpy), runs seconds apart; "
        "q25, q75: its quartiles",
    ]
    return lines + [f"skipped: {s}" for s in skipped]


def available(loop: str, path: str) -> str | None:
    """None if this CPU runs `path`, else kernel_loop's reason."""
    try:
        run(loop, 4, 1, path)
        return None
    except SystemExit as e:
        return str(e)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-d", "--dims", default="50,100,120,200,400,800", help="comma-separated sizes")
    ap.add_argument("-p", "--paths", default="avx512,avx2", help=f"our SIMD paths, out of {', '.join(PATHS)}")
    ap.add_argument("-r", "--rounds", type=int, default=100, help="most rounds per size and path")
    ap.add_argument("-t", "--seconds", type=float, default=60.0, help="no new round after this long")
    ap.add_argument("-b", "--binary", help="a kernel_loop executable (default: build it)")
    ap.add_argument("-o", "--out", help="the markdown report (default: stdout)")
    args = ap.parse_args()
    try:
        args.dim_list = [int(x) for x in args.dims.split(",")]
    except ValueError:
        ap.error(f"-d {args.dims!r} is not a comma-separated list of sizes")
    args.path_list = args.paths.split(",")
    if any(p not in PATHS for p in args.path_list):
        ap.error(f"-p {args.paths!r}: paths are {', '.join(PATHS)}")
    if any(d < 1 for d in args.dim_list) or args.rounds < 10 or not args.seconds > 0:
        ap.error("sizes must be positive, -r at least 10 and -t positive")
    if args.binary and not os.access(args.binary, os.X_OK):
        ap.error(f"{args.binary} is not an executable kernel_loop")
    check_out_folder(ap, args.out)
    return args


def main() -> None:
    args = parse_args()
    loop = args.binary or build_kernel_loop()
    # One core for both sides; numpy's is this process's, kernel_loop's is given by taskset.
    cpu = 1 if len(os.sched_getaffinity(0)) > 1 and 1 in os.sched_getaffinity(0) else None
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    reasons = {p: available(loop, p) for p in args.path_list}
    skipped = [f"{p} ({why})" for p, why in reasons.items() if why]
    rows = []
    for d in args.dim_list:
        for path in (p for p in args.path_list if not reasons[p]):
            print(f"d={d} {path} ...", file=sys.stderr)
            rows.append(measure(loop, d, path, cpu, args))
    text = render(rows, header_lines(args, cpu, skipped))
    emit(text, args.out)


if __name__ == "__main__":
    main()
