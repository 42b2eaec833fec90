//! One benchmark run from validated options to exit code: checks before the work, the
//! schedule, the report and its outputs.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::cli::Options;
use crate::export::{self, Outputs};
use crate::output;
use crate::report::{Baseline, Environment, ReportInput, RunReport, iso8601_utc};
use crate::schedule;

/// Exit codes, shared by every rank.
pub mod exit {
    /// Every task solved and checked.
    pub const OK: u8 = 0;
    /// The run finished but a task failed its check (reported before exiting).
    pub const CHECK_FAILED: u8 = 1;
    /// A flag, a file or the input is wrong: the message says which.
    pub const USAGE: u8 = 2;
    /// Something failed at run time (I/O after the run).
    pub const RUNTIME: u8 = 3;
}

/// What rank 0 prepares before the work starts.
struct Prepared {
    outputs: Option<Outputs>,
    baseline: Option<Baseline>,
}

/// Runs the benchmark on every rank and returns this rank's exit code.
pub fn run(world: &SimpleCommunicator, opts: &Options) -> ExitCode {
    let rank0 = world.rank() == 0;
    // Rank 0 checks outputs and the baseline before anyone computes, then tells everyone.
    let prepared = if rank0 {
        Some(prepare(opts, world.size()))
    } else {
        None
    };
    let mut verdict = match &prepared {
        Some(Err(_)) => exit::USAGE,
        _ => exit::OK,
    };
    world.process_at_rank(0).broadcast_into(&mut verdict);
    if verdict != exit::OK {
        if let Some(Err(e)) = prepared {
            eprintln!("cluster-bench: error: {e:#}");
        }
        return ExitCode::from(verdict);
    }

    let gathered = schedule::run(world, opts);

    let (Some(g), Some(Ok(prep))) = (gathered, prepared) else {
        return ExitCode::SUCCESS; // not rank 0: rank 0 reports and decides
    };
    let environment = Environment {
        started_at: iso8601_utc(g.started_unix_s),
        mpi_library: mpi_library(),
        git_revision: Some(env!("CLUSTER_BENCH_GIT_REV").to_string()).filter(|s| !s.is_empty()),
        rank_info: Vec::new(),
    };
    let report = RunReport::new(ReportInput {
        opts,
        records: g.records,
        wall_s: g.wall_s,
        rank_info: g.ranks,
        environment,
        baseline: prep.baseline,
    });
    if opts.json {
        print!(
            "{}",
            String::from_utf8_lossy(&export::json::to_bytes(&report))
        );
    } else {
        print!("{}", output::table(&report));
    }
    if let Some(outputs) = prep.outputs {
        match outputs.finish(&report) {
            Ok(path) if !opts.quiet => eprintln!("# saved {}", path.display()),
            Ok(_) => {}
            Err(e) => {
                eprintln!("cluster-bench: error: {e:#}");
                return ExitCode::from(exit::RUNTIME);
            }
        }
    }
    if report.checks.all_passed() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "cluster-bench: {} of {} tasks failed their check (see `tasks` in the JSON)",
            report.task_count - report.checks.passed,
            report.task_count
        );
        ExitCode::from(exit::CHECK_FAILED)
    }
}

/// Rank 0's checks before the run: output files open and writable, baseline readable.
fn prepare(opts: &Options, ranks: i32) -> Result<Prepared> {
    let baseline = opts.baseline.as_deref().map(read_baseline).transpose()?;
    let outputs = match &opts.out {
        Some(dir) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let stem = export::stem(&opts.label, &iso8601_utc(now), ranks as usize);
            Some(Outputs::prepare(dir, &stem)?)
        }
        None => None,
    };
    Ok(Prepared { outputs, baseline })
}

/// Reads `wall_s` and `ranks` of an earlier run's JSON.
fn read_baseline(path: &Path) -> Result<Baseline> {
    let text = std::fs::read(path).with_context(|| format!("--baseline {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("--baseline {}: not JSON", path.display()))?;
    let wall_s = v["wall_s"].as_f64().filter(|w| *w > 0.0);
    let ranks = v["ranks"].as_u64();
    match (wall_s, ranks) {
        (Some(wall_s), Some(ranks)) => Ok(Baseline {
            path: path.display().to_string(),
            wall_s,
            ranks: ranks as usize,
        }),
        _ => anyhow::bail!(
            "--baseline {}: no positive `wall_s` and `ranks`: is it a cluster-bench JSON?",
            path.display()
        ),
    }
}

/// The MPI library's own version line, e.g. "Open MPI v4.1.4".
fn mpi_library() -> String {
    mpi::environment::library_version()
        .ok()
        .and_then(|v| v.split(',').next().map(|s| s.trim().to_string()))
        .unwrap_or_default()
}
