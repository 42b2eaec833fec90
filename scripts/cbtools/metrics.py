"""The scaling metrics: pure functions of numbers and of run rows, tested with known inputs
(tests/python/test_scaling.py, test_plot.py). No file is read here.

A study (scripts/sweep.sh) has a reference at p = 1 of the same mode and schedule; a runs.csv
measures speedup against the complete 1-rank runs of the same work (same dim, tasks,
schedule, kernel and seed, and for the sleep workload its task_ms): median wall time of those
over the run's wall time; a run without such 1-rank runs has none.
"""

from __future__ import annotations

import math
import statistics

# ---------------------------------------------------------------------------------------------
# Metrics: pure functions of numbers.


def speedup(t1, tp):
    """Measured strong-scaling speedup S = T(1) / T(p)."""
    return t1 / tp


def efficiency(s, p):
    """Parallel efficiency S / p."""
    return s / p


def karp_flatt(s, p):
    """Karp–Flatt experimentally determined serial fraction e = (1/S − 1/p) / (1 − 1/p).

    Undefined at p = 1: returns None.
    """
    if p <= 1:
        return None
    return (1.0 / s - 1.0 / p) / (1.0 - 1.0 / p)


def weak_efficiency(t1, tp):
    """Weak-scaling efficiency T(1) / T(p) (work per rank fixed: ideal is 1)."""
    return t1 / tp


def scaled_speedup(t1, tp, p):
    """Scaled (Gustafson) speedup p · T(1) / T(p): work done per unit time relative to p = 1."""
    return p * t1 / tp


def gustafson_serial_fraction(scaled, p):
    """Serial fraction α of Gustafson's law S = p − α (p − 1), i.e. α = (p − S) / (p − 1).

    Undefined at p = 1: returns None.
    """
    if p <= 1:
        return None
    return (p - scaled) / (p - 1)


def amdahl_fit(ps, ts):
    """Least-squares fit of T(p) = Ts + Tp / p to points (p, T).

    Returns a dict: ts, tp (seconds), serial_fraction Ts / (Ts + Tp), max_speedup (Ts + Tp) / Ts
    (None when Ts <= 0: no serial part measurable), rmse_s; None with fewer than two distinct p.
    """
    pairs = [(float(p), float(t)) for p, t in zip(ps, ts)]
    xs = [1.0 / p for p, _ in pairs]
    if len(set(xs)) < 2:
        return None
    n = len(xs)
    mx = sum(xs) / n
    my = sum(t for _, t in pairs) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (t - my) for x, (_, t) in zip(xs, pairs))
    tp = sxy / sxx
    ts = my - tp * mx
    total = ts + tp
    rmse = math.sqrt(sum((ts + tp * x - t) ** 2 for x, (_, t) in zip(xs, pairs)) / n)
    return {
        "ts_s": ts,
        "tp_s": tp,
        "serial_fraction": ts / total if total != 0 else None,
        "max_speedup": total / ts if ts > 0 and tp > 0 else None,
        "rmse_s": rmse,
        # Amdahl's model holds only with Ts >= 0 and Tp > 0; otherwise the times did not fall
        # as 1/p (no gain: Tp <= 0; superlinear: Ts < 0) and the fractions mean nothing.
        "valid": ts >= 0 and tp > 0,
    }


def amdahl_speedup(p, fit):
    """Speedup the Amdahl fit predicts at p: (Ts + Tp) / (Ts + Tp / p)."""
    return (fit["ts_s"] + fit["tp_s"]) / (fit["ts_s"] + fit["tp_s"] / p)


def gustafson_speedup(p, alpha):
    """Scaled speedup Gustafson's law predicts at p: p − α (p − 1)."""
    return p - alpha * (p - 1)


def gustafson_fit(ps, scaled):
    """Least-squares α of S(p) = p − α (p − 1) over points (p, scaled speedup).

    Returns None without a point at p > 1.
    """
    num = sum((p - 1) * (p - s) for p, s in zip(ps, scaled))
    den = sum((p - 1) ** 2 for p in ps)
    if den == 0:
        return None
    return num / den


def is_oversubscribed(p, slots=None, physical_cores=None):
    """A run is oversubscribed when p exceeds the hostfile's slots or the physical cores (given
    to sweep.sh, or this machine's for a localhost-only hostfile). The JSON's per-rank `cores`
    is the rank's CPU affinity (1 when mpirun binds to a core), so it cannot tell."""
    if slots and p > slots:
        return True
    return bool(physical_cores and p > physical_cores)


# ---------------------------------------------------------------------------------------------
# Points: runs grouped by (mode, schedule, p).


