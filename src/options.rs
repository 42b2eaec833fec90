//! The benchmark's validated options: what a run needs (the schedule, the runner and the
//! report read them), nothing a user can still get wrong. The flags and their checks are in
//! `bench::options`.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::kernel::KernelKind;
use crate::workload::Workload;

/// How task ids reach the ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Schedule {
    /// Each rank computes a fixed contiguous block of task ids; records reach rank 0 with heartbeats.
    Static,
    /// Ranks ask rank 0 for the next chunk as they finish, so fast and slow hosts all stay busy.
    Dynamic,
}

/// Where the ranks run within a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Bind {
    /// Each rank on a core of its own, where the launcher left them unpinned and every rank
    /// sharing this machine's cores gets one.
    Core,
    /// Leave placement to the launcher and the kernel's scheduler.
    None,
}

/// Validated options: what a run needs, nothing a user can still get wrong. Not the JSON's
/// `config` (that is `bench::schema::Config`): a flag can be renamed without changing the output.
#[derive(Clone, Debug)]
pub struct Options {
    /// Matrix size.
    pub dim: usize,
    /// Number of tasks.
    pub tasks: u64,
    /// Seed of the run.
    pub seed: u64,
    /// How task ids reach the ranks.
    pub schedule: Schedule,
    /// Fixed chunk size of the dynamic schedule; `None` for guided chunks.
    pub chunk: Option<u64>,
    /// Untimed warm-up tasks per rank.
    pub warmup: u64,
    /// Eigen-solver.
    pub kernel: KernelKind,
    /// What each task does.
    pub workload: Workload,
    /// Output folder; `None` with `--no-save`.
    pub out: Option<PathBuf>,
    /// `--out` was given: the user chose where the files go (else the default, `results`).
    pub out_given: bool,
    /// Where the ranks run within a host.
    pub bind: Bind,
    /// Short name of the run, safe in file names.
    pub label: String,
    /// Print the JSON on stdout instead of the table.
    pub json: bool,
    /// Put every task's record in the JSON (`tasks`).
    pub json_tasks: bool,
    /// No progress or notes on stderr.
    pub quiet: bool,
    /// An earlier run's JSON to compare with.
    pub baseline: Option<PathBuf>,
    /// `--time-limit`, seconds.
    pub time_limit_s: Option<f64>,
    /// `--heartbeat-timeout`, seconds.
    pub heartbeat_timeout_s: f64,
    /// `--checkpoint-every`, seconds.
    pub checkpoint_every_s: f64,
    /// `--resume`: an interrupted run's JSON or journal.
    pub resume: Option<PathBuf>,
}

/// The flag spelling of an enum value (`static`, `auto`, …), for reports.
pub fn value_name<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Labels go into file names and CSV cells: keep them to a safe, portable alphabet.
pub fn valid_label(label: &str) -> bool {
    (1..=64).contains(&label.len())
        && !label.starts_with(['.', '-'])
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
