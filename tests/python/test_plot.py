"""cbtools.runs_csv and cbtools.net (reading runs.csv and net results), the measured speedup
of cbtools.metrics, and scripts/plot.py's command line.

Run: python3 -m unittest discover -s tests/python
"""

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from cbtools import metrics, net, runs_csv  # noqa: E402
from cbtools.files import InputError  # noqa: E402

HEADER = (
    "started_at,label,ranks,hosts,tasks,dim,schedule,kernel,seed,wall_s,tasks_per_s,busy_s,"
    "busy_speedup,busy_efficiency,imbalance,measured_speedup,checksum,checks_failed,fallbacks,"
    "complete,mpi_library,version,git_revision,json_file"
)


def row(ranks, wall, tasks=200, dim=100, schedule="static", seed=42, complete="true",
        started="2026-01-01T00:00:00Z", json_file=""):
    return (f"{started},run,{ranks},1,{tasks},{dim},{schedule},auto,{seed},{wall},"
            f"{tasks / wall},1.0,1.0,0.5,1.0,,1.5,0,0,{complete},Open MPI v4.1.4,0.1.0,abc,"
            f"{json_file}")


def write(folder, lines, name="runs.csv"):
    path = Path(folder) / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def plot_py(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "plot.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


class ReadRuns(unittest.TestCase):
    def test_reads_typed_rows_under_either_header(self):
        with tempfile.TemporaryDirectory() as d:
            new = runs_csv.read_runs(write(d, [HEADER, row(2, 0.5)]))
            old_header = HEADER.replace("busy_speedup,busy_efficiency", "speedup,efficiency")
            old = runs_csv.read_runs(write(d, [old_header, row(2, 0.5)], "old.csv"))
        for rows in (new, old):
            self.assertEqual(len(rows), 1)
            r = rows[0]
            self.assertEqual((r["ranks"], r["tasks"], r["wall_s"], r["complete"]), (2, 200, 0.5, True))
            self.assertEqual((r["busy_speedup"], r["line"]), ("1.0", 2))

    def test_malformed_lines_are_named(self):
        cases = [
            ([HEADER, row(1, 1.0), "2026,run,2"], ":3: 3 fields, but the header has 24"),
            ([HEADER, row(1, 1.0), row(2, 1.0).replace(",2,1,200,", ",two,1,200,")],
             ":3: ranks is 'two', not a whole number"),
            ([HEADER, row(0, 1.0)], ":2: ranks is '0', not a whole number >= 1"),
            ([HEADER, row(1, 1.0).replace(",1.0,200.0,", ",nan,200.0,")],
             ":2: wall_s is 'nan', not a number >= 0"),
            ([HEADER, row(1, 1.0, complete="yes")], ":2: complete is 'yes', not true or false"),
            (["a,b,c", "1,2,3"], ":1: the header lacks ranks, tasks"),
            ([HEADER + ",speedup", row(1, 1.0) + ",1"], ":1: both 'speedup' and 'busy_speedup'"),
        ]
        with tempfile.TemporaryDirectory() as d:
            for lines, want in cases:
                path = write(d, lines)
                with self.assertRaises(InputError) as e:
                    runs_csv.read_runs(path)
                self.assertIn(f"{path}{want}", str(e.exception))

    def test_bad_bytes_and_quotes_are_named(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "runs.csv"
            path.write_bytes((HEADER + "\n" + row(1, 1.0) + "\n").encode() + b"\xff\n")
            with self.assertRaisesRegex(InputError, r"runs\.csv:3: not UTF-8"):
                runs_csv.read_runs(path)
            path.write_text(HEADER + "\n" + row(1, 1.0) + "\n" + '"x\0",\n')
            with self.assertRaisesRegex(InputError, r"runs\.csv:3: "):
                runs_csv.read_runs(path)

    def test_empty_file_and_header_only_have_no_runs(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(runs_csv.read_runs(write(d, [])), [])
            self.assertEqual(runs_csv.read_runs(write(d, [HEADER, ""])), [])


def runs(*specs):
    """Rows as read_runs returns them from (ranks, wall, tasks, schedule, complete)."""
    out = []
    for i, (ranks, wall, tasks, schedule, complete) in enumerate(specs):
        out.append({"ranks": ranks, "wall_s": wall, "tasks": tasks, "dim": 100,
                    "schedule": schedule, "kernel": "auto", "seed": 42, "complete": complete,
                    "started_at": f"2026-01-01T00:00:0{i}Z", "line": i + 2, "hosts": "1",
                    "json_file": ""})
    return out


class MeasuredSpeedup(unittest.TestCase):
    def test_baseline_is_the_median_of_the_same_work_at_one_rank(self):
        rs = runs((1, 4.0, 200, "static", True), (1, 6.0, 200, "static", True),
                  (1, 5.5, 200, "static", True), (2, 2.75, 200, "static", True),
                  (2, 1.0, 400, "static", True), (2, 2.0, 200, "dynamic", True))
        s = metrics.measured_speedups(rs)
        self.assertAlmostEqual(s[0], 5.5 / 4.0)
        self.assertAlmostEqual(s[3], 2.0)
        # Other tasks or another schedule: no 1-rank run of the same work, no speedup.
        self.assertIsNone(s[4])
        self.assertIsNone(s[5])

    def test_incomplete_runs_are_not_used(self):
        rs = runs((1, 4.0, 200, "static", False), (2, 2.0, 200, "static", True))
        good = metrics.usable(rs)
        self.assertEqual(len(good), 1)
        self.assertEqual(metrics.measured_speedups(good), [None])

    def test_series_and_wall_by_tasks_take_medians(self):
        rs = runs((1, 4.0, 200, "static", True), (1, 6.0, 200, "static", True),
                  (2, 3.0, 200, "static", True), (2, 5.0, 400, "static", True))
        by = metrics.series(rs, [r["wall_s"] for r in rs], lambda r: r["schedule"])
        self.assertEqual(by, {"static": {1: 5.0, 2: 4.0}})
        self.assertEqual(metrics.wall_by_tasks(rs)[(100, "static", 2)], {200: 3.0, 400: 5.0})
        self.assertEqual(metrics.newest(rs)["line"], 5)


class CommandLine(unittest.TestCase):
    def test_malformed_csv_exits_2_naming_file_and_line(self):
        with tempfile.TemporaryDirectory() as d:
            path = write(d, [HEADER, row(1, 1.0), "oops"])
            out = plot_py(path)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn(f"{path}:3:", out.stderr)
            self.assertFalse((Path(d) / "plots").exists(), "nothing written for bad input")

    def test_empty_csv_has_nothing_to_plot(self):
        with tempfile.TemporaryDirectory() as d:
            out = plot_py(write(d, []))
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("nothing to plot", out.stderr)
            self.assertFalse((Path(d) / "plots").exists())

    def test_usage_errors_exit_2(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(plot_py(Path(d) / "nope.csv").returncode, 2)
            out = plot_py(d)
            self.assertEqual(out.returncode, 2)
            self.assertIn("run scripts/scaling.py", out.stderr)
            self.assertEqual(plot_py(write(d, [HEADER]), "--formats", "gif").returncode, 2)
        help_text = plot_py("--help").stdout
        self.assertIn("Measured speedup", help_text)

    def test_plots_a_runs_csv(self):
        probe = plot_py_can_draw()
        if probe:
            self.skipTest(probe)
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "r2.json").write_text(json.dumps({"hosts": [
                {"name": "a", "ranks": 1, "tasks": 100, "tasks_per_s": 50.0,
                 "mean_ms_per_task": 20.0},
                {"name": "b", "ranks": 1, "tasks": 100, "tasks_per_s": 40.0,
                 "mean_ms_per_task": 25.0}]}))
            path = write(d, [HEADER, row(1, 4.0), row(2, 2.5, json_file="r2.json",
                                                          started="2026-01-02T00:00:00Z")])
            (Path(d) / "plots").mkdir()
            (Path(d) / "plots" / "mine.txt").write_text("keep")
            out = plot_py(path)
            self.assertEqual(out.returncode, 0, out.stderr)
            made = sorted(p.name for p in (Path(d) / "plots").iterdir())
            want = sorted(f"{s}.{e}" for s in ("tasks-per-s", "measured-speedup", "wall-vs-tasks",
                                               "hosts-newest") for e in ("png", "svg"))
            self.assertEqual(made, sorted(want + ["mine.txt"]))
            self.assertEqual((Path(d) / "plots" / "mine.txt").read_text(), "keep")
            self.assertTrue((Path(d) / "plots" / "hosts-newest.png").read_bytes()
                            .startswith(b"\x89PNG"))
            # The newest run's JSON gone: the other plots still, and a note.
            (Path(d) / "r2.json").unlink()
            out = plot_py(path, "-o", Path(d) / "again")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("no per-host plot", out.stderr)
            self.assertEqual(len(list((Path(d) / "again").iterdir())), 6)


NET_CSV = ("from,to,round,latency_us,latency_min_us,bandwidth_mb_per_s,bandwidth_bytes,"
           "bandwidth_s,slow_bandwidth,slow_latency")


def net_json(folder):
    """A small net result as cluster-bench writes it: h2 is slow both ways."""
    names = ["h1", "h2", "h3"]
    pairs = [{"from": a, "to": b, "round": 0, "latency_us": 50.0, "latency_min_us": 45.0,
              "bandwidth_mb_per_s": 12.0 if "h2" in (a, b) else 900.0,
              "bandwidth_bytes": 1, "bandwidth_s": 1, "slow_bandwidth": "h2" in (a, b),
              "slow_latency": False} for a in names for b in names if a != b]
    hosts = [{"name": n, "slow_send": n == "h2", "slow_receive": n == "h2",
              "slow_latency": False} for n in names]
    path = Path(folder) / "t-20260101T000000Z-3h.net.json"
    path.write_text(json.dumps({"schema": "cluster-bench-net", "schema_version": 1, "label": "t",
                                "hosts": hosts, "pairs": pairs}))
    return path


class NetResult(unittest.TestCase):
    def test_json_and_csv_read_alike(self):
        with tempfile.TemporaryDirectory() as d:
            got = net.read_net(net_json(d))
            rows = [NET_CSV] + [
                f"{p['from']},{p['to']},0,50,45,{p['bandwidth_mb_per_s']},1,1,"
                f"{str(p['slow_bandwidth']).lower()},false" for p in got["pairs"].values()]
            from_csv = net.read_net(write(d, rows, "t.net.csv"))
        self.assertEqual(got["names"], ["h1", "h2", "h3"])
        self.assertEqual(from_csv["names"], got["names"])
        self.assertEqual(got["slow_hosts"], {"h2"})
        m = net.matrix(from_csv, "bandwidth_mb_per_s")
        self.assertEqual((m[0][2], m[0][1]), (900.0, 12.0))
        self.assertTrue(from_csv["pairs"][("h1", "h2")]["slow_bandwidth"])

    def test_bad_net_files_exit_2_naming_them(self):
        with tempfile.TemporaryDirectory() as d:
            bad_json = Path(d) / "x.net.json"
            bad_json.write_text('{"hosts": 3}')
            bad_csv = write(d, [NET_CSV, "a,b,0,fast,1,1,1,1,false,false"], "y.net.csv")
            future = net_json(d)
            text = future.read_text()
            future.write_text(text.replace('"schema_version": 1', '"schema_version": 2'))
            for path, says in ((bad_json, "not a cluster-bench net JSON"),
                               (bad_csv, "y.net.csv:2: latency_us is 'fast'"),
                               (future, f"{future}: schema_version 2 is not one")):
                out = plot_py(path)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn(says, out.stderr)
            self.assertFalse((Path(d) / "plots").exists())

    def test_draws_the_heatmaps(self):
        probe = plot_py_can_draw()
        if probe:
            self.skipTest(probe)
        with tempfile.TemporaryDirectory() as d:
            out = plot_py(net_json(d), "--formats", "png")
            self.assertEqual(out.returncode, 0, out.stderr)
            png = Path(d) / "plots" / "net-heatmaps.png"
            self.assertEqual(out.stdout.strip(), str(png))
            self.assertTrue(png.read_bytes().startswith(b"\x89PNG"))


def plot_py_can_draw():
    """'' when plot.py can import matplotlib (here or in ROOT/.venv), else why not."""
    for py in (sys.executable, ROOT / ".venv" / "bin" / "python"):
        if Path(py).exists() and subprocess.run([str(py), "-c", "import matplotlib"],
                                                 capture_output=True).returncode == 0:
            return ""
    return "SKIPPED: matplotlib is in neither this Python nor ROOT/.venv (run scripts/setup.sh)"


if __name__ == "__main__":
    unittest.main()
