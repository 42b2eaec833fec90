"""Heatmaps of a `cluster-bench net` result; scripts/plot.py FILE.net.json (or .net.csv) draws

  net-heatmaps.*   latency (µs) and bandwidth (MB/s) side by side, host × host: the row host
                   sends to (or starts the ping-pong with) the column host. Links flagged slow
                   are outlined; hosts flagged slow have their names in red (JSON only: the CSV
                   has per-link flags only).
"""

import csv
import json
import math
from pathlib import Path

NET_SUFFIXES = (".net.json", ".net.csv")
CSV_NEEDS = ("from", "to", "latency_us", "bandwidth_mb_per_s", "slow_bandwidth", "slow_latency")


class NetError(ValueError):
    """A net result file that cannot be drawn; the message names the file."""


def is_net_file(path: Path):
    return path.name.endswith(NET_SUFFIXES)


def read_net(path: Path):
    """{'names', 'pairs': {(from, to): row}, 'slow_hosts', 'title'} from either file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise NetError(f"{path}: {e}") from e
    if path.name.endswith(".json"):
        return from_json(path, text)
    return from_csv(path, text)


def from_json(path, text):
    try:
        doc = json.loads(text)
        names = [h["name"] for h in doc["hosts"]]
        pairs = {(p["from"], p["to"]): p for p in doc["pairs"]}
        slow = {h["name"] for h in doc["hosts"]
                if h.get("slow_send") or h.get("slow_receive") or h.get("slow_latency")}
    except (ValueError, KeyError, TypeError) as e:
        raise NetError(f"{path}: not a cluster-bench net JSON ({e})") from e
    title = f"{doc.get('label', 'net')} {doc.get('started_at', '')}".strip()
    return {"names": names, "pairs": pairs, "slow_hosts": slow, "title": title}


def from_csv(path, text):
    rows = list(csv.DictReader(text.splitlines()))
    missing = [c for c in CSV_NEEDS if rows and c not in rows[0]]
    if missing or not rows:
        raise NetError(f"{path}: no pairs, or the header lacks {', '.join(missing)}")
    names, pairs = [], {}
    for line, r in enumerate(rows, start=2):
        for key in ("latency_us", "bandwidth_mb_per_s"):
            try:
                r[key] = float(r[key])
            except ValueError as e:
                raise NetError(f"{path}:{line}: {key} is {r[key]!r}, not a number") from e
        for key in ("slow_bandwidth", "slow_latency"):
            r[key] = r[key] == "true"
        for name in (r["from"], r["to"]):
            if name not in names:
                names.append(name)
        pairs[(r["from"], r["to"])] = r
    return {"names": names, "pairs": pairs, "slow_hosts": set(), "title": path.name}


def matrix(net, key):
    names = net["names"]
    return [[(net["pairs"].get((a, b)) or {}).get(key, math.nan) if a != b else math.nan
             for b in names] for a in names]


def label(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"


def panel(plt, fig, ax, net, key, flag, title, cmap):
    """One heatmap on a log colour scale spanning at least a decade, so that noise between
    similar links stays one colour and a 10x slower link stands out."""
    from matplotlib.colors import LogNorm

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
    from plot_common import plt, save  # matplotlib only once there is something to draw

    n = len(net["names"])
    size = min(4 + 0.35 * n, 14)
    fig, (lat, bw) = plt.subplots(1, 2, figsize=(2 * size + 1, size), layout="constrained")
    panel(plt, fig, lat, net, "latency_us", "slow_latency",
          "latency, µs (median half round-trip)", "viridis_r")
    panel(plt, fig, bw, net, "bandwidth_mb_per_s", "slow_bandwidth", "bandwidth, MB/s",
          "viridis")
    fig.suptitle(f"cluster-bench net: {net['title']} (red: flagged slow)")
    written = []
    save(fig, out, "net-heatmaps", formats, written)
    return written
