//! Hands tasks to ranks and brings their records back to rank 0: the only MPI-heavy code.

mod dynamic;
mod static_;
pub mod watch;

use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use nalgebra::DMatrix;

use crate::cli::{Options, Schedule};
use crate::kernel::{KernelError, Solver, check_trace};
use crate::record::{RankInfo, TaskRecord, TaskStatus};
use crate::workload::{WARMUP_STREAM, fill_matrix};

pub use dynamic::{Chunk, Dispatcher};
pub use static_::block_partition;
pub use watch::Silent;

/// What rank 0 holds after a run.
#[derive(Debug)]
pub struct Gathered {
    /// Every task's record, sorted by task index.
    pub records: Vec<TaskRecord>,
    /// Compute phase on rank 0, seconds: from the barrier before distribution to the end of
    /// the gather.
    pub wall_s: f64,
    /// One entry per rank, in rank order.
    pub ranks: Vec<RankInfo>,
    /// Unix time the timed part started, seconds.
    pub started_unix_s: f64,
}

/// Environment variable naming a task whose rank then panics: lets the tests prove that a
/// panicking rank aborts the job instead of leaving the others blocked.
pub const PANIC_AT_TASK_ENV: &str = "CLUSTER_BENCH_PANIC_AT_TASK";
/// Environment variable naming a task whose first eigenvalue is then shifted by 1 before the
/// check: lets the tests prove that a failed check is reported and makes the run exit 1.
pub const CORRUPT_TASK_ENV: &str = "CLUSTER_BENCH_CORRUPT_TASK";

fn task_from_env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// One rank's compute state: the solver and a reusable matrix buffer.
pub struct Computer {
    solver: Solver,
    matrix: DMatrix<f64>,
    seed: u64,
    dim: usize,
    rank: i32,
    /// `mpi::time()` when the rank left the pre-run barrier.
    t0: f64,
    /// Duration of the last warm-up task, seconds.
    warm_up_task_s: f64,
    /// Task at which to panic: fault injection for the tests (`CLUSTER_BENCH_PANIC_AT_TASK`).
    panic_at: Option<u64>,
    /// Task whose result to corrupt: fault injection for the tests (`CLUSTER_BENCH_CORRUPT_TASK`).
    corrupt_at: Option<u64>,
}

impl Computer {
    pub fn new(opts: &Options, rank: i32) -> Self {
        Computer {
            solver: Solver::new(opts.kernel),
            matrix: DMatrix::zeros(opts.dim, opts.dim),
            seed: opts.seed,
            dim: opts.dim,
            rank,
            t0: 0.0,
            warm_up_task_s: 0.0,
            panic_at: task_from_env(PANIC_AT_TASK_ENV),
            corrupt_at: task_from_env(CORRUPT_TASK_ENV),
        }
    }

    /// Runs `n` untimed tasks from a stream no real task uses, so caches, page faults and the
    /// solver's scratch space are warm when timing starts.
    pub fn warm_up(&mut self, n: u64) {
        let mut took = 0.0;
        for i in 0..n {
            fill_matrix(self.seed ^ WARMUP_STREAM, i, self.dim, &mut self.matrix);
            let start = mpi::time();
            let _ = self.solver.eigenvalues(&self.matrix);
            // The first solve pays for page faults and scratch allocation; the last is typical.
            took = mpi::time() - start;
        }
        self.warm_up_task_s = took;
    }

    /// Seconds the last warm-up task took (0 without warm-up): a first guess of a task's time.
    pub fn last_warm_up_s(&self) -> f64 {
        self.warm_up_task_s
    }

    /// Marks the start of the timed part (call right after the barrier).
    pub fn start_clock(&mut self) {
        self.t0 = mpi::time();
    }

    /// Builds and solves task `task`, timing only the solve.
    pub fn run(&mut self, task: u64) -> TaskRecord {
        if self.panic_at == Some(task) {
            panic!("{PANIC_AT_TASK_ENV}: injected panic at task {task}");
        }
        fill_matrix(self.seed, task, self.dim, &mut self.matrix);
        let start = mpi::time();
        let result = self.solver.eigenvalues(&self.matrix);
        let end = mpi::time();
        let mut rec = TaskRecord {
            task,
            rank: self.rank,
            start_s: start - self.t0,
            seconds: end - start,
            trace: self.matrix.trace(),
            ..TaskRecord::default()
        };
        match result {
            Ok(mut eig) => {
                if self.corrupt_at == Some(task)
                    && let Some(first) = eig.values.first_mut()
                {
                    first.re += 1.0;
                }
                let check = check_trace(&self.matrix, &eig.values);
                rec.eig_sum_re = check.sum.re;
                rec.eig_sum_im = check.sum.im;
                rec.fallback = u8::from(eig.fallback);
                rec.status = if check.ok {
                    TaskStatus::Ok
                } else {
                    TaskStatus::CheckFailed
                } as u8;
            }
            Err(e) => {
                rec.eig_sum_re = f64::NAN;
                rec.eig_sum_im = f64::NAN;
                rec.status = match e {
                    KernelError::NonFinite => TaskStatus::NonFinite,
                    _ => TaskStatus::NoConvergence,
                } as u8;
            }
        }
        rec
    }
}

