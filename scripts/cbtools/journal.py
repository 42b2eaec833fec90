"""A run's per-task journal STEM.tasks.csv.gz (src/export/journal.rs): gzip members of CSV rows
and '#' lines, first line the format's name and version."""

from __future__ import annotations

import csv
import zlib
from pathlib import Path

from .files import InputError, check_header

MAGIC = "#cluster-bench-tasks"
KNOWN_VERSIONS = ("1",)
NEEDS = ("task", "rank", "status", "start_s", "seconds")
# A row's status code (src/record.rs, TaskStatus) as the JSON spells it.
STATUS = {"0": "ok", "1": "check-failed", "2": "no-convergence", "3": "non-finite"}


def members_text(path: Path) -> str:
    """The text of every whole gzip member; a member torn by a kill is left out, as
    cluster-bench's own reader does."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    members = []
    try:
        while data:
            member = zlib.decompressobj(wbits=31)
            text = member.decompress(data)
            if not member.eof:
                break
            members.append(text)
            data = member.unused_data
        return b"".join(members).decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a gzip-compressed journal ({e})") from None


def read(path: Path):
    """The rows of the journal as dicts of text, in file order; InputError for a file that is
    not a journal, or one of a format version these scripts do not know."""
    lines = members_text(path).splitlines()
    first = lines[0].split(" ") if lines else []
    if len(first) != 2 or first[0] != MAGIC:
        raise InputError(f"{path}: not a cluster-bench journal (no {MAGIC!r} first line)")
    if first[1] not in KNOWN_VERSIONS:
        raise InputError(f"{path}: journal version {first[1]!r} is not one these scripts read "
                         f"({', '.join(KNOWN_VERSIONS)}): scripts/ is older than the binary")
    reader = csv.DictReader(line for line in lines if line and not line.startswith("#"))
    check_header(path, reader.fieldnames or [], NEEDS, "a cluster-bench journal")
    return list(reader)


def tasks(path: Path):
    """The task records (task, rank, start_s, seconds, status as the JSON spells it), in task
    order."""
    try:
        rows = [
            {"task": int(r["task"]), "rank": int(r["rank"]), "start_s": float(r["start_s"]),
             "seconds": float(r["seconds"]), "status": STATUS.get(r["status"], r["status"])}
            for r in read(path)
        ]
    except (TypeError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{path}: a row that is not numbers ({e})") from None
    return sorted(rows, key=lambda r: r["task"])
