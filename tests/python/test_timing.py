"""scripts/cbtools/timing.py and scripts/study/vs_numpy.py: pairing runs, kernel_loop's output, the reports.

Run: .venv/bin/python -m unittest discover -s tests/python
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path[:0] = [str(SCRIPTS / "study"), str(SCRIPTS)]

import vs_numpy  # noqa: E402
from cbtools import timing  # noqa: E402


@contextlib.contextmanager
def command_line(args: list[str]):
    """sys.argv as a command line of vs_numpy.py with `args`, for the duration."""
    saved = sys.argv
    sys.argv = ["vs_numpy.py", *args]
    try:
        yield
    finally:
        sys.argv = saved


def sequence(values: list[float]):
    """A timer that returns `values` in turn."""
    it = iter(values)
    return lambda: next(it)


class Paired(unittest.TestCase):
    def test_ratios_pair_runs_in_a_b_b_a_order(self) -> None:
        # A reads 1, 3 in round one (a1, a2) and 2, 2 in round two; B reads 2, 4 then 3, 5.
        # So round ratios are (2 + 4) / (1 + 3) = 1.5 and (3 + 5) / (2 + 2) = 2: the pairing, not
        # the sides' medians (2 and 3.5, whose ratio is 1.75), sets the figure.
        calls = []

        def a() -> float:
            calls.append("A")
            return [1.0, 3.0, 2.0, 2.0][calls.count("A") - 1]

        def b() -> float:
            calls.append("B")
            return [2.0, 4.0, 3.0, 5.0][calls.count("B") - 1]

        r = timing.paired(a, b, rounds=2)
        self.assertEqual(calls, list("ABBAABBA"))
        self.assertEqual(r["rounds"], 2)
        self.assertAlmostEqual(r["ratio"], 1.75)  # the median of 1.5 and 2
        self.assertEqual((r["a_best"], r["b_best"]), (1.0, 2.0))
        self.assertEqual((r["a"], r["b"]), (2.0, 3.5))

    def test_a_machine_that_slows_down_between_rounds_cancels_out(self) -> None:
        # Each round runs at a speed of its own (1×, 2×, …); B always takes 0.4 of A's time.
        speeds = [1.0 + k for k in range(12) for _ in range(2)]
        r = timing.paired(sequence(speeds), sequence([0.4 * s for s in speeds]), rounds=12)
        self.assertAlmostEqual(r["ratio"], 0.4)
        self.assertAlmostEqual(r["q25"], 0.4)
        self.assertAlmostEqual(r["q75"], 0.4)

    def test_a_time_budget_still_runs_ten_rounds(self) -> None:
        r = timing.paired(lambda: 1.0, lambda: 2.0, rounds=50, seconds=0.0)
        self.assertEqual(r["rounds"], 10)
        self.assertEqual(r["ratio"], 2.0)


class KernelLoop(unittest.TestCase):
    def test_ms_per_task_reads_kernel_loops_second_line(self) -> None:
        out = "d=100 path=avx2-fma tasks=40 phase=hessenberg\nms/task=0.2350\n"
        self.assertEqual(timing.ms_per_task(out), 0.235)
        with self.assertRaises(ValueError):
            timing.ms_per_task("d=100 path=avx2-fma tasks=40 sweeps/task=212.6\n")

    def test_tasks_for_aims_at_50_ms_and_keeps_the_floor(self) -> None:
        self.assertEqual(timing.tasks_for(100), 50)
        self.assertEqual(timing.tasks_for(800), 1)
        self.assertEqual(timing.tasks_for(800, least=8), 8)

    def test_emit_to_a_file_replaces_it_and_leaves_no_temporary_file(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "report.md")
            with open(path, "w") as f:
                f.write("old\n")
            timing.emit("new\n", path)
            with open(path) as f:
                self.assertEqual(f.read(), "new\n")
            self.assertEqual(os.listdir(d), ["report.md"])


class VsNumpyReport(unittest.TestCase):
    def row(self, d: int, ratio: float) -> dict:
        return {"d": d, "path": "avx2", "tasks": 8, "rounds": 10, "a": 3.0, "b": 0.9,
                "ratio": ratio, "q25": ratio - 0.01, "q75": ratio + 0.01}

    def test_targets_follow_the_size(self) -> None:
        self.assertEqual([vs_numpy.target(d) for d in (50, 120, 121, 200, 400, 800)], [0.3, 0.3, 0.5, 0.5, 0.7, 1.0])

    def test_rows_mark_a_missed_target(self) -> None:
        text = vs_numpy.render([self.row(100, 0.30), self.row(120, 0.31)], ["command: x"])
        self.assertIn("- command: x\n", text)
        rows = {ln.split("|")[1].strip(): ln for ln in text.splitlines() if ln.startswith("| 1")}
        self.assertIn("| 0.300 |", rows["100"])
        self.assertIn("| 0.310 ✗ |", rows["120"])
        # GF/s: 10·100³ flops in 0.9 ms.
        self.assertIn("| 11.1 |", rows["100"])

    def test_bad_arguments_stop_before_any_measurement(self) -> None:
        for argv in (["-o", "/no/such/folder/report.md"], ["-d", "50,x"], ["-p", "sse9"], ["-r", "3"]):
            with self.subTest(argv=argv), command_line(argv), contextlib.redirect_stderr(io.StringIO()) as err:
                with self.assertRaises(SystemExit) as stop:
                    vs_numpy.parse_args()
                self.assertEqual(stop.exception.code, 2)
                self.assertIn("vs_numpy.py: error:", err.getvalue())

    def test_a_missing_path_is_named_with_kernel_loops_reason(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            loop = os.path.join(d, "kernel_loop")
            with open(loop, "w") as f:
                f.write("#!/bin/sh\necho 'kernel_loop: this CPU has no avx512 path' >&2\nexit 2\n")
            os.chmod(loop, 0o755)
            self.assertIn("no avx512 path", vs_numpy.available(loop, "avx512"))
            ok = os.path.join(d, "ok")
            with open(ok, "w") as f:
                f.write("#!/bin/sh\necho 'd=4'\necho 'ms/task=0.001'\n")
            os.chmod(ok, 0o755)
            self.assertIsNone(vs_numpy.available(ok, "avx2"))


if __name__ == "__main__":
    unittest.main()
