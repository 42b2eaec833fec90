"""Files in general: the error every reader raises, reading CSV and JSON with a checked header,
and atomic, reproducible writing."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import tempfile
from pathlib import Path


class InputError(ValueError):
    """A file that cannot be read as what it should be; the message names the file (and the
    line, where there is one)."""


def read_text(path: Path) -> str:
    """The file as UTF-8 text (gzip-decompressed for a .gz name); InputError naming the line of
    bytes that are not UTF-8, or why the file cannot be read."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise InputError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text") from None


def read_json(path: Path):
    """The JSON document in path; InputError naming the file when it is not JSON."""
    try:
        return json.loads(read_text(path))
    except ValueError as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{path}: not JSON ({e})") from None


def check_header(path: Path, header, needs, what):
    """InputError naming path when header lacks one of needs; what: the kind of file."""
    missing = [c for c in needs if c not in header]
    if missing:
        raise InputError(f"{path}:1: the header lacks {', '.join(missing)}: is this {what}?")


def read_table(path: Path, needs=(), what="a file cluster-bench wrote", delimiter=","):
    """The rows of a CSV (or TSV) file with a header as dicts of text; InputError when a column
    of needs is missing or a line is malformed."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""), delimiter=delimiter)
    try:
        check_header(path, reader.fieldnames or [], needs, what)
        return list(reader)
    except csv.Error as e:
        raise InputError(f"{path}:{reader.line_num}: {e}") from None


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
    """rows (dicts) as CSV text with the header fields; None and non-finite floats empty."""
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
