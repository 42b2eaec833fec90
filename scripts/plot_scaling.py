#!/usr/bin/env python3
"""Plots of a scaling study (the CSV and JSON files scripts/scaling.py wrote).

Writes PNG and SVG into STUDY/plots/ (or --out):
  speedup.*              speedup vs p: ideal line, measured medians (min-max bars), Amdahl fit
  efficiency.*           efficiency vs p
  timeline-<schedule>.*  per-rank timeline (Gantt) of one run: each task a bar, coloured by host
  hosts.*                tasks/s per host, stacked, for every p (strong scaling)

Oversubscribed points (more ranks than cores) are drawn hollow.
"""

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
# Reproducible SVGs: fixed ids, no creation date (re-plotting leaves git diffs empty).
matplotlib.rcParams["svg.hashsalt"] = "cluster-bench"
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

SCHEDULE_STYLE = {
    "static": {"color": "tab:blue", "marker": "o", "dodge": -0.04},
    "dynamic": {"color": "tab:orange", "marker": "s", "dodge": 0.04},
}
HOST_COLORS = plt.get_cmap("tab10").colors


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def num(s):
    return float(s) if s not in ("", None) else None


def study_label(study):
    conf = study / "study.conf"
    if conf.exists():
        for line in conf.read_text(encoding="utf-8").splitlines():
            if line.startswith("label="):
                return line[len("label="):]
    return ""


def host_colors(names):
    return {h: HOST_COLORS[i % len(HOST_COLORS)] for i, h in enumerate(sorted(set(names)))}


def save(fig, out, stem, formats):
    for ext in formats:
        meta = {"Date": None} if ext in ("svg", "pdf") else {}
        fig.savefig(out / f"{stem}.{ext}", dpi=130, bbox_inches="tight", metadata=meta)
    plt.close(fig)


def oversubscribed_note(handles):
    handles.append(
        Line2D([], [], color="gray", marker="o", linestyle="", markerfacecolor="white",
               label="hollow: oversubscribed\n(ranks > cores)")
    )


def plot_metric(points, fit, metric, out, formats, title_suffix):
    """speedup or efficiency vs p, one panel per mode."""
    modes = [m for m in ("strong", "weak") if any(r["mode"] == m for r in points)]
    fig, axes = plt.subplots(1, len(modes), figsize=(6.8 * len(modes), 5.6), squeeze=False)
    any_over = False
    for ax, mode in zip(axes[0], modes):
        top = 1.0
        pts = [r for r in points if r["mode"] == mode and num(r[metric]) is not None]
        ps = sorted({int(r["p"]) for r in pts}) or [1]
        pmax = max(ps)
        if metric == "speedup":
            ax.plot([1, pmax], [1, pmax], color="gray", linestyle=":", label="ideal (S = p)")
        else:
            ax.axhline(1.0, color="gray", linestyle=":", label="ideal (100 %)")
        for schedule, style in SCHEDULE_STYLE.items():
            rows = sorted((r for r in pts if r["schedule"] == schedule), key=lambda r: int(r["p"]))
            if not rows:
                continue
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
            top = max([top] + [yy + h for yy, h in zip(y, hi)])
            ax.errorbar(x, y, yerr=[lo, hi], fmt="none", ecolor=style["color"], capsize=3,
                        linewidth=1)
            for xx, yy, r in zip(x, y, rows):
                over = r["oversubscribed"] == "1"
                any_over |= over
                ax.plot(xx, yy, marker=style["marker"], markersize=7, color=style["color"],
                        markerfacecolor="white" if over else style["color"], linestyle="")
            f = (fit.get(mode) or {}).get(schedule)
            if f and metric in ("speedup", "efficiency"):
                grid = [1 + (pmax - 1) * i / 100 for i in range(101)]
                if mode == "strong":
                    total = f["ts_s"] + f["tp_s"]
                    s = [total / (f["ts_s"] + f["tp_s"] / p) for p in grid]
                    over_p = "p = " + ", ".join(str(p) for p in f["fit_p"])
                    if f["tp_s"] > 0 and f["ts_s"] >= 0:
                        lab = (f"{schedule} Amdahl fit ({over_p}): serial "
                               f"{100 * f['serial_fraction']:.1f} %, max S {f['max_speedup']:.1f}"
                               if f["max_speedup"] else f"{schedule} Amdahl fit ({over_p}): serial 0 %")
                    elif f["tp_s"] <= 0:
                        lab = f"{schedule} Amdahl fit ({over_p}): no gain (Tp ≤ 0)"
                    else:
                        lab = f"{schedule} Amdahl fit ({over_p}): superlinear (Ts < 0)"
                else:
                    s = [p - f["alpha"] * (p - 1) for p in grid]
                    lab = f"{schedule} Gustafson fit (α = {f['alpha']:.3f})"
                yv = s if metric == "speedup" else [v / p for v, p in zip(s, grid)]
                ax.plot(grid, yv, color=style["color"], linestyle="--", linewidth=1, alpha=0.8,
                        label=lab)
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
        handles, _ = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color="gray", marker="|", linestyle="", markersize=10,
                              label="bars: min-max over repeats"))
        if any_over:
            oversubscribed_note(handles)
        # Below the axes: never on top of the data.
        ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  ncol=2, frameon=False)
    fig.tight_layout()
    save(fig, out, metric, formats)


