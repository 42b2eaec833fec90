"""Plots of a scaling study, from the files scripts/scaling.py wrote (study-runs.csv,
tasks.csv.gz, hosts.csv, points.csv, fit.json); scripts/plot.py STUDY draws them:

  speedup.*              speedup vs p: ideal line, measured medians (min-max bars), Amdahl fit
  efficiency.*           efficiency vs p
  timeline-<schedule>.png  per-rank timeline (Gantt) of one run: each task a bar, coloured by host
  hosts.*                tasks/s per host, stacked, for every p

Oversubscribed points (more ranks than cores) are drawn hollow. Timelines are PNG only: as SVG,
thousands of bars make a ~450 KB file that is no easier to read.
"""

import statistics
from pathlib import Path

import matplotlib
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import metrics
from .common import host_colors, plt, save

SCHEDULE_STYLE = {
    "static": {"color": "tab:blue", "marker": "o", "dodge": -0.04},
    "dynamic": {"color": "tab:orange", "marker": "s", "dodge": 0.04},
}


def num(s):
    return float(s) if s not in ("", None) else None


def oversubscribed_note(handles):
    handles.append(
        Line2D([], [], color="gray", marker="o", linestyle="", markerfacecolor="white",
               label="hollow: oversubscribed\n(ranks > cores)")
    )


def fit_curve(f, mode, schedule, grid):
    """The fitted speedup on grid and its legend label: metrics' Amdahl or Gustafson model."""
    over_p = "p = " + ", ".join(str(p) for p in f.get("fit_p", []))
    if mode != "strong":
        return ([metrics.gustafson_speedup(p, f["alpha"]) for p in grid],
                f"{schedule} Gustafson fit (α = {f['alpha']:.3f})")
    s = [metrics.amdahl_speedup(p, f) for p in grid]
    if f["valid"] and f["max_speedup"]:
        lab = (f"serial {100 * f['serial_fraction']:.1f} %, max S {f['max_speedup']:.1f}")
    elif f["valid"]:
        lab = "serial 0 %"
    elif f["tp_s"] <= 0:
        lab = "no gain (Tp ≤ 0)"
    else:
        lab = "superlinear (Ts < 0)"
    return s, f"{schedule} Amdahl fit ({over_p}): {lab}"


def plot_metric(points, fit, metric, out, formats, title_suffix, written):
    """speedup or efficiency vs p, one panel per mode."""
    modes = [m for m in ("strong", "weak") if any(r["mode"] == m for r in points)]
    fig, axes = plt.subplots(1, len(modes), figsize=(6.8 * len(modes), 5.6), squeeze=False)
    any_over = False
    for ax, mode in zip(axes[0], modes):
        top = 1.0
        pts = [r for r in points if r["mode"] == mode and num(r[metric]) is not None]
        ps = sorted({int(r["p"]) for r in pts}) or [1]
        if metric == "speedup":
            ax.plot([1, max(ps)], [1, max(ps)], color="gray", linestyle=":", label="ideal (S = p)")
        else:
            ax.axhline(1.0, color="gray", linestyle=":", label="ideal (100 %)")
        for schedule, style in SCHEDULE_STYLE.items():
            rows = sorted((r for r in pts if r["schedule"] == schedule), key=lambda r: int(r["p"]))
            if rows:
                t, over = draw_schedule(ax, rows, style, metric, schedule)
                top, any_over = max(top, t), any_over or over
                f = (fit.get(mode) or {}).get(schedule)
                if f:
                    draw_fit(ax, f, mode, schedule, style, metric, max(ps))
        finish_metric_axes(ax, metric, mode, ps, top, title_suffix)
        legend_below(ax, any_over)
    fig.tight_layout()
    save(fig, out, metric, formats, written)


def draw_schedule(ax, rows, style, metric, schedule):
    """One schedule's medians, min-max bars and markers (hollow: oversubscribed); returns the
    top of the bars and whether a point was oversubscribed."""
    # Schedules side by side, a little apart, so their min-max bars do not hide each other.
    x = [int(r["p"]) + style["dodge"] for r in rows]
    y = [num(r[metric]) for r in rows]
    ax.plot(x, y, color=style["color"], linewidth=1.5, label=f"{schedule} (median)")
    # min-max over repeats: the reference median over the slowest/fastest run.
    lo, hi = [], []
    for r, yy in zip(rows, y):
        wmed, wmin, wmax = num(r["wall_s_median"]), num(r["wall_s_min"]), num(r["wall_s_max"])
        lo.append(yy - yy * wmed / wmax)
        hi.append(yy * wmed / wmin - yy)
    ax.errorbar(x, y, yerr=[lo, hi], fmt="none", ecolor=style["color"], capsize=3, linewidth=1)
    any_over = False
    for xx, yy, r in zip(x, y, rows):
        over = r["oversubscribed"] == "1"
        any_over |= over
        ax.plot(xx, yy, marker=style["marker"], markersize=7, color=style["color"],
                markerfacecolor="white" if over else style["color"], linestyle="")
    return max(yy + h for yy, h in zip(y, hi)), any_over


