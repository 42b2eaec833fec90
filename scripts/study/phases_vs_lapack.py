#!/usr/bin/env python3
"""Our kernel's two phases against LAPACK's, each timed alone, side by side.

numpy's `eigvals` is LAPACK's dgeev: balancing (dgebal), Hessenberg reduction (dgehrd), then
the QR iteration (dhseqr, eigenvalues only). This calls those three routines of the OpenBLAS
that numpy bundles (its LAPACKE interface, through ctypes) and times the reduction and the
iteration separately; `examples/kernel_loop.rs` times our whole kernel and our reduction
alone, and our iteration is their difference. So the report says which phase stands between
the kernel and a target ratio to numpy.

Rounds alternate which side runs first; each cell is the median over rounds of the time per
task (ms). Matrices are uniform [0, 1), 8 per size cycled, as in bench_kernel.sh (the two sides
draw different ones from the same distribution). One thread: OPENBLAS_NUM_THREADS=1 is set
before numpy loads. Writes markdown to stdout, or atomically to -o FILE.

Run: .venv/bin/python scripts/study/phases_vs_lapack.py -d 50,100,120,200 -o FILE
"""

import argparse
import ctypes
import datetime
import glob
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy loads OpenBLAS

import numpy as np  # noqa: E402

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from bench_numpy import MATRICES, openblas_corename, tasks_per_round  # noqa: E402
from cbtools.timing import build_kernel_loop, check_out_folder, cpu_model, emit, git_head, ms_per_task  # noqa: E402
from cbtools.timing import run as run_loop  # noqa: E402

COL_MAJOR = 102  # LAPACK_COL_MAJOR


class Lapack:
    """dgebal, dgehrd and dhseqr of numpy's bundled OpenBLAS (64-bit integers, `scipy_` names)."""

    def __init__(self) -> None:
        libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas64*"))
        if not libs:
            raise SystemExit("phases_vs_lapack: numpy bundles no 64-bit OpenBLAS here (a pip-installed numpy does)")
        lib = ctypes.CDLL(libs[0])
        i64, ptr, char, lay = ctypes.c_int64, ctypes.c_void_p, ctypes.c_char, ctypes.c_int
        self.gebal = lib.scipy_LAPACKE_dgebal64_
        self.gebal.argtypes = [lay, char, i64, ptr, i64, ptr, ptr, ptr]
        self.gehrd = lib.scipy_LAPACKE_dgehrd64_
        self.gehrd.argtypes = [lay, i64, i64, i64, ptr, i64, ptr]
        self.hseqr = lib.scipy_LAPACKE_dhseqr64_
        self.hseqr.argtypes = [lay, char, char, i64, i64, i64, ptr, i64, ptr, ptr, ptr, i64]
        for f in (self.gebal, self.gehrd, self.hseqr):
            f.restype = i64

    def phases(self, a: np.ndarray) -> tuple[float, float, np.ndarray]:
        """(seconds in dgebal + dgehrd, seconds in dhseqr, eigenvalues) of the square `a`."""
        n = a.shape[0]
        h = np.asfortranarray(a, dtype=np.float64).copy(order="F")
        ilo, ihi = ctypes.c_int64(), ctypes.c_int64()
        scale, tau, wr, wi, z = np.empty(n), np.empty(max(n - 1, 1)), np.empty(n), np.empty(n), np.empty(1)
        t0 = time.perf_counter()
        info = self.gebal(COL_MAJOR, b"B", n, h.ctypes.data, n, ctypes.byref(ilo), ctypes.byref(ihi), scale.ctypes.data)
        info = info or self.gehrd(COL_MAJOR, n, ilo.value, ihi.value, h.ctypes.data, n, tau.ctypes.data)
        t1 = time.perf_counter()
        info = info or self.hseqr(
            COL_MAJOR, b"E", b"N", n, ilo.value, ihi.value, h.ctypes.data, n, wr.ctypes.data, wi.ctypes.data, z.ctypes.data, 1
        )
        t2 = time.perf_counter()
        if info != 0:
            raise RuntimeError(f"LAPACK returned info={info} at n={n}")
        return t1 - t0, t2 - t1, wr + 1j * wi


def time_ours(loop: str, d: int, tasks: int, path: str, phase: str) -> float:
    return ms_per_task(run_loop(loop, d, tasks, path, phase))


