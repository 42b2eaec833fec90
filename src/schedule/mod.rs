//! Hands tasks to ranks and brings their records back to rank 0: the only MPI-heavy code.
//! One `Context` in, one `Outcome` out; `static_` and `dynamic` are the two ways to share.
//! Records reach rank 0 while the run goes (with heartbeats, or with work requests), so rank 0
//! can save them however the run ends; no blocking MPI call follows the start on rank 0.

mod dynamic;
mod outbox;
mod static_;
pub mod watch;

use std::time::Duration;

use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::options::{Bind, Options, Schedule};
use crate::record::{RankInfo, TaskRecord};
use crate::runner::TaskRunner;
use crate::util::cpu;

pub use dynamic::{Chunk, Dispatcher};
pub use static_::block_partition;
pub use watch::{Limits, Silent, Stop};

/// What rank 0 holds at the end of a run.
#[derive(Debug)]
pub struct Gathered {
    /// Every record of this launch rank 0 has, in the order they arrived.
    pub records: Vec<TaskRecord>,
    /// Timed part on rank 0, seconds: from the barrier before distribution until every rank
    /// was done (or until the run stopped).
    pub wall_s: f64,
    /// One entry per rank, in rank order.
    pub ranks: Vec<RankInfo>,
    /// Unix time the timed part started, seconds.
    pub started_unix_s: f64,
    /// Why the run stopped before every rank was done, if it did.
    pub stop: Option<Stop>,
    /// Rank 0's work as dispatcher (dynamic schedule only).
    pub dispatch: Option<Dispatch>,
}

/// Where rank 0's time went as dispatcher in the dynamic schedule: the service time per request
/// that bounds how many ranks one dispatcher can keep busy.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Dispatch {
    /// Work requests answered (count).
    pub requests: u64,
    /// Seconds spent receiving requests' records and sending chunks.
    pub serve_s: f64,
    /// Seconds spent draining heartbeats and checking for silent ranks.
    pub poll_s: f64,
}

impl Dispatch {
    /// `outcome` with these figures, for the report.
    pub(crate) fn attach(self, outcome: Outcome) -> Outcome {
        match outcome {
            Outcome::Root(g) => Outcome::Root(Gathered {
                dispatch: Some(self),
                ..g
            }),
            other => other,
        }
    }
}

/// Rank 0's view during the run, for a checkpoint.
pub struct Snapshot<'a> {
    /// Every record of this launch so far, in the order they arrived (only ever appended to).
    pub records: &'a [TaskRecord],
    /// Seconds since the timed part started.
    pub wall_s: f64,
    /// One entry per rank, in rank order.
    pub ranks: &'a [RankInfo],
    /// Unix time the timed part started, seconds.
    pub started_unix_s: f64,
}

/// How the run ended on this rank. Root and non-root are told apart rather than "master" and
/// "worker": in the dynamic schedule rank 0 computes too, and what matters afterwards is only
/// who holds the records.
#[derive(Debug)]
pub enum Outcome {
    /// Not rank 0: its records went to rank 0, which reports and decides the exit code.
    NotRoot,
    /// Rank 0: every record it holds (all tasks, all before `--time-limit`, or what it had
    /// when the run stopped).
    Root(Gathered),
}

