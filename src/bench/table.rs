//! The rank-0 terminal report, OSU style: `#` header lines, then fixed-width columns.

use std::fmt::Write;

use super::report::{HostSummary, RunReport};
use crate::options::value_name;
use crate::workload::{SLEEP_SPREAD, Workload};

/// The report as text for stdout.
pub fn table(r: &RunReport) -> String {
    let f = &r.figures;
    let c = &r.config;
    let mut s = String::new();
    let w = &mut s;
    let _ = match c.workload {
        Workload::Eig => writeln!(
            w,
            "# cluster-bench v{}: eigenvalues of {} random {}x{} matrices (seed {}, kernel {})",
            f.version,
            c.tasks,
            c.dim,
            c.dim,
            c.seed,
            value_name(&c.kernel)
        ),
        Workload::Sleep { mean_ms } => writeln!(
            w,
            "# cluster-bench v{}: sleep workload, {} tasks of {} ms ± {:.0} % (seed {})",
            f.version,
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
        f.ranks,
        f.hosts.len(),
        r.environment.mpi_library,
        kernel_paths(&f.hosts)
    );
    let _ = writeln!(
        w,
        "# checksum {:.12e}   checks passed {}/{}   fallbacks {}{}",
        f.checksum,
        f.checks.passed,
        f.task_count,
        f.checks.fallbacks,
        if f.complete { "" } else { "   INCOMPLETE RUN" }
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
        f.ranks,
        f.hosts.len(),
        f.task_count,
        f.wall_s,
        f.tasks_per_s,
        f.busy_s,
        f.busy_speedup,
        f.busy_efficiency,
        f.imbalance
    );
    let _ = writeln!(
        w,
        "# heterogeneous ideal {:.1} tasks/s (each rank at its own pace): efficiency {:.3}; \
         against {} ranks as fast as the fastest: {:.3}",
        f.ideal_tasks_per_s, f.heterogeneous_efficiency, f.ranks, f.homogeneous_efficiency
    );
    if let (Some(b), Some(s), Some(e)) = (&f.baseline, f.measured_speedup, f.measured_efficiency) {
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
    for h in &f.hosts {
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
    for f in &f.flags {
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
