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
use crate::record::{RankInfo, TaskRecord};
use crate::report::{Baseline, Environment, ReportInput, RunReport, iso8601_utc};
use crate::schedule::{self, Outcome};

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
    /// `--time-limit` stopped the run before every task was done (what was done is saved).
    pub const INCOMPLETE: u8 = 4;
    /// A rank fell silent (its host died or was cut off); the job was aborted after saving.
    pub const RANK_LOST: u8 = 5;
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

    let outputs = match &prepared {
        Some(Ok(p)) => p.outputs.as_ref(),
        _ => None,
    };
    let mut checkpoint = |records: &[TaskRecord], infos: &[RankInfo], wall_s: f64| {
        if let Some(out) = outputs {
            save_checkpoint(out, opts, records, infos, wall_s);
        }
    };
    let outcome = schedule::run(world, opts, &mut checkpoint);
    let (g, lost) = match outcome {
        Outcome::Worker => return ExitCode::SUCCESS, // rank 0 reports and decides
        Outcome::Finished(g) => (g, None),
        Outcome::RankLost(g, silent) => (g, Some(silent)),
    };
    let Some(Ok(prep)) = prepared else {
        unreachable!("rank 0 prepared successfully, or returned above");
    };
    let environment = Environment {
        started_at: iso8601_utc(g.started_unix_s),
        mpi_library: mpi_library(),
        git_revision: git_revision(),
        rank_info: Vec::new(),
    };
    let lost_host = lost
        .as_ref()
        .map(|s| (s, g.ranks[s.rank as usize].host.clone()));
    let report = RunReport::new(ReportInput {
        opts,
        records: g.records,
        wall_s: g.wall_s,
        rank_info: g.ranks,
        environment,
        baseline: prep.baseline,
        stop_reason: lost_host
            .as_ref()
            .map(|(s, host)| format!("rank-lost: host {host} (rank {})", s.rank)),
    });
    if let Some((silent, host)) = &lost_host {
        eprintln!(
            "cluster-bench: error: host {host} (rank {}) has not been heard from for {:.1} s: \
             presuming it down and aborting the job; {} of {} task records were saved",
            silent.rank, silent.silent_s, report.task_count, opts.tasks
        );
    } else if !opts.json {
        print!("{}", output::table(&report));
    }
    if opts.json && lost_host.is_none() {
        print!(
            "{}",
            String::from_utf8_lossy(&export::json::to_bytes(&report))
        );
    }
    let mut code = if lost_host.is_some() {
        exit::RANK_LOST
    } else if !report.checks.all_passed() {
        eprintln!(
            "cluster-bench: {} of {} tasks failed their check (see `tasks` in the JSON)",
            report.task_count - report.checks.passed,
            report.task_count
        );
        exit::CHECK_FAILED
    } else if !report.complete {
        eprintln!(
            "cluster-bench: --time-limit reached: {} of {} tasks done (reported with \
             \"complete\": false)",
            report.task_count, opts.tasks
        );
        exit::INCOMPLETE
    } else {
        exit::OK
    };
    if let Some(outputs) = prep.outputs {
        match outputs.finish(&report) {
            Ok(path) if !opts.quiet || lost_host.is_some() => {
                eprintln!("# saved {}", path.display())
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("cluster-bench: error: {e:#}");
                code = exit::RUNTIME;
            }
        }
    }
    if lost_host.is_some() {
        // The silent rank can't take part in a clean shutdown: MPI_Finalize would wait for
        // it. Abort, so mpirun (or srun) tears down every process it can still reach; but
        // first give the launcher time to notice a dead host itself (see grace_before_abort:
        // aborting first makes mpirun wait ~15 min for an unreachable host).
        schedule::watch::grace_before_abort(opts.heartbeat_timeout_s);
        world.abort(i32::from(exit::RANK_LOST));
    }
    ExitCode::from(code)
}

/// Writes the records so far as `STEM.partial.json`; a failure is a warning, not a reason to
/// stop computing.
fn save_checkpoint(
    out: &Outputs,
    opts: &Options,
    records: &[TaskRecord],
    infos: &[RankInfo],
    wall_s: f64,
) {
    let mut records = records.to_vec();
    records.sort_unstable_by_key(|r| r.task);
    let report = RunReport::new(ReportInput {
        opts,
        records,
        wall_s,
        rank_info: infos.to_vec(),
        environment: Environment {
            mpi_library: mpi_library(),
            git_revision: git_revision(),
            ..Environment::default()
        },
        baseline: None,
        stop_reason: Some("in progress (checkpoint)".into()),
    });
    if let Err(e) = out.checkpoint(&report) {
        eprintln!("cluster-bench: warning: checkpoint not saved: {e:#}");
    }
}

