"""cbtools.ranks (scripts/study/plot_ranks.py): the rank study's summary from a manifest and run JSONs.

Run: .venv/bin/python -m unittest discover -s tests/python
"""

import csv
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from cbtools import ranks  # noqa: E402

MANIFEST = ("schedule", "ranks", "task_ms", "tasks", "process_s", "load1_before", "json")


def run_json(ranks, wall_s, checksum, requests=None, service_s=None):
    """The keys of a run JSON that plot_ranks reads."""
    doc = {"ranks": ranks, "hosts": [{"name": "a"}, {"name": "b"}], "wall_s": wall_s,
           "task_count": 400, "complete": True, "checksum": checksum,
           "busy_efficiency": 0.9, "imbalance": 1.01, "dispatch": None}
    if requests:
        doc["dispatch"] = {"requests": requests, "service_s_per_request": service_s,
                           "busy_fraction": requests * service_s / wall_s}
    return doc


class Summary(unittest.TestCase):
    def study(self, rows, docs):
        d = Path(tempfile.mkdtemp())
        (d / "runs").mkdir()
        for name, doc in docs.items():
            (d / "runs" / name).write_text(json.dumps(doc))
        with open(d / "manifest.tsv", "w", newline="") as f:
            w = csv.writer(f, delimiter="\t")
            w.writerow(MANIFEST)
            w.writerows(rows)
        return d

    def test_efficiency_startup_and_the_dispatch_model(self):
        # 4 ranks, 2 s of planned work each (checksum 8 s) in 2.5 s: efficiency 0.8.
        # 100 requests of 50 µs for 400 tasks of 10 ms: mean chunk 4, p* = 4 · 0.01 / 5e-5.
        d = self.study([("dynamic", 4, 10, 400, "3.5", "0.1", "runs/a.json")],
                       {"a.json": run_json(4, 2.5, 8.0, requests=100, service_s=5e-5)})
        [row] = ranks.write_summary(d)
        self.assertEqual(row["status"], "complete")
        self.assertEqual(row["hosts"], 2)
        self.assertEqual(row["efficiency"], "0.8000")
        self.assertEqual(row["startup_s"], "1.000")
        self.assertEqual(row["mean_chunk"], "4.00")
        self.assertEqual(row["p_star"], "800")
        self.assertEqual(row["rank0_busy_fraction"], "0.0020")

    def test_a_timed_out_run_is_a_row_without_figures_and_is_not_drawn(self):
        d = self.study([("static", 512, 100, 20480, "300.0", "9", "timeout"),
                        ("static", 4, 100, 400, "3.0", "0.1", "runs/b.json")],
                       {"b.json": run_json(4, 2.5, 8.0)})
        rows = ranks.write_summary(d)
        self.assertEqual([r["status"] for r in rows], ["timeout", "complete"])
        self.assertNotIn("efficiency", rows[0])
        with open(d / "summary.csv", newline="") as f:
            written = list(csv.DictReader(f))
        self.assertEqual(written[0]["efficiency"], "")
        self.assertEqual(written[0]["process_s"], "300.0")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            self.skipTest("matplotlib not installed: the drawing is not checked")
        from cbtools.plots import ranks as plots

        self.assertTrue(plots.plot(d, written).exists())


if __name__ == "__main__":
    unittest.main()
