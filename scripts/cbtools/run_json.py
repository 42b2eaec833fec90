"""A run's JSON document (LABEL-YYYYMMDDTHHMMSSZ-Nr.json, src/schema.rs): the versions these
scripts read, and the one key whose name changed between them."""

from __future__ import annotations

from pathlib import Path

from .files import InputError, read_json

# 2 renamed speedup/efficiency to busy_speedup/busy_efficiency; 3 moved the per-task records to
# the journal (`tasks` null unless --json-tasks); 4 made `cores` physical cores (beside
# `threads`) and added busy_cpus_at_start, oversubscribed, each rank's affinity and the kernel's
# SIMD path. Version 0.1 of the binary wrote no
# schema_version: read as version 1.
KNOWN_VERSIONS = (1, 2, 3, 4)


def version(path: Path, doc) -> int:
    """The document's schema_version (1 when absent); InputError for another kind of JSON or a
    version these scripts do not know."""
    if not isinstance(doc, dict) or doc.get("tool", "cluster-bench") != "cluster-bench" \
            or "schema" in doc:
        raise InputError(f"{path}: not the JSON of a cluster-bench run")
    v = doc.get("schema_version", 1)
    if v not in KNOWN_VERSIONS:
        raise InputError(
            f"{path}: schema_version {v!r} is not one these scripts read "
            f"({', '.join(map(str, KNOWN_VERSIONS))}): scripts/ is older than the binary that "
            "wrote it"
        )
    return v


def read(path: Path):
    """The run's JSON document, its version checked."""
    doc = read_json(path)
    version(path, doc)
    return doc


def busy_speedup(doc) -> float:
    """Σ busy / wall: `busy_speedup` from version 2, `speedup` before."""
    return float(doc["busy_speedup"] if "busy_speedup" in doc else doc["speedup"])


def missing_key(path: Path, e: Exception) -> InputError:
    """The error for a key (or value) a reader needed and the run's JSON does not have."""
    return InputError(f"{path}: no usable {e} in this run JSON: written by another version of "
                      "cluster-bench than these scripts read?")
