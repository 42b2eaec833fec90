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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cbtools.timing import cpu_model, ms_per_task, paired, run, tasks_for  # noqa: E402


def ab(a: str, b: str, d: int, rounds: int, path: str) -> dict:
    """B against A at size d: `timing.paired` of two kernel_loop runs of about 50 ms each."""
    def timer(binary: str):
        return lambda: ms_per_task(run(binary, d, tasks_for(d), path, cpu=1))

    return paired(timer(a), timer(b), rounds)


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
        r = ab(args.a, args.b, d, args.rounds, args.path)
        print(f"| {d} | {tasks_for(d)} | {r['a_best']:.4f} | {r['ratio']:.3f} | {r['q25']:.3f} | {r['q75']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
