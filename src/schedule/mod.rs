//! Hands tasks to ranks and brings their records back to rank 0: the only MPI-heavy code.
//! One `Context` in, one `Outcome` out; `static_` and `dynamic` are the two ways to share.

mod dynamic;
mod static_;
pub mod watch;

use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::cli::{Options, Schedule};
use crate::record::{RankInfo, TaskRecord};
use crate::runner::TaskRunner;

pub use dynamic::{Chunk, Dispatcher};
pub use static_::block_partition;
pub use watch::{Limits, Silent};

/// What rank 0 holds at the end of a run (or at a checkpoint).
#[derive(Debug)]
pub struct Gathered {
    /// Every task's record rank 0 has, sorted by task index.
    pub records: Vec<TaskRecord>,
    /// Timed part on rank 0, seconds: from the barrier before distribution to the end of the
    /// gather (or to the checkpoint).
    pub wall_s: f64,
    /// One entry per rank, in rank order.
    pub ranks: Vec<RankInfo>,
    /// Unix time the timed part started, seconds.
    pub started_unix_s: f64,
    /// The rank that fell silent, when that ended the run.
    pub lost: Option<Silent>,
}

/// How the run ended on this rank. Root and non-root are told apart rather than "master" and
/// "worker": in the dynamic schedule rank 0 computes too, and what matters afterwards is only
/// who holds the records.
#[derive(Debug)]
pub enum Outcome {
    /// Not rank 0: its records went to rank 0, which reports and decides the exit code.
    NotRoot,
    /// Rank 0: every record it holds (all tasks, all before `--time-limit`, or what it had
    /// when a rank fell silent).
    Root(Gathered),
}

/// Called now and then on rank 0 in the dynamic schedule with a copy of what it holds so far, so a run
/// killed outright still leaves its completed work behind.
pub type Checkpoint<'a> = &'a mut dyn FnMut(Gathered);

/// What every step of a schedule needs, the same on every rank except `ranks`.
pub struct Context<'a> {
    /// Every rank of the job: work messages and collectives.
    pub world: &'a SimpleCommunicator,
    /// Heartbeats' own communicator, so a beat never matches a work message.
    pub beats: &'a SimpleCommunicator,
    /// The run's options.
    pub opts: &'a Options,
    /// Deadline (`--time-limit`) and heartbeat timeout.
    pub limits: Limits,
    /// Every rank's host facts, in rank order (rank 0 only; empty elsewhere).
    ranks: Vec<RankInfo>,
    /// Unix time the timed part started, seconds.
    started_unix_s: f64,
    /// `mpi::time()` at the start of the timed part, seconds.
    t0: f64,
}

impl Context<'_> {
    /// True on rank 0, which hands out work and holds the records.
    pub fn is_root(&self) -> bool {
        self.world.rank() == 0
    }

    /// Rank 0's view now: `records` sorted, with the time since the start.
    pub fn gathered(&self, mut records: Vec<TaskRecord>, lost: Option<Silent>) -> Gathered {
        records.sort_unstable_by_key(|r| r.task);
        Gathered {
            records,
            wall_s: mpi::time() - self.t0,
            ranks: self.ranks.clone(),
            started_unix_s: self.started_unix_s,
            lost,
        }
    }

    /// Rank 0's outcome with `records`, every rank having finished.
    fn finished(&self, records: Vec<TaskRecord>) -> Outcome {
        Outcome::Root(self.gathered(records, None))
    }

    /// Rank 0's outcome when `silent` fell silent and `records` is what it had.
    fn lost(&self, silent: Silent, records: Vec<TaskRecord>) -> Outcome {
        Outcome::Root(self.gathered(records, Some(silent)))
    }
}

/// Runs the benchmark on every rank of `world`.
pub fn run(world: &SimpleCommunicator, opts: &Options, checkpoint: Checkpoint<'_>) -> Outcome {
    let ranks = gather_rank_info(world).unwrap_or_default();
    let beats = world.duplicate();
    let mut runner = TaskRunner::new(opts, world.rank());
    runner.warm_up(opts.warmup);

    // Everyone starts the timed part together; rank 0's clock spans distribution to gather.
    world.barrier();
    let started_unix_s = crate::clock::unix_now_s();
    let t0 = runner.start_clock();
    let ctx = Context {
        world,
        beats: &beats,
        opts,
        limits: Limits {
            deadline: opts.time_limit_s.map(|l| t0 + l),
            silence_s: opts.heartbeat_timeout_s,
        },
        ranks,
        started_unix_s,
        t0,
    };
    match opts.schedule {
        Schedule::Static => static_::run(&ctx, &mut runner),
        Schedule::Dynamic => dynamic::run(&ctx, &mut runner, checkpoint),
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
