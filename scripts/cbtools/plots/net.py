"""Heatmaps of a `cluster-bench net` result (net.read_net); scripts/plot.py FILE.net.json draws

  net-heatmaps.*   latency (µs) and bandwidth (MB/s) side by side, host × host: the row host
                   sends to (or starts the ping-pong with) the column host. Links flagged slow
                   are outlined; hosts flagged slow have their names in red (JSON only: the CSV
                   has per-link flags only).
"""

import math
from pathlib import Path

from matplotlib.colors import LogNorm

from ..net import matrix
from .common import plt, save


def label(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"


def panel(fig, ax, net, key, flag, title, cmap):
    """One heatmap on a log colour scale spanning at least a decade, so that noise between
    similar links stays one colour and a 10x slower link stands out."""
    values = matrix(net, key)
    finite = [v for row in values for v in row if math.isfinite(v) and v > 0]
    lo, hi = (min(finite), max(finite)) if finite else (1.0, 10.0)
    lo, hi = (lo, max(hi, 10 * lo)) if key == "latency_us" else (min(lo, hi / 10), hi)
    norm = LogNorm(vmin=lo, vmax=hi)
    image = ax.imshow(values, cmap=cmap, norm=norm)
    fig.colorbar(image, ax=ax, shrink=0.8)
    names = net["names"]
    ticks = range(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    for tick in ax.get_xticklabels() + ax.get_yticklabels():
        if tick.get_text() in net["slow_hosts"]:
            tick.set_color("red")
    ax.set(xlabel="to", ylabel="from", title=title)
    colours = plt.get_cmap(cmap)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            p = net["pairs"].get((a, b))
            if not p:
                continue
            if p[flag]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2,
                                           edgecolor="red"))
            if len(names) <= 12 and math.isfinite(p[key]) and p[key] > 0:
                r, g, b_, _ = colours(norm(p[key]))
                dark = 0.299 * r + 0.587 * g + 0.114 * b_ > 0.5
                ax.text(j, i, label(p[key]), ha="center", va="center", fontsize=8,
                        color="black" if dark else "white")


def draw(net, out: Path, formats):
    """The heatmaps into out; returns the paths written."""
    n = len(net["names"])
    size = min(4 + 0.35 * n, 14)
    fig, (lat, bw) = plt.subplots(1, 2, figsize=(2 * size + 1, size), layout="constrained")
    panel(fig, lat, net, "latency_us", "slow_latency",
          "latency, µs (median half round-trip)", "viridis_r")
    panel(fig, bw, net, "bandwidth_mb_per_s", "slow_bandwidth", "bandwidth, MB/s",
          "viridis")
    fig.suptitle(f"cluster-bench net: {net['title']} (red: flagged slow)")
    written = []
    save(fig, out, "net-heatmaps", formats, written)
    return written
