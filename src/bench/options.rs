//! The benchmark's flags and their validation into `Options`, on every rank, before any MPI
//! work; errors name the flag.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::kernel::KernelKind;
use crate::options::{BadLabel, Bind, Options, OutputArgs, Schedule, label_default};
use crate::workload::Workload;

/// What each task does (the flag's values; `Workload` carries the task time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WorkloadKind {
    /// Eigenvalues of a seeded random d×d matrix: the benchmark.
    Eig,
    /// Wait a seeded time around --task-ms instead of computing: emulates a cluster whose
    /// ranks each own a core with many oversubscribed ranks on few cores.
    Sleep,
}

/// The benchmark's flags (the command line without a subcommand).
#[derive(Debug, clap::Args)]
#[command(mut_arg("label", label_default("run")), mut_arg("out", |a| a.help(OUT_HELP)))]
pub struct BenchArgs {
    /// Matrix size d (each task is a d×d matrix).
    #[arg(short = 'd', long, default_value_t = 120, value_name = "D")]
    pub dim: usize,

    /// Number of tasks (matrices) in the whole run.
    #[arg(short = 'n', long, default_value_t = 2000, value_name = "N")]
    pub tasks: u64,

    /// Seed of the run: task i's matrix depends on (seed, i) only.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// How tasks are handed to ranks.
    #[arg(long, value_enum, default_value_t = Schedule::Static)]
    pub schedule: Schedule,

    /// Tasks per request in the dynamic schedule [default: guided, i.e. shrinking chunks].
    #[arg(long, value_name = "N")]
    pub chunk: Option<u64>,

    /// Untimed warm-up tasks per rank before the timed part (their results are discarded).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub warmup: u64,

    /// Eigen-solver.
    #[arg(long, value_enum, default_value_t = KernelKind::Auto)]
    pub kernel: KernelKind,

    /// What each task does: eigenvalues, or a seeded wait (ignores --dim and --kernel).
    #[arg(long, value_enum, default_value_t = WorkloadKind::Eig)]
    pub workload: WorkloadKind,

    /// Sleep workload: mean task time in milliseconds (each task waits uniformly within ±20 %).
    #[arg(long, value_name = "MS")]
    pub task_ms: Option<f64>,

    /// --out, --no-save, --label, --json, --quiet.
    #[command(flatten)]
    pub output: OutputArgs,

    /// Also put every task's record in the JSON as `tasks` (the file, and stdout with --json):
    /// about 270 bytes per task, for small runs and pipes. Without it `tasks` is null and the
    /// records are in the run's journal only (LABEL-….tasks.csv.gz, the JSON's tasks_file),
    /// so --no-save without it keeps no per-task record.
    #[arg(long)]
    pub json_tasks: bool,

    /// An earlier run's JSON: report the measured speedup wall(baseline)/wall.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Start no task after this many seconds of the timed part; report what was done.
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,

    /// Presume a rank's host dead after this many seconds without a heartbeat (or 4× the
    /// longest task, if more), save what was done and abort the job.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub heartbeat_timeout: f64,

    /// Append the records rank 0 received to the run's journal (LABEL-….tasks.csv.gz) this
    /// often, so a job killed outright keeps its completed work.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub checkpoint_every: f64,

    /// Pin each rank to a core of its own (where the launcher did not pin them and every rank
    /// on the host gets a core), or leave placement to the launcher and the kernel.
    #[arg(long, value_enum, default_value_t = Bind::Core)]
    pub bind: Bind,

    /// Complete an interrupted run: its JSON (with "complete": false) or its journal
    /// (….tasks.csv.gz). Only the missing tasks run; the result holds every task once.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
}

/// `--out` of the benchmark: the shared text, and why a run may need it.
const OUT_HELP: &str = "Folder for the run's JSON and the appended runs.csv, on the host of rank 0 \
     [default: results]. Without it, a run whose rank 0 is not on the machine where mpirun was \
     typed is refused (its files would stay on that other host)";

/// Largest accepted d: a 20,000×20,000 matrix is 3.2 GB; the memory check below is the real bound.
pub const MAX_DIM: usize = 20_000;
/// Largest accepted task count: rank 0 holds a 56-byte record per task (and, resuming, an
/// 8-byte id per missing task).
pub const MAX_TASKS: u64 = 10_000_000;

/// Longest accepted `--task-ms`: an hour.
pub const MAX_TASK_MS: f64 = 3_600_000.0;
/// `--task-ms` of the sleep workload when none is given.
pub const DEFAULT_TASK_MS: f64 = 10.0;

