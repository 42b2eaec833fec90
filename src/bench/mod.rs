//! One benchmark run from validated options to exit code, one named step at a time: rank 0
//! prepares (and reads what a resumed run already has) and every rank learns the verdict; the
//! schedule runs while rank 0 journals; rank 0 reports, saves and decides the exit code (and
//! ends the job when a rank fell silent or a signal came).

pub mod csv;
pub mod heterogeneity;
pub mod journal;
pub mod options;
pub mod report;
pub mod resume;
pub mod save;
pub mod schema;
pub mod table;
pub mod work;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::options::Options;
use crate::record::{Environment, RankInfo, TaskRecord, UnknownStatus};
use crate::schedule::{self, Gathered, Outcome, Silent, Snapshot, Stop};
use crate::util::clock::{iso8601_utc, unix_now_s};
use crate::util::{exit, fs, interrupt, launch};
use journal::Contents;
use report::{Baseline, Earlier, ReportInput, RunReport};
use save::Outputs;
use schema::{Attempt, History, Run};
use work::Work;

/// What rank 0 alone holds for the run, ready before any work starts.
struct Rank0 {
    /// The run's files, opened; `None` with `--no-save`.
    outputs: Option<Outputs>,
    /// The earlier run to compare with (`--baseline`).
    baseline: Option<Baseline>,
    /// What the interrupted run had (`--resume`); empty otherwise.
    earlier: Contents,
}

/// Runs the benchmark on every rank and returns this rank's exit code.
pub fn run(world: &SimpleCommunicator, opts: &Options) -> ExitCode {
    if let Err(e) = interrupt::install() {
        eprintln!("cluster-bench: warning: cannot catch SIGINT/SIGTERM: {e}");
    }
    let mut rank0 = match launch::agree_to_start(world, || prepare(opts, world.size())) {
        Ok(rank0) => rank0,
        Err(code) => return ExitCode::from(code),
    };
    let beats = world.duplicate();
    let resume = rank0.as_ref().and_then(|r| {
        let resumed = opts.resume.is_some();
        resumed.then(|| resume::missing(&r.earlier.records, opts.tasks))
    });
    let outcome = {
        let mut outputs = rank0.as_mut().and_then(|r| r.outputs.as_mut());
        let mut checkpoint = |s: &Snapshot| save_checkpoint(outputs.as_deref_mut(), s);
        schedule::run(world, &beats, opts, resume, &mut checkpoint)
    };
    match (outcome, rank0) {
        (Outcome::NotRoot, _) => ExitCode::SUCCESS, // rank 0 reports and decides
        (Outcome::Root(g), Some(rank0)) => finish_on_root(world, &beats, opts, rank0, g),
        (Outcome::Root(_), None) => unreachable!("rank 0 prepared before the run"),
    }
}

/// Rank 0's checks before the run: the run to resume, output files open and writable,
/// baseline readable.
fn prepare(opts: &Options, ranks: i32) -> Result<Rank0> {
    let earlier = match &opts.resume {
        Some(path) => resume::load(path, opts)?,
        None => Contents::new(Work::of(opts)),
    };
    let baseline = opts
        .baseline
        .as_deref()
        .map(|p| read_baseline(p, opts))
        .transpose()?;
    let outputs = match &opts.output.out {
        Some(dir) => {
            refuse_files_left_elsewhere(opts)?;
            let started_at = iso8601_utc(unix_now_s());
            let stem = fs::stem(&opts.output.label, &started_at, ranks as usize, 'r');
            Some(Outputs::prepare(dir, &stem, &Work::of(opts), &earlier)?)
        }
        None => None,
    };
    Ok(Rank0 {
        outputs,
        baseline,
        earlier,
    })
}

