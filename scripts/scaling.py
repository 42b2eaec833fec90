#!/usr/bin/env python3
"""Analysis of a scaling study made by scripts/sweep.sh.

Reads STUDY/manifest.tsv, STUDY/study.conf and every run's JSON in STUDY/runs/ with its per-task
journal (the JSON's tasks_file; old JSONs hold the tasks themselves), and writes (atomically,
only inside STUDY):

  study-runs.csv  one row per run (tidy, long format)
  tasks.csv.gz    one row per task of every run (for timelines), gzip-compressed
  hosts.csv       one row per host of every run (per-host throughput)
  points.csv      one row per (mode, schedule, p): medians and scaling metrics
  fit.json        Amdahl fit T(p) = Ts + Tp/p (strong) and Gustafson fit (weak), per schedule
  SETUP.md        the machines, MPI library, git revision and the command of the study

The run JSONs and journals stay in STUDY/runs/ but are not committed (.gitignore): everything a
reader needs is in the files above.

The maths lives in small pure functions (tested in tests/python/test_scaling.py).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import os
import statistics
import sys
import tempfile
import zlib
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# Metrics: pure functions of numbers.


def speedup(t1, tp):
    """Measured strong-scaling speedup S = T(1) / T(p)."""
    return t1 / tp


def efficiency(s, p):
    """Parallel efficiency S / p."""
    return s / p


def karp_flatt(s, p):
    """Karp–Flatt experimentally determined serial fraction e = (1/S − 1/p) / (1 − 1/p).

    Undefined at p = 1: returns None.
    """
    if p <= 1:
        return None
    return (1.0 / s - 1.0 / p) / (1.0 - 1.0 / p)


def weak_efficiency(t1, tp):
    """Weak-scaling efficiency T(1) / T(p) (work per rank fixed: ideal is 1)."""
    return t1 / tp


def scaled_speedup(t1, tp, p):
    """Scaled (Gustafson) speedup p · T(1) / T(p): work done per unit time relative to p = 1."""
    return p * t1 / tp


def gustafson_serial_fraction(scaled, p):
    """Serial fraction α of Gustafson's law S = p − α (p − 1), i.e. α = (p − S) / (p − 1).

    Undefined at p = 1: returns None.
    """
    if p <= 1:
        return None
    return (p - scaled) / (p - 1)


def amdahl_fit(ps, ts):
    """Least-squares fit of T(p) = Ts + Tp / p to points (p, T).

    Returns a dict: ts, tp (seconds), serial_fraction Ts / (Ts + Tp), max_speedup (Ts + Tp) / Ts
    (None when Ts <= 0: no serial part measurable), rmse_s; None with fewer than two distinct p.
    """
    pairs = [(float(p), float(t)) for p, t in zip(ps, ts)]
    xs = [1.0 / p for p, _ in pairs]
    if len(set(xs)) < 2:
        return None
    n = len(xs)
    mx = sum(xs) / n
    my = sum(t for _, t in pairs) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (t - my) for x, (_, t) in zip(xs, pairs))
    tp = sxy / sxx
    ts = my - tp * mx
    total = ts + tp
    rmse = math.sqrt(sum((ts + tp * x - t) ** 2 for x, (_, t) in zip(xs, pairs)) / n)
    return {
        "ts_s": ts,
        "tp_s": tp,
        "serial_fraction": ts / total if total != 0 else None,
        "max_speedup": total / ts if ts > 0 and tp > 0 else None,
        "rmse_s": rmse,
        # Amdahl's model holds only with Ts >= 0 and Tp > 0; otherwise the times did not fall
        # as 1/p (no gain: Tp <= 0; superlinear: Ts < 0) and the fractions mean nothing.
        "valid": ts >= 0 and tp > 0,
    }


def amdahl_speedup(p, fit):
    """Speedup the Amdahl fit predicts at p: (Ts + Tp) / (Ts + Tp / p)."""
    return (fit["ts_s"] + fit["tp_s"]) / (fit["ts_s"] + fit["tp_s"] / p)


def gustafson_speedup(p, alpha):
    """Scaled speedup Gustafson's law predicts at p: p − α (p − 1)."""
    return p - alpha * (p - 1)


def gustafson_fit(ps, scaled):
    """Least-squares α of S(p) = p − α (p − 1) over points (p, scaled speedup).

    Returns None without a point at p > 1.
    """
    num = sum((p - 1) * (p - s) for p, s in zip(ps, scaled))
    den = sum((p - 1) ** 2 for p in ps)
    if den == 0:
        return None
    return num / den