/// Heartbeats go out every second: a timeout below a few beats would fire on a busy host.
pub const MIN_HEARTBEAT_TIMEOUT_S: f64 = 3.0;

/// A flag value a user can fix; the message names the flag.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OptionsError {
    /// The kernel's SIMD path override names no path.
    #[error(transparent)]
    Simd(#[from] crate::kernel::BadSimdEnv),
    #[error("--dim must be at least 1 (got 0)")]
    ZeroDim,
    #[error("--dim {0} is larger than the maximum {MAX_DIM}")]
    DimTooLarge(usize),
    #[error(
        "--dim {dim} needs about {need_mib} MiB per rank, more than this host's {avail_mib} MiB of available memory"
    )]
    NotEnoughMemory {
        dim: usize,
        need_mib: u64,
        avail_mib: u64,
    },
    #[error("--tasks must be at least 1 (got 0)")]
    ZeroTasks,
    #[error("--tasks {0} is larger than the maximum {MAX_TASKS}")]
    TooManyTasks(u64),
    #[error("--chunk must be at least 1 (got 0)")]
    ZeroChunk,
    #[error("--chunk only applies to --schedule dynamic")]
    ChunkWithStatic,
    #[error(
        "--task-ms must be a number of milliseconds above 0 and at most {MAX_TASK_MS} (got {0})"
    )]
    BadTaskMs(f64),
    #[error("--task-ms only applies to --workload sleep")]
    TaskMsWithEig,
    #[error("--time-limit must be a positive number of seconds (got {0})")]
    BadTimeLimit(f64),
    #[error("--heartbeat-timeout must be at least {MIN_HEARTBEAT_TIMEOUT_S} seconds (got {0})")]
    BadHeartbeatTimeout(f64),
    #[error("--checkpoint-every must be a positive number of seconds (got {0})")]
    BadCheckpoint(f64),
    #[error(transparent)]
    Label(#[from] BadLabel),
}

impl BenchArgs {
    /// Checks every flag and turns them into `Options`; touches no file and no MPI.
    pub fn validate(self) -> Result<Options, OptionsError> {
        if self.dim == 0 {
            return Err(OptionsError::ZeroDim);
        }
        if self.dim > MAX_DIM {
            return Err(OptionsError::DimTooLarge(self.dim));
        }
        check_memory(self.dim, crate::util::host::facts().mem_available_bytes)?;
        if self.tasks == 0 {
            return Err(OptionsError::ZeroTasks);
        }
        if self.tasks > MAX_TASKS {
            return Err(OptionsError::TooManyTasks(self.tasks));
        }
        match (self.chunk, self.schedule) {
            (Some(0), _) => return Err(OptionsError::ZeroChunk),
            (Some(_), Schedule::Static) => return Err(OptionsError::ChunkWithStatic),
            _ => {}
        }
        let workload = workload(self.workload, self.task_ms)?;
        crate::kernel::select_simd_path()?;
        if let Some(t) = self.time_limit.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(OptionsError::BadTimeLimit(t));
        }
        let hb = self.heartbeat_timeout;
        if !(hb.is_finite() && hb >= MIN_HEARTBEAT_TIMEOUT_S) {
            return Err(OptionsError::BadHeartbeatTimeout(hb));
        }
        if !(self.checkpoint_every.is_finite() && self.checkpoint_every > 0.0) {
            return Err(OptionsError::BadCheckpoint(self.checkpoint_every));
        }
        Ok(Options {
            dim: self.dim,
            tasks: self.tasks,
            seed: self.seed,
            schedule: self.schedule,
            chunk: self.chunk,
            warmup: self.warmup,
            kernel: self.kernel,
            workload,
            output: self.output.validate()?,
            bind: self.bind,
            json_tasks: self.json_tasks,
            baseline: self.baseline,
            time_limit_s: self.time_limit,
            heartbeat_timeout_s: self.heartbeat_timeout,
            checkpoint_every_s: self.checkpoint_every,
            resume: self.resume,
        })
    }
}