fn git_revision() -> Option<String> {
    Some(env!("CLUSTER_BENCH_GIT_REV").to_string()).filter(|s| !s.is_empty())
}

/// Rank 0's checks before the run: output files open and writable, baseline readable.
fn prepare(opts: &Options, ranks: i32) -> Result<Prepared> {
    let baseline = opts
        .baseline
        .as_deref()
        .map(|p| read_baseline(p, opts))
        .transpose()?;
    if let Some(b) = baseline.as_ref().filter(|b| !b.differs.is_empty()) {
        eprintln!(
            "cluster-bench: warning: --baseline {} did other work ({}): its measured speedup \
             compares unlike runs",
            b.path,
            b.differs.join(", ")
        );
    }
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
fn read_baseline(path: &Path, opts: &Options) -> Result<Baseline> {
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
            differs: baseline_differs(&v, opts),
        }),
        _ => anyhow::bail!(
            "--baseline {}: no positive `wall_s` and `ranks`: is it a cluster-bench JSON?",
            path.display()
        ),
    }
}

/// How an earlier run's work differs from this run's: a measured speedup means something only
/// for the same matrices, solver and a complete baseline.
fn baseline_differs(v: &serde_json::Value, opts: &Options) -> Vec<String> {
    let c = &v["config"];
    let mut out = Vec::new();
    let mut check = |name: &str, theirs: Option<String>, ours: String| {
        if theirs.as_deref() != Some(ours.as_str()) {
            out.push(format!(
                "{name} {} (here {ours})",
                theirs.unwrap_or("?".into())
            ));
        }
    };
    check(
        "dim",
        c["dim"].as_u64().map(|x| x.to_string()),
        opts.dim.to_string(),
    );
    check(
        "tasks",
        c["tasks"].as_u64().map(|x| x.to_string()),
        opts.tasks.to_string(),
    );
    check(
        "seed",
        c["seed"].as_u64().map(|x| x.to_string()),
        opts.seed.to_string(),
    );
    check(
        "kernel",
        c["kernel"].as_str().map(str::to_string),
        crate::cli::value_name(&opts.kernel),
    );
    if v["complete"] == false {
        out.push("baseline incomplete".into());
    }
    out
}

/// The MPI library's own version line, e.g. "Open MPI v4.1.4" or "MPICH Version: 4.0.2".
fn mpi_library() -> String {
    mpi::environment::library_version()
        .map(|v| library_line(&v))
        .unwrap_or_default()
}

/// The first line of `MPI_Get_library_version` up to its first comma, blanks collapsed
/// (MPICH's is several tab-aligned lines; Open MPI's one line with the build details).
fn library_line(version: &str) -> String {
    let first = version.lines().next().unwrap_or_default();
    let first = first.split(',').next().unwrap_or_default();
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn library_line_is_one_line() {
        let ompi = "Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4";
        assert_eq!(library_line(ompi), "Open MPI v4.1.4");
        let mpich = "MPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 12:34:45 CDT 2022\n";
        assert_eq!(library_line(mpich), "MPICH Version: 4.0.2");
        assert_eq!(library_line(""), "");
    }

    #[test]
    fn baseline_differences_are_named() {
        let opts = crate::cli::Args::parse_from(["cluster-bench", "--dim", "30", "--tasks", "6"])
            .validate()
            .unwrap();
        let same = serde_json::json!({"complete": true,
            "config": {"dim": 30, "tasks": 6, "seed": 42, "kernel": "auto"}});
        assert!(baseline_differs(&same, &opts).is_empty());
        let other = serde_json::json!({"complete": false,
            "config": {"dim": 40, "tasks": 6, "seed": 1, "kernel": "faer"}});
        assert_eq!(
            baseline_differs(&other, &opts),
            vec![
                "dim 40 (here 30)",
                "seed 1 (here 42)",
                "kernel faer (here auto)",
                "baseline incomplete"
            ]
        );
    }
}
