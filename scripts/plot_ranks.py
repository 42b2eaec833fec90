#!/usr/bin/env python3
"""Summary and plot of a rank-scaling study made by scripts/bench_ranks.sh.

    scripts/plot_ranks.py STUDY          # STUDY/manifest.tsv + run JSONs -> summary.csv, plots
    scripts/plot_ranks.py STUDY --plot   # only the plot, from a committed summary.csv

summary.csv has one row per run. Efficiencies: `efficiency` = checksum / (ranks × wall_s), the
sleep workload's Σ of planned waits over the ideal p-rank time (1 = no overhead at all);
`busy_efficiency` as the binary reports it. `startup_s` = the whole mpirun's seconds − wall_s
(launch, MPI start, report, files, finalize). Rank 0 as dispatcher (dynamic only):
`service_us` = µs per request, `rank0_busy_fraction`, `mean_chunk` = tasks / requests and
`p_star` = mean_chunk × task time / service time: the rank count at which dispatch saturates
(docs/scaling.md, "How far one dispatcher goes").
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaling import atomic_write  # noqa: E402

COLUMNS = ("schedule", "ranks", "hosts", "task_ms", "tasks", "status", "process_s", "wall_s",
           "startup_s",
           "efficiency", "busy_efficiency", "imbalance", "requests", "mean_chunk",
           "service_us", "rank0_busy_fraction", "p_star", "load1_before")


def summary_row(study: Path, m: dict) -> dict:
    """One run's figures from its manifest row and JSON (a run that timed out has none)."""
    if m["json"] == "timeout":
        return {"schedule": m["schedule"], "ranks": m["ranks"], "task_ms": m["task_ms"],
                "tasks": m["tasks"], "status": "timeout", "process_s": m["process_s"],
                "load1_before": m["load1_before"]}
    doc = json.loads((study / m["json"]).read_text())
    ranks, wall, ms = doc["ranks"], doc["wall_s"], float(m["task_ms"])
    row = {"schedule": m["schedule"], "ranks": ranks, "hosts": len(doc["hosts"]),
           "task_ms": m["task_ms"], "tasks": doc["task_count"],
           "status": "complete" if doc["complete"] else "incomplete",
           "process_s": m["process_s"], "wall_s": f"{wall:.4f}",
           "startup_s": f"{float(m['process_s']) - wall:.3f}",
           "efficiency": f"{doc['checksum'] / (ranks * wall):.4f}",
           "busy_efficiency": f"{doc['busy_efficiency']:.4f}",
           "imbalance": f"{doc['imbalance']:.4f}", "load1_before": m["load1_before"]}
    d = doc.get("dispatch")
    if d and d["requests"]:
        s = d["service_s_per_request"]
        chunk = doc["task_count"] / d["requests"]
        row.update(requests=d["requests"], mean_chunk=f"{chunk:.2f}",
                   service_us=f"{s * 1e6:.2f}",
                   rank0_busy_fraction=f"{d['busy_fraction']:.4f}",
                   p_star=f"{chunk * ms * 1e-3 / s:.0f}" if s > 0 else "")
    return row


def write_summary(study: Path) -> list[dict]:
    with open(study / "manifest.tsv", newline="") as f:
        manifest = list(csv.DictReader(f, delimiter="\t"))
    rows = [summary_row(study, m) for m in manifest]
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write(study / "summary.csv", buf.getvalue())
    return rows


def read_summary(study: Path) -> list[dict]:
    with open(study / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def plot(study: Path, rows: list[dict]) -> Path:
    import plot_common  # matplotlib, only when drawing
    plt = plot_common.plt
    times = sorted({float(r["task_ms"]) for r in rows})
    fig, axes = plt.subplots(2, len(times), figsize=(4.2 * len(times), 7), squeeze=False)
    for col, ms in enumerate(times):
        mine = [r for r in rows if float(r["task_ms"]) == ms and r.get("efficiency")]
        eff, busy = axes[0][col], axes[1][col]
        for schedule, marker in (("static", "s"), ("dynamic", "o")):
            pts = sorted((int(r["ranks"]), r) for r in mine if r["schedule"] == schedule)
            if not pts:
                continue
            x = [p for p, _ in pts]
            eff.plot(x, [float(r["efficiency"]) for _, r in pts], marker=marker, label=schedule)
            if schedule == "dynamic":
                busy.plot(x, [float(r["rank0_busy_fraction"] or "nan") for _, r in pts],
                          marker=marker, label="rank 0 busy fraction")
                stars = [float(r["p_star"]) for _, r in pts if r["p_star"]]
                if stars:
                    draw_model(eff, x, statistics.median(stars))
        eff.set_title(f"sleep tasks of {ms:g} ms")
        eff.set_ylim(0, 1.05)
        eff.axhline(0.95, color="grey", lw=0.8, ls=":")
        busy.set_yscale("log")
        busy.set_ylim(1e-4, 1.5)
        for ax in (eff, busy):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("ranks (oversubscribed on 2 cores)")
            ax.legend(fontsize=8)
        eff.set_ylabel("efficiency Σ planned / (p · wall)")
        busy.set_ylabel("rank 0: dispatch time / wall")
    fig.tight_layout()
    out = study / "plots"
    out.mkdir(exist_ok=True)
    written = []
    plot_common.save(fig, out, "ranks", ["png"], written)
    return written[0]


def draw_model(ax, x, p_star):
    """The dispatch bound E ≤ min(1, p*/p) with p* from the measured service time."""
    lo, hi = min(x), max(x)
    xs = [lo * (hi / lo) ** (i / 40) for i in range(41)] if hi > lo else [lo]
    ax.plot(xs, [min(1.0, p_star / p) for p in xs], color="grey", ls="--",
            label=f"model min(1, p*/p), p* ≈ {p_star:.0f}")


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help") or len(argv) > 3:
        print(__doc__, file=sys.stderr if len(argv) < 2 else sys.stdout)
        return 0 if len(argv) >= 2 else 2
    study = Path(argv[1])
    only_plot = argv[2:] == ["--plot"]
    if argv[2:] and not only_plot:
        print(f"plot_ranks.py: unknown option {argv[2]}", file=sys.stderr)
        return 2
    rows = read_summary(study) if only_plot else write_summary(study)
    print(plot(study, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