def draw_fit(ax, f, mode, schedule, style, metric, pmax):
    """The fitted model of fit.json as a dashed curve from p = 1 to pmax."""
    grid = [1 + (pmax - 1) * i / 100 for i in range(101)]
    s, lab = fit_curve(f, mode, schedule, grid)
    yv = s if metric == "speedup" else [v / p for v, p in zip(s, grid)]
    ax.plot(grid, yv, color=style["color"], linestyle="--", linewidth=1, alpha=0.8, label=lab)


def finish_metric_axes(ax, metric, mode, ps, top, title_suffix):
    pmax = max(ps)
    ax.set_xticks(ps)
    ax.set_xlabel("ranks p")
    if metric == "speedup":
        ax.set_ylabel("speedup S = T(1)/T(p)" if mode == "strong"
                      else "scaled speedup p·T(1)/T(p)")
        ax.set_title(f"{mode.capitalize()} scaling: speedup{title_suffix}")
        ax.set_ylim(bottom=0)
    else:
        ax.set_ylabel("efficiency S/p" if mode == "strong" else "weak efficiency T(1)/T(p)")
        ax.set_title(f"{mode.capitalize()} scaling: efficiency{title_suffix}")
        ax.set_ylim(0, max(1.15, top * 1.05))
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlim(0.8, pmax + 0.2 * max(1, pmax / 4))
    ax.grid(True, alpha=0.3)


def legend_below(ax, any_over):
    """The legend below the axes (never on top of the data), with the bars' meaning."""
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="gray", marker="|", linestyle="", markersize=10,
                          label="bars: min-max over repeats"))
    if any_over:
        oversubscribed_note(handles)
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncol=2, frameon=False)


def pick_run(runs, schedule):
    """The strong-scaling run at the largest p whose wall time is the median of its repeats."""
    rows = [r for r in runs if r["schedule"] == schedule and r["mode"] == "strong"]
    rows = rows or [r for r in runs if r["schedule"] == schedule]
    if not rows:
        return None
    pmax = max(int(r["p"]) for r in rows)
    at = [r for r in rows if int(r["p"]) == pmax]
    # median_low: a wall time one of the runs really had.
    wall = statistics.median_low(float(r["wall_s"]) for r in at)
    return next(r for r in at if float(r["wall_s"]) == wall)