/// Rank 0 writes the files where it runs: without `--out`, a rank 0 on another machine than
/// mpirun's would leave them in that machine's `results/`, not in the user's folder.
fn refuse_files_left_elsewhere(opts: &Options) -> Result<()> {
    match launch::launched_from_elsewhere().filter(|_| !opts.output.out_given) {
        None => Ok(()),
        Some(launcher) => anyhow::bail!(
            "rank 0 runs on {host}, not on the machine where mpirun was typed ({launcher}): \
             its results/ would stay on {host}. Put this machine first in the hostfile \
             (scripts/discover.sh does when it is one of the hosts), or choose where the \
             files go on {host} with --out DIR (a folder shared with this machine, say), or \
             --no-save",
            host = crate::util::host::facts().name
        ),
    }
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

/// This launch as `attempts` lists it; `stop_reason` is `None` while it runs.
fn launch(ranks: &[RankInfo], started_unix_s: f64, done: usize, wall_s: f64) -> Attempt {
    let mut hosts: Vec<String> = Vec::new();
    for r in ranks {
        if !hosts.contains(&r.host) {
            hosts.push(r.host.clone());
        }
    }
    Attempt {
        started_at: iso8601_utc(started_unix_s),
        hosts,
        ranks: ranks.len(),
        tasks_done: done as u64,
        wall_s,
        stop_reason: None,
    }
}

/// Appends the records received since the last checkpoint to the journal; a failure is a
/// warning, not a reason to stop computing.
fn save_checkpoint(outputs: Option<&mut Outputs>, s: &Snapshot) {
    let Some(out) = outputs else { return };
    let now = launch(s.ranks, s.started_unix_s, s.records.len(), s.wall_s);
    if let Err(e) = out.checkpoint(&now, s.records, s.wall_s) {
        eprintln!("cluster-bench: warning: checkpoint not saved: {e:#}");
    }
}

/// How the run ended, as `stop_reason` and the announcement need it.
enum Ending {
    Finished,
    Lost(LostRank),
    Interrupted(i32),
}

impl Ending {
    fn new(stop: Option<Stop>, ranks: &[RankInfo]) -> Self {
        match stop {
            None => Ending::Finished,
            Some(Stop::Lost(s)) => Ending::Lost(LostRank::new(s, ranks)),
            Some(Stop::Signal(sig)) => Ending::Interrupted(sig),
        }
    }

    /// `stop_reason`, given how many of `tasks` are done in all.
    fn stop_reason(&self, done: u64, tasks: u64) -> Option<String> {
        match self {
            Ending::Finished => (done < tasks).then(|| "time-limit".into()),
            Ending::Lost(l) => Some(l.stop_reason()),
            Ending::Interrupted(sig) => Some(format!("interrupted ({})", interrupt::name(*sig))),
        }
    }
}

/// Rank 0 after the run: journal the last records, report, print, decide the exit code, save;
/// end the job if a rank fell silent or a signal came.
fn finish_on_root(
    world: &SimpleCommunicator,
    beats: &SimpleCommunicator,
    opts: &Options,
    mut rank0: Rank0,
    mut g: Gathered,
) -> ExitCode {
    let ending = Ending::new(g.stop.take(), &g.ranks);
    let done = (rank0.earlier.records.len() + g.records.len()) as u64;
    let mut now = launch(&g.ranks, g.started_unix_s, g.records.len(), g.wall_s);
    now.stop_reason = ending.stop_reason(done, opts.tasks);
    // First what a kill a second from now must not lose: mpirun's SIGKILL follows its SIGTERM.
    if let Some(out) = rank0.outputs.as_mut()
        && let Err(e) = out.close_journal(&now, &g.records)
    {
        eprintln!("cluster-bench: warning: journal not completed: {e:#}");
    }
    let code = match report(opts, g, &mut rank0, now) {
        Ok((report, doc)) => {
            let code = match &ending {
                Ending::Finished => announce(&report, &doc, opts),
                Ending::Lost(lost) => lost.announce(&report, opts),
                Ending::Interrupted(sig) => interrupted(*sig, &report, opts),
            };
            let quiet = opts.output.quiet && matches!(ending, Ending::Finished);
            match save(rank0.outputs, &doc, quiet) {
                Ok(()) => code,
                Err(e) => failed(e),
            }
        }
        Err(e) => failed(e.into()),
    };
    match ending {
        Ending::Finished => ExitCode::from(code),
        Ending::Lost(lost) => abort_job(world, beats, opts, lost.silent.rank),
        Ending::Interrupted(_) => leave_now(code),
    }
}

/// The report of everything the run holds (earlier launches' records and this one's), and its
/// JSON document with every launch in `attempts`.
fn report(
    opts: &Options,
    g: Gathered,
    rank0: &mut Rank0,
    now: Attempt,
) -> Result<(RunReport, Run), UnknownStatus> {
    let earlier = &mut rank0.earlier;
    let stop_reason = now.stop_reason.clone();
    let report = RunReport::new(ReportInput {
        opts,
        records: sorted(g.records),
        wall_s: g.wall_s,
        environment: Environment::collect(g.started_unix_s, g.ranks),
        baseline: rank0.baseline.take(),
        stop_reason,
        dispatch: g.dispatch,
        earlier: Earlier {
            records: std::mem::take(&mut earlier.records),
            wall_s: earlier.attempts.iter().map(|a| a.wall_s).sum(),
            rank_s: earlier
                .attempts
                .iter()
                .map(|a| a.ranks as f64 * a.wall_s)
                .sum(),
        },
    })?;
    let mut attempts = std::mem::take(&mut earlier.attempts);
    attempts.push(now);
    let history = History {
        attempts,
        tasks_file: rank0.outputs.as_ref().map(Outputs::journal_name),
    };
    let doc = Run::new(&report, history)?;
    Ok((report, doc))
}

/// `records` by task, in place: a second copy would double rank 0's largest allocation.
fn sorted(mut records: Vec<TaskRecord>) -> Vec<TaskRecord> {
    records.sort_unstable_by_key(|r| r.task);
    records
}

/// Prints the report (table or JSON) and returns the exit code it calls for, saying why on
/// stderr when that is not 0.
fn announce(report: &RunReport, doc: &Run, opts: &Options) -> u8 {
    if opts.output.json {
        print!("{}", String::from_utf8_lossy(&doc.to_json()));
    } else {
        print!("{}", table::table(report));
    }
    if !report.figures.checks.all_passed() {
        eprintln!(
            "cluster-bench: {} of {} tasks failed their check (each task's status is in the \
             run's journal, and in the JSON with --json-tasks)",
            report.figures.task_count - report.figures.checks.passed,
            report.figures.task_count
        );
        exit::CHECK_FAILED
    } else if !report.figures.complete {
        eprintln!(
            "cluster-bench: --time-limit reached: {} of {} tasks done (reported with \
             \"complete\": false)",
            report.figures.task_count, opts.tasks
        );
        exit::INCOMPLETE
    } else {
        exit::OK
    }
}

/// Says what a signal left (instead of a table: the run is not a result to read).
fn interrupted(sig: i32, report: &RunReport, opts: &Options) -> u8 {
    eprintln!(
        "cluster-bench: interrupted by {}: {} of {} tasks done and saved; --resume with the \
         saved JSON (or the journal) runs only the rest",
        interrupt::name(sig),
        report.figures.task_count,
        opts.tasks
    );
    exit::INTERRUPTED
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
    fn new(silent: Silent, ranks: &[RankInfo]) -> Self {
        let host = ranks
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
            self.host,
            self.silent.rank,
            self.silent.silent_s,
            report.figures.task_count,
            opts.tasks
        );
        exit::RANK_LOST
    }
}

/// The silent rank can't take part in a clean shutdown: MPI_Finalize would wait for it. Abort,
/// so mpirun (or srun) tears down every process it can still reach; but first give the
/// launcher time to notice a dead host itself (see `grace_before_abort`: aborting first makes
/// mpirun wait ~15 min for an unreachable host).
fn abort_job(
    world: &SimpleCommunicator,
    beats: &SimpleCommunicator,
    opts: &Options,
    lost: i32,
) -> ! {
    schedule::watch::grace_before_abort(world, beats, lost, opts.heartbeat_timeout_s);
    world.abort(i32::from(exit::RANK_LOST))
}

/// After a signal: the launcher is ending the job (mpirun SIGKILLs a second after its
/// SIGTERM), and MPI_Finalize would wait for workers that are gone or still computing. The
/// results are on disk: exit now.
fn leave_now(code: u8) -> ! {
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code))
}
