"""The cbtools readers fed by the files the current binary writes: a run's JSON, its journal and
runs.csv from `mpirun -np N cluster-bench`, then a study and a rank summary made of them. A key
or column renamed in Rust and not in scripts/cbtools fails here.

The binary: $CLUSTER_BENCH_BIN (tests/sweep.rs sets it), else target/release/cluster-bench;
without it, or without mpirun, these tests are skipped and say so.
Run: .venv/bin/python -m unittest discover -s tests/python
"""

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from cbtools import analysis, journal, metrics, ranks, run_json, runs_csv, study  # noqa: E402
from cbtools.files import InputError  # noqa: E402

BIN = Path(os.environ.get("CLUSTER_BENCH_BIN") or ROOT / "target" / "release" / "cluster-bench")
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_pml": "ob1"}
# (name, ranks, extra arguments): two runs of the same work at 1 and 2 ranks (a measured
# speedup and a study), and a dynamic sleep run (rank 0's dispatch figures).
RUNS = (
    ("one", 1, ["--dim", "20", "--tasks", "30", "--json-tasks"]),
    ("two", 2, ["--dim", "20", "--tasks", "30", "--json-tasks"]),
    ("sleep", 2, ["--workload", "sleep", "--task-ms", "1", "--tasks", "30",
                  "--schedule", "dynamic"]),
)


def why_not_runnable():
    if not BIN.is_file():
        return f"SKIPPED: no binary at {BIN}: cargo build --release (or set CLUSTER_BENCH_BIN)"
    if shutil.which("mpirun") is None:
        return "SKIPPED: mpirun is not on PATH (scripts/setup.sh installs Open MPI)"
    return ""


