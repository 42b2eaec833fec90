"""Plots of cluster-bench results, straight from the CSV files (PNG and SVG).

PATH is a runs.csv (the file every run appends one row to, e.g. results/runs.csv), a study
folder of scripts/sweep.sh (after scripts/scaling.py), or a `cluster-bench net` result
(FILE.net.json or FILE.net.csv). The command line of scripts/plot.py.
"""

import argparse
import os
import sys
from pathlib import Path

from .. import net, runs_csv, study
from ..files import InputError

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "plot.py"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
REEXEC_MARK = "CLUSTER_BENCH_PLOT_REEXEC"

EPILOG = """\
from a runs.csv (into DIR/plots next to it):
  tasks-per-s        tasks/s against ranks, one line per dim, schedule and host set
  measured-speedup   measured speedup against ranks, same lines, with the ideal S = p
  wall-vs-tasks      wall time against the number of tasks, one line per rank count and
                     schedule, one panel per dim
  hosts-newest       tasks/s per host of the newest run (read from its JSON, the json_file
                     column, relative to the CSV's folder; skipped with a note if it is gone)
  Lines join the median over the runs at each point; each run is a faint dot. Incomplete runs
  (complete = false) are left out. Host set: the host names in the run's JSON, else the count.

  Measured speedup of a run at p ranks = median wall_s of the complete 1-rank runs of the
  same work (same dim, tasks, schedule, kernel and seed) / the run's wall_s. Runs without
  such 1-rank runs have none. (busy_speedup, Σ task seconds / wall, is not used: it cannot
  see tasks that got slower when ranks share cores.)

from a net result FILE.net.json or FILE.net.csv (into DIR/plots next to it):
  net-heatmaps       latency (us) and bandwidth (MB/s), host x host, row sends to column;
                     links flagged slow outlined, flagged hosts in red (from the JSON)

from a study folder (into STUDY/plots):
  speedup, efficiency      against p, medians with min-max bars, ideal line, Amdahl or
                           Gustafson fit from fit.json
  timeline-static|dynamic  one run as a Gantt chart, each task a bar coloured by host (PNG only)
  hosts                    tasks/s per host, stacked, for every p

Only these files are written (each atomically); nothing else in DIR is touched.
Exit status: 0 plotted (or nothing to plot), 1 matplotlib missing, 2 bad input (a malformed
CSV is named with its line).
"""


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="scripts/plot.py", description=__doc__.split("\n\n")[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", type=Path, metavar="PATH",
                    help="a runs.csv, a study folder, or a FILE.net.json / FILE.net.csv")
    ap.add_argument("-o", "--out", type=Path, metavar="DIR",
                    help="output folder [plots/ next to the CSV, or STUDY/plots]")
    ap.add_argument("--formats", default="png,svg", help="comma-separated, of png,svg,pdf [png,svg]")
    ap.add_argument("--run", metavar="RUN_ID", help="study: the run for the timeline (a run_id "
                    "of study-runs.csv) instead of the median run at the largest p")
    ap.add_argument("--title", help="study: text appended to the titles [the study's label]")
    args = ap.parse_args(argv)
    args.formats = [f for f in args.formats.split(",") if f]
    bad = [f for f in args.formats if f not in ("png", "svg", "pdf")]
    if bad or not args.formats:
        ap.error(f"--formats: {','.join(bad) or 'nothing'} (choose from png, svg, pdf)")
    return ap, args


def ensure_matplotlib():
    """Runs this script again under ROOT/.venv/bin/python when this Python lacks matplotlib
    (scripts/setup.sh installs it there, not system-wide); exits 1 if neither has it."""
    try:
        import matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    in_venv = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    if VENV_PYTHON.exists() and not in_venv and not os.environ.get(REEXEC_MARK):
        os.environ[REEXEC_MARK] = "1"
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(SCRIPT), *sys.argv[1:]])
    sys.exit(f"plot.py: matplotlib is not installed for {sys.executable} nor in {ROOT / '.venv'}: "
             "run scripts/setup.sh (or scripts/setup.sh --no-build) to create it")


def read_input(ap, path):
    """('runs', rows), ('net', result) or ('study', summary files); exits 2 naming what is
    wrong, before anything is written."""
    if not path.exists():
        ap.error(f"{path}: no such file or folder")
    if path.is_dir():
        missing = study.study_missing(path)
        if missing:
            ap.error(f"{missing[0]} missing: run scripts/scaling.py {path} first")
    try:
        if path.is_dir():
            return "study", study.read_summary(path)
        if net.is_net_file(path):
            return "net", net.read_net(path)
        return "runs", runs_csv.read_runs(path)
    except InputError as e:
        bad_input(e)


def bad_input(e):
    print(f"plot.py: {e}", file=sys.stderr)
    sys.exit(2)


def draw(kind, data, args, out):
    """Every plot of the input into out (matplotlib imported only now); returns (paths written,
    notes about plots not drawn)."""
    if kind == "study":
        from ..plots import study as plots

        title = args.title
        if title is None:
            title = study.read_conf(args.path).get("label", "")
        return plots.draw(args.path, data, out, args.formats, args.run, title), []
    if kind == "net":
        from ..plots import net as plots

        return plots.draw(data, out, args.formats), []
    from ..plots import runs as plots

    return plots.draw(data, args.path, out, args.formats)


def main(argv=None):
    ap, args = parse_args(argv)
    kind, data = read_input(ap, args.path)
    if kind == "runs" and not data:
        print(f"plot.py: nothing to plot: {args.path} has no runs", file=sys.stderr)
        return 0
    ensure_matplotlib()
    out = args.out or (args.path if kind == "study" else args.path.parent) / "plots"
    out.mkdir(parents=True, exist_ok=True)
    try:
        written, notes = draw(kind, data, args, out)
    except ValueError as e:
        ap.error(str(e))
    for note in notes:
        print(f"plot.py: note: {note}", file=sys.stderr)
    for path in written:
        print(path)
    return 0
