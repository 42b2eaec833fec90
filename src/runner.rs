//! One rank's task execution: builds task i's matrix, solves and checks it, and times only the
//! solve. Knows nothing of other ranks; the schedule decides which tasks it runs.

use nalgebra::DMatrix;

use crate::cli::Options;
use crate::kernel::{KernelError, Solver, check_trace};
use crate::record::{TaskRecord, TaskStatus};
use crate::workload::{WARMUP_STREAM, fill_matrix};

/// Environment variable naming a task whose rank then panics: lets the tests prove that a
/// panicking rank aborts the job instead of leaving the others blocked.
pub const PANIC_AT_TASK_ENV: &str = "CLUSTER_BENCH_PANIC_AT_TASK";
/// Environment variable naming a task whose first eigenvalue is then shifted by 1 before the
/// check: lets the tests prove that a failed check is reported and makes the run exit 1.
pub const CORRUPT_TASK_ENV: &str = "CLUSTER_BENCH_CORRUPT_TASK";

fn task_from_env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs tasks on this rank: the solver, a reusable matrix buffer and the clock of the timed part.
pub struct TaskRunner {
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

impl TaskRunner {
    pub fn new(opts: &Options, rank: i32) -> Self {
        TaskRunner {
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

    /// Marks the start of the timed part (call right after the barrier) and returns it, in
    /// `mpi::time()` seconds.
    pub fn start_clock(&mut self) -> f64 {
        self.t0 = mpi::time();
        self.t0
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
