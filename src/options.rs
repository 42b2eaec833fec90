//! The benchmark's validated options: what a run needs (the schedule, the runner and the
//! report read them), nothing a user can still get wrong; and the output flags both commands
//! share. The benchmark's own flags and their checks are in `bench::options`, `net`'s in
//! `net::options`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

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
    /// Where the ranks run within a host.
    pub bind: Bind,
    /// Where and how the run is reported.
    pub output: Output,
    /// Put every task's record in the JSON (`tasks`).
    pub json_tasks: bool,
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

/// The output flags of every command, flattened into each command's flags; each command sets
/// its own `--label` default (`label_default`).
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Folder for the result's files (its JSON, and a CSV), on the host of rank 0 [default:
    /// results].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Write no files (report on the terminal only).
    #[arg(long, conflicts_with = "out")]
    pub no_save: bool,

    /// Short name of the result, used in its file names ([A-Za-z0-9._-], at most 64 chars).
    #[arg(long)]
    pub label: String,

    /// Print the result's JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,

    /// No progress or notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Where the files go without `--out`, under the current folder.
pub const DEFAULT_OUT: &str = "results";

/// Validated output flags: where and how a command reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// Output folder; `None` with `--no-save`.
    pub out: Option<PathBuf>,
    /// `--out` was given: the user chose where the files go (else `DEFAULT_OUT`).
    pub out_given: bool,
    /// Short name of the result, safe in file names.
    pub label: String,
    /// Print the JSON on stdout instead of the table.
    pub json: bool,
    /// No progress or notes on stderr.
    pub quiet: bool,
}

/// A `--label` outside the safe alphabet.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "--label {0:?} must be 1 to 64 characters from A-Z a-z 0-9 . _ - and not start with '.' or '-'"
)]
pub struct BadLabel(pub String);

impl OutputArgs {
    /// Checks the label; touches no file.
    pub fn validate(self) -> Result<Output, BadLabel> {
        if !valid_label(&self.label) {
            return Err(BadLabel(self.label));
        }
        Ok(Output {
            out_given: self.out.is_some(),
            out: (!self.no_save).then(|| self.out.unwrap_or_else(|| PathBuf::from(DEFAULT_OUT))),
            label: self.label,
            json: self.json,
            quiet: self.quiet,
        })
    }
}

/// `ARGS…` parsed into a command's flags `T` (as clap would, under a program named `name`),
/// for unit tests.
#[cfg(test)]
pub fn parse_flags<T: Args>(name: &str, args: &[&str]) -> T {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrap<T: Args> {
        #[command(flatten)]
        flags: T,
    }
    let mut v = vec![name];
    v.extend_from_slice(args);
    Wrap::<T>::try_parse_from(v).expect("clap accepts").flags
}

/// `--label`'s default for one command: `#[command(mut_arg("label", label_default("run")))]`.
pub fn label_default(label: &'static str) -> impl FnOnce(clap::Arg) -> clap::Arg {
    move |a| a.default_value(label).required(false)
}

/// Labels go into file names and CSV cells: keep them to a safe, portable alphabet.
pub fn valid_label(label: &str) -> bool {
    (1..=64).contains(&label.len())
        && !label.starts_with(['.', '-'])
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_a_safe_alphabet() {
        assert!(valid_label("lab-3_hosts.v2"));
        for bad in ["", "-x", ".hidden", "a/b", "a b", "x;rm", &"a".repeat(65)] {
            assert!(!valid_label(bad), "{bad:?}");
        }
    }
}
