#!/usr/bin/env python3
"""numpy's side of scripts/bench_kernel.sh: median time per np.linalg.eigvals call.

Prints the same CSV columns as `cargo bench --bench kernel_table`:
d,kind,median_ns,min_ns,tasks_per_round,rounds
Matrices are uniform [0, 1) like the Rust workload (a different generator, same distribution).
`--info` prints which BLAS/LAPACK numpy runs on (threadpoolctl) instead of timing.
"""

import argparse
import json
import time

import numpy as np

MATRICES = 8  # distinct matrices cycled through per size, as in benches/kernel_table.rs


def tasks_per_round(d: int) -> int:
    """Same formula as the Rust side: about 0.2 s of work per round, 3 to 400 tasks."""
    est_ns = d**3 / 1.5
    return max(3, min(400, int(2e8 / est_ns)))


def info() -> None:
    from threadpoolctl import threadpool_info

    libs = [
        {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
        for lib in threadpool_info()
    ]
    print(json.dumps({"numpy": np.__version__, "blas": libs}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", default="50,100,120,200,400,800")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--header", action="store_true")
    ap.add_argument("--info", action="store_true")
    args = ap.parse_args()
    if args.info:
        info()
        return
    if args.header:
        print("d,kind,median_ns,min_ns,tasks_per_round,rounds")
    rng = np.random.default_rng(42)
    for d in (int(x) for x in args.dims.split(",")):
        mats = [rng.random((d, d)) for _ in range(MATRICES)]
        per_round = tasks_per_round(d)
        for m in mats[: 1 if d >= 400 else 2]:  # warm-up
            np.linalg.eigvals(m)
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter_ns()
            for t in range(per_round):
                np.linalg.eigvals(mats[t % MATRICES])
            times.append((time.perf_counter_ns() - t0) / per_round)
        times.sort()
        print(f"{d},numpy,{times[len(times) // 2]:.0f},{times[0]:.0f},{per_round},{args.rounds}", flush=True)


if __name__ == "__main__":
    main()
