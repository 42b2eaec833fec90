"""Known inputs → known outputs for cbtools.metrics, and cbtools.analysis (scripts/scaling.py)
on synthetic studies.

Run: .venv/bin/python -m unittest discover -s tests/python
"""

import csv
import gzip
import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from cbtools import analysis, files, journal, metrics, study as study_files  # noqa: E402


class Metrics(unittest.TestCase):
    def test_speedup_and_efficiency(self):
        self.assertEqual(metrics.speedup(10.0, 2.5), 4.0)
        self.assertEqual(metrics.efficiency(4.0, 8), 0.5)

    def test_karp_flatt_perfect_scaling_is_zero(self):
        for p in (2, 3, 4, 16):
            self.assertAlmostEqual(metrics.karp_flatt(float(p), p), 0.0, places=12)

    def test_karp_flatt_known_value(self):
        # S = 1.8 at p = 2: (1/1.8 - 1/2) / (1/2) = 1/9.
        self.assertAlmostEqual(metrics.karp_flatt(1.8, 2), 1 / 9, places=12)

    def test_karp_flatt_no_speedup_is_one(self):
        self.assertAlmostEqual(metrics.karp_flatt(1.0, 4), 1.0, places=12)

    def test_karp_flatt_undefined_at_one_rank(self):
        self.assertIsNone(metrics.karp_flatt(1.0, 1))

    def test_karp_flatt_recovers_amdahl_serial_fraction(self):
        f = 0.1
        for p in (2, 4, 8):
            s = 1 / (f + (1 - f) / p)
            self.assertAlmostEqual(metrics.karp_flatt(s, p), f, places=12)

    def test_weak_scaling_views(self):
        self.assertEqual(metrics.weak_efficiency(2.0, 2.5), 0.8)
        self.assertEqual(metrics.scaled_speedup(2.0, 2.5, 4), 3.2)
        # S = 3.2 at p = 4: alpha = (4 - 3.2) / 3.
        self.assertAlmostEqual(metrics.gustafson_serial_fraction(3.2, 4), 0.8 / 3, places=12)
        self.assertIsNone(metrics.gustafson_serial_fraction(1.0, 1))
        self.assertAlmostEqual(metrics.gustafson_serial_fraction(4.0, 4), 0.0, places=12)


class AmdahlFit(unittest.TestCase):
    def test_exact_series_is_fit_back(self):
        ps = [1, 2, 4, 8, 16]
        fit = metrics.amdahl_fit(ps, [1 + 9 / p for p in ps])
        self.assertAlmostEqual(fit["ts_s"], 1.0, places=10)
        self.assertAlmostEqual(fit["tp_s"], 9.0, places=10)
        self.assertAlmostEqual(fit["serial_fraction"], 0.1, places=10)
        self.assertAlmostEqual(fit["max_speedup"], 10.0, places=8)
        self.assertAlmostEqual(fit["rmse_s"], 0.0, places=10)
        self.assertAlmostEqual(metrics.amdahl_speedup(4, fit), 10 / 3.25, places=10)

    def test_least_squares_of_noisy_points(self):
        # x = 1/p = 1, 0.5, 0.25; T = 10, 6, 3 → slope 1/sxx·sxy by hand.
        fit = metrics.amdahl_fit([1, 2, 4], [10.0, 6.0, 3.0])
        xs, ts = [1, 0.5, 0.25], [10.0, 6.0, 3.0]
        mx, my = sum(xs) / 3, sum(ts) / 3
        tp = sum((x - mx) * (t - my) for x, t in zip(xs, ts)) / sum((x - mx) ** 2 for x in xs)
        self.assertAlmostEqual(fit["tp_s"], tp, places=12)
        self.assertAlmostEqual(fit["ts_s"], my - tp * mx, places=12)
        self.assertGreater(fit["rmse_s"], 0.0)

    def test_perfect_scaling_has_no_serial_part(self):
        ps = [1, 2, 4]
        fit = metrics.amdahl_fit(ps, [8.0 / p for p in ps])
        self.assertAlmostEqual(fit["ts_s"], 0.0, places=12)
        self.assertAlmostEqual(fit["serial_fraction"], 0.0, places=12)

    def test_slower_with_more_ranks_is_flagged(self):
        fit = metrics.amdahl_fit([1, 2], [4.0, 5.0])
        self.assertAlmostEqual(fit["tp_s"], -2.0, places=12)
        self.assertFalse(fit["valid"])
        self.assertIsNone(fit["max_speedup"])
        self.assertTrue(metrics.amdahl_fit([1, 2], [4.0, 3.0])["valid"])

    def test_needs_two_distinct_rank_counts(self):
        self.assertIsNone(metrics.amdahl_fit([2, 2], [1.0, 1.1]))
        self.assertIsNone(metrics.amdahl_fit([], []))

    def test_gustafson_fit(self):
        ps = [1, 2, 4, 8]
        alpha = metrics.gustafson_fit(ps, [p - 0.2 * (p - 1) for p in ps])
        self.assertAlmostEqual(alpha, 0.2, places=12)
        self.assertIsNone(metrics.gustafson_fit([1], [1.0]))
        for p in ps:
            self.assertAlmostEqual(metrics.gustafson_speedup(p, alpha), p - 0.2 * (p - 1))


