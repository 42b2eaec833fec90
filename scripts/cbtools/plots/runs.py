"""Plots of a runs.csv (one row per run, as cluster-bench appends them); scripts/plot.py CSV
draws them:

  tasks-per-s.*       tasks/s against ranks, one line per dim, schedule and host set
  measured-speedup.*  measured speedup against ranks (metrics.measured_speedups), same lines
  wall-vs-tasks.*     wall time against the number of tasks, one line per rank count and schedule,
                      one panel per dim
  hosts-newest.*      tasks/s per host of the newest run (needs its JSON)

Lines join medians over the runs at each point; every run is a faint dot behind them.
"""

from pathlib import Path

from .. import metrics, runs_csv
from .common import plt, save

SCHEDULE_MARKER = {"static": "o", "dynamic": "s"}
SERIES_COLORS = plt.get_cmap("tab10").colors


def draw(runs, csv_path: Path, out: Path, formats):
    """Every plot of the runs into out; returns (paths written, notes about plots not drawn)."""
    written, notes = [], []
    folder = csv_path.parent
    good = metrics.usable(runs)
    if len(good) < len(runs):
        notes.append(f"{len(runs) - len(good)} incomplete run(s) left out of the scaling plots")
    if good:
        cache = {}
        hosts = {id(r): runs_csv.host_set(folder, r, cache) for r in good}
        key = lambda r: (r["dim"], r["schedule"], hosts[id(r)])  # noqa: E731
        throughput = [r["tasks_per_s"] for r in good]
        plot_against_ranks(good, throughput, key, "tasks-per-s", csv_path, out, formats, written)
        speedups = metrics.measured_speedups(good)
        if any(s is not None for s in speedups):
            plot_against_ranks(good, speedups, key, "measured-speedup", csv_path, out, formats,
                               written)
        else:
            notes.append("no measured speedup: no 1-rank run of the same work (dim, tasks, "
                         "schedule, kernel, seed)")
        plot_wall_vs_tasks(good, csv_path, out, formats, written)
    notes += plot_newest_hosts(runs, folder, out, formats, written)
    return written, notes


def series_label(k):
    dim, schedule, hosts = k
    return f"d={dim} {schedule} on {hosts}"


def plot_against_ranks(runs, values, key, stem, csv_path, out, formats, written):
    """Median of values per (series, ranks) as lines; every run as a faint dot."""
    fig, ax = plt.subplots(figsize=(10, 5.2))
    lines = metrics.series(runs, values, key)
    for i, (k, pts) in enumerate(lines.items()):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        marker = SCHEDULE_MARKER.get(k[1], "^")
        dots = [(r["ranks"], v) for r, v in zip(runs, values) if v is not None and key(r) == k]
        ax.plot(*zip(*dots), linestyle="", marker=marker, color=color, alpha=0.25, markersize=5)
        ax.plot(list(pts), list(pts.values()), marker=marker, color=color, label=series_label(k))
    ranks = sorted({r["ranks"] for r, v in zip(runs, values) if v is not None})
    if stem == "measured-speedup":
        ax.plot([1, max(ranks)], [1, max(ranks)], color="gray", linestyle=":", label="ideal (S = p)")
        ax.set_ylabel("measured speedup S = median wall(1 rank) / wall(p)")
        ax.set_title("Measured speedup against ranks\n(baseline: the 1-rank runs of the same "
                     "dim, tasks, schedule, kernel and seed)", fontsize=10)
    else:
        ax.set_ylabel("throughput (tasks/s)")
        ax.set_title("Throughput against ranks", fontsize=10)
    finish_axes(ax, ranks, "ranks p", csv_path, len(runs))
    save(fig, out, stem, formats, written)


def finish_axes(ax, xticks, xlabel, csv_path, n_runs):
    if xticks is not None:
        ax.set_xticks(xticks)
    ax.set_xlabel(xlabel)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    # Outside the axes, on the right: never on top of the data.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title=f"lines: median; dots: each run ({n_runs} from {csv_path.name})",
              title_fontsize=8)


def plot_wall_vs_tasks(runs, csv_path, out, formats, written):
    """Wall time against the number of tasks, a line per (schedule, ranks), a panel per dim."""
    curves = metrics.wall_by_tasks(runs)
    dims = sorted({d for d, _, _ in curves})
    fig, axes = plt.subplots(1, len(dims), figsize=(9.5 * len(dims), 5.2), squeeze=False)
    all_ranks = sorted({p for _, _, p in curves})
    color = {p: SERIES_COLORS[i % len(SERIES_COLORS)] for i, p in enumerate(all_ranks)}
    for ax, dim in zip(axes[0], dims):
        ax.set_xlim(0, max(t for (d, _, _), pts in curves.items() if d == dim for t in pts) * 1.05)
        for (d, schedule, p), pts in curves.items():
            if d != dim:
                continue
            dots = [(r["tasks"], r["wall_s"]) for r in runs
                    if (r["dim"], r["schedule"], r["ranks"]) == (d, schedule, p)]
            marker = SCHEDULE_MARKER.get(schedule, "^")
            ax.plot(*zip(*dots), linestyle="", marker=marker, color=color[p], alpha=0.25)
            ax.plot(list(pts), list(pts.values()), marker=marker, color=color[p],
                    linestyle="-" if schedule == "static" else "--",
                    label=f"{p} rank{'s' if p > 1 else ''}, {schedule}")
        ax.set_ylabel("wall time (s)")
        ax.set_title(f"Wall time against the number of tasks, d = {dim}", fontsize=10)
        finish_axes(ax, None, "tasks in the run", csv_path, sum(r["dim"] == dim for r in runs))
    fig.tight_layout()
    save(fig, out, "wall-vs-tasks", formats, written)


def plot_newest_hosts(runs, folder, out, formats, written):
    """tasks/s per host of the newest run, from its JSON; returns notes when it cannot."""
    if not runs:
        return []
    run = metrics.newest(runs)
    doc = runs_csv.row_json(folder, run, {})
    where = folder / run["json_file"] if run["json_file"] else "(no json_file)"
    try:
        hosts = sorted((str(h["name"]), float(h["tasks_per_s"]), int(h["ranks"]), int(h["tasks"]),
                        float(h["mean_ms_per_task"])) for h in doc["hosts"])
    except (KeyError, TypeError, ValueError):
        hosts = []
    if not hosts:
        return [f"no per-host plot: the newest run's JSON {where} is missing or unreadable"]
    fig, ax = plt.subplots(figsize=(8, 1.8 + 0.45 * len(hosts)))
    rates = [h[1] for h in hosts]
    ax.barh([h[0] for h in hosts], rates, color="tab:blue")
    for i, (_, rate, ranks, tasks, ms) in enumerate(hosts):
        ax.text(rate, i, f"  {rate:.0f} tasks/s: {ranks} rank(s), {tasks} tasks, {ms:.2f} ms/task",
                va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(rates + [1.0]) * 1.9)
    ax.set_xlabel("throughput (tasks/s)")
    ax.set_title(f"Per-host throughput of the newest run: {run['label']}, {run['started_at']}\n"
                 f"{run['ranks']} ranks, {run['schedule']}, {run['tasks']} tasks of d = "
                 f"{run['dim']}, wall {run['wall_s']:.3g} s", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    save(fig, out, "hosts-newest", formats, written)
    return []
