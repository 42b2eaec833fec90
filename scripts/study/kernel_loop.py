"""Running `examples/kernel_loop.rs` and reading what it prints, for the studies that time it
(`phases_vs_lapack.py`, `ab_kernel.py`), and the CPU their reports name."""

import re
import subprocess
import sys
from pathlib import Path


def run(loop: str, *args: object, cpu: int | None = None) -> str:
    """kernel_loop's output (pinned to core `cpu` with taskset if given), or exits with what it
    said."""
    cmd = [loop, *map(str, args)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        prog = Path(sys.argv[0]).stem
        raise SystemExit(f"{prog}: {out.stderr.strip() or f'kernel_loop exited with {out.returncode}'}")
    return out.stdout


def ms_per_task(output: str) -> float:
    """The `ms/task=` figure kernel_loop prints."""
    m = re.search(r"^ms/task=([0-9.]+)$", output, re.MULTILINE)
    if not m:
        raise ValueError(f"no ms/task line in kernel_loop's output: {output!r}")
    return float(m.group(1))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "?"."""
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
