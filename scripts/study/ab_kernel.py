#!/usr/bin/env python3
"""Two builds of our kernel against each other, in pairs, so that a noisy machine's drift cancels.

Each round runs `examples/kernel_loop.rs` built two ways, A B B A, on one core (`taskset -c 1`),
each run about 50 ms, and keeps the round's ratio B/A of the summed times per task; the report
gives the median and quartiles of those ratios per size. On a shared VM whose speed drifted by
a factor of two within minutes, A against a copy of itself gave medians of 0.98-1.08 with 12
rounds of 0.5 s runs, and 0.996-1.004 with 100 rounds of 50 ms runs: the short pairs see the
same machine.

Usage: scripts/study/ab_kernel.py [-d 50,100,120] [-r 100] [-p avx512] BIN_A BIN_B
BIN_A and BIN_B are copies of target/release/examples/kernel_loop (`cargo build --release
--example kernel_loop`), e.g. one built from HEAD and one from a change; run A against a copy of
itself first to see the machine's noise. Markdown goes to stdout.
"""

import argparse
import datetime
import os
import statistics

from kernel_loop import cpu_model, ms_per_task, run


def tasks_for(d: int) -> int:
    """About 50 ms per run (the kernel is O(d³), about 1 ms at d = 100), at least one task."""
    return max(1, round(5e7 / d**3))


def paired_ratios(a: str, b: str, d: int, rounds: int, path: str) -> tuple[list[float], float]:
    """Each round's B/A over A B B A, and A's least time per task."""
    tasks = tasks_for(d)
    ratios, best_a = [], float("inf")
    for _ in range(rounds):
        a1, b1, b2, a2 = (ms_per_task(run(x, d, tasks, path, cpu=1)) for x in (a, b, b, a))
        ratios.append((b1 + b2) / (a1 + a2))
        best_a = min(best_a, a1, a2)
    return ratios, best_a


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-d", "--dims", default="50,100,120", help="sizes, comma-separated")
    ap.add_argument("-r", "--rounds", type=int, default=100, help="A B B A rounds per size")
    ap.add_argument("-p", "--path", default="avx512", choices=["avx512", "avx2", "baseline"])
    ap.add_argument("a", metavar="BIN_A")
    ap.add_argument("b", metavar="BIN_B")
    args = ap.parse_args()
    try:
        args.dims = [int(x) for x in args.dims.split(",")]
    except ValueError:
        ap.error(f"--dims {args.dims!r} is not a comma-separated list of sizes")
    if args.rounds < 2 or any(d < 1 for d in args.dims):
        ap.error("need at least 2 rounds and sizes of at least 1")
    for binary in (args.a, args.b):
        if not os.access(binary, os.X_OK):
            ap.error(f"{binary} is not an executable kernel_loop")
    return args


def main() -> None:
    args = parse_args()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# {os.path.basename(args.b)} / {os.path.basename(args.a)}, paired\n")
    print(f"- {now}; CPU: {cpu_model()}; path {args.path}; A = {args.a}, B = {args.b}")
    print(f"- {args.rounds} rounds of A B B A per size under `taskset -c 1`; ratio (B + B) / (A + A)\n")
    print("| d | tasks/run | A best ms/task | B/A median | B/A q25 | B/A q75 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for d in args.dims:
        ratios, best_a = paired_ratios(args.a, args.b, d, args.rounds, args.path)
        q25, median, q75 = statistics.quantiles(ratios, n=4)
        print(f"| {d} | {tasks_for(d)} | {best_a:.4f} | {median:.3f} | {q25:.3f} | {q75:.3f} |", flush=True)


if __name__ == "__main__":
    main()
