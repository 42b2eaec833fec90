#!/usr/bin/env python3
"""Instructions per task in each phase of our eigenvalue kernel, from a callgrind profile.

Usage: kernel_phases.py CALLGRIND_OUT BINARY

`valgrind --tool=callgrind --dump-instr=yes` counts every instruction executed: exact and the
same on every run, where timings on a small shared machine move by several per cent. The kernel
is one function per SIMD path with everything inlined into it, so a per-function profile says
little; addr2line's inline chains name, for each instruction, the kernel functions it was
inlined from. A phase is that chain below `hqr` (the QR iteration), up to three levels deep
(e.g. sweep_pair/batches/flush_pair), or the Hessenberg reduction, or else the outermost kernel
function. Tasks are the calls of `Hqr::eigenvalues`.

Prints a markdown table: phase, thousands of instructions per task, share of the kernel's.
"""

import collections
import re
import subprocess
import sys

DEPTH = 3  # levels of the chain below `hqr` that name a phase
SMALL = 0.005  # phases under this share are summed into one row


def parse_callgrind(path: str, binary: str) -> tuple[collections.Counter, int]:
    """Instructions executed at each address of `binary`, and the calls of Hqr::eigenvalues."""
    names: dict[str, str] = {}
    cost: collections.Counter = collections.Counter()
    tasks = 0
    in_binary = skip_next = callee_is_eigenvalues = False
    addr = 0
    base = binary.rsplit("/", 1)[-1]
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            # Names are compressed: "fn=(12) name" the first time, "fn=(12)" after.
            m = re.match(r"(c?)(ob|fn|fl|fi|fe)=\((\d+)\)\s*(.*)", line)
            if m:
                key = m.group(2) + m.group(3)
                if m.group(4):
                    names[key] = m.group(4)
                full = names.get(key, "")
                if m.group(1) == "" and m.group(2) == "ob":
                    in_binary = full.rsplit("/", 1)[-1] == base
                elif m.group(1) == "c" and m.group(2) == "fn":
                    callee_is_eigenvalues = full.endswith("Hqr::eigenvalues")
                continue
            if line.startswith("calls="):
                # The next cost line is the call's inclusive cost, already counted in the callee.
                skip_next = True
                if callee_is_eigenvalues and in_binary:
                    tasks += int(line.split("=")[1].split()[0])
                continue
            if not line or line[0] not in "0123456789+-*":
                continue
            parts = line.split()
            pos = parts[0]
            if pos.startswith("0x"):
                addr = int(pos, 16)
            elif pos[0] in "+-":
                delta = int(pos[1:], 0)
                addr = addr + delta if pos[0] == "+" else addr - delta
            if skip_next:
                skip_next = False
            elif in_binary and len(parts) >= 3:
                cost[addr] += int(parts[2])
    return cost, tasks


def kernel_frames(addrs: list[int], binary: str) -> dict[int, list[str]]:
    """For each address, the kernel functions it is inlined in, outermost first."""
    out = subprocess.run(
        ["addr2line", "-i", "-f", "-C", "-a", "-e", binary] + [hex(a) for a in addrs],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    frames: dict[int, list[str]] = {}
    cur: list[str] = []
    lines = iter(out)
    for line in lines:
        if line.startswith("0x"):
            cur = frames.setdefault(int(line, 16), [])
            continue
        location = next(lines, "")
        if "/src/kernel/" in location:
            cur.append(re.sub(r"<.*", "", line).split("::")[-1])
    return {a: f[::-1] for a, f in frames.items()}


def phase(frames: list[str]) -> str:
    if any(f.startswith("hessenberg") for f in frames):
        return "Hessenberg reduction"
    if "hqr" in frames:
        below = frames[frames.index("hqr") + 1:]
        return "/".join(below[:DEPTH]) or "hqr (iteration control)"
    return frames[0]


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cg_out, binary = sys.argv[1:]
    cost, tasks = parse_callgrind(cg_out, binary)
    if tasks == 0:
        sys.exit("kernel_phases.py: the profile has no calls of Hqr::eigenvalues")
    frames = kernel_frames(sorted(cost), binary)
    by_phase: collections.Counter = collections.Counter()
    for addr, n in cost.items():
        if frames.get(addr):
            by_phase[phase(frames[addr])] += n
    total = sum(by_phase.values())
    print(f"- {total / tasks / 1e6:.2f} M instructions per task in the kernel ({tasks} tasks)")
    print()
    print("| phase | k instructions per task | share |")
    print("| --- | ---: | ---: |")
    small = 0
    for p, n in by_phase.most_common():
        if n / total < SMALL:
            small += n
        else:
            print(f"| {p} | {n / tasks / 1e3:.0f} | {100 * n / total:.1f} % |")
    print(f"| the rest (phases under {100 * SMALL:.1f} % each) | {small / tasks / 1e3:.0f} "
          f"| {100 * small / total:.1f} % |")


if __name__ == "__main__":
    main()
