"""runs.csv, the file every run appends one row to (src/export/csv.rs): typed rows, and the JSON
a row names. The file has no version number: its header is checked instead."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from . import run_json
from .files import InputError, read_text

# Columns the plots need. busy_speedup/busy_efficiency were speedup/efficiency before schema 2:
# either header is accepted, and neither is needed.
INT_COLUMNS = ("ranks", "tasks", "dim", "seed")
FLOAT_COLUMNS = ("wall_s", "tasks_per_s")
TEXT_COLUMNS = ("started_at", "schedule", "kernel", "complete", "json_file")
NEW_NAMES = {"speedup": "busy_speedup", "efficiency": "busy_efficiency"}


def read_runs(path: Path):
    """The rows of a runs.csv as dicts with typed values (and `line`, the row's line number).

    Raises InputError naming the file and line for anything malformed; an empty file, or one
    with only the header, gives []."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
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
        raise InputError(f"{path}:{reader.line_num}: {e}") from None
    return rows


def check_header(path, header):
    names = set(header)
    for old, new in NEW_NAMES.items():
        if old in names and new in names:
            raise InputError(f"{path}:1: both {old!r} and {new!r} in the header")
    missing = [c for c in INT_COLUMNS + FLOAT_COLUMNS + TEXT_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"{path}:1: the header lacks {', '.join(missing)}: is this a runs.csv written by "
            "cluster-bench?"
        )


def parse_row(path, line, header, record):
    if len(record) != len(header):
        raise InputError(f"{path}:{line}: {len(record)} fields, but the header has {len(header)}")
    raw = {NEW_NAMES.get(k, k): v for k, v in zip(header, record)}
    row = dict(raw, line=line)

    def bad(column, what):
        return InputError(f"{path}:{line}: {column} is {raw[column]!r}, not {what}")

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


def host_set(folder: Path, row, cache=None):
    """The run's host names (sorted, joined by ', ') from its JSON, or 'N host(s)' when the JSON
    is not there (e.g. not committed). `hosts` is a count in runs.csv; the names live in the JSON."""
    cache = {} if cache is None else cache
    doc = row_json(folder, row, cache)
    if doc is not None:
        try:
            return ", ".join(sorted({h["name"] for h in doc["hosts"]}))
        except (KeyError, TypeError):
            pass
    n = row.get("hosts", "?")
    return f"{n} host{'' if n == '1' else 's'}"


def row_json(folder: Path, row, cache):
    """The run's JSON document (json_file, relative to the CSV's folder), or None when it is
    missing, outside the folder, unreadable or of a version these scripts do not read."""
    name = row.get("json_file", "")
    if name in cache:
        return cache[name]
    doc = None
    path = (folder / name).resolve()
    if name and folder.resolve() in path.parents and path.is_file():
        try:
            doc = run_json.read(path)
        except InputError:
            doc = None
    cache[name] = doc
    return doc