def time_lapack(lapack: Lapack, mats: list, tasks: int) -> tuple[float, float, float]:
    """ms per task: dgebal + dgehrd, dhseqr, and numpy's whole eigvals."""
    hess = qr = 0.0
    for t in range(tasks):
        h, q, _ = lapack.phases(mats[t % len(mats)])
        hess, qr = hess + h, qr + q
    t0 = time.perf_counter()
    for t in range(tasks):
        np.linalg.eigvals(mats[t % len(mats)])
    whole = time.perf_counter() - t0
    return hess / tasks * 1e3, qr / tasks * 1e3, whole / tasks * 1e3


def measure(lapack: Lapack, loop: str, d: int, rounds: int, path: str) -> dict:
    """Medians over interleaved rounds of every cell of one size's row."""
    mats = [np.random.default_rng(42 + t).random((d, d)) for t in range(MATRICES)]
    tasks = tasks_per_round(d)
    lapack.phases(mats[0])  # warm-up, discarded
    cells: dict[str, list[float]] = {k: [] for k in ("l_hess", "l_qr", "numpy", "ours", "o_hess")}
    for r in range(rounds):
        def ours() -> None:
            cells["ours"].append(time_ours(loop, d, tasks, path, "all"))
            cells["o_hess"].append(time_ours(loop, d, tasks, path, "hessenberg"))

        def theirs() -> None:
            for k, v in zip(("l_hess", "l_qr", "numpy"), time_lapack(lapack, mats, tasks)):
                cells[k].append(v)

        for side in (ours, theirs) if r % 2 == 0 else (theirs, ours):
            side()
    med = {k: statistics.median(v) for k, v in cells.items()}
    med["o_qr"] = med["ours"] - med["o_hess"]
    return {"d": d, "tasks": tasks, **med}


def render(rows: list[dict], header: list[str]) -> str:
    """The markdown report: header lines, then one table row per size."""
    lines = ["# Our kernel's phases against LAPACK's", ""] + [f"- {h}" for h in header] + [""]
    lines.append(
        "| d | dgebal+dgehrd ms | our Hessenberg ms | ratio | dhseqr ms | our QR ms | ratio "
        "| numpy eigvals ms | our kernel ms | ratio |"
    )
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        lines.append(
            f"| {r['d']} | {r['l_hess']:.3f} | {r['o_hess']:.3f} | {r['o_hess'] / r['l_hess']:.2f} "
            f"| {r['l_qr']:.3f} | {r['o_qr']:.3f} | {r['o_qr'] / r['l_qr']:.2f} "
            f"| {r['numpy']:.3f} | {r['ours']:.3f} | {r['ours'] / r['numpy']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def header_lines(args: argparse.Namespace, loop: str) -> list[str]:
    cpu = cpu_model()
    first = run_loop(loop, 1, 1, args.path).split()
    return [
        f"command: `scripts/study/phases_vs_lapack.py -d {args.dims} -r {args.rounds} -p {args.path}`",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, git {git_head()}",
        f"CPU: {cpu}; our path: {first[1].removeprefix('path=')}; one thread each",
        f"numpy {np.__version__}, OpenBLAS kernel `{openblas_corename() or '?'}`, its LAPACKE through ctypes",
        "ours: `examples/kernel_loop.rs` whole, and with `hessenberg` the reduction alone; our QR is "
        "the difference. LAPACK's reduction includes dgebal (O(d²), balancing; ours has none)",
        f"cells: median over {args.rounds} rounds (sides alternating first) of ms per task; "
        "ratio: ours / LAPACK's",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-d", "--dims", default="50,100,120,200", help="comma-separated sizes")
    ap.add_argument("-r", "--rounds", type=int, default=7, help="interleaved rounds per size")
    ap.add_argument("-p", "--path", default="avx2", choices=["avx512", "avx2", "baseline"], help="our SIMD path")
    ap.add_argument("-o", "--out", help="the markdown report (default: stdout)")
    args = ap.parse_args()
    if not re.fullmatch(r"[1-9][0-9]*(,[1-9][0-9]*)*", args.dims) or args.rounds < 1:
        ap.error("-d needs comma-separated positive integers and -r a positive count")
    check_out_folder(ap, args.out)
    lapack, loop = Lapack(), build_kernel_loop()
    header = header_lines(args, loop)
    rows = []
    for d in (int(x) for x in args.dims.split(",")):
        print(f"d={d} ...", file=sys.stderr)
        rows.append(measure(lapack, loop, d, args.rounds, args.path))
    text = render(rows, header)
    emit(text, args.out)


if __name__ == "__main__":
    main()
