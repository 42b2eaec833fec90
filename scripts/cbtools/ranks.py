"""A rank study (the runs the rank-study script made):
scripts/study/bench_ranks.sh's manifest.tsv (one row per run: schedule, ranks, task_ms, tasks,
process_s, load1_before, json or "timeout") and the summary.csv made from it and the runs' JSONs.

summary.csv has one row per run. Efficiencies: `efficiency` = checksum / (ranks × wall_s), the
sleep workload's Σ of planned waits over the ideal p-rank time (1 = no overhead at all);
`busy_efficiency` as the binary reports it. `startup_s` = the whole mpirun's seconds − wall_s
(launch, MPI start, report, files, finalize). Rank 0 as dispatcher (dynamic only):
`service_us` = µs per request, `rank0_busy_fraction`, `mean_chunk` = tasks / requests and
`p_star` = mean_chunk × task time / service time: the rank count at which dispatch saturates
(docs/scaling.md, "How far one dispatcher goes").
"""

from __future__ import annotations

from pathlib import Path

from . import run_json
from .files import InputError, atomic_write, csv_text, read_table

MANIFEST = ("schedule", "ranks", "task_ms", "tasks", "process_s", "load1_before", "json")
COLUMNS = ("schedule", "ranks", "hosts", "task_ms", "tasks", "status", "process_s", "wall_s",
           "startup_s",
           "efficiency", "busy_efficiency", "imbalance", "requests", "mean_chunk",
           "service_us", "rank0_busy_fraction", "p_star", "load1_before")


def summary_row(study: Path, m: dict) -> dict:
    """One run's figures from its manifest row and JSON (a run that timed out has none)."""
    if m["json"] == "timeout":
        return {"schedule": m["schedule"], "ranks": m["ranks"], "task_ms": m["task_ms"],
                "tasks": m["tasks"], "status": "timeout", "process_s": m["process_s"],
                "load1_before": m["load1_before"]}
    path = study / m["json"]
    doc = run_json.read(path)
    try:
        row = run_figures(doc, float(m["process_s"]))
        row.update(dispatch_figures(doc, float(m["task_ms"])))
    except (KeyError, TypeError, ValueError) as e:
        raise run_json.missing_key(path, e) from None
    return dict(row, schedule=m["schedule"], task_ms=m["task_ms"], process_s=m["process_s"],
                load1_before=m["load1_before"])


def run_figures(doc, process_s):
    """The efficiencies, start-up time and balance of one run."""
    ranks, wall = doc["ranks"], doc["wall_s"]
    return {"ranks": ranks, "hosts": len(doc["hosts"]), "tasks": doc["task_count"],
            "status": "complete" if doc["complete"] else "incomplete",
            "wall_s": f"{wall:.4f}", "startup_s": f"{process_s - wall:.3f}",
            "efficiency": f"{doc['checksum'] / (ranks * wall):.4f}",
            "busy_efficiency": f"{doc['busy_efficiency']:.4f}",
            "imbalance": f"{doc['imbalance']:.4f}"}


def dispatch_figures(doc, task_ms):
    """Rank 0 as dispatcher (dynamic runs with requests only, else {})."""
    d = doc.get("dispatch")
    if not d or not d["requests"]:
        return {}
    s = d["service_s_per_request"]
    chunk = doc["task_count"] / d["requests"]
    return {"requests": d["requests"], "mean_chunk": f"{chunk:.2f}",
            "service_us": f"{s * 1e6:.2f}", "rank0_busy_fraction": f"{d['busy_fraction']:.4f}",
            "p_star": f"{chunk * task_ms * 1e-3 / s:.0f}" if s > 0 else ""}


def write_summary(study: Path) -> list[dict]:
    """STUDY/summary.csv from the manifest and the runs' JSONs; returns its rows."""
    manifest = read_table(study / "manifest.tsv", MANIFEST,
                          "a manifest.tsv of scripts/study/bench_ranks.sh", "\t")
    rows = [summary_row(study, m) for m in manifest]
    atomic_write(study / "summary.csv", csv_text(COLUMNS, rows))
    return rows


def read_summary(study: Path) -> list[dict]:
    """The rows of a committed STUDY/summary.csv."""
    path = study / "summary.csv"
    if not path.exists():
        raise InputError(f"{path} not found: run scripts/study/plot_ranks.py {study} first")
    return read_table(path, COLUMNS, "a summary.csv of scripts/study/plot_ranks.py")
