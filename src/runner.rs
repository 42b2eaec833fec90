//! One rank's task execution: builds task i's matrix, solves and checks it, and times only the
//! solve (or, in the sleep workload, waits task i's seeded time and checks the wait). Knows
//! nothing of other ranks; the schedule decides which tasks it runs.

use std::time::Instant;

use nalgebra::DMatrix;

use crate::kernel::{KernelError, Solver, check_trace};
use crate::options::Options;
use crate::record::{TaskRecord, TaskStatus};
use crate::workload::{WARMUP_STREAM, Workload, fill_matrix, sleep_duration};

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
    workload: Workload,
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
        let dim = match opts.workload {
            Workload::Eig => opts.dim,
            Workload::Sleep { .. } => 0, // no matrix to hold
        };
        TaskRunner {
            solver: Solver::new(opts.kernel),
            matrix: DMatrix::zeros(dim, dim),
            seed: opts.seed,
            dim,
            workload: opts.workload,
            rank,
            t0: 0.0,
            warm_up_task_s: 0.0,
            panic_at: task_from_env(PANIC_AT_TASK_ENV),
            corrupt_at: task_from_env(CORRUPT_TASK_ENV),
        }
    }

    /// Runs `n` untimed tasks from a stream no real task uses, so caches, page faults and the
    /// solver's scratch space are warm when timing starts.
    /// A waiting rank has nothing to warm: its first guess of a task's time is the mean.
    pub fn warm_up(&mut self, n: u64) {
        if let Workload::Sleep { mean_ms } = self.workload {
            self.warm_up_task_s = mean_ms * 1e-3;
            return;
        }
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

    /// Runs task `task` of the workload.
    pub fn run(&mut self, task: u64) -> TaskRecord {
        if self.panic_at == Some(task) {
            panic!("{PANIC_AT_TASK_ENV}: injected panic at task {task}");
        }
        match self.workload {
            Workload::Eig => self.solve(task),
            Workload::Sleep { mean_ms } => self.wait(task, mean_ms),
        }
    }

    /// Sleeps task `task`'s seeded duration. Its record carries the planned duration, seconds,
    /// as `eig_sum_re` (what the checksum adds) and as `trace` (the reference); the check
    /// passes when both are the plan and the measured wait is not shorter than planned.
    fn wait(&mut self, task: u64, mean_ms: f64) -> TaskRecord {
        let plan = sleep_duration(self.seed, task, mean_ms);
        let start = mpi::time();
        let clock = Instant::now();
        std::thread::sleep(plan);
        let took = clock.elapsed();
        let planned_s = plan.as_secs_f64();
        let reported = planned_s
            + if self.corrupt_at == Some(task) {
                1.0
            } else {
                0.0
            };
        let ok = took >= plan && reported == planned_s;
        TaskRecord {
            task,
            rank: self.rank,
            start_s: start - self.t0,
            seconds: took.as_secs_f64(),
            eig_sum_re: reported,
            trace: planned_s,
            status: if ok {
                TaskStatus::Ok
            } else {
                TaskStatus::CheckFailed
            } as u8,
            ..TaskRecord::default()
        }
    }

    /// Builds and solves task `task`, timing only the solve.
    fn solve(&mut self, task: u64) -> TaskRecord {
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
