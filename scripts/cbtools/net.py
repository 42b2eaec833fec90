"""A `cluster-bench net` result (src/net/schema.rs): FILE.net.json (schema "cluster-bench-net",
with schema_version) or FILE.net.csv (one row per ordered pair; its header is checked), read
into one shape: {'names', 'pairs': {(from, to): row}, 'slow_hosts', 'title'}."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from .files import InputError, read_text

SUFFIXES = (".net.json", ".net.csv")
SCHEMA = "cluster-bench-net"
KNOWN_VERSIONS = (1,)
CSV_NEEDS = ("from", "to", "latency_us", "bandwidth_mb_per_s", "slow_bandwidth", "slow_latency")


def is_net_file(path: Path):
    return path.name.endswith(SUFFIXES)


def read_net(path: Path):
    """The result in either file; InputError naming the file (and line) when it is not one."""
    text = read_text(path)
    if path.name.endswith(".json"):
        return from_json(path, text)
    return from_csv(path, text)


def check_version(path, doc):
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise InputError(f"{path}: not a cluster-bench net JSON (schema is not {SCHEMA!r})")
    v = doc.get("schema_version")
    if v not in KNOWN_VERSIONS:
        raise InputError(
            f"{path}: schema_version {v!r} is not one these scripts read "
            f"({', '.join(map(str, KNOWN_VERSIONS))}): scripts/ is older than the binary?"
        )


def from_json(path, text):
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InputError(f"{path}: not a cluster-bench net JSON ({e})") from None
    check_version(path, doc)
    try:
        names = [h["name"] for h in doc["hosts"]]
        pairs = {(p["from"], p["to"]): p for p in doc["pairs"]}
        slow = {h["name"] for h in doc["hosts"]
                if h.get("slow_send") or h.get("slow_receive") or h.get("slow_latency")}
    except (KeyError, TypeError) as e:
        raise InputError(f"{path}: not a cluster-bench net JSON (no usable {e})") from None
    title = f"{doc.get('label', 'net')} {doc.get('started_at', '')}".strip()
    return {"names": names, "pairs": pairs, "slow_hosts": slow, "title": title}


def from_csv(path, text):
    rows = list(csv.DictReader(text.splitlines()))
    missing = [c for c in CSV_NEEDS if rows and c not in rows[0]]
    if missing or not rows:
        raise InputError(f"{path}: no pairs, or the header lacks {', '.join(missing)}")
    names, pairs = [], {}
    for line, r in enumerate(rows, start=2):
        for key in ("latency_us", "bandwidth_mb_per_s"):
            try:
                r[key] = float(r[key])
            except ValueError:
                raise InputError(f"{path}:{line}: {key} is {r[key]!r}, not a number") from None
        for key in ("slow_bandwidth", "slow_latency"):
            r[key] = r[key] == "true"
        for name in (r["from"], r["to"]):
            if name not in names:
                names.append(name)
        pairs[(r["from"], r["to"])] = r
    return {"names": names, "pairs": pairs, "slow_hosts": set(), "title": path.name}


def matrix(net, key):
    """net's key as a host × host matrix (row: from, column: to); NaN on the diagonal and for
    pairs not measured."""
    names = net["names"]
    return [[(net["pairs"].get((a, b)) or {}).get(key, math.nan) if a != b else math.nan
             for b in names] for a in names]