def is_oversubscribed(p, slots=None, physical_cores=None):
    """A run is oversubscribed when p exceeds the hostfile's slots or the physical cores (given
    to sweep.sh, or this machine's for a localhost-only hostfile). The JSON's per-rank `cores`
    is the rank's CPU affinity (1 when mpirun binds to a core), so it cannot tell."""
    if slots and p > slots:
        return True
    return bool(physical_cores and p > physical_cores)


# ---------------------------------------------------------------------------------------------
# Points: runs grouped by (mode, schedule, p).


def point_rows(runs):
    """Rows of points.csv from run rows (dicts with mode, schedule, p, wall_s, tasks_per_s,
    busy_speedup, imbalance, oversubscribed). The reference is the p = 1 median of the same mode
    and schedule; without it the speedup columns stay empty."""
    groups = {}
    for r in runs:
        groups.setdefault((r["mode"], r["schedule"], r["p"]), []).append(r)
    rows = []
    for (mode, schedule, p), rs in sorted(groups.items()):
        wall = statistics.median([r["wall_s"] for r in rs])
        ref = groups.get((mode, schedule, 1))
        t1 = statistics.median([r["wall_s"] for r in ref]) if ref else None
        row = {
            "mode": mode,
            "schedule": schedule,
            "p": p,
            "runs": len(rs),
            "oversubscribed": int(any(r["oversubscribed"] for r in rs)),
            "wall_s_median": wall,
            "wall_s_min": min(r["wall_s"] for r in rs),
            "wall_s_max": max(r["wall_s"] for r in rs),
            "tasks_per_s_median": statistics.median([r["tasks_per_s"] for r in rs]),
            "busy_speedup_median": statistics.median([r["busy_speedup"] for r in rs]),
            "imbalance_median": statistics.median([r["imbalance"] for r in rs]),
            "speedup": None,
            "efficiency": None,
            "karp_flatt": None,
            "weak_efficiency": None,
            "scaled_speedup": None,
            "gustafson_serial": None,
        }
        if t1 is not None:
            if mode == "strong":
                s = speedup(t1, wall)
                row["speedup"] = s
                row["efficiency"] = efficiency(s, p)
                row["karp_flatt"] = karp_flatt(s, p)
            else:
                s = scaled_speedup(t1, wall, p)
                row["speedup"] = s
                row["efficiency"] = efficiency(s, p)
                row["weak_efficiency"] = weak_efficiency(t1, wall)
                row["scaled_speedup"] = s
                row["gustafson_serial"] = gustafson_serial_fraction(s, p)
        rows.append(row)
    return rows


def fits(points):
    """fit.json content: per mode and schedule, the Amdahl fit (strong) over the points that are
    not oversubscribed (all points if fewer than two are), or the Gustafson fit (weak)."""
    out = {}
    for mode in sorted({r["mode"] for r in points}):
        for schedule in sorted({r["schedule"] for r in points if r["mode"] == mode}):
            pts = [r for r in points if r["mode"] == mode and r["schedule"] == schedule]
            if mode == "strong":
                use = [r for r in pts if not r["oversubscribed"]]
                if len({r["p"] for r in use}) < 2:
                    use = pts
                fit = amdahl_fit([r["p"] for r in use], [r["wall_s_median"] for r in use])
                if fit is not None:
                    fit["model"] = "T(p) = Ts + Tp/p, least squares over median wall times"
                    fit["fit_p"] = [r["p"] for r in use]
                    fit["exact_two_point"] = len(use) == 2
            else:
                use = [r for r in pts if r["scaled_speedup"] is not None]
                alpha = gustafson_fit([r["p"] for r in use], [r["scaled_speedup"] for r in use])
                fit = None
                if alpha is not None:
                    fit = {
                        "model": "scaled speedup S(p) = p - alpha (p - 1), least squares",
                        "alpha": alpha,
                        "fit_p": [r["p"] for r in use],
                    }
            out.setdefault(mode, {})[schedule] = fit
    return out


# ---------------------------------------------------------------------------------------------
# Files.


def atomic_write(path: Path, data):
    """Writes data (str as UTF-8, or bytes) to path via a temporary file in the same folder and
    os.replace: a reader sees the old file or the new one, never half of one."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; give the result the mode of an ordinary new file.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def csv_text(fields, rows):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: fmt(r.get(k)) for k in fields})
    return buf.getvalue()


def gzip_bytes(text: str) -> bytes:
    """text compressed with gzip, without a time stamp or name: re-running gives the same bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as f:
        f.write(text.encode("utf-8"))
    return buf.getvalue()


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return v