def pick_run(runs, schedule):
    """The strong-scaling run at the largest p whose wall time is the median of its repeats."""
    rows = [r for r in runs if r["schedule"] == schedule and r["mode"] == "strong"]
    rows = rows or [r for r in runs if r["schedule"] == schedule]
    if not rows:
        return None
    pmax = max(int(r["p"]) for r in rows)
    at = sorted((r for r in rows if int(r["p"]) == pmax), key=lambda r: float(r["wall_s"]))
    return at[(len(at) - 1) // 2]


def plot_timeline(run, tasks, colors, out, formats, stem):
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
    save(fig, out, stem, formats)


def plot_hosts(hosts, runs, colors, out, formats, title_suffix):
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
                v = sorted(float(h["tasks_per_s"]) for h in rs if int(h["p"]) == p and h["host"] == name)
                vals.append((v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2 if v else 0.0)
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
    save(fig, out, "hosts", formats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="study folder (after scripts/scaling.py)")
    parser.add_argument("-o", "--out", type=Path, help="output folder [STUDY/plots]")
    parser.add_argument("--run", help="run_id for the timelines instead of the automatic pick")
    parser.add_argument("--formats", default="png,svg", help="comma-separated [png,svg]")
    parser.add_argument("--title", help="text appended to the titles [the study's label]")
    args = parser.parse_args()

    study = args.study
    for name in ("points.csv", "runs.csv", "tasks.csv", "hosts.csv", "fit.json"):
        if not (study / name).exists():
            parser.error(f"{study / name} missing: run scripts/scaling.py {study} first")
    out = args.out or study / "plots"
    out.mkdir(parents=True, exist_ok=True)
    formats = [f for f in args.formats.split(",") if f]
    points = read_csv(study / "points.csv")
    runs = read_csv(study / "runs.csv")
    tasks = read_csv(study / "tasks.csv")
    hosts = read_csv(study / "hosts.csv")
    fit = json.loads((study / "fit.json").read_text(encoding="utf-8"))
    colors = host_colors(h["host"] for h in hosts)
    title = args.title if args.title is not None else study_label(study)
    suffix = f" — {title}" if title else ""

    plot_metric(points, fit, "speedup", out, formats, suffix)
    plot_metric(points, fit, "efficiency", out, formats, suffix)
    if args.run:
        chosen = [r for r in runs if r["run_id"] == args.run]
        if not chosen:
            parser.error(f"no run {args.run!r} in {study / 'runs.csv'}")
        plot_timeline(chosen[0], tasks, colors, out, formats, "timeline")
    else:
        for schedule in SCHEDULE_STYLE:
            run = pick_run(runs, schedule)
            if run:
                plot_timeline(run, tasks, colors, out, formats, f"timeline-{schedule}")
    plot_hosts(hosts, runs, colors, out, formats, suffix)


if __name__ == "__main__":
    main()
