"""Common to every plot: the matplotlib set-up, colours and atomic saving."""

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
# Reproducible SVGs: fixed ids, no creation date (re-plotting leaves git diffs empty).
matplotlib.rcParams["svg.hashsalt"] = "cluster-bench"
import matplotlib.pyplot as plt  # noqa: E402

from ..files import atomic_write  # noqa: E402

HOST_COLORS = plt.get_cmap("tab10").colors


def host_colors(names):
    return {h: HOST_COLORS[i % len(HOST_COLORS)] for i, h in enumerate(sorted(set(names)))}


def save(fig, out: Path, stem, formats, written):
    """Writes fig as out/stem.EXT for each format, each atomically (a temporary file renamed over
    the old plot), and appends the paths to written."""
    for ext in formats:
        meta = {"Date": None} if ext in ("svg", "pdf") else {}
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=130, bbox_inches="tight", metadata=meta)
        path = out / f"{stem}.{ext}"
        atomic_write(path, buf.getvalue())
        written.append(path)
    plt.close(fig)
