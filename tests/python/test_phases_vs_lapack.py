"""scripts/study/phases_vs_lapack.py: LAPACK's phases through ctypes, the report.

Run: .venv/bin/python -m unittest discover -s tests/python
"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "study"))

import numpy as np  # noqa: E402
import phases_vs_lapack as pvl  # noqa: E402


class LapackPhases(unittest.TestCase):
    def test_reduction_then_iteration_gives_numpys_eigenvalues(self) -> None:
        # The real dgebal, dgehrd and dhseqr: if an argument were wrong (a missing lda, the
        # wrong layout) the spectrum would not match numpy's own dgeev, or the call would fail.
        lapack = pvl.Lapack()
        rng = np.random.default_rng(7)
        for n in (1, 2, 5, 50, 130):
            a = rng.random((n, n))
            t_hess, t_qr, got = lapack.phases(a)
            self.assertGreater(t_hess, 0.0)
            self.assertGreater(t_qr, 0.0)
            want = np.linalg.eigvals(a)
            # Nearest matching: both are eigenvalues of A to rounding, in any order.
            tol = 1e-10 * np.linalg.norm(a)
            for w in want:
                self.assertLessEqual(np.min(np.abs(got - w)), tol, f"n={n}: {w} not in {got}")
            self.assertAlmostEqual(got.sum().real, np.trace(a), delta=tol * n)

    def test_input_is_not_modified(self) -> None:
        a = np.random.default_rng(8).random((20, 20))
        before = a.copy()
        pvl.Lapack().phases(a)
        np.testing.assert_array_equal(a, before)


class Report(unittest.TestCase):
    def test_ratios_are_ours_over_lapacks(self) -> None:
        row = {"d": 100, "l_hess": 0.4, "o_hess": 0.2, "l_qr": 2.0, "o_qr": 0.9, "numpy": 3.0, "ours": 1.1}
        text = pvl.render([row], ["command: x"])
        self.assertIn("- command: x\n", text)
        table = [ln for ln in text.splitlines() if ln.startswith("| 100 ")]
        cells = [c.strip() for c in table[0].strip("|").split("|")]
        self.assertEqual(cells, ["100", "0.400", "0.200", "0.50", "2.000", "0.900", "0.45", "3.000", "1.100", "0.37"])


if __name__ == "__main__":
    unittest.main()