/// `--workload` and `--task-ms` as one value; a task time must be positive, finite and sane.
fn workload(kind: WorkloadKind, task_ms: Option<f64>) -> Result<Workload, OptionsError> {
    match (kind, task_ms) {
        (WorkloadKind::Eig, None) => Ok(Workload::Eig),
        (WorkloadKind::Eig, Some(_)) => Err(OptionsError::TaskMsWithEig),
        (WorkloadKind::Sleep, ms) => {
            let ms = ms.unwrap_or(DEFAULT_TASK_MS);
            if ms.is_finite() && ms > 0.0 && ms <= MAX_TASK_MS {
                Ok(Workload::Sleep { mean_ms: ms })
            } else {
                Err(OptionsError::BadTaskMs(ms))
            }
        }
    }
}

/// Bytes one rank holds for a d×d task: the matrix, the solver's working copy and a few
/// vectors of length d, with room for the fallback solver's own copy.
pub fn bytes_per_rank(dim: usize) -> u64 {
    let d = dim as u64;
    3 * d * d * 8 + 64 * d * 8
}

/// Refuses sizes whose matrices would not fit before anything is allocated. Every rank on a
/// host needs its own copy, but ranks per host are unknown before MPI starts, so this checks
/// one rank; the number is a floor, not a promise.
pub fn check_memory(dim: usize, available: Option<u64>) -> Result<(), OptionsError> {
    let need = bytes_per_rank(dim);
    match available {
        Some(avail) if need > avail => Err(OptionsError::NotEnoughMemory {
            dim,
            need_mib: need.div_ceil(1 << 20),
            avail_mib: avail >> 20,
        }),
        _ => Ok(()),
    }
}

/// `cluster-bench ARGS…` parsed and validated, for unit tests.
#[cfg(test)]
pub fn parse(args: &[&str]) -> Result<Options, OptionsError> {
    crate::options::parse_flags::<BenchArgs>("cluster-bench", args).validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.dim, o.tasks, o.schedule), (120, 2000, Schedule::Static));
        assert_eq!(o.output.out, Some(PathBuf::from("results")));
        assert_eq!(o.output.label, "run");
    }

    #[test]
    fn zero_sizes_are_refused_naming_the_flag() {
        assert_eq!(parse(&["--dim", "0"]).unwrap_err(), OptionsError::ZeroDim);
        assert_eq!(
            parse(&["--tasks", "0"]).unwrap_err(),
            OptionsError::ZeroTasks
        );
        let e = parse(&["--schedule", "dynamic", "--chunk", "0"]).unwrap_err();
        assert!(e.to_string().contains("--chunk"));
    }

    #[test]
    fn chunk_needs_dynamic() {
        assert_eq!(
            parse(&["--chunk", "4"]).unwrap_err(),
            OptionsError::ChunkWithStatic
        );
    }

    #[test]
    fn time_limits_must_be_positive() {
        for bad in ["0", "-1", "NaN", "inf"] {
            let e = parse(&[&format!("--time-limit={bad}")]).unwrap_err();
            assert!(e.to_string().contains("--time-limit"), "{bad}");
        }
        assert_eq!(
            parse(&["--time-limit", "1.5"]).unwrap().time_limit_s,
            Some(1.5)
        );
        let e = parse(&["--heartbeat-timeout", "1"]).unwrap_err();
        assert!(e.to_string().contains("--heartbeat-timeout"));
    }

    #[test]
    fn the_sleep_workload_takes_a_sane_task_time() {
        assert_eq!(parse(&[]).unwrap().workload, Workload::Eig);
        let w = |a: &[&str]| parse(a).map(|o| o.workload);
        assert_eq!(
            w(&["--workload", "sleep"]),
            Ok(Workload::Sleep { mean_ms: 10.0 })
        );
        assert_eq!(
            w(&["--workload", "sleep", "--task-ms", "0.5"]),
            Ok(Workload::Sleep { mean_ms: 0.5 })
        );
        for bad in ["0", "-1", "NaN", "inf", "3600001"] {
            let e = w(&["--workload", "sleep", &format!("--task-ms={bad}")]).unwrap_err();
            assert!(e.to_string().contains("--task-ms"), "{bad}: {e}");
        }
        assert_eq!(w(&["--task-ms", "5"]), Err(OptionsError::TaskMsWithEig));
    }

    #[test]
    fn memory_check_refuses_before_allocating() {
        assert!(check_memory(1000, Some(1 << 30)).is_ok());
        let e = check_memory(20_000, Some(1 << 30)).unwrap_err();
        assert!(matches!(e, OptionsError::NotEnoughMemory { .. }));
        assert!(e.to_string().contains("--dim 20000"));
        assert!(check_memory(20_000, None).is_ok());
    }
}