def plot_timeline(run, tasks, colors, out, stem, written):
    recs = [t for t in tasks if t["run_id"] == run["run_id"]]
    p = int(run["p"])
    wall = float(run["wall_s"])
    # Milliseconds for short runs, so the axis does not read 0.00025 s.
    unit, scale = ("ms", 1e3) if wall < 1.0 else ("s", 1.0)
    fig, ax = plt.subplots(figsize=(11, 1.6 + 0.6 * p))
    rank_host = {int(t["rank"]): t["host"] for t in recs}
    for rank in range(p):
        bars = [(float(t["start_s"]) * scale, float(t["seconds"]) * scale)
                for t in recs if int(t["rank"]) == rank]
        host = rank_host.get(rank, "")
        ax.broken_barh(bars, (rank - 0.38, 0.76), facecolors=colors.get(host, "gray"),
                       edgecolor="white", linewidth=0.4)
        busy = sum(s for _, s in bars)
        ax.text(wall * scale * 1.01, rank, f"busy {busy:.3g} {unit}\n{len(bars)} tasks",
                va="center", fontsize=8)
    ax.axvline(wall * scale, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(range(p))
    ax.set_yticklabels([f"rank {r}\n{rank_host.get(r, '?')}" for r in range(p)], fontsize=8)
    ax.set_ylim(p - 0.5, -0.5)
    ax.set_xlim(0, wall * scale * 1.13)
    ax.set_xlabel(f"time since the rank left the start barrier ({unit})")
    over = " (oversubscribed)" if run["oversubscribed"] == "1" else ""
    ax.set_title(
        f"Timeline of one run: {run['mode']} scaling, {run['schedule']} schedule, p = {p}{over}, "
        f"{run['tasks']} tasks of d = {run['dim']}, repeat {run['repeat']}\n"
        f"wall {wall * scale:.3g} {unit} (dashed line); imbalance max/mean busy = "
        f"{float(run['imbalance']):.3f}; gaps are idle time",
        fontsize=10,
    )
    handles = [Patch(facecolor=c, label=h) for h, c in colors.items() if h in rank_host.values()]
    handles.append(Line2D([], [], color="black", linestyle="--", label="wall time"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="host", title_fontsize=8, frameon=False)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    save(fig, out, stem, ["png"], written)


def plot_hosts(hosts, runs, colors, out, formats, title_suffix, written):
    """Stacked tasks/s per host (median over repeats) for every p; one panel per schedule."""
    mode = "strong" if any(r["mode"] == "strong" for r in runs) else "weak"
    over = {(r["schedule"], int(r["p"])) for r in runs if r["mode"] == mode and r["oversubscribed"] == "1"}
    rows = [h for h in hosts if h["mode"] == mode]
    schedules = [s for s in SCHEDULE_STYLE if any(h["schedule"] == s for h in rows)]
    fig, axes = plt.subplots(1, len(schedules), figsize=(5.6 * len(schedules), 4.4), squeeze=False,
                             sharey=True)
    for ax, schedule in zip(axes[0], schedules):
        rs = [h for h in rows if h["schedule"] == schedule]
        ps = sorted({int(h["p"]) for h in rs})
        names = sorted({h["host"] for h in rs})
        bottom = [0.0] * len(ps)
        for name in names:
            vals = []
            for p in ps:
                v = [float(h["tasks_per_s"]) for h in rs if int(h["p"]) == p and h["host"] == name]
                vals.append(statistics.median(v) if v else 0.0)
            xs = [str(p) for p in ps]
            ax.bar(xs, vals, bottom=bottom, color=colors[name], label=name, edgecolor="white",
                   hatch=None)
            bottom = [b + v for b, v in zip(bottom, vals)]
        for i, p in enumerate(ps):
            if (schedule, p) in over:
                ax.bar(str(p), bottom[i], fill=False, hatch="//", edgecolor="gray", linewidth=0)
                ax.text(i, bottom[i], f"{bottom[i]:.0f}\noversubscribed", ha="center", va="bottom",
                        fontsize=8, color="dimgray")
            else:
                ax.text(i, bottom[i], f"{bottom[i]:.0f}", ha="center", va="bottom", fontsize=8)
        ax.set_xlabel("ranks p")
        ax.set_title(f"{schedule} schedule ({mode} scaling)")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_ylim(0, max(bottom) * 1.15 if bottom and max(bottom) > 0 else 1)
        ax.legend(fontsize=8, title="host", title_fontsize=8, loc="upper left")
    axes[0][0].set_ylabel("throughput (tasks/s, median of repeats)")
    fig.suptitle(f"Throughput per host (stacked){title_suffix}", fontsize=11)
    fig.tight_layout()
    save(fig, out, "hosts", formats, written)


def draw(study: Path, files, out: Path, formats, run_id=None, title=""):
    """Every plot of the study (files: study.read_summary) into out; returns the paths written.
    run_id: the run for the timeline instead of the automatic pick (ValueError if the study has
    no such run)."""
    points, runs, hosts, fit = files["points"], files["runs"], files["hosts"], files["fit"]
    tasks = files["tasks"]
    colors = host_colors(h["host"] for h in hosts)
    suffix = f" — {title}" if title else ""
    if run_id:
        timelines = [("timeline", r) for r in runs if r["run_id"] == run_id][:1]
        if not timelines:
            raise ValueError(f"no run {run_id!r} in {study / 'study-runs.csv'}")
    else:
        timelines = [(f"timeline-{s}", pick_run(runs, s)) for s in SCHEDULE_STYLE]
    written = []
    plot_metric(points, fit, "speedup", out, formats, suffix, written)
    plot_metric(points, fit, "efficiency", out, formats, suffix, written)
    for stem, run in timelines:
        if run:
            plot_timeline(run, tasks, colors, out, stem, written)
    plot_hosts(hosts, runs, colors, out, formats, suffix, written)
    return written
