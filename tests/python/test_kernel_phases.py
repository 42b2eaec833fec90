"""scripts/study/kernel_phases.py: reading callgrind and perf profiles, naming the kernel's phases.

Run: .venv/bin/python -m unittest discover -s tests/python
"""

import collections
import contextlib
import io
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "study"))

import kernel_phases  # noqa: E402

# A callgrind file as valgrind 3.19 writes it with --dump-instr=yes: compressed names, relative
# positions, and call lines whose next line is the callee's inclusive cost (not counted again).
PROFILE = """\
# callgrind format
version: 1
positions: instr line
events: Ir

ob=(1) /usr/lib/x86_64-linux-gnu/libc.so.6
fl=(1) ???
fn=(1) memcpy
0x500 0 1000

ob=(2) /work/target/release/examples/kernel_loop
fl=(2) src/main.rs
fn=(2) kernel_loop::main
0x100 10 3
cfn=(3) cluster_bench::kernel::hqr::Hqr::eigenvalues
calls=2 0x200 20
+8 * 777
fn=(3)
0x200 20 5
+4 21 7
* * 1
-2 22 11
cob=(1)
cfn=(1)
calls=1 0x500 0
+6 * 9999

ob=(1)
fn=(1)
0x504 0 50
"""


class ParseCallgrind(unittest.TestCase):
    def parse(self, binary):
        with tempfile.NamedTemporaryFile("w", suffix=".out") as f:
            f.write(PROFILE)
            f.flush()
            return kernel_phases.parse_callgrind(f.name, binary)

    def test_counts_only_the_binary_and_skips_inclusive_call_costs(self):
        cost, tasks = self.parse("/anywhere/kernel_loop")
        # 0x108 (+8) carries the call's inclusive 777 and 0x208 (+6) libc's 9999: neither counts.
        self.assertEqual(dict(cost), {0x100: 3, 0x200: 5, 0x204: 8, 0x202: 11})
        self.assertEqual(tasks, 2)

    def test_another_binary_has_no_tasks(self):
        cost, tasks = self.parse("/anywhere/other")
        self.assertEqual(tasks, 0)
        self.assertEqual(dict(cost), {})


class Phase(unittest.TestCase):
    def test_names(self):
        chain = ["hqr_avx2_fma", "hqr", "sweep_pair", "batches", "flush", "flush_batches", "flush_rows"]
        self.assertEqual(kernel_phases.phase(chain), "sweep_pair/batches/flush")
        self.assertEqual(kernel_phases.phase(["hqr_avx2_fma", "hqr"]), "hqr (iteration control)")
        self.assertEqual(kernel_phases.phase(["hessenberg_avx2_fma", "hessenberg", "gemm"]),
                         "Hessenberg reduction")
        self.assertEqual(kernel_phases.phase(["eigenvalues"]), "eigenvalues")


@unittest.skipUnless(shutil.which("readelf"), "needs readelf (binutils)")
class ParsePerf(unittest.TestCase):
    """Samples of a real ELF file (this Python interpreter) mapped at a made-up address."""

    def test_maps_run_time_addresses_to_the_binarys_own(self):
        binary = sys.executable
        off, size, addr = max(kernel_phases.load_segments(binary), key=lambda s: s[1])
        pgoff = off - off % 4096
        start = 0x55D5A1A9D000
        inside = off + size // 2  # a file offset inside the largest segment
        ip = start + inside - pgoff
        name = Path(binary).name
        text = f"""\
PERF_RECORD_MMAP -1/0: [0xffffffff81000000(0x1259b00) @ 0xffffffff81000000]: x [kernel.kallsyms]_text
 ffffffff82222341 ([kernel.kallsyms])
PERF_RECORD_MMAP2 1/1: [{start:#x}({size + off - pgoff:#x}) @ {pgoff:#x} fe:00 5 6]: r-xp /opt/{name}
     {ip:x} (/opt/{name})
     {ip:x} (/opt/{name})
     {ip + 8:x} (/opt/{name})
     {start - 16:x} (/opt/{name})
     7f9365fde87a (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)
"""
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write(text)
            f.flush()
            cost = kernel_phases.parse_perf(f.name, binary)
        # The sample below the mapping and the other libraries' are not the binary's.
        at = inside - off + addr
        self.assertEqual(dict(cost), {at: 2, at + 8: 1})


class Table(unittest.TestCase):
    def test_time_shares_sit_beside_instruction_shares(self):
        frames = {1: ["hqr_avx2_fma", "hqr", "find_split"], 2: ["hessenberg_avx2_fma"],
                  3: ["hqr_avx2_fma", "hqr", "sweep", "step", "make3"], 4: []}
        instr = kernel_phases.by_phase(collections.Counter({1: 600, 2: 400, 4: 50}), frames)
        time = kernel_phases.by_phase(collections.Counter({1: 10, 2: 20, 3: 10}), frames)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            kernel_phases.print_table(instr, 2, time)
        rows = out.getvalue().splitlines()
        self.assertEqual(rows[0], "| phase | k instructions per task | share | share of time |")
        self.assertIn("| find_split | 0 | 60.0 % | 25.0 % |", rows)
        self.assertIn("| Hessenberg reduction | 0 | 40.0 % | 50.0 % |", rows)
        # Sampled, never counted: its own row, so the time column still sums to 100 %.
        self.assertIn("| sampled but not counted | 0 | 0.0 % | 25.0 % |", rows)


if __name__ == "__main__":
    unittest.main()
