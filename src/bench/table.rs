//! The rank-0 terminal report, OSU style: `#` header lines, then fixed-width columns.

use std::fmt::Write;

use super::report::{HostSummary, RunReport};
use crate::options::value_name;
use crate::workload::{SLEEP_SPREAD, Workload};

/// The report as text for stdout.
pub fn table(r: &RunReport) -> String {
    let c = &r.config;
    let mut s = String::new();
    let w = &mut s;
    let _ = match c.workload {
        Workload::Eig => writeln!(
            w,
            "# cluster-bench v{}: eigenvalues of {} random {}x{} matrices (seed {}, kernel {})",
            r.version,
            c.tasks,
            c.dim,
            c.dim,
            c.seed,
            value_name(&c.kernel)
        ),
        Workload::Sleep { mean_ms } => writeln!(
            w,
            "# cluster-bench v{}: sleep workload, {} tasks of {} ms ± {:.0} % (seed {})",
            r.version,
            c.tasks,
            mean_ms,
            SLEEP_SPREAD * 100.0,
            c.seed
        ),
    };
    let _ = writeln!(
        w,
        "# schedule {}, {} ranks on {} host(s), {}, kernel path {}",
        value_name(&c.schedule),
        r.ranks,
        r.hosts.len(),
        r.environment.mpi_library,
        kernel_paths(&r.hosts)
    );
    let _ = writeln!(
        w,
        "# checksum {:.12e}   checks passed {}/{}   fallbacks {}{}",
        r.checksum,
        r.checks.passed,
        r.task_count,
        r.checks.fallbacks,
        if r.complete { "" } else { "   INCOMPLETE RUN" }
    );
    let _ = writeln!(w, "#");
    let _ = writeln!(
        w,
        "# {:>6} {:>6} {:>9} {:>10} {:>11} {:>11} {:>12} {:>15} {:>10}",
        "ranks",
        "hosts",
        "tasks",
        "wall_s",
        "tasks/s",
        "busy_s",
        "busy_speedup",
        "busy_efficiency",
        "imbalance"
    );
    let _ = writeln!(
        w,
        "  {:>6} {:>6} {:>9} {:>10.3} {:>11.1} {:>11.3} {:>12.2} {:>15.3} {:>10.3}",
        r.ranks,
        r.hosts.len(),
        r.task_count,
        r.wall_s,
        r.tasks_per_s,
        r.busy_s,
        r.busy_speedup,
        r.busy_efficiency,
        r.imbalance
    );
    let _ = writeln!(
        w,
        "# heterogeneous ideal {:.1} tasks/s (each rank at its own pace): efficiency {:.3}; \
         against {} ranks as fast as the fastest: {:.3}",
        r.ideal_tasks_per_s, r.heterogeneous_efficiency, r.ranks, r.homogeneous_efficiency
    );
    if let (Some(b), Some(s), Some(e)) = (&r.baseline, r.measured_speedup, r.measured_efficiency) {
        let _ = writeln!(
            w,
            "# measured speedup {s:.2} (efficiency {e:.3}) vs {} ranks, wall {:.3} s: {}",
            b.ranks, b.wall_s, b.path
        );
    }
    let _ = writeln!(w, "#");
    let _ = writeln!(
        w,
        "# {:<24} {:>5} {:>9} {:>11} {:>10} {:>11} {:>10} {:>6} {:>5} {:>9}",
        "host",
        "ranks",
        "tasks",
        "busy_s",
        "ms/task",
        "tasks/s",
        "median_ms",
        "speed",
        "cores",
        "busy_cpus"
    );
    for h in &r.hosts {
        let opt = |v: Option<f64>, digits: usize| match v {
            Some(x) => format!("{x:.digits$}"),
            None => "-".into(),
        };
        let marks = [
            (h.slow, " SLOW"),
            (h.oversubscribed, " OVERSUBSCRIBED"),
            (h.busy_at_start, " BUSY"),
        ];
        let mark: String = marks.iter().filter(|m| m.0).map(|m| m.1).collect();
        let mark = if mark.is_empty() {
            mark
        } else {
            format!(" {mark}")
        };
        let _ = writeln!(
            w,
            "  {:<24} {:>5} {:>9} {:>11.3} {:>10.3} {:>11.1} {:>10} {:>6} {:>5} {:>9}{mark}",
            h.name,
            h.ranks,
            h.tasks,
            h.busy_s,
            h.mean_ms_per_task,
            h.tasks_per_s,
            opt(h.median_ms_per_task, 3),
            opt(h.speed_index, 2),
            h.cores,
            opt(h.busy_cpus_at_start, 2),
        );
    }
    for f in &r.flags {
        let _ = writeln!(w, "# FLAG {f}");
    }
    s
}

/// The SIMD paths the hosts ran, each once, in host order ("avx512", "avx512 + avx2-fma").
fn kernel_paths(hosts: &[HostSummary]) -> String {
    let mut paths: Vec<&str> = Vec::new();
    for h in hosts {
        if !paths.contains(&h.kernel_path.as_str()) {
            paths.push(&h.kernel_path);
        }
    }
    paths.join(" + ")
}
