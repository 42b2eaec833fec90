#!/usr/bin/env python3
"""Medians and ratios of scripts/study/bench_speed.sh's raw.csv, as Markdown against issue 2's targets."""
import argparse
import csv
import platform
import statistics
import subprocess
from collections import defaultdict


def load(path):
    cells = defaultdict(lambda: defaultdict(list))
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["case"], int(row["np"]))
            for col in ("wall_s", "tasks_per_s", "process_s"):
                if row[col]:
                    cells[key][col].append(float(row[col]))
    return cells


def med(cells, case, np_, col):
    vals = cells.get((case, np_), {}).get(col, [])
    return statistics.median(vals) if vals else float("nan")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def verdict(ok):
    return "met" if ok else "**not met**"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("raw")
    ap.add_argument("--command", default="scripts/study/bench_speed.sh")
    a = ap.parse_args()
    c = load(a.raw)
    rounds = max((len(v["process_s"]) for v in c.values()), default=0)
    mpiv = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout.splitlines()
    out = []
    out.append("# Speed study: cluster-bench vs mpi4py + numpy, side by side\n")
    out.append(f"Command: `{a.command}`; {rounds} interleaved rounds, medians. "
               f"CPU: {cpu_model()}; {mpiv[0] if mpiv else 'mpirun ?'}; OMPI_MCA_pml=ob1, "
               "OPENBLAS_NUM_THREADS=1. The machine has 2 cores and is shared: read ratios, not absolutes.\n")
    out.append("## d=100, 200 tasks\n")
    out.append("| job | np | wall_s | tasks/s | whole process s |")
    out.append("| --- | ---: | ---: | ---: | ---: |")
    for case in ("cluster-bench-static", "cluster-bench-dynamic", "mpi4py"):
        for np_ in (1, 2):
            out.append(f"| {case} | {np_} | {med(c, case, np_, 'wall_s'):.4f} | "
                       f"{med(c, case, np_, 'tasks_per_s'):.1f} | {med(c, case, np_, 'process_s'):.3f} |")
    noop = med(c, "mpi-noop", 2, "process_s")
    out.append(f"| MPI init+finalize no-op | 2 | | | {noop:.3f} |\n")

    out.append("## Against the targets\n")
    out.append("| target | measured | verdict |")
    out.append("| --- | --- | --- |")
    py2 = med(c, "mpi4py", 2, "tasks_per_s")
    for s in ("static", "dynamic"):
        cb2 = med(c, f"cluster-bench-{s}", 2, "tasks_per_s")
        r = cb2 / py2
        out.append(f"| tasks/s at -np 2 ≥ 1.2× mpi4py ({s}) | {cb2:.1f} / {py2:.1f} = {r:.2f}× | {verdict(r >= 1.2)} |")
    for s in ("static", "dynamic"):
        w1 = med(c, f"cluster-bench-{s}", 1, "wall_s")
        w2 = med(c, f"cluster-bench-{s}", 2, "wall_s")
        e = w1 / (2 * w2)
        out.append(f"| strong-scaling efficiency wall(1)/(2·wall(2)) ≥ 0.95 ({s}) | {e:.3f} | {verdict(e >= 0.95)} |")
    for s in ("static", "dynamic"):
        proc = med(c, f"cluster-bench-{s}", 2, "process_s")
        wall = med(c, f"cluster-bench-{s}", 2, "wall_s")
        over = proc - noop - wall
        out.append(f"| whole process ≤ no-op + compute + 50 ms ({s}) | {proc:.3f} − {noop:.3f} − {wall:.3f} = "
                   f"{over * 1e3:.0f} ms | {verdict(over <= 0.050)} |")
        pyp = med(c, "mpi4py", 2, "process_s")
        out.append(f"| whole process ≤ 0.5× mpi4py's ({s}) | {proc:.3f} / {pyp:.3f} = {proc / pyp:.2f}× | "
                   f"{verdict(proc / pyp <= 0.5)} |")
    for np_ in (2, 16):
        d = med(c, "dispatch-d4", np_, "tasks_per_s")
        out.append(f"| dynamic dispatch ≥ 100,000 tasks/s, d=4, -np {np_} | {d:,.0f} tasks/s | {verdict(d >= 1e5)} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