/// Rank 0's records when a rank fell silent mid-run.
#[derive(Debug)]
pub struct Lost {
    pub silent: Silent,
    pub records: Vec<TaskRecord>,
}

impl Lost {
    fn new(silent: Silent, records: Vec<TaskRecord>) -> Self {
        Lost { silent, records }
    }
}

/// How a run ended, on rank 0.
#[derive(Debug)]
pub enum Outcome {
    /// Not rank 0: nothing to report.
    Worker,
    /// Every rank finished (all tasks, or all before `--time-limit`).
    Finished(Gathered),
    /// A rank fell silent; `Gathered` holds the records rank 0 had.
    RankLost(Gathered, Silent),
}

/// Called now and then on rank 0 in the dynamic schedule with the records so far (unsorted),
/// every rank's facts and the seconds since the start, so a run killed outright still leaves
/// its completed work behind.
pub type Checkpoint<'a> = &'a mut dyn FnMut(&[TaskRecord], &[RankInfo], f64);

/// Runs the benchmark on every rank of `world`.
pub fn run(world: &SimpleCommunicator, opts: &Options, checkpoint: Checkpoint<'_>) -> Outcome {
    let rank = world.rank();
    let ranks = gather_rank_info(world);
    // Heartbeats travel on their own communicator so they never match a work message.
    let beats = world.duplicate();
    let mut computer = Computer::new(opts, rank);
    computer.warm_up(opts.warmup);

    // Everyone starts the timed part together; rank 0's clock spans distribution to gather.
    world.barrier();
    let started_unix_s = crate::clock::unix_now_s();
    computer.start_clock();
    let limits = watch::Limits {
        deadline: opts.time_limit_s.map(|l| computer.t0 + l),
        silence_s: opts.heartbeat_timeout_s,
    };
    let result = match opts.schedule {
        Schedule::Static => static_::run(world, &beats, opts, &mut computer, limits),
        Schedule::Dynamic => {
            let infos = ranks.as_deref().unwrap_or_default();
            let mut save = |r: &[TaskRecord], t: f64| checkpoint(r, infos, t);
            dynamic::run(world, &beats, opts, &mut computer, limits, &mut save)
        }
    };
    let wall_s = mpi::time() - computer.t0;
    let gathered = |mut records: Vec<TaskRecord>| {
        records.sort_unstable_by_key(|r| r.task);
        Gathered {
            records,
            wall_s,
            ranks: ranks.clone().expect("rank 0 gathers rank info"),
            started_unix_s,
        }
    };
    match result {
        Ok(None) => Outcome::Worker,
        Ok(Some(records)) => Outcome::Finished(gathered(records)),
        Err(lost) => Outcome::RankLost(gathered(lost.records), lost.silent),
    }
}

/// Gathers every rank's host facts on rank 0 (as JSON bytes: they are variable-length text).
fn gather_rank_info(world: &SimpleCommunicator) -> Option<Vec<RankInfo>> {
    let root = world.process_at_rank(0);
    let mine = serde_json::to_vec(&RankInfo::local(world.rank())).expect("plain struct");
    let len = mine.len() as i32;
    if world.rank() == 0 {
        let mut counts = vec![0i32; world.size() as usize];
        root.gather_into_root(&len, &mut counts[..]);
        let displs = displacements(&counts);
        let mut buf = vec![0u8; counts.iter().sum::<i32>() as usize];
        {
            let mut part = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(&mine[..], &mut part);
        }
        let infos = counts
            .iter()
            .zip(&displs)
            .map(|(&c, &d)| {
                serde_json::from_slice(&buf[d as usize..(d + c) as usize]).expect("our own JSON")
            })
            .collect();
        Some(infos)
    } else {
        root.gather_into(&len);
        root.gather_varcount_into(&mine[..]);
        None
    }
}

/// Exclusive prefix sums: where each rank's part starts in a Scatterv/Gatherv buffer.
pub fn displacements(counts: &[i32]) -> Vec<i32> {
    counts
        .iter()
        .scan(0, |acc, &c| {
            let d = *acc;
            *acc += c;
            Some(d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displacements_are_exclusive_prefix_sums() {
        assert_eq!(displacements(&[3, 0, 2, 5]), vec![0, 3, 3, 5]);
        assert!(displacements(&[]).is_empty());
    }
}
