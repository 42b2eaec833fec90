"""What the kernel timing studies in scripts/study/ (`ab_kernel.py`, `vs_numpy.py`,
`phases_vs_lapack.py`) share: building and running `examples/kernel_loop.rs` and reading what it
prints, timing two things in A B B A pairs, the commit and CPU their reports name, and writing
a report (atomically, through `files.atomic_write`)."""

import argparse
import json
import os
import math
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .files import atomic_write

ROOT = Path(__file__).resolve().parents[2]


def prog() -> str:
    return Path(sys.argv[0]).stem


def build_kernel_loop() -> str:
    """Builds examples/kernel_loop.rs (release) and returns its path."""
    out = subprocess.run(
        ["cargo", "build", "--release", "--example", "kernel_loop", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "kernel_loop" and msg.get("executable"):
            return msg["executable"]
    raise SystemExit(f"{prog()}: cargo built no kernel_loop executable")


def run(loop: str, *args: object, cpu: int | None = None) -> str:
    """kernel_loop's output (pinned to core `cpu` with taskset if given), or exits with what it
    said."""
    cmd = [loop, *map(str, args)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{prog()}: {out.stderr.strip() or f'kernel_loop exited with {out.returncode}'}")
    return out.stdout


def ms_per_task(output: str) -> float:
    """The `ms/task=` figure kernel_loop prints."""
    m = re.search(r"^ms/task=([0-9.]+)$", output, re.MULTILINE)
    if not m:
        raise ValueError(f"no ms/task line in kernel_loop's output: {output!r}")
    return float(m.group(1))


def tasks_for(d: int, least: int = 1) -> int:
    """Tasks for a run of about 50 ms of our kernel (O(d³), about 1 ms at d = 100), at least
    `least`."""
    return max(least, round(5e7 / d**3))


def paired(time_a: Callable[[], float], time_b: Callable[[], float], rounds: int, seconds: float = math.inf) -> dict:
    """Rounds of A B B A: `rounds` of them, or as many as start within `seconds` if fewer (but
    at least 10). Each round's ratio (B + B) / (A + A) compares runs seconds apart, so a machine
    whose speed drifts over minutes cancels out of it. Returns the ratios' median and quartiles
    ("ratio", "q25", "q75"), each side's median and least time, and the rounds run."""
    a, b, ratios = [], [], []
    start = time.monotonic()
    while len(ratios) < rounds and (len(ratios) < 10 or time.monotonic() - start < seconds):
        a1, b1, b2, a2 = time_a(), time_b(), time_b(), time_a()
        a += [a1, a2]
        b += [b1, b2]
        ratios.append((b1 + b2) / (a1 + a2))
    q25, median, q75 = statistics.quantiles(ratios, n=4)
    return {
        "ratio": median, "q25": q25, "q75": q75, "rounds": len(ratios),
        "a": statistics.median(a), "a_best": min(a), "b": statistics.median(b), "b_best": min(b),
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "?"."""
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")


def check_out_folder(ap: argparse.ArgumentParser, out: str | None) -> None:
    """A usage error (exit 2) when the report file `out` is in a missing folder: checked before
    the measurements, not found after them."""
    if out and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        ap.error(f"-o {out}: no such folder (checked now, not after the measurements)")


def emit(text: str, out: str | None) -> None:
    """A report to the file `out` (atomically), or to stdout."""
    if out:
        atomic_write(Path(out), text)
    else:
        sys.stdout.write(text)


def git_head() -> str:
    """The checked-out commit, short, or "?" outside a git checkout."""
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "?"
