//! One row per run for `runs.csv`, from the run's `schema::Run`: fixed, documented columns
//! (README, "Outputs"); the names are the JSON's.

use super::schema::Run;

/// Column names of `runs.csv`, in order. A file with another header is refused, never
/// appended to (see `save::Outputs::prepare`).
pub const COLUMNS: [&str; 26] = [
    "started_at",
    "label",
    "ranks",
    "hosts",
    "tasks",
    "dim",
    "schedule",
    "kernel",
    "workload",
    "task_ms",
    "seed",
    "wall_s",
    "tasks_per_s",
    "busy_s",
    "busy_speedup",
    "busy_efficiency",
    "imbalance",
    "measured_speedup",
    "checksum",
    "checks_failed",
    "fallbacks",
    "complete",
    "mpi_library",
    "version",
    "git_revision",
    "json_file",
];

/// The header line, with newline.
pub fn header() -> Vec<u8> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(COLUMNS).expect("in-memory write");
    w.into_inner().expect("in-memory flush")
}

/// One run's row, with newline; `json_file` is the run's JSON file name (empty if none).
pub fn row(r: &Run, json_file: &str) -> Vec<u8> {
    let f = &r.figures;
    let failed = f.checks.failed + f.checks.no_convergence + f.checks.non_finite;
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let fields: [String; 26] = [
        r.environment.started_at.clone(),
        f.label.clone(),
        f.ranks.to_string(),
        f.hosts.len().to_string(),
        f.task_count.to_string(),
        r.config.dim.to_string(),
        r.config.schedule.clone(),
        r.config.kernel.clone(),
        r.config.workload.clone(),
        opt(r.config.task_ms),
        r.config.seed.to_string(),
        f.wall_s.to_string(),
        f.tasks_per_s.to_string(),
        f.busy_s.to_string(),
        f.busy_speedup.to_string(),
        f.busy_efficiency.to_string(),
        f.imbalance.to_string(),
        opt(f.measured_speedup),
        // Full precision: the checksum is compared bit for bit across runs.
        format!("{:?}", f.checksum),
        failed.to_string(),
        f.checks.fallbacks.to_string(),
        f.complete.to_string(),
        r.environment.mpi_library.clone(),
        f.version.to_string(),
        r.environment.git_revision.clone().unwrap_or_default(),
        json_file.to_string(),
    ];
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(&fields).expect("in-memory write");
    w.into_inner().expect("in-memory flush")
}
