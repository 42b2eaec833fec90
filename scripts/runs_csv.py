"""Reading the runs.csv that cluster-bench appends one row per run to, and the numbers plot.py
draws from it. No matplotlib here: the checks and the maths run (and are tested) without it.

Measured speedup of a run at p ranks: the median wall time of the complete 1-rank runs with the
same dim, tasks, schedule, kernel and seed (the same work), divided by this run's wall time.
A run without such 1-rank runs has none.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path


class CsvError(Exception):
    """A runs.csv that cannot be read; the message names the file and line."""


# Columns the plots need. busy_speedup/busy_efficiency were speedup/efficiency before schema 2:
# either header is accepted, and neither is needed.
INT_COLUMNS = ("ranks", "tasks", "dim", "seed")
FLOAT_COLUMNS = ("wall_s", "tasks_per_s")
TEXT_COLUMNS = ("started_at", "schedule", "kernel", "complete", "json_file")
NEW_NAMES = {"speedup": "busy_speedup", "efficiency": "busy_efficiency"}


def read_runs(path: Path):
    """The rows of a runs.csv as dicts with typed values (and `line`, the row's line number).

    Raises CsvError naming the file and line for anything malformed; an empty file, or one with
    only the header, gives []."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CsvError(f"{path}:{line}: not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        check_header(path, header)
        rows = []
        for record in reader:
            if record:
                rows.append(parse_row(path, reader.line_num, header, record))
    except csv.Error as e:
        raise CsvError(f"{path}:{reader.line_num}: {e}") from None
    return rows


def check_header(path, header):
    names = set(header)
    for old, new in NEW_NAMES.items():
        if old in names and new in names:
            raise CsvError(f"{path}:1: both {old!r} and {new!r} in the header")
    missing = [c for c in INT_COLUMNS + FLOAT_COLUMNS + TEXT_COLUMNS if c not in names]
    if missing:
        raise CsvError(
            f"{path}:1: the header lacks {', '.join(missing)}: is this a runs.csv written by "
            "cluster-bench?"
        )


def parse_row(path, line, header, record):
    if len(record) != len(header):
        raise CsvError(f"{path}:{line}: {len(record)} fields, but the header has {len(header)}")
    raw = {NEW_NAMES.get(k, k): v for k, v in zip(header, record)}
    row = dict(raw, line=line)

    def bad(column, what):
        return CsvError(f"{path}:{line}: {column} is {raw[column]!r}, not {what}")

    for c in INT_COLUMNS:
        try:
            row[c] = int(raw[c])
        except ValueError:
            raise bad(c, "a whole number") from None
        if row[c] < (1 if c in ("ranks", "dim") else 0):
            raise bad(c, "a whole number >= 1" if c in ("ranks", "dim") else "a whole number >= 0")
    for c in FLOAT_COLUMNS:
        try:
            row[c] = float(raw[c])
        except ValueError:
            raise bad(c, "a number") from None
        if not math.isfinite(row[c]) or row[c] < 0:
            raise bad(c, "a number >= 0")
    if raw["complete"] not in ("true", "false"):
        raise bad("complete", "true or false")
    row["complete"] = raw["complete"] == "true"
    return row


# ---------------------------------------------------------------------------------------------
# What is drawn.


def usable(runs):
    """Runs whose wall time measures the whole work: complete, with a positive wall time."""
    return [r for r in runs if r["complete"] and r["wall_s"] > 0]


def same_work(r):
    """Runs with equal keys did the same work (the same matrices, or the same planned waits of
    the sleep workload): the measured-speedup baseline matches. Files without the workload
    columns hold eigenvalue runs only."""
    return (r["dim"], r["tasks"], r["schedule"], r["kernel"], r["seed"],
            r.get("workload", "eig"), r.get("task_ms", ""))


def measured_speedups(runs):
    """Per run (same order), median wall of the 1-rank runs of the same work / its wall time;
    None where there is no such 1-rank run. Pass usable(runs)."""
    ones = {}
    for r in runs:
        if r["ranks"] == 1:
            ones.setdefault(same_work(r), []).append(r["wall_s"])
    t1 = {k: statistics.median(v) for k, v in ones.items()}
    return [t1[same_work(r)] / r["wall_s"] if same_work(r) in t1 else None for r in runs]


def host_set(folder: Path, row, cache=None):
    """The run's host names (sorted, joined by ', ') from its JSON, or 'N host(s)' when the JSON
    is not there (e.g. not committed). `hosts` is a count in runs.csv; the names live in the JSON."""
    cache = {} if cache is None else cache
    doc = run_json(folder, row, cache)
    if doc is not None:
        try:
            return ", ".join(sorted({h["name"] for h in doc["hosts"]}))
        except (KeyError, TypeError):
            pass
    n = row.get("hosts", "?")
    return f"{n} host{'' if n == '1' else 's'}"


def run_json(folder: Path, row, cache):
    """The run's JSON document (json_file, relative to the CSV's folder), or None when it is
    missing, outside the folder or unreadable."""
    name = row.get("json_file", "")
    if name in cache:
        return cache[name]
    doc = None
    path = (folder / name).resolve()
    if name and folder.resolve() in path.parents and path.is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = None
    cache[name] = doc
    return doc


def series(runs, values, key):
    """{key(run): {x: median of values}} where values[i] belongs to runs[i]; x = ranks.
    Runs whose value is None are left out."""
    groups = {}
    for r, v in zip(runs, values):
        if v is not None:
            groups.setdefault(key(r), {}).setdefault(r["ranks"], []).append(v)
    return {k: {x: statistics.median(vs) for x, vs in sorted(pts.items())}
            for k, pts in sorted(groups.items())}


def wall_by_tasks(runs):
    """{(dim, schedule, ranks): {tasks: median wall_s}}: the wall time against the number of
    tasks, one curve per rank count."""
    groups = {}
    for r in runs:
        groups.setdefault((r["dim"], r["schedule"], r["ranks"]), {}).setdefault(
            r["tasks"], []).append(r["wall_s"])
    return {k: {t: statistics.median(ws) for t, ws in sorted(pts.items())}
            for k, pts in sorted(groups.items())}


def newest(runs):
    """The run started last (ties: the later row)."""
    return max(runs, key=lambda r: (r["started_at"], r["line"]))
