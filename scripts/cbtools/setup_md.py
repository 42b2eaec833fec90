"""SETUP.md of a study: the machines (as the ranks reported them), the MPI library, the git
revision and the command, from study.conf and the runs' JSONs."""

from __future__ import annotations


def machines(docs):
    """{host: cpu, cores, mem, max_ranks} from the runs' environment and hosts."""
    found = {}
    for doc in docs:
        for ri in doc["environment"].get("rank_info", []):
            found.setdefault(
                ri["host"],
                {"cpu": ri.get("cpu_model", ""), "cores": ri.get("cores"),
                 "mem": ri.get("mem_total_bytes"), "max_ranks": 0},
            )
        for h in doc["hosts"]:
            m = found.setdefault(
                h["name"], {"cpu": h.get("cpu_model", ""), "cores": h.get("cores"), "mem": None,
                            "max_ranks": 0})
            m["max_ranks"] = max(m["max_ranks"], h["ranks"])
    return found


def setup_md(conf, docs, runs):
    """SETUP.md: machines (from the runs' environment), MPI library, git revision, command."""
    mpi = {doc["environment"].get("mpi_library", "") for doc in docs}
    revs = {doc["environment"].get("git_revision", "") for doc in docs}
    return "\n".join(study_lines(conf, runs) + machine_lines(conf, machines(docs))
                     + library_lines(conf, mpi, revs) + oversubscribed_lines(runs)) + "\n"


def study_lines(conf, runs):
    """The title, what was run and the command."""
    return [
        f"# Study `{conf.get('label', '?')}`",
        "",
        f"Started {conf.get('started_at', '?')}; {len(runs)} runs; "
        f"modes {conf.get('modes', '?')}; schedules {conf.get('schedules', '?')}; "
        f"p = {conf.get('ranks', '?')}; {conf.get('repeat', '?')} repeat(s) per point.",
        "",
        f"Workload: d = {conf.get('dim', '?')}; strong scaling {conf.get('tasks', '?')} tasks in "
        f"total; weak scaling {conf.get('tasks_per_rank', '?')} tasks per rank; "
        f"{conf.get('warmup', '?')} untimed warm-up task(s) per rank.",
        "",
        "## Command",
        "",
        "```sh",
        conf.get("command", "(unknown)"),
        "```",
    ]


def machine_lines(conf, machines):
    """The machines as a table, the hostfile and the load of the launching machine."""
    lines = [
        "",
        "## Machines (as the ranks reported them)",
        "",
        "| host | CPU model | cores a rank could use (affinity) | memory GiB | most ranks in a run |",
        "|---|---|---|---|---|",
    ]
    for name, m in sorted(machines.items()):
        mem = f"{m['mem'] / 2**30:.1f}" if m["mem"] else "?"
        lines.append(f"| {name} | {m['cpu'] or '?'} | {m['cores'] or '?'} | {mem} | {m['max_ranks']} |")
    slots = conf.get("slots", "?")
    phys = conf.get("physical_cores") or "not given"
    lines += [
        "",
        f"Hostfile ({slots} slots in total; physical cores given: {phys}):",
        "",
        "```",
        conf.get("hostfile_text", "").rstrip("\n"),
        "```",
        "",
        f"Launched from {conf.get('launch_host', '?')} ({conf.get('launch_host_cores', '?')} "
        "logical cores there, `nproc`). Load average (1, 5, 15 min) of that machine at the start: "
        f"{conf.get('loadavg_start', '?')}; at the end: {conf.get('loadavg_end', '?')}; "
        "before each run: `load1_before` in study-runs.csv. Anything above 0 is other work "
        "competing with the benchmark for the cores.",
    ]
    return lines


def library_lines(conf, mpi, revs):
    """The MPI library, the git revision and the MPI settings of the runs."""
    return [
        "",
        f"MPI library: {'; '.join(sorted(x for x in mpi if x)) or '?'}",
        "",
        f"cluster-bench git revision: {'; '.join(sorted(x for x in revs if x)) or '?'}",
        "",
        f"Open MPI settings in the environment: `{conf.get('mpi_env', '').strip() or '(not recorded)'}`",
        "",
        f"Extra mpirun arguments: `{conf.get('extra_mpirun_args') or '(none)'}`; "
        f"--oversubscribe: {'yes' if conf.get('oversubscribe') == '1' else 'no'}.",
    ]


def oversubscribed_lines(runs):
    """A warning naming the oversubscribed rank counts, if any."""
    over = sorted({(r["mode"], r["schedule"], r["p"]) for r in runs if r["oversubscribed"]})
    if not over:
        return []
    ps = sorted({p for _, _, p in over})
    return [
        "",
        f"**Oversubscribed points** (more ranks than cores): p = {', '.join(map(str, ps))}. "
        "They measure contention for the cores, not the scaling of the cluster.",
    ]