PLOT_INPUTS = ("points.csv", "study-runs.csv", "hosts.csv", "fit.json", "tasks.csv.gz")


def tasks_path(study: Path):
    """STUDY/tasks.csv.gz; plain tasks.csv in a study analysed before it was compressed."""
    gz = study / "tasks.csv.gz"
    return gz if gz.exists() or not (study / "tasks.csv").exists() else study / "tasks.csv"


def study_missing(study: Path):
    """The files of the study that plotting needs (this script writes them) and are not there."""
    paths = [study / n for n in PLOT_INPUTS[:-1]] + [tasks_path(study)]
    return [p for p in paths if not p.exists()]


def read_conf(study: Path):
    """STUDY/study.conf (key=value lines written by sweep.sh) as a dict; {} without the file.
    The one parser of that file: every script that needs a setting calls this."""
    conf = {}
    path = study / "study.conf"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                conf[key.strip()] = value
    return conf


def busy_speedup(doc):
    """Σ busy / wall of a run's JSON: `busy_speedup` (schema 2), `speedup` in version 0.1."""
    return float(doc["busy_speedup"] if "busy_speedup" in doc else doc["speedup"])


def int_or_none(s):
    try:
        return int(s)
    except (TypeError, ValueError):
        return None


def read_manifest(study: Path):
    path = study / "manifest.tsv"
    if not path.exists():
        raise SystemExit(f"scaling.py: {path} not found: is {study} a study folder of scripts/sweep.sh?")
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_run_json(study: Path, rel):
    """One run's JSON named by the manifest (inside the study only)."""
    path = (study / rel).resolve()
    if study.resolve() not in path.parents:
        raise SystemExit(f"scaling.py: manifest points outside the study: {rel}")
    if not path.exists():
        raise SystemExit(
            f"scaling.py: {study / rel} not found: the raw run JSONs are not committed with a "
            f"study; its CSVs and fit.json are already computed (scripts/plot.py {study} redraws "
            "the plots)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


# A journal row's status code (src/record.rs, TaskStatus) as the JSON spells it.
STATUS = {"0": "ok", "1": "check-failed", "2": "no-convergence", "3": "non-finite"}


def read_journal(path: Path):
    """The rows of a run's journal STEM.tasks.csv.gz (gzip members of CSV lines and '#' lines)
    as dicts of text, in file order. A member torn by a kill is left out, as cluster-bench's
    own reader does."""
    data, members = path.read_bytes(), []
    while data:
        member = zlib.decompressobj(wbits=31)
        text = member.decompress(data)
        if not member.eof:
            break
        members.append(text)
        data = member.unused_data
    lines = b"".join(members).decode("utf-8").splitlines()
    return list(csv.DictReader(line for line in lines if line and not line.startswith("#")))


def run_tasks(study: Path, rel, doc):
    """A run's task records (task, rank, status, start_s, seconds), in task order: from its
    journal (the JSON's tasks_file, beside the JSON), else from the JSON's own `tasks` (schema 2,
    or a run with --json-tasks whose journal is gone)."""
    name = doc.get("tasks_file")
    journal = (study / rel).parent / name if name and Path(name).name == name else None
    if journal is not None and journal.exists():
        rows = [
            {"task": int(r["task"]), "rank": int(r["rank"]), "start_s": float(r["start_s"]),
             "seconds": float(r["seconds"]), "status": STATUS.get(r["status"], r["status"])}
            for r in read_journal(journal)
        ]
        return sorted(rows, key=lambda r: r["task"])
    if doc.get("tasks") is not None:
        return doc["tasks"]
    raise SystemExit(
        f"scaling.py: {study / rel}: no per-task records: neither its journal (tasks_file "
        f"{name!r}) nor `tasks` in the JSON"
    )


def load_runs(study: Path, conf):
    """Run rows, task rows, host rows and the raw JSON documents of every run in the manifest."""
    slots = int_or_none(conf.get("slots"))
    physical = int_or_none(conf.get("physical_cores"))
    runs, tasks, hosts, docs = [], [], [], []
    for i, m in enumerate(read_manifest(study), start=1):
        rel = m["json"]
        doc = read_run_json(study, rel)
        p = int(doc["ranks"])
        run_id = f"{m['mode']}-{doc['config']['schedule']}-p{p}-r{m['repeat']}"
        host_names = [h["name"] for h in doc["hosts"]]
        over = is_oversubscribed(p, slots, physical)
        runs.append(
            {
                "run_id": run_id,
                "mode": m["mode"],
                "schedule": doc["config"]["schedule"],
                "p": p,
                "hosts": len(host_names),
                "host_names": ";".join(host_names),
                "repeat": int(m["repeat"]),
                "dim": doc["config"]["dim"],
                "tasks": doc["task_count"],
                "wall_s": float(doc["wall_s"]),
                "tasks_per_s": float(doc["tasks_per_s"]),
                "busy_s": float(doc["busy_s"]),
                "busy_speedup": busy_speedup(doc),
                "imbalance": float(doc["imbalance"]),
                "checksum": doc["checksum"],
                "checks_failed": doc["checks"]["failed"],
                "oversubscribed": int(over),
                "started_at": doc["environment"]["started_at"],
                "load1_before": m.get("load1_before", ""),
                "json": rel,
            }
        )
        host_of = {r["rank"]: r["host"] for r in doc["per_rank"]}
        for t in run_tasks(study, rel, doc):
            tasks.append(
                {
                    "run_id": run_id,
                    "mode": m["mode"],
                    "schedule": doc["config"]["schedule"],
                    "p": p,
                    "repeat": int(m["repeat"]),
                    "task": t["task"],
                    "rank": t["rank"],
                    "host": host_of.get(t["rank"], ""),
                    "start_s": t["start_s"],
                    "seconds": t["seconds"],
                    "status": t["status"],
                }
            )
        for h in doc["hosts"]:
            hosts.append(
                {
                    "run_id": run_id,
                    "mode": m["mode"],
                    "schedule": doc["config"]["schedule"],
                    "p": p,
                    "repeat": int(m["repeat"]),
                    "host": h["name"],
                    "ranks": h["ranks"],
                    "tasks": h["tasks"],
                    "busy_s": h["busy_s"],
                    "tasks_per_s": h["tasks_per_s"],
                    "mean_ms_per_task": h["mean_ms_per_task"],
                    "cores": h.get("cores"),
                    "cpu_model": h.get("cpu_model", ""),
                }
            )
        docs.append(doc)
    if not runs:
        raise SystemExit(f"scaling.py: no runs in {study / 'manifest.tsv'}")
    return runs, tasks, hosts, docs


RUN_FIELDS = [
    "run_id", "mode", "schedule", "p", "hosts", "host_names", "repeat", "dim", "tasks",
    "wall_s", "tasks_per_s", "busy_s", "busy_speedup", "imbalance", "checksum", "checks_failed",
    "oversubscribed", "started_at", "load1_before", "json",
]
TASK_FIELDS = [
    "run_id", "mode", "schedule", "p", "repeat", "task", "rank", "host", "start_s", "seconds",
    "status",
]
HOST_FIELDS = [
    "run_id", "mode", "schedule", "p", "repeat", "host", "ranks", "tasks", "busy_s",
    "tasks_per_s", "mean_ms_per_task", "cores", "cpu_model",
]
POINT_FIELDS = [
    "mode", "schedule", "p", "runs", "oversubscribed", "wall_s_median", "wall_s_min",
    "wall_s_max", "tasks_per_s_median", "speedup", "efficiency", "busy_speedup_median",
    "imbalance_median", "karp_flatt", "weak_efficiency", "scaled_speedup", "gustafson_serial",
    "amdahl_speedup",
]


def setup_md(conf, docs, runs):
    """SETUP.md: machines (from the runs' environment), MPI library, git revision, command."""
    machines = {}
    mpi, revs = set(), set()
    for doc in docs:
        env = doc["environment"]
        mpi.add(env.get("mpi_library", ""))
        revs.add(env.get("git_revision", ""))
        for ri in env.get("rank_info", []):
            m = machines.setdefault(
                ri["host"],
                {"cpu": ri.get("cpu_model", ""), "cores": ri.get("cores"),
                 "mem": ri.get("mem_total_bytes"), "max_ranks": 0},
            )
        for h in doc["hosts"]:
            m = machines.setdefault(
                h["name"], {"cpu": h.get("cpu_model", ""), "cores": h.get("cores"), "mem": None,
                            "max_ranks": 0})
            m["max_ranks"] = max(m["max_ranks"], h["ranks"])
    lines = [
        f"# Study `{conf.get('label', '?')}`",
        "",
        f"Started {conf.get('started_at', '?')}; {len(runs)} runs; "
        f"modes {conf.get('modes', '?')}; schedules {conf.get('schedules', '?')}; "
        f"p = {conf.get('ranks', '?')}; {conf.get('repeat', '?')} repeat(s) per point.",
        "",
        f"Workload: d = {conf.get('dim', '?')}; strong scaling {conf.get('tasks', '?')} tasks in "
        f"total; weak scaling {conf.get('tasks_per_rank', '?')} tasks per rank; "
        f"{conf.get('warmup', '?')} untimed warm-up task(s) per rank.",
        "",
        "## Command",
        "",
        "```sh",
        conf.get("command", "(unknown)"),
        "```",
        "",
        "## Machines (as the ranks reported them)",
        "",
        "| host | CPU model | cores a rank could use (affinity) | memory GiB | most ranks in a run |",
        "|---|---|---|---|---|",
    ]
    for name, m in sorted(machines.items()):
        mem = f"{m['mem'] / 2**30:.1f}" if m["mem"] else "?"
        lines.append(f"| {name} | {m['cpu'] or '?'} | {m['cores'] or '?'} | {mem} | {m['max_ranks']} |")
    slots = conf.get("slots", "?")
    phys = conf.get("physical_cores") or "not given"
    lines += [
        "",
        f"Hostfile ({slots} slots in total; physical cores given: {phys}):",
        "",
        "```",
        conf.get("hostfile_text", "").rstrip("\n"),
        "```",
        "",
        f"Launched from {conf.get('launch_host', '?')} ({conf.get('launch_host_cores', '?')} "
        "logical cores there, `nproc`). Load average (1, 5, 15 min) of that machine at the start: "
        f"{conf.get('loadavg_start', '?')}; at the end: {conf.get('loadavg_end', '?')}; "
        "before each run: `load1_before` in study-runs.csv. Anything above 0 is other work "
        "competing with the benchmark for the cores.",
        "",
        f"MPI library: {'; '.join(sorted(x for x in mpi if x)) or '?'}",
        "",
        f"cluster-bench git revision: {'; '.join(sorted(x for x in revs if x)) or '?'}",
        "",
        f"Open MPI settings in the environment: `{conf.get('mpi_env', '').strip() or '(not recorded)'}`",
        "",
        f"Extra mpirun arguments: `{conf.get('extra_mpirun_args') or '(none)'}`; "
        f"--oversubscribe: {'yes' if conf.get('oversubscribe') == '1' else 'no'}.",
    ]
    over = sorted({(r["mode"], r["schedule"], r["p"]) for r in runs if r["oversubscribed"]})
    if over:
        ps = sorted({p for _, _, p in over})
        lines += [
            "",
            f"**Oversubscribed points** (more ranks than cores): p = {', '.join(map(str, ps))}. "
            "They measure contention for the cores, not the scaling of the cluster.",
        ]
    return "\n".join(lines) + "\n"


def analyse(study: Path):
    conf = read_conf(study)
    hostfile = study / "hostfile.txt"
    if hostfile.exists():
        conf["hostfile_text"] = hostfile.read_text(encoding="utf-8")
    runs, tasks, hosts, docs = load_runs(study, conf)
    points = point_rows(runs)
    fit = fits(points)
    for row in points:
        f = fit.get(row["mode"], {}).get(row["schedule"])
        if row["mode"] == "strong" and f:
            row["amdahl_speedup"] = amdahl_speedup(row["p"], f)
    atomic_write(study / "study-runs.csv", csv_text(RUN_FIELDS, runs))
    # Per-task rows are most of a study's bytes; compressed they stay small enough to commit.
    atomic_write(study / "tasks.csv.gz", gzip_bytes(csv_text(TASK_FIELDS, tasks)))
    atomic_write(study / "hosts.csv", csv_text(HOST_FIELDS, hosts))
    atomic_write(study / "points.csv", csv_text(POINT_FIELDS, points))
    atomic_write(study / "fit.json", json.dumps(fit, indent=2, allow_nan=False) + "\n")
    atomic_write(study / "SETUP.md", setup_md(conf, docs, runs))
    return points, fit


def summary(points, fit):
    out = []
    for r in points:
        s = "" if r["speedup"] is None else f" S={r['speedup']:.3f} E={r['efficiency']:.3f}"
        kf = "" if r["karp_flatt"] is None else f" e={r['karp_flatt']:.3f}"
        ov = " (oversubscribed)" if r["oversubscribed"] else ""
        out.append(
            f"{r['mode']:6} {r['schedule']:7} p={r['p']:<3} wall={r['wall_s_median']:.3f}s"
            f"{s}{kf}{ov}"
        )
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study", type=Path, help="study folder made by scripts/sweep.sh")
    ap.add_argument("--quiet", action="store_true", help="no summary on stderr")
    args = ap.parse_args(argv)
    if not args.study.is_dir():
        ap.error(f"not a folder: {args.study}")
    points, fit = analyse(args.study)
    if not args.quiet:
        print(summary(points, fit), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
