//! One benchmark run from validated options to exit code, one named step at a time: rank 0
//! prepares and every rank learns the verdict; the schedule runs; rank 0 reports, saves and
//! decides the exit code (and aborts the job when a rank fell silent).

use std::process::ExitCode;

use anyhow::{Context, Result};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::cli::Options;
use crate::clock::{iso8601_utc, unix_now_s};
use crate::exit;
use crate::export::{self, Outputs};
use crate::host::Environment;
use crate::launch;
use crate::output;
use crate::record::UnknownStatus;
use crate::report::{Baseline, ReportInput, RunReport};
use crate::schedule::{self, Gathered, Outcome, Silent};
use crate::schema::Run;

/// What rank 0 alone holds for the run, ready before any work starts.
struct Rank0 {
    /// The run's files, opened; `None` with `--no-save`.
    outputs: Option<Outputs>,
    /// The earlier run to compare with (`--baseline`).
    baseline: Option<Baseline>,
}

/// Runs the benchmark on every rank and returns this rank's exit code.
pub fn run(world: &SimpleCommunicator, opts: &Options) -> ExitCode {
    let rank0 = match launch::agree_to_start(world, || prepare(opts, world.size())) {
        Ok(rank0) => rank0,
        Err(code) => return ExitCode::from(code),
    };
    let outputs = rank0.as_ref().and_then(|r| r.outputs.as_ref());
    let mut checkpoint = |g: Gathered| save_checkpoint(outputs, opts, g);
    match (schedule::run(world, opts, &mut checkpoint), rank0) {
        (Outcome::NotRoot, _) => ExitCode::SUCCESS, // rank 0 reports and decides
        (Outcome::Root(g), Some(rank0)) => finish_on_root(world, opts, rank0, g),
        (Outcome::Root(_), None) => unreachable!("rank 0 prepared before the run"),
    }
}

/// Rank 0's checks before the run: output files open and writable, baseline readable.
fn prepare(opts: &Options, ranks: i32) -> Result<Rank0> {
    let baseline = opts
        .baseline
        .as_deref()
        .map(|p| read_baseline(p, opts))
        .transpose()?;
    let outputs = match &opts.out {
        Some(dir) => {
            let stem = export::stem(&opts.label, &iso8601_utc(unix_now_s()), ranks as usize);
            Some(Outputs::prepare(dir, &stem)?)
        }
        None => None,
    };
    Ok(Rank0 { outputs, baseline })
}

/// Reads an earlier run's JSON as the baseline, warning when it did other work.
fn read_baseline(path: &std::path::Path, opts: &Options) -> Result<Baseline> {
    let bytes = std::fs::read(path).with_context(|| format!("--baseline {}", path.display()))?;
    let b = Baseline::from_json(&path.display().to_string(), &bytes, opts)?;
    if !b.differs.is_empty() {
        eprintln!(
            "cluster-bench: warning: --baseline {} did other work ({}): its measured speedup \
             compares unlike runs",
            b.path,
            b.differs.join(", ")
        );
    }
    Ok(b)
}

/// The report of what rank 0 holds, and its JSON document.
fn report(
    opts: &Options,
    g: Gathered,
    baseline: Option<Baseline>,
    stop_reason: Option<String>,
) -> Result<(RunReport, Run), UnknownStatus> {
    let report = RunReport::new(ReportInput {
        opts,
        records: g.records,
        wall_s: g.wall_s,
        environment: Environment::collect(g.started_unix_s, g.ranks),
        baseline,
        stop_reason,
    })?;
    let doc = Run::new(&report)?;
    Ok((report, doc))
}

/// Writes the records so far as `STEM.partial.json`; a failure is a warning, not a reason to
/// stop computing.
fn save_checkpoint(outputs: Option<&Outputs>, opts: &Options, g: Gathered) {
    let Some(out) = outputs else { return };
    let stop = Some("in progress (checkpoint)".into());
    let saved = report(opts, g, None, stop)
        .map_err(anyhow::Error::from)
        .and_then(|(_, doc)| out.checkpoint(&doc));
    if let Err(e) = saved {
        eprintln!("cluster-bench: warning: checkpoint not saved: {e:#}");
    }
}

/// Rank 0 after the run: report, print, decide the exit code, save; abort the job if a rank
/// fell silent.
fn finish_on_root(
    world: &SimpleCommunicator,
    opts: &Options,
    rank0: Rank0,
    mut g: Gathered,
) -> ExitCode {
    let lost = g.lost.take().map(|s| LostRank::new(s, &g));
    let stop = lost.as_ref().map(LostRank::stop_reason);
    let code = match report(opts, g, rank0.baseline, stop) {
        Ok((report, doc)) => {
            let code = match &lost {
                Some(lost) => lost.announce(&report, opts),
                None => announce(&report, &doc, opts),
            };
            match save(rank0.outputs, &doc, opts.quiet && lost.is_none()) {
                Ok(()) => code,
                Err(e) => failed(e),
            }
        }
        Err(e) => failed(e.into()),
    };
    if lost.is_some() {
        abort_job(world, opts);
    }
    ExitCode::from(code)
}

/// Prints the report (table or JSON) and returns the exit code it calls for, saying why on
/// stderr when that is not 0.
fn announce(report: &RunReport, doc: &Run, opts: &Options) -> u8 {
    if opts.json {
        print!("{}", String::from_utf8_lossy(&export::json::to_bytes(doc)));
    } else {
        print!("{}", output::table(report));
    }
    if !report.checks.all_passed() {
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
    }
}

/// Writes the run's files (if any) and says where the JSON went, unless `quiet`.
fn save(outputs: Option<Outputs>, doc: &Run, quiet: bool) -> Result<()> {
    if let Some(outputs) = outputs {
        let path = outputs.finish(doc)?;
        if !quiet {
            eprintln!("# saved {}", path.display());
        }
    }
    Ok(())
}

/// An error after the run: says so and returns its exit code.
fn failed(e: anyhow::Error) -> u8 {
    eprintln!("cluster-bench: error: {e:#}");
    exit::RUNTIME
}

/// A rank that fell silent, with its host's name.
struct LostRank {
    silent: Silent,
    host: String,
}

impl LostRank {
    fn new(silent: Silent, g: &Gathered) -> Self {
        let host = g
            .ranks
            .get(silent.rank as usize)
            .map_or_else(String::new, |i| i.host.clone());
        LostRank { silent, host }
    }

    /// The report's `stop_reason`.
    fn stop_reason(&self) -> String {
        format!("rank-lost: host {} (rank {})", self.host, self.silent.rank)
    }

    /// Says which host went silent (instead of a table: the run is not a result to read).
    fn announce(&self, report: &RunReport, opts: &Options) -> u8 {
        eprintln!(
            "cluster-bench: error: host {} (rank {}) has not been heard from for {:.1} s: \
             presuming it down and aborting the job; {} of {} task records were saved",
            self.host, self.silent.rank, self.silent.silent_s, report.task_count, opts.tasks
        );
        exit::RANK_LOST
    }
}

/// The silent rank can't take part in a clean shutdown: MPI_Finalize would wait for it. Abort,
/// so mpirun (or srun) tears down every process it can still reach; but first give the
/// launcher time to notice a dead host itself (see `grace_before_abort`: aborting first makes
/// mpirun wait ~15 min for an unreachable host).
fn abort_job(world: &SimpleCommunicator, opts: &Options) -> ! {
    schedule::watch::grace_before_abort(opts.heartbeat_timeout_s);
    world.abort(i32::from(exit::RANK_LOST))
}
