"""A study folder, with what the sweep script writes:
scripts/sweep.sh's manifest.tsv, study.conf, the runs' JSONs and journals in runs/, and the
summary files analysis.py writes from them (study-runs.csv, tasks.csv.gz, hosts.csv,
points.csv, fit.json), which the plots read.
The summary CSVs carry no version number: their headers are checked instead."""

from __future__ import annotations

from pathlib import Path

from . import journal, run_json
from .files import InputError, read_json, read_table

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
MANIFEST_NEEDS = ("mode", "repeat", "json")
PLOT_INPUTS = ("points.csv", "study-runs.csv", "hosts.csv", "fit.json", "tasks.csv.gz")


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


def read_manifest(study: Path):
    """STUDY/manifest.tsv: one row per run, its mode, repeat and JSON (relative to STUDY)."""
    path = study / "manifest.tsv"
    if not path.exists():
        raise InputError(f"{path} not found: is {study} a study folder of scripts/sweep.sh?")
    return read_table(path, MANIFEST_NEEDS, "a manifest.tsv of scripts/sweep.sh", "\t")


def run_doc(study: Path, rel):
    """One run's JSON named by the manifest (inside the study only), its version checked."""
    path = (study / rel).resolve()
    if study.resolve() not in path.parents:
        raise InputError(f"manifest points outside the study: {rel}")
    if not path.exists():
        raise InputError(
            f"{study / rel} not found: the raw run JSONs are not committed with a "
            f"study; its CSVs and fit.json are already computed (scripts/plot.py {study} redraws "
            "the plots)"
        )
    return run_json.read(path)


def run_tasks(study: Path, rel, doc):
    """A run's task records (task, rank, status, start_s, seconds), in task order: from its
    journal (the JSON's tasks_file, beside the JSON), else from the JSON's own `tasks` (schema 2,
    or a run with --json-tasks whose journal is gone)."""
    name = doc.get("tasks_file")
    path = (study / rel).parent / name if name and Path(name).name == name else None
    if path is not None and path.exists():
        return journal.tasks(path)
    if doc.get("tasks") is not None:
        return doc["tasks"]
    raise InputError(
        f"{study / rel}: no per-task records: neither its journal (tasks_file "
        f"{name!r}) nor `tasks` in the JSON"
    )


def tasks_path(study: Path):
    """STUDY/tasks.csv.gz; plain tasks.csv in a study analysed before it was compressed."""
    gz = study / "tasks.csv.gz"
    return gz if gz.exists() or not (study / "tasks.csv").exists() else study / "tasks.csv"


def study_missing(study: Path):
    """The summary files plotting needs (analysis writes them) that are not there."""
    paths = [study / n for n in PLOT_INPUTS[:-1]] + [tasks_path(study)]
    return [p for p in paths if not p.exists()]


def read_summary(study: Path):
    """The summary files as {'points', 'runs', 'tasks', 'hosts': rows of text, 'fit': dict};
    InputError naming a file whose header is not the one analysis writes."""
    what = "a study file written by scripts/scaling.py"
    fit = read_json(study / "fit.json")
    if not isinstance(fit, dict):
        raise InputError(f"{study / 'fit.json'}: not the fit.json of scripts/scaling.py")
    return {
        "points": read_table(study / "points.csv", POINT_FIELDS, what),
        "runs": read_table(study / "study-runs.csv", RUN_FIELDS, what),
        "tasks": read_table(tasks_path(study), TASK_FIELDS, what),
        "hosts": read_table(study / "hosts.csv", HOST_FIELDS, what),
        "fit": fit,
    }
