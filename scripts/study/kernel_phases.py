#!/usr/bin/env python3
"""Instructions per task in each phase of our eigenvalue kernel, from a callgrind profile.

Usage: kernel_phases.py CALLGRIND_OUT BINARY [PERF_SCRIPT]

`valgrind --tool=callgrind --dump-instr=yes` counts every instruction executed: exact and the
same on every run, where timings on a small shared machine move by several per cent. The kernel
is one function per SIMD path with everything inlined into it, so a per-function profile says
little; addr2line's inline chains name, for each instruction, the kernel functions it was
inlined from. A phase is that chain below `hqr` (the QR iteration), up to three levels deep
(e.g. sweep_pair/batches/flush), or the Hessenberg reduction, or else the outermost kernel
function. Tasks are the calls of `Hqr::eigenvalues`.

Prints a markdown table: phase, thousands of instructions per task, share of the kernel's.

With PERF_SCRIPT (the text of `perf script --show-mmap-events -F ip,dso` for a `perf record -e
cpu-clock` run of the same binary), adds each phase's share of the kernel's time samples:
instructions are not time, and where a latency chain (a square root, a division) or a store
that a load waits on sets the pace, the two shares part.
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


def load_segments(binary: str) -> list[tuple[int, int, int]]:
    """The binary's loadable segments: (file offset, size in the file, address)."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True,
                         check=True).stdout
    segments = []
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD":
            segments.append((int(parts[1], 16), int(parts[4], 16), int(parts[2], 16)))
    return segments


def parse_perf(path: str, binary: str) -> collections.Counter:
    """Time samples at each address of `binary` (its own addresses, as addr2line takes them),
    from `perf script --show-mmap-events -F ip,dso`: a sample's run-time address, less where its
    mapping starts, plus the mapping's file offset, is a file offset; the segment holding that
    offset gives the address."""
    base = binary.rsplit("/", 1)[-1]
    maps: list[tuple[int, int, int]] = []  # run-time start, end, file offset
    ips: collections.Counter = collections.Counter()
    mmap = re.compile(r"PERF_RECORD_MMAP2? .*\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+|0)"
                      r"\b.*\]: \S+ (.+)$")
    sample = re.compile(r"\s*([0-9a-f]+) \((.+)\)$")
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            m = mmap.search(line)
            if m:
                if m.group(4).rsplit("/", 1)[-1] == base:
                    start = int(m.group(1), 16)
                    maps.append((start, start + int(m.group(2), 16), int(m.group(3), 16)))
                continue
            m = sample.match(line)
            if m and m.group(2).rsplit("/", 1)[-1] == base:
                ips[int(m.group(1), 16)] += 1
    segments = load_segments(binary)
    cost: collections.Counter = collections.Counter()
    for ip, n in ips.items():
        addr = file_address(ip, maps, segments)
        if addr is not None:
            cost[addr] += n
    return cost


def file_address(ip: int, maps: list[tuple[int, int, int]],
                 segments: list[tuple[int, int, int]]) -> int | None:
    """The binary's own address of run-time address `ip`, if a mapping of it holds `ip`."""
    for start, end, pgoff in maps:
        if start <= ip < end:
            off = ip - start + pgoff
            for seg_off, seg_size, seg_addr in segments:
                if seg_off <= off < seg_off + seg_size:
                    return off - seg_off + seg_addr
    return None


def by_phase(cost: collections.Counter, frames: dict[int, list[str]]) -> collections.Counter:
    """The cost of the kernel's addresses, summed per phase."""
    phases: collections.Counter = collections.Counter()
    for addr, n in cost.items():
        if frames.get(addr):
            phases[phase(frames[addr])] += n
    return phases


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
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    cg_out, binary = sys.argv[1:3]
    cost, tasks = parse_callgrind(cg_out, binary)
    if tasks == 0:
        sys.exit("kernel_phases.py: the profile has no calls of Hqr::eigenvalues")
    samples = parse_perf(sys.argv[3], binary) if len(sys.argv) == 4 else None
    addrs = set(cost) | set(samples or ())
    frames = kernel_frames(sorted(addrs), binary)
    instr = by_phase(cost, frames)
    time = by_phase(samples, frames) if samples is not None else None
    total = sum(instr.values())
    print(f"- {total / tasks / 1e6:.2f} M instructions per task in the kernel ({tasks} tasks)")
    if time is not None:
        print(f"- {sum(time.values())} time samples in the kernel (perf, cpu-clock)")
    print()
    print_table(instr, tasks, time)


def print_table(instr: collections.Counter, tasks: int, time: collections.Counter | None) -> None:
    """Phases by instructions, largest first; the small ones summed in a last row."""
    total = sum(instr.values())
    t_total = max(1, sum(time.values())) if time is not None else 1
    head = "| phase | k instructions per task | share |"
    rule = "| --- | ---: | ---: |"
    if time is not None:
        head += " share of time |"
        rule += " ---: |"
    print(head)
    print(rule)

    def row(name: str, n: int, t: int) -> None:
        cells = f"| {name} | {n / tasks / 1e3:.0f} | {100 * n / total:.1f} % |"
        if time is not None:
            cells += f" {100 * t / t_total:.1f} % |"
        print(cells)

    small = small_t = 0
    for p, n in instr.most_common():
        t = time[p] if time is not None else 0
        if n / total < SMALL:
            small, small_t = small + n, small_t + t
        else:
            row(p, n, t)
    row(f"the rest (phases under {100 * SMALL:.1f} % each)", small, small_t)
    if time is not None:
        # Phases sampled but never counted have no row above: one of their own, so that the
        # time shares add up to 100 %.
        unseen = sum(t for p, t in time.items() if p not in instr)
        if unseen:
            row("sampled but not counted", 0, unseen)


if __name__ == "__main__":
    main()
