"""scripts/study/kernel_phases.py: reading a callgrind profile and naming the kernel's phases.

Run: .venv/bin/python -m unittest discover -s tests/python
"""

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
        chain = ["hqr_avx2_fma", "hqr", "sweep_pair", "batches", "flush_pair", "flush_rows"]
        self.assertEqual(kernel_phases.phase(chain), "sweep_pair/batches/flush_pair")
        self.assertEqual(kernel_phases.phase(["hqr_avx2_fma", "hqr"]), "hqr (iteration control)")
        self.assertEqual(kernel_phases.phase(["hessenberg_avx2_fma", "hessenberg", "gemm"]),
                         "Hessenberg reduction")
        self.assertEqual(kernel_phases.phase(["eigenvalues"]), "eigenvalues")


if __name__ == "__main__":
    unittest.main()