def point_rows(runs):
    """Rows of points.csv from run rows (dicts with mode, schedule, p, wall_s, tasks_per_s,
    busy_speedup, imbalance, oversubscribed). The reference is the p = 1 median of the same mode
    and schedule; without it the speedup columns stay empty."""
    groups = {}
    for r in runs:
        groups.setdefault((r["mode"], r["schedule"], r["p"]), []).append(r)
    rows = []
    for (mode, schedule, p), rs in sorted(groups.items()):
        wall = statistics.median([r["wall_s"] for r in rs])
        ref = groups.get((mode, schedule, 1))
        t1 = statistics.median([r["wall_s"] for r in ref]) if ref else None
        row = {
            "mode": mode,
            "schedule": schedule,
            "p": p,
            "runs": len(rs),
            "oversubscribed": int(any(r["oversubscribed"] for r in rs)),
            "wall_s_median": wall,
            "wall_s_min": min(r["wall_s"] for r in rs),
            "wall_s_max": max(r["wall_s"] for r in rs),
            "tasks_per_s_median": statistics.median([r["tasks_per_s"] for r in rs]),
            "busy_speedup_median": statistics.median([r["busy_speedup"] for r in rs]),
            "imbalance_median": statistics.median([r["imbalance"] for r in rs]),
            "speedup": None,
            "efficiency": None,
            "karp_flatt": None,
            "weak_efficiency": None,
            "scaled_speedup": None,
            "gustafson_serial": None,
        }
        if t1 is not None:
            if mode == "strong":
                s = speedup(t1, wall)
                row["speedup"] = s
                row["efficiency"] = efficiency(s, p)
                row["karp_flatt"] = karp_flatt(s, p)
            else:
                s = scaled_speedup(t1, wall, p)
                row["speedup"] = s
                row["efficiency"] = efficiency(s, p)
                row["weak_efficiency"] = weak_efficiency(t1, wall)
                row["scaled_speedup"] = s
                row["gustafson_serial"] = gustafson_serial_fraction(s, p)
        rows.append(row)
    return rows


def fits(points):
    """fit.json content: per mode and schedule, the Amdahl fit (strong) over the points that are
    not oversubscribed (all points if fewer than two are), or the Gustafson fit (weak)."""
    out = {}
    for mode in sorted({r["mode"] for r in points}):
        for schedule in sorted({r["schedule"] for r in points if r["mode"] == mode}):
            pts = [r for r in points if r["mode"] == mode and r["schedule"] == schedule]
            if mode == "strong":
                use = [r for r in pts if not r["oversubscribed"]]
                if len({r["p"] for r in use}) < 2:
                    use = pts
                fit = amdahl_fit([r["p"] for r in use], [r["wall_s_median"] for r in use])
                if fit is not None:
                    fit["model"] = "T(p) = Ts + Tp/p, least squares over median wall times"
                    fit["fit_p"] = [r["p"] for r in use]
                    fit["exact_two_point"] = len(use) == 2
            else:
                use = [r for r in pts if r["scaled_speedup"] is not None]
                alpha = gustafson_fit([r["p"] for r in use], [r["scaled_speedup"] for r in use])
                fit = None
                if alpha is not None:
                    fit = {
                        "model": "scaled speedup S(p) = p - alpha (p - 1), least squares",
                        "alpha": alpha,
                        "fit_p": [r["p"] for r in use],
                    }
            out.setdefault(mode, {})[schedule] = fit
    return out


# ---------------------------------------------------------------------------------------------
# runs.csv: the rows of runs_csv.read_runs.


def usable(runs):
    """Runs whose wall time measures the whole work: complete, with a positive wall time."""
    return [r for r in runs if r["complete"] and r["wall_s"] > 0]


def same_work(r):
    """Runs with equal keys did the same work (the same matrices, or the same planned waits of
    the sleep workload): the measured-speedup baseline matches. Files without the workload
    columns hold eigenvalue runs only."""
    return (r["dim"], r["tasks"], r["schedule"], r["kernel"], r["seed"],
            r.get("workload", "eig"), r.get("task_ms", ""))


def measured_speedups(runs):
    """Per run (same order), median wall of the 1-rank runs of the same work / its wall time;
    None where there is no such 1-rank run. Pass usable(runs)."""
    ones = {}
    for r in runs:
        if r["ranks"] == 1:
            ones.setdefault(same_work(r), []).append(r["wall_s"])
    t1 = {k: statistics.median(v) for k, v in ones.items()}
    return [t1[same_work(r)] / r["wall_s"] if same_work(r) in t1 else None for r in runs]


def series(runs, values, key):
    """{key(run): {x: median of values}} where values[i] belongs to runs[i]; x = ranks.
    Runs whose value is None are left out."""
    groups = {}
    for r, v in zip(runs, values):
        if v is not None:
            groups.setdefault(key(r), {}).setdefault(r["ranks"], []).append(v)
    return {k: {x: statistics.median(vs) for x, vs in sorted(pts.items())}
            for k, pts in sorted(groups.items())}


def wall_by_tasks(runs):
    """{(dim, schedule, ranks): {tasks: median wall_s}}: the wall time against the number of
    tasks, one curve per rank count."""
    groups = {}
    for r in runs:
        groups.setdefault((r["dim"], r["schedule"], r["ranks"]), {}).setdefault(
            r["tasks"], []).append(r["wall_s"])
    return {k: {t: statistics.median(ws) for t, ws in sorted(pts.items())}
            for k, pts in sorted(groups.items())}


def newest(runs):
    """The run started last (ties: the later row)."""
    return max(runs, key=lambda r: (r["started_at"], r["line"]))
