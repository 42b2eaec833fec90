#!/usr/bin/env python3
"""The same job as cluster-bench's static schedule, in mpi4py + numpy: the comparison baseline.

Rank 0 makes the task ids, scatters contiguous blocks, every rank builds each task's seeded
d x d matrix (entries uniform in [0, 1)), times np.linalg.eigvals on it, and rank 0 gathers the
timings and prints one JSON line with wall_s (barrier to end of gather), tasks_per_s and the
checksum (sum of Re sum(lambda), which differs from cluster-bench's: numpy's generator makes
other matrices of the same distribution).

Run: OPENBLAS_NUM_THREADS=1 mpirun -np 2 python mpi4py_eigvals.py --dim 100 --tasks 200
"""
import argparse
import json
import sys

import numpy as np
from mpi4py import MPI


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--tasks", type=int, default=200)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    if a.dim < 1 or a.tasks < 1:
        p.error("--dim and --tasks must be at least 1")
    return a


def block(tasks, ranks, rank):
    base, extra = divmod(tasks, ranks)
    start = rank * base + min(rank, extra)
    return start, base + (1 if rank < extra else 0)


def main():
    args = parse_args()
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    for i in range(args.warmup):
        np.linalg.eigvals(np.random.default_rng([args.seed, 1 << 40, i]).random((args.dim, args.dim)))
    comm.Barrier()
    t0 = MPI.Wtime()
    blocks = [block(args.tasks, size, r) for r in range(size)] if rank == 0 else None
    start, count = comm.scatter(blocks, root=0)
    times, sums = [], []
    for i in range(start, start + count):
        a = np.random.default_rng([args.seed, i]).random((args.dim, args.dim))
        t = MPI.Wtime()
        lam = np.linalg.eigvals(a)
        times.append(MPI.Wtime() - t)
        sums.append(lam.sum().real)
    gathered = comm.gather((times, sums), root=0)
    wall = MPI.Wtime() - t0
    if rank == 0:
        busy = sum(sum(t) for t, _ in gathered)
        checksum = sum(s for _, ss in gathered for s in ss)
        json.dump({"ranks": size, "tasks": args.tasks, "dim": args.dim, "wall_s": wall,
                   "tasks_per_s": args.tasks / wall, "busy_s": busy, "checksum": checksum},
                  sys.stdout)
        print()


if __name__ == "__main__":
    main()
