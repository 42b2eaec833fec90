#!/usr/bin/env python3
"""numpy's side of scripts/study/bench_kernel.sh: median time per np.linalg.eigvals call.

Prints the same CSV columns as `cargo bench --bench kernel_table`:
d,kind,median_ns,min_ns,tasks_per_round,rounds,cpu_median_ns,cpu_min_ns
(wall time, then this thread's CPU time, which leaves out time the thread was not running).
Matrices are uniform [0, 1) like the Rust workload (a different generator, same distribution).
`--info` prints which BLAS/LAPACK numpy runs on instead of timing (threadpoolctl if installed,
else numpy's build configuration and OpenBLAS's own `get_corename`).
"""

import argparse
import json
import os
import time

import numpy as np

MATRICES = 8  # distinct matrices cycled through per size, as in benches/kernel_table.rs


def tasks_per_round(d: int) -> int:
    """Same formula as the Rust side: about 0.2 s of work per round, 3 to 400 tasks."""
    est_ns = d**3 / 1.5
    return max(3, min(400, int(2e8 / est_ns)))


def openblas_corename() -> str | None:
    """The kernel OpenBLAS picked at run time, asked from the library numpy bundles."""
    import ctypes
    import glob
    import os

    libs_dir = os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs")
    for path in glob.glob(os.path.join(libs_dir, "*openblas*")):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


def info() -> None:
    try:
        from threadpoolctl import threadpool_info

        libs = [
            {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for lib in threadpool_info()
        ]
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        libs = [
            {
                "internal_api": blas.get("name"),
                "version": blas.get("version"),
                "architecture": openblas_corename(),
                "num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            }
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
        print("d,kind,median_ns,min_ns,tasks_per_round,rounds,cpu_median_ns,cpu_min_ns")
    rng = np.random.default_rng(42)
    for d in (int(x) for x in args.dims.split(",")):
        mats = [rng.random((d, d)) for _ in range(MATRICES)]
        per_round = tasks_per_round(d)
        for m in mats[: 1 if d >= 400 else 2]:  # warm-up
            np.linalg.eigvals(m)
        times, cpu = [], []
        for _ in range(args.rounds):
            t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            for t in range(per_round):
                np.linalg.eigvals(mats[t % MATRICES])
            times.append((time.perf_counter_ns() - t0) / per_round)
            cpu.append((time.thread_time_ns() - c0) / per_round)
        times.sort()
        cpu.sort()
        mid = len(times) // 2
        print(
            f"{d},numpy,{times[mid]:.0f},{times[0]:.0f},{per_round},{args.rounds},{cpu[mid]:.0f},{cpu[0]:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
