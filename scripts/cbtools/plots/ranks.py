"""The plot of a rank study (scripts/study/plot_ranks.py): efficiency against ranks per task
time, with the dispatch bound min(1, p*/p), and rank 0's busy fraction as dispatcher."""

import statistics
from pathlib import Path

from .common import plt, save


def plot(study: Path, rows: list[dict]) -> Path:
    """ranks.png in STUDY/plots: efficiency and rank 0's busy fraction against ranks, one
    column per task time; returns its path."""
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
    save(fig, out, "ranks", ["png"], written)
    return written[0]


def draw_model(ax, x, p_star):
    """The dispatch bound E ≤ min(1, p*/p) with p* from the measured service time."""
    lo, hi = min(x), max(x)
    xs = [lo * (hi / lo) ** (i / 40) for i in range(41)] if hi > lo else [lo]
    ax.plot(xs, [min(1.0, p_star / p) for p in xs], color="grey", ls="--",
            label=f"model min(1, p*/p), p* ≈ {p_star:.0f}")