/// Called on rank 0 every `--checkpoint-every` seconds or so, so a run killed outright still
/// leaves its completed work behind.
pub type Checkpoint<'a> = &'a mut dyn FnMut(&Snapshot<'_>);

/// The task ids this launch runs, the same list on every rank: all of `0..tasks`, or those a
/// resumed run still misses (in increasing order).
#[derive(Debug)]
pub enum TaskIds {
    All(u64),
    Listed(Vec<u64>),
}

impl TaskIds {
    pub fn len(&self) -> u64 {
        match self {
            TaskIds::All(n) => *n,
            TaskIds::Listed(v) => v.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th id.
    pub fn get(&self, i: u64) -> u64 {
        match self {
            TaskIds::All(_) => i,
            TaskIds::Listed(v) => v[i as usize],
        }
    }
}

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
    /// The ids to compute.
    pub ids: TaskIds,
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

    /// Rank 0's view now, for a checkpoint.
    pub fn snapshot<'r>(&'r self, records: &'r [TaskRecord]) -> Snapshot<'r> {
        Snapshot {
            records,
            wall_s: mpi::time() - self.t0,
            ranks: &self.ranks,
            started_unix_s: self.started_unix_s,
        }
    }

    /// Rank 0's outcome with `records`, every rank done or `stop` said why not.
    fn outcome(&self, records: Vec<TaskRecord>, stop: Option<Stop>) -> Outcome {
        Outcome::Root(Gathered {
            records,
            wall_s: mpi::time() - self.t0,
            ranks: self.ranks.clone(),
            started_unix_s: self.started_unix_s,
            stop,
            dispatch: None,
        })
    }
}

/// A checkpoint that took long spaces the next ones out by this factor of its own time, so
/// saving never costs more than ~2% of the run.
const CHECKPOINT_SPACING: f64 = 50.0;

/// Rank 0's checkpoints: the callback and when it is next due.
pub struct Saver<'a> {
    save: Checkpoint<'a>,
    every_s: f64,
    next_at: f64,
}

impl<'a> Saver<'a> {
    fn new(save: Checkpoint<'a>, every_s: f64) -> Self {
        Saver {
            save,
            every_s,
            next_at: mpi::time() + every_s,
        }
    }

    /// Saves `records` when a checkpoint is due (one clock read otherwise).
    fn maybe(&mut self, ctx: &Context, records: &[TaskRecord]) {
        let now = mpi::time();
        if now >= self.next_at {
            (self.save)(&ctx.snapshot(records));
            let took = mpi::time() - now;
            self.next_at = mpi::time() + self.every_s.max(CHECKPOINT_SPACING * took);
        }
    }
}

/// Rank 0, its own share done: keeps watching, receiving and saving until every worker is
/// done (then lets them go) or the run stops.
fn wait_for_workers(
    ctx: &Context,
    monitor: &mut watch::Monitor,
    saver: &mut Saver,
    mut records: Vec<TaskRecord>,
) -> Outcome {
    loop {
        if let Err(stop) = monitor.poll(&mut records) {
            return ctx.outcome(records, Some(stop));
        }
        saver.maybe(ctx, &records);
        if monitor.all_done() {
            monitor.bye();
            return ctx.outcome(records, None);
        }
        // Rank 0 has nothing else to do; don't burn the core a worker may share with it.
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// Runs the benchmark on every rank of `world`, with heartbeats on `beats` (a duplicate of
/// `world`). `resume` (rank 0's; ignored elsewhere) lists the ids still missing when resuming.
pub fn run(
    world: &SimpleCommunicator,
    beats: &SimpleCommunicator,
    opts: &Options,
    resume: Option<Vec<u64>>,
    checkpoint: Checkpoint<'_>,
) -> Outcome {
    crate::util::launch::share_cores(world, opts.bind == Bind::Core);
    // Every rank sleeps through the sample: what keeps the CPUs busy then is other work.
    sleepy_barrier(world);
    let busy_cpus = cpu::sample_busy_cpus(BUSY_SAMPLE);
    let ranks = gather_rank_info(world, busy_cpus).unwrap_or_default();
    let ids = share_ids(world, opts.tasks, resume);
    let mut runner = TaskRunner::new(opts, world.rank());
    runner.warm_up(opts.warmup);

    // Everyone starts the timed part together; rank 0's clock spans distribution to gather.
    sleepy_barrier(world);
    let started_unix_s = crate::util::clock::unix_now_s();
    let t0 = runner.start_clock();
    let ctx = Context {
        world,
        beats,
        opts,
        limits: Limits {
            deadline: opts.time_limit_s.map(|l| t0 + l),
            silence_s: opts.heartbeat_timeout_s,
        },
        ids,
        ranks,
        started_unix_s,
        t0,
    };
    let mut saver = Saver::new(checkpoint, opts.checkpoint_every_s);
    match opts.schedule {
        Schedule::Static => static_::run(&ctx, &mut runner, &mut saver),
        Schedule::Dynamic => dynamic::run(&ctx, &mut runner, &mut saver),
    }
}

/// Every rank learns rank 0's list of ids (one broadcast of its length, one of the list when
/// resuming; a fresh run sends no list).
fn share_ids(world: &SimpleCommunicator, tasks: u64, resume: Option<Vec<u64>>) -> TaskIds {
    let root = world.process_at_rank(0);
    let mut list = if world.rank() == 0 { resume } else { None };
    let mut len = list.as_ref().map_or(u64::MAX, |l| l.len() as u64);
    root.broadcast_into(&mut len);
    if len == u64::MAX {
        return TaskIds::All(tasks);
    }
    let mut ids = list.take().unwrap_or_else(|| vec![0; len as usize]);
    root.broadcast_into(&mut ids[..]);
    TaskIds::Listed(ids)
}

/// How long every rank sleeps while each samples how busy its host's CPUs are: 20 clock ticks
/// per CPU at the kernel's usual 100 Hz, enough to tell a busy core from an idle one.
const BUSY_SAMPLE: Duration = Duration::from_millis(200);

/// Shortest nap of `nap_until`.
const NAP_MIN: Duration = Duration::from_micros(20);

/// Calls `ready` until it gives a value, sleeping between calls (20 µs, doubling up to
/// `launch::wait_granularity`). Blocking MPI calls busy-poll: hundreds of oversubscribed ranks
/// waiting in them would take the cores from the ranks still working (rank 0 above all), so
/// waits that may be long sleep.
pub(crate) fn nap_until<T>(ready: impl FnMut() -> Option<T>) -> T {
    naps_until(NAP_MIN, crate::util::launch::wait_granularity(), ready)
}

/// Calls `ready` until it gives a value, sleeping `first` after the first miss and twice as
/// long after each next one, up to `longest`.
pub(crate) fn naps_until<T>(
    first: Duration,
    longest: Duration,
    mut ready: impl FnMut() -> Option<T>,
) -> T {
    let mut nap = first;
    loop {
        if let Some(v) = ready() {
            return v;
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(longest);
    }
}

/// A barrier whose waiting ranks sleep (see `nap_until`).
pub(crate) fn sleepy_barrier(world: &SimpleCommunicator) {
    let mut pending = Some(world.immediate_barrier());
    nap_until(|| match pending.take()?.test() {
        Ok(_) => Some(()),
        Err(req) => {
            pending = Some(req);
            None
        }
    });
}

/// Gathers every rank's host facts on rank 0 (as JSON bytes: they are variable-length text).
fn gather_rank_info(world: &SimpleCommunicator, busy_cpus: Option<f64>) -> Option<Vec<RankInfo>> {
    let root = world.process_at_rank(0);
    let local = RankInfo::local(world.rank(), busy_cpus);
    let mine = serde_json::to_vec(&local).expect("plain struct");
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