def run(out: Path, ranks_, args):
    """One run into out; returns its JSON's path (the one file in out that is new)."""
    before = set(out.glob("*.json"))
    cmd = ["mpirun", "-np", str(ranks_), "--oversubscribe", str(BIN), *args,
           "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **MPI_ENV))
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    [path] = set(out.glob("*.json")) - before
    return path


class CurrentBinary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = why_not_runnable()
        if why:
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.study = Path(cls.tmp.name) / "study"
        cls.out = cls.study / "runs"
        cls.out.mkdir(parents=True)
        cls.json = {name: run(cls.out, p, args) for name, p, args in RUNS}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def doc(self, name):
        return run_json.read(self.json[name])

    def test_the_json_is_a_version_these_scripts_read(self):
        for name, path in self.json.items():
            doc = run_json.read(path)
            self.assertEqual(run_json.version(path, doc), max(run_json.KNOWN_VERSIONS), name)

    def test_the_journal_holds_the_tasks_the_json_holds(self):
        doc = self.doc("two")
        records = journal.tasks(self.out / doc["tasks_file"])
        self.assertEqual([t["task"] for t in records], list(range(30)))
        keys = ("task", "rank", "status", "start_s", "seconds")
        want = sorted(({k: t[k] for k in keys} for t in doc["tasks"]), key=lambda t: t["task"])
        self.assertEqual(records, want)
        self.assertEqual({t["status"] for t in records}, {"ok"})
        busy = sum(t["seconds"] for t in records)
        self.assertAlmostEqual(busy, doc["busy_s"], delta=1e-9 * max(1.0, busy))

    def test_runs_csv_rows_match_their_json(self):
        rows = runs_csv.read_runs(self.out / "runs.csv")
        self.assertEqual([r["ranks"] for r in rows], [1, 2, 2])
        for row, name in zip(rows, self.json):
            doc = self.doc(name)
            self.assertEqual(row["json_file"], self.json[name].name)
            self.assertEqual((row["wall_s"], row["tasks"]), (doc["wall_s"], doc["task_count"]))
            self.assertEqual(runs_csv.host_set(self.out, row), doc["hosts"][0]["name"])
        speedups = metrics.measured_speedups(metrics.usable(rows))
        self.assertAlmostEqual(speedups[1], rows[0]["wall_s"] / rows[1]["wall_s"], places=12)
        self.assertIsNone(speedups[2], "the sleep run is other work: no 1-rank baseline")

    def test_a_study_of_these_runs_is_analysed_and_read_back(self):
        manifest = ["mode\tschedule\tp\trepeat\ttasks\tjson"]
        for name, p in (("one", 1), ("two", 2)):
            manifest.append(f"strong\tstatic\t{p}\t1\t30\truns/{self.json[name].name}")
        (self.study / "manifest.tsv").write_text("\n".join(manifest) + "\n")
        points, _ = analysis.analyse(self.study)
        t1, t2 = self.doc("one")["wall_s"], self.doc("two")["wall_s"]
        self.assertAlmostEqual(points[1]["speedup"], t1 / t2, places=12)
        files = study.read_summary(self.study)
        self.assertEqual(len(files["tasks"]), 60)
        self.assertEqual({r["host"] for r in files["tasks"]}, {self.doc("two")["hosts"][0]["name"]})
        self.assertEqual([r["p"] for r in files["runs"]], ["1", "2"])

    def test_the_rank_summary_of_the_sleep_run(self):
        m = {"schedule": "dynamic", "ranks": "2", "task_ms": "1", "tasks": "30",
             "process_s": "9.0", "load1_before": "0", "json": f"runs/{self.json['sleep'].name}"}
        row = ranks.summary_row(self.study, m)
        doc = self.doc("sleep")
        self.assertEqual((row["status"], row["ranks"], row["tasks"]), ("complete", 2, 30))
        want = doc["checksum"] / (2 * doc["wall_s"])
        self.assertAlmostEqual(float(row["efficiency"]), want, delta=6e-5)
        self.assertEqual(row["requests"], doc["dispatch"]["requests"])
        self.assertGreater(row["requests"], 0)

    def test_an_unknown_json_version_is_refused_naming_the_file(self):
        doc = self.doc("one")
        doc["schema_version"] = max(run_json.KNOWN_VERSIONS) + 1
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "future.json"
            path.write_text(json.dumps(doc))
            says = rf"{path}: schema_version {doc['schema_version']} "
            with self.assertRaisesRegex(InputError, says):
                run_json.read(path)

    def test_an_unknown_journal_version_is_refused_naming_the_file(self):
        text = gzip.decompress((self.out / self.doc("one")["tasks_file"]).read_bytes()).decode()
        self.assertTrue(text.startswith("#cluster-bench-tasks 1\n"))
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "future.tasks.csv.gz"
            path.write_bytes(gzip.compress(text.replace("tasks 1\n", "tasks 2\n", 1).encode()))
            with self.assertRaisesRegex(InputError, rf"{path}: journal version '2'"):
                journal.read(path)
            renamed = text.replace("start_s", "begin_s")
            path.write_bytes(gzip.compress(renamed.encode()))
            with self.assertRaisesRegex(InputError, "the header lacks start_s"):
                journal.read(path)

    def test_scaling_py_names_a_json_it_cannot_read_and_writes_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            copy = Path(d) / "study"
            shutil.copytree(self.study, copy)
            (copy / "manifest.tsv").write_text(
                "mode\tschedule\tp\trepeat\ttasks\tjson\nstrong\tstatic\t1\t1\t30\truns/x.json\n")
            doc = self.doc("one")
            del doc["wall_s"]
            (copy / "runs" / "x.json").write_text(json.dumps(doc))
            files = lambda: {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}  # noqa: E731
            before = files()
            done = subprocess.run([sys.executable, str(ROOT / "scripts" / "scaling.py"), str(copy)],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, 1, done.stderr)
            self.assertIn("x.json: no usable 'wall_s'", done.stderr)
            self.assertEqual(files(), before)

if __name__ == "__main__":
    unittest.main()
