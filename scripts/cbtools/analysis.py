"""Analysis of a scaling study (the runs the sweep script made). From STUDY/manifest.tsv,
study.conf and every run's JSON and journal (the study of scripts/sweep.sh), the summary files
(written atomically, only inside STUDY):

  study-runs.csv  one row per run (tidy, long format)
  tasks.csv.gz    one row per task of every run (for timelines), gzip-compressed
  hosts.csv       one row per host of every run (per-host throughput)
  points.csv      one row per (mode, schedule, p): medians and scaling metrics
  fit.json        Amdahl fit T(p) = Ts + Tp/p (strong) and Gustafson fit (weak), per schedule
  SETUP.md        the machines, MPI library, git revision and the command of the study

The run JSONs and journals stay in STUDY/runs/ but are not committed (.gitignore): everything a
reader needs is in the files above.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import metrics, run_json, study as files_of
from .files import InputError, atomic_write, csv_text, gzip_bytes
from .setup_md import setup_md


def int_or_none(s):
    try:
        return int(s)
    except (TypeError, ValueError):
        return None


def run_row(m, doc, over):
    """study-runs.csv's row of one run: its manifest row m, its JSON doc, oversubscribed or not."""
    p, schedule = int(doc["ranks"]), doc["config"]["schedule"]
    host_names = [h["name"] for h in doc["hosts"]]
    return {
        "run_id": f"{m['mode']}-{schedule}-p{p}-r{m['repeat']}",
        "mode": m["mode"], "schedule": schedule, "p": p, "hosts": len(host_names),
        "host_names": ";".join(host_names), "repeat": int(m["repeat"]),
        "dim": doc["config"]["dim"], "tasks": doc["task_count"],
        "wall_s": float(doc["wall_s"]), "tasks_per_s": float(doc["tasks_per_s"]),
        "busy_s": float(doc["busy_s"]), "busy_speedup": run_json.busy_speedup(doc),
        "imbalance": float(doc["imbalance"]), "checksum": doc["checksum"],
        "checks_failed": doc["checks"]["failed"], "oversubscribed": int(over),
        "started_at": doc["environment"]["started_at"],
        "load1_before": m.get("load1_before", ""), "json": m["json"],
    }


def key_of(run):
    """The columns every per-task and per-host row starts with."""
    return {k: run[k] for k in ("run_id", "mode", "schedule", "p", "repeat")}


def task_rows(run, doc, records):
    host_of = {r["rank"]: r["host"] for r in doc["per_rank"]}
    return [dict(key_of(run), task=t["task"], rank=t["rank"], host=host_of.get(t["rank"], ""),
                 start_s=t["start_s"], seconds=t["seconds"], status=t["status"])
            for t in records]


def host_rows(run, doc):
    return [dict(key_of(run), host=h["name"], ranks=h["ranks"], tasks=h["tasks"],
                 busy_s=h["busy_s"], tasks_per_s=h["tasks_per_s"],
                 mean_ms_per_task=h["mean_ms_per_task"], cores=h.get("cores"),
                 cpu_model=h.get("cpu_model", ""))
            for h in doc["hosts"]]


def load_runs(study: Path, conf):
    """Run rows, task rows, host rows and the raw JSON documents of every run in the manifest;
    InputError naming the run's JSON when a key these scripts read is missing."""
    slots = int_or_none(conf.get("slots"))
    physical = int_or_none(conf.get("physical_cores"))
    runs, tasks, hosts, docs = [], [], [], []
    for m in files_of.read_manifest(study):
        doc = files_of.run_doc(study, m["json"])
        try:
            run = run_row(m, doc, metrics.is_oversubscribed(int(doc["ranks"]), slots, physical))
            records = files_of.run_tasks(study, m["json"], doc)
            tasks += task_rows(run, doc, records)
            hosts += host_rows(run, doc)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, InputError):
                raise
            raise run_json.missing_key(study / m["json"], e) from None
        runs.append(run)
        docs.append(doc)
    if not runs:
        raise InputError(f"no runs in {study / 'manifest.tsv'}")
    return runs, tasks, hosts, docs


def analyse(study: Path):
    """Writes the study's summary files; returns (points, fit)."""
    conf = files_of.read_conf(study)
    hostfile = study / "hostfile.txt"
    if hostfile.exists():
        conf["hostfile_text"] = hostfile.read_text(encoding="utf-8")
    runs, tasks, hosts, docs = load_runs(study, conf)
    points = metrics.point_rows(runs)
    fit = metrics.fits(points)
    for row in points:
        f = fit.get(row["mode"], {}).get(row["schedule"])
        if row["mode"] == "strong" and f:
            row["amdahl_speedup"] = metrics.amdahl_speedup(row["p"], f)
    atomic_write(study / "study-runs.csv", csv_text(files_of.RUN_FIELDS, runs))
    # Per-task rows are most of a study's bytes; compressed they stay small enough to commit.
    atomic_write(study / "tasks.csv.gz", gzip_bytes(csv_text(files_of.TASK_FIELDS, tasks)))
    atomic_write(study / "hosts.csv", csv_text(files_of.HOST_FIELDS, hosts))
    atomic_write(study / "points.csv", csv_text(files_of.POINT_FIELDS, points))
    atomic_write(study / "fit.json", json.dumps(fit, indent=2, allow_nan=False) + "\n")
    atomic_write(study / "SETUP.md", setup_md(conf, docs, runs))
    return points, fit


def summary(points):
    """One line per point for the terminal: wall time, speedup, efficiency, Karp-Flatt."""
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