class Oversubscription(unittest.TestCase):
    def test_rules(self):
        self.assertFalse(metrics.is_oversubscribed(2, slots=2))
        self.assertTrue(metrics.is_oversubscribed(3, slots=2))
        self.assertTrue(metrics.is_oversubscribed(4, slots=6, physical_cores=2))
        self.assertFalse(metrics.is_oversubscribed(6, slots=6))
        self.assertFalse(metrics.is_oversubscribed(64))


def run(mode, schedule, p, wall, over=0):
    return {
        "mode": mode, "schedule": schedule, "p": p, "wall_s": wall, "tasks_per_s": 100 / wall,
        "busy_speedup": 1.0, "imbalance": 1.0, "oversubscribed": over,
    }


class Points(unittest.TestCase):
    def test_strong_points_use_median_of_p1(self):
        runs = [run("strong", "static", 1, w) for w in (10.0, 12.0, 11.0)]
        runs += [run("strong", "static", 2, w) for w in (6.0, 5.5, 7.0)]
        rows = {r["p"]: r for r in metrics.point_rows(runs)}
        self.assertEqual(rows[1]["wall_s_median"], 11.0)
        self.assertEqual(rows[1]["speedup"], 1.0)
        self.assertIsNone(rows[1]["karp_flatt"])
        self.assertEqual(rows[2]["runs"], 3)
        self.assertAlmostEqual(rows[2]["speedup"], 11.0 / 6.0)
        self.assertAlmostEqual(rows[2]["efficiency"], 11.0 / 12.0)
        self.assertAlmostEqual(rows[2]["karp_flatt"], (6 / 11 - 0.5) / 0.5)
        self.assertIsNone(rows[2]["scaled_speedup"])
        self.assertEqual(rows[2]["busy_speedup_median"], 1.0)

    def test_weak_points(self):
        runs = [run("weak", "dynamic", 1, 2.0), run("weak", "dynamic", 4, 2.5)]
        rows = {r["p"]: r for r in metrics.point_rows(runs)}
        self.assertAlmostEqual(rows[4]["weak_efficiency"], 0.8)
        self.assertAlmostEqual(rows[4]["scaled_speedup"], 3.2)
        self.assertAlmostEqual(rows[4]["gustafson_serial"], 0.8 / 3)
        self.assertIsNone(rows[4]["karp_flatt"])

    def test_schedules_do_not_mix(self):
        runs = [run("strong", "static", 1, 10.0), run("strong", "dynamic", 2, 5.0)]
        rows = metrics.point_rows(runs)
        self.assertTrue(all(r["speedup"] is None for r in rows if r["schedule"] == "dynamic"))

    def test_fit_skips_oversubscribed_points(self):
        runs = [run("strong", "static", p, 1 + 9 / p) for p in (1, 2, 4)]
        runs.append(run("strong", "static", 8, 50.0, over=1))
        fit = metrics.fits(metrics.point_rows(runs))["strong"]["static"]
        self.assertEqual(fit["fit_p"], [1, 2, 4])
        self.assertAlmostEqual(fit["ts_s"], 1.0, places=10)


class Files(unittest.TestCase):
    def test_atomic_write_replaces_and_leaves_no_temp(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "x.csv"
            path.write_text("old")
            files.atomic_write(path, "new\n")
            self.assertEqual(path.read_text(), "new\n")
            self.assertEqual(sorted(p.name for p in Path(d).iterdir()), ["x.csv"])
            umask = os.umask(0)
            os.umask(umask)
            self.assertEqual(path.stat().st_mode & 0o777, 0o666 & ~umask)

    def test_gzip_is_reproducible(self):
        a, b = files.gzip_bytes("x,y\n1,2\n"), files.gzip_bytes("x,y\n1,2\n")
        self.assertEqual(a, b)
        self.assertEqual(gzip.decompress(a), b"x,y\n1,2\n")

    def test_read_conf_is_key_value(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(study_files.read_conf(Path(d)), {})
            (Path(d) / "study.conf").write_text("label=a=b\nno equals sign\nslots=2\n")
            self.assertEqual(study_files.read_conf(Path(d)), {"label": "a=b", "slots": "2"})

    def test_analyse_a_synthetic_study(self):
        with tempfile.TemporaryDirectory() as d:
            study = synthetic_study(Path(d), [(1, 4.0, "speedup"), (2, 2.5, "busy_speedup")])
            analysis.analyse(study)
            with (study / "points.csv").open() as f:
                pts = {int(r["p"]): r for r in csv.DictReader(f)}
            self.assertAlmostEqual(float(pts[2]["speedup"]), 1.6)
            self.assertAlmostEqual(float(pts[2]["karp_flatt"]), (1 / 1.6 - 0.5) / 0.5)
            self.assertEqual(pts[1]["karp_flatt"], "")
            with (study / "study-runs.csv").open() as f:
                runs = {int(r["p"]): r for r in csv.DictReader(f)}
            # Version 0.1 JSONs call it speedup, schema 2 busy_speedup: both are read.
            self.assertAlmostEqual(float(runs[1]["busy_speedup"]), 0.4 / 4.0)
            self.assertAlmostEqual(float(runs[2]["busy_speedup"]), 0.4 / 2.5)
            self.assertAlmostEqual(float(pts[2]["busy_speedup_median"]), 0.4 / 2.5)
            with gzip.open(study / "tasks.csv.gz", "rt") as f:
                self.assertEqual(len(list(csv.DictReader(f))), 4 + 4)
            self.assertFalse((study / "tasks.csv").exists())
            self.assertFalse((study / "runs.csv").exists())
            fit = json.loads((study / "fit.json").read_text())
            self.assertTrue(fit["strong"]["static"]["exact_two_point"])
            self.assertIn("scripts/sweep.sh x", (study / "SETUP.md").read_text())
            self.assertEqual(study_files.study_missing(study), [])

    def test_a_journal_reads_member_by_member_and_drops_a_torn_one(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "r.tasks.csv.gz"
            tasks = fake_run(2, 1.0)["tasks"]
            write_journal(path, tasks)
            whole = path.read_bytes()
            rows = journal.read(path)
            self.assertEqual([int(r["task"]) for r in rows], [3, 2, 1, 0])
            self.assertEqual(float(rows[0]["start_s"]), 0.30000000000000004)
            more = gzip.compress(b"9,0,0,0,0.5,0.1,1.0,0.0,1.0\n")
            path.write_bytes(whole + more[: len(more) // 2])
            self.assertEqual(len(journal.read(path)), 4)

    def test_a_study_of_schema_3_runs_reads_their_journals(self):
        with tempfile.TemporaryDirectory() as d:
            study = synthetic_study(Path(d), [(1, 4.0, "speedup"), (2, 2.5, "busy_speedup")],
                                    journals=True)
            analysis.analyse(study)
            with gzip.open(study / "tasks.csv.gz", "rt") as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(len(rows), 4 + 4)
            p2 = [r for r in rows if r["p"] == "2"]
            self.assertEqual([r["task"] for r in p2], ["0", "1", "2", "3"])
            self.assertEqual([r["rank"] for r in p2], ["0", "1", "0", "1"])
            self.assertEqual([r["status"] for r in p2], ["ok", "ok", "ok", "check-failed"])
            self.assertEqual(float(p2[3]["start_s"]), 0.30000000000000004)
            # Without its journal a run of schema 3 has no per-task records: named, not skipped.
            (study / "runs" / "strong-static-p2.tasks.csv.gz").unlink()
            with self.assertRaises(files.InputError) as e:
                analysis.analyse(study)
            self.assertIn("strong-static-p2.json: no per-task records", str(e.exception))

    def test_missing_run_json_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            study = synthetic_study(Path(d), [(1, 4.0, "speedup")])
            (study / "runs" / "strong-static-p1.json").unlink()
            with self.assertRaises(files.InputError) as e:
                analysis.analyse(study)
            self.assertIn("strong-static-p1.json not found", str(e.exception))


def synthetic_study(study, points, journals=False):
    """A study folder with one run per (p, wall, name of the Σbusy/wall key); with `journals`,
    each run's tasks are in its journal (schema 3), else in its JSON (schema 2)."""
    (study / "runs").mkdir()
    (study / "study.conf").write_text("label=t\nslots=2\ncommand=scripts/sweep.sh x\n")
    rows = ["mode\tschedule\tp\trepeat\ttasks\tjson"]
    for p, wall, key in points:
        doc = fake_run(p, wall)
        doc[key] = doc.pop("speedup")
        if journals:
            doc["tasks"][3]["status"] = "check-failed"
            doc["tasks_file"] = f"strong-static-p{p}.tasks.csv.gz"
            write_journal(study / "runs" / doc["tasks_file"], doc["tasks"])
            doc["tasks"] = None
        name = f"runs/strong-static-p{p}.json"
        (study / name).write_text(json.dumps(doc))
        rows.append(f"strong\tstatic\t{p}\t1\t4\t{name}")
    (study / "manifest.tsv").write_text("\n".join(rows) + "\n")
    return study


def fake_run(p, wall):
    tasks = [
        {"task": i, "rank": i % p, "status": "ok", "start_s": 0.1 * i, "seconds": 0.1}
        for i in range(4)
    ]
    return {
        "ranks": p, "wall_s": wall, "tasks_per_s": 4 / wall, "busy_s": 0.4, "speedup": 0.4 / wall,
        "imbalance": 1.0, "checksum": 1.5, "task_count": 4, "checks": {"passed": 4, "failed": 0},
        "config": {"schedule": "static", "dim": 4},
        "hosts": [{"name": "h", "ranks": p, "tasks": 4, "busy_s": 0.4, "tasks_per_s": 4 / wall,
                   "mean_ms_per_task": 100.0, "cores": 2, "cpu_model": "cpu"}],
        "per_rank": [{"rank": r, "host": "h", "tasks": 4 // p, "busy_s": 0.4 / p}
                     for r in range(p)],
        "environment": {"started_at": "2026-01-01T00:00:00Z", "mpi_library": "Open MPI v4",
                        "git_revision": "abc",
                        "rank_info": [{"rank": 0, "host": "h", "cores": 2, "cpu_model": "cpu",
                                       "mem_total_bytes": 2**30, "pid": 1}]},
        "tasks": tasks,
    }


def write_journal(path, tasks):
    """`tasks` as cluster-bench's journal holds them: a header member, then the rows in two
    members, last task first (rows are in the order rank 0 received them)."""
    codes = {"ok": 0, "check-failed": 1}
    head = ("#cluster-bench-tasks 1\n#work {\"dim\": 4}\n"
            "task,rank,status,fallback,start_s,seconds,eig_sum_re,eig_sum_im,trace\n"
            "#attempt {\"ranks\": 2}\n")
    rows = [f"{t['task']},{t['rank']},{codes[t['status']]},0,{t['start_s']!r},{t['seconds']!r},"
            "1.5,0.0,1.5\n" for t in reversed(tasks)]
    members = [head, "".join(rows[:2]), "".join(rows[2:]) + "#wall_s 0.5\n"]
    path.write_bytes(b"".join(gzip.compress(m.encode()) for m in members))


if __name__ == "__main__":
    unittest.main()
