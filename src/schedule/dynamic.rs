//! Dynamic schedule: ranks ask rank 0 for chunks of tasks as they finish (self-scheduling).
//!
//! Rank 0 is master and, while chunks are large, worker too: on a 2-core machine a master that
//! only waits would waste half the machine. It computes one task at a time and answers
//! requests between tasks; when chunks are small (the start and tail of a run, and whole runs
//! with hundreds of ranks) it only dispatches (`Dispatcher::take_one_for_rank_0`). So that a
//! worker never idles while rank 0 finishes its task, every worker keeps two requests in
//! flight: it computes one chunk while the next one is already on its way. A request carries
//! the last records of the chunk just finished (the others go ahead as heartbeats), so rank 0
//! holds every completed record as the run goes (and could save them if the run dies).

use mpi::point_to_point::{Message, Status};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::watch::{Beacon, Monitor, RECORDS_PER_MESSAGE, Stop};
use super::{Context, Dispatch, Outcome, Saver, nap_until, wait_for_workers};
use crate::record::TaskRecord;
use crate::runner::TaskRunner;
use crate::util::progress::Progress;

/// Worker → rank 0: "here are my records, send more work".
const TAG_REQUEST: i32 = 1;
/// Rank 0 → worker: a `Chunk` (count 0 = no work left).
const TAG_WORK: i32 = 2;
/// Requests each worker keeps in flight: one chunk computing, one on its way.
const IN_FLIGHT: u64 = 2;
/// Up to this many workers rank 0 computes until no task is left (see
/// `Dispatcher::take_one_for_rank_0`).
const FEW_WORKERS: u64 = 3;
/// Seconds of work in the largest guided chunk (see `Dispatcher::guided`).
const CHUNK_TARGET_S: f64 = 0.5;
/// A rank sits out the tail when the others would finish everything left within
/// 1/`TAIL_MARGIN` of its task time (see `Dispatcher::sits_out`): the margin keeps ranks of
/// about the same speed all working to the end, paces being means over noisy task times.
const TAIL_MARGIN: f64 = 1.5;

/// A contiguous range of indices into the run's task ids (`Context::ids`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Equivalence)]
pub struct Chunk {
    pub start: u64,
    pub count: u64,
}

/// The pool of task ids not yet handed out; pure, so the chunk policy is unit-tested.
#[derive(Debug)]
pub struct Dispatcher {
    next: u64,
    total: u64,
    /// Fixed chunk size, or `None` for guided chunks.
    fixed: Option<u64>,
    /// Divisor of guided chunks: requests in flight per worker × 2. A worker holds up to
    /// IN_FLIGHT chunks when the pool runs dry while rank 0 holds one task, so chunks half
    /// the classic guided size keep that tail short.
    share: u64,
    /// Tasks and their seconds seen so far from each rank: its own pace.
    seen: Vec<(u64, f64)>,
    /// Ranks that get no more work: too slow for what is left (see `Dispatcher::sits_out`).
    out: Vec<bool>,
}

impl Dispatcher {
    pub fn new(total: u64, ranks: usize, fixed: Option<u64>) -> Self {
        Dispatcher {
            next: 0,
            total,
            fixed,
            share: IN_FLIGHT * 2,
            seen: vec![(0, 0.0); ranks.max(1)],
            out: vec![false; ranks.max(1)],
        }
    }

    /// Counts `tasks` done by `rank` in `seconds` towards its pace.
    pub fn observe(&mut self, rank: usize, tasks: u64, seconds: f64) {
        if let Some(s) = self.seen.get_mut(rank).filter(|_| seconds > 0.0) {
            *s = (s.0 + tasks, s.1 + seconds);
        }
    }

    /// Each rank's mean task seconds; a rank not heard from yet gets the mean of the others'.
    /// `None` before any task time is known.
    fn paces(&self) -> Option<Vec<f64>> {
        let known: Vec<f64> = self
            .seen
            .iter()
            .filter(|s| s.0 > 0)
            .map(|s| s.1 / s.0 as f64)
            .collect();
        let typical = known.iter().sum::<f64>() / known.len() as f64;
        (!known.is_empty()).then(|| {
            let pace = |s: &(u64, f64)| if s.0 > 0 { s.1 / s.0 as f64 } else { typical };
            self.seen.iter().map(pace).collect()
        })
    }

    /// Guided chunk for `rank`: its share of what is left in proportion to its speed among all
    /// ranks' (so a slow host's chunk takes as long as a fast one's), divided by `share`, and at
    /// most `CHUNK_TARGET_S` of its own work (so records reach rank 0 steadily). Single tasks
    /// until the rank's own pace is known: a guess from the others' could hand a slow host a
    /// chunk it would still be computing long after everybody else has finished. After that,
    /// at most as many tasks as the rank has done: a host under a CPU quota can run its first
    /// tasks unthrottled and look several times faster than it is, and a pace measured on n
    /// tasks then commits it to no more than n (chunks grow 1, 1, 2, 3, 5… at the start).
    fn guided(&self, rank: usize) -> u64 {
        let done = self.seen.get(rank).map_or(0, |s| s.0);
        if done == 0 {
            return 1;
        }
        let Some(paces) = self.paces() else {
            return 1;
        };
        let pace = paces.get(rank).copied().unwrap_or(paces[0]);
        let all_rate: f64 = paces.iter().map(|p| 1.0 / p).sum();
        let mine = self.remaining() as f64 * (1.0 / pace) / all_rate / self.share as f64;
        let cap = (CHUNK_TARGET_S / pace) as u64;
        (mine.ceil() as u64).clamp(1, cap.clamp(1, done))
    }

    /// True, from then on, once `rank` is too slow for the tail of the run: the other ranks
    /// still working, at their own paces, would finish every task left within 1/`TAIL_MARGIN`
    /// of `rank`'s task time, so a task handed to it would end after all the rest (a host at a
    /// tenth of the others' speed otherwise ends a run up to one of its task times late).
    /// Rank 0 counts among the others only while it computes to the end (`FEW_WORKERS`).
    /// Never before every working rank's pace is known.
    fn sits_out(&mut self, rank: usize) -> bool {
        let left = self.remaining();
        if left == 0 || rank >= self.out.len() {
            return false;
        }
        if self.out[rank] {
            return true;
        }
        let pace = |s: &(u64, f64)| (s.0 > 0).then(|| s.1 / s.0 as f64);
        let Some(span) = pace(&self.seen[rank]).map(|p| p / TAIL_MARGIN) else {
            return false;
        };
        let rank_0_works = self.seen.len() as u64 - 1 <= FEW_WORKERS;
        let mut could = 0.0;
        for (j, s) in self.seen.iter().enumerate() {
            if j == rank || self.out[j] || (j == 0 && !rank_0_works) {
                continue;
            }
            let Some(p) = pace(s) else {
                return false;
            };
            could += (span / p).floor();
        }
        self.out[rank] = could >= left as f64;
        self.out[rank]
    }

    pub fn remaining(&self) -> u64 {
        self.total - self.next
    }

    /// The next chunk for worker `rank`. Guided self-scheduling: a share of what is left, so
    /// early chunks are large (few messages) and the last ones are single tasks (little
    /// imbalance). A rank too slow for the tail gets none from then on (count 0, as when
    /// nothing is left), fixed chunks or guided.
    pub fn take_chunk(&mut self, rank: usize) -> Chunk {
        let want = if self.sits_out(rank) {
            0
        } else {
            self.fixed.unwrap_or_else(|| self.guided(rank))
        };
        let count = want.min(self.remaining());
        let chunk = Chunk {
            start: self.next,
            count,
        };
        self.next += count;
        chunk
    }

    /// Hands out nothing more (the time limit is reached).
    pub fn close(&mut self) {
        self.next = self.total;
    }

    /// One task for rank 0 itself, while guided chunks are at least `ranks - 1` tasks: then
    /// the workers send fewer than one request per task time between them, and the one that
    /// arrives while rank 0 computes waits at most a task, covered by the chunk each worker
    /// holds in reserve. With smaller chunks (at the start, in the tail, and throughout with
    /// hundreds of ranks) rank 0 only dispatches: a task of its own would keep many workers
    /// waiting for a whole task time, for 1/ranks of the work.
    ///
    /// Up to `FEW_WORKERS` workers rank 0 computes to the end: at most that many requests can
    /// wait behind its task, and its own share of the work is worth more (at 3 ranks, one of
    /// them a tenth as fast, leaving the last 24 tasks to the workers cost 5–10 % efficiency).
    pub fn take_one_for_rank_0(&mut self, ranks: usize) -> Option<u64> {
        let p = ranks as u64;
        let workers = p.saturating_sub(1);
        let least = if workers <= FEW_WORKERS {
            0
        } else {
            self.share * p * workers
        };
        (self.remaining() > least && !self.sits_out(0)).then(|| {
            self.next += 1;
            self.next - 1
        })
    }
}

/// Runs the dynamic schedule; rank 0 ends with every record, or what it has when a rank falls
/// silent.
pub fn run(ctx: &Context, runner: &mut TaskRunner, saver: &mut Saver) -> Outcome {
    if ctx.is_root() {
        master(ctx, runner, saver)
    } else {
        worker(ctx, runner);
        Outcome::NotRoot
    }
}

/// Rank 0: hands out chunks between its own tasks, saves checkpoints, watches for silence.
fn master(ctx: &Context, runner: &mut TaskRunner, saver: &mut Saver) -> Outcome {
    let (world, opts) = (ctx.world, ctx.opts);
    let size = world.size() as usize;
    let mut m = Master {
        pool: Dispatcher::new(ctx.ids.len(), size, opts.chunk),
        records: Vec::with_capacity(ctx.ids.len() as usize),
        chunks: vec![0; size],
        answered: vec![0; size],
        finished: 0,
        stats: Dispatch::default(),
    };
    m.pool.observe(0, 1, runner.last_warm_up_s());
    let mut monitor = Monitor::new(ctx.beats, ctx.limits);
    if let Err(stop) = m.answer_first_requests(world, &mut monitor) {
        return ctx.outcome(m.records, Some(stop));
    }
    let mut progress = Progress::new(!opts.output.quiet, ctx.ids.len());
    loop {
        progress.update(m.records.len() as u64, false);
        if ctx.limits.expired(mpi::time()) {
            m.pool.close();
        }
        saver.maybe(ctx, &m.records);
        let serving = mpi::time();
        while let Some(probed) = world
            .any_process()
            .immediate_matched_probe_with_tag(TAG_REQUEST)
        {
            m.serve(world, &mut monitor, probed);
        }
        let polled = mpi::time();
        m.stats.serve_s += polled - serving;
        let poll = m.poll(&mut monitor);
        m.stats.poll_s += mpi::time() - polled;
        if let Err(stop) = poll {
            return ctx.outcome(m.records, Some(stop));
        }
        if let Some(i) = m.pool.take_one_for_rank_0(size) {
            // One task at a time, so requests wait at most one task's time.
            let rec = runner.run(ctx.ids.get(i));
            monitor.task_took(rec.seconds);
            m.pool.observe(0, 1, rec.seconds);
            m.records.push(rec);
        } else if m.finished < size - 1 {
            // Nothing to compute here: wait for requests without spinning on the core a
            // worker may need.
            std::thread::sleep(std::time::Duration::from_micros(50));
        } else {
            progress.finish();
            // Drain the workers' last words so no message is left unreceived at finalize.
            let stats = m.stats;
            return stats.attach(wait_for_workers(ctx, &mut monitor, saver, m.records));
        }
    }
}

/// Rank 0's book-keeping in the dynamic schedule.
struct Master {
    pool: Dispatcher,
    records: Vec<TaskRecord>,
    /// Chunks handed to each rank.
    chunks: Vec<u64>,
    /// Requests answered for each rank.
    answered: Vec<u64>,
    /// Workers that have had every request answered and sent their last records.
    finished: usize,
    /// Rank 0's time as dispatcher.
    stats: Dispatch,
}

impl Master {
    /// Answers every worker's first requests before rank 0 computes anything: they were sent
    /// right after the barrier, so this waits microseconds, where starting a task first would
    /// leave every worker idle for a whole task.
    fn answer_first_requests(
        &mut self,
        world: &SimpleCommunicator,
        monitor: &mut Monitor,
    ) -> Result<(), Stop> {
        let mut first = 0;
        while first < (world.size() as u64 - 1) * IN_FLIGHT {
            match world
                .any_process()
                .immediate_matched_probe_with_tag(TAG_REQUEST)
            {
                Some(probed) => {
                    self.serve(world, monitor, probed);
                    first += 1;
                }
                None => self.poll(monitor)?,
            }
        }
        Ok(())
    }

    /// Keeps the records that came ahead as heartbeats, counting them towards their ranks'
    /// paces.
    fn poll(&mut self, monitor: &mut Monitor) -> Result<(), Stop> {
        let before = self.records.len();
        let polled = monitor.poll(&mut self.records);
        for r in &self.records[before..] {
            self.pool.observe(r.rank as usize, 1, r.seconds);
        }
        polled
    }

    /// Keeps the records a request carries and answers it with the next chunk (or "none left");
    /// a request also tells the monitor its sender is alive.
    fn serve(
        &mut self,
        world: &SimpleCommunicator,
        monitor: &mut Monitor,
        probed: (Message, Status),
    ) {
        monitor.heard(probed.1.source_rank());
        self.stats.requests += 1;
        let (done, status) = probed.matched_receive_vec::<TaskRecord>();
        self.records.extend_from_slice(&done);
        let w = status.source_rank() as usize;
        let secs = done.iter().map(|r| r.seconds).sum();
        self.pool.observe(w, done.len() as u64, secs);
        let chunk = self.pool.take_chunk(w);
        self.chunks[w] += u64::from(chunk.count > 0);
        self.answered[w] += 1;
        world
            .process_at_rank(w as i32)
            .send_with_tag(&chunk, TAG_WORK);
        // A worker sends IN_FLIGHT requests up front and one more per chunk it gets.
        if self.answered[w] == IN_FLIGHT + self.chunks[w] {
            self.finished += 1;
        }
    }
}

/// Every other rank: keeps `IN_FLIGHT` requests out, computes each chunk it gets, and sends
/// its records with the next request.
fn worker(ctx: &Context, runner: &mut TaskRunner) {
    let (world, limits) = (ctx.world, ctx.limits);
    let mut beacon = Beacon::new(ctx.beats, limits.silence_s);
    for _ in 0..IN_FLIGHT {
        beacon.send(world, TAG_REQUEST, &[]);
    }
    let mut in_flight = IN_FLIGHT;
    let mut done = Vec::new();
    while in_flight > 0 {
        let chunk = next_chunk(ctx, &mut beacon);
        in_flight -= 1;
        if chunk.count == 0 {
            continue; // no work left; drain the other answer still on its way
        }
        done.clear();
        for i in chunk.start..chunk.start + chunk.count {
            if limits.expired(mpi::time()) {
                break; // rank 0 stops handing out work at the same deadline
            }
            let rec = runner.run(ctx.ids.get(i));
            done.push(rec);
            if crate::util::interrupt::received().is_some() {
                beacon.leave(&done);
            }
            beacon.took(rec.seconds);
        }
        // The request carries the last records; the rest go ahead as heartbeats, so that
        // every message is small enough to be sent without waiting for rank 0.
        let split = done.len().saturating_sub(RECORDS_PER_MESSAGE);
        beacon.forward(&done[..split]);
        beacon.send(world, TAG_REQUEST, &done[split..]);
        in_flight += 1;
    }
    beacon.done();
}

/// Waits for rank 0's next answer, hearing its beats meanwhile (never blocked inside MPI, so
/// the watchdog is the only judge of rank 0's silence).
fn next_chunk(ctx: &Context, beacon: &mut Beacon) -> Chunk {
    let root = ctx.world.process_at_rank(0);
    nap_until(|| {
        let answer = root.immediate_matched_probe_with_tag(TAG_WORK);
        if answer.is_none() {
            beacon.tick();
        }
        answer.map(|(msg, _)| msg.matched_receive::<Chunk>().0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guided_chunks_shrink_to_single_tasks_and_cover_everything() {
        let mut d = Dispatcher::new(1000, 4, None);
        d.observe(1, 100, 1e-7); // tiny tasks: the time cap does not bind
        let mut sizes = vec![];
        loop {
            let c = d.take_chunk(1);
            if c.count == 0 {
                break;
            }
            sizes.push(c.count);
        }
        assert_eq!(sizes.iter().sum::<u64>(), 1000);
        assert_eq!(sizes[0], 63); // 1000 / (4 ranks × 2 in flight × 2)
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(*sizes.last().unwrap(), 1);
    }

    #[test]
    fn guided_chunks_are_capped_to_about_half_a_second_of_work() {
        let mut d = Dispatcher::new(1_000_000, 2, None);
        d.observe(0, 1, 0.01);
        assert_eq!(
            d.take_chunk(1).count,
            1,
            "rank 1's own task time not known yet: single tasks"
        );
        d.observe(1, 100, 1.0);
        assert_eq!(d.take_chunk(1).count, 50);
        d.observe(1, 1, 0.0); // ignored
        assert_eq!(d.take_chunk(1).count, 50);
    }

    #[test]
    fn a_slow_rank_gets_chunks_that_take_as_long_as_a_fast_ranks() {
        // Ranks 0 and 1 take 1 ms per task, rank 2 (a host at a tenth of the speed) 10 ms.
        let mut d = Dispatcher::new(2100, 3, None);
        d.observe(0, 1000, 1.0);
        d.observe(1, 1000, 1.0);
        d.observe(2, 100, 1.0);
        // 2100 × (10/21 and 1/21 of the speed) / 4: equal time, 0.25 s, on either.
        assert_eq!(d.take_chunk(1).count, 250);
        assert_eq!(d.take_chunk(2).count, 23); // of 1850 left: ceil(1850 / 21 / 4)
        // The time cap is in the rank's own work: 0.5 s is 50 of the slow rank's tasks.
        let mut d = Dispatcher::new(1_000_000, 3, None);
        d.observe(0, 1000, 1.0);
        d.observe(1, 1000, 1.0);
        d.observe(2, 100, 1.0);
        assert_eq!((d.take_chunk(1).count, d.take_chunk(2).count), (500, 50));
    }

    #[test]
    fn a_pace_seen_on_few_tasks_commits_a_rank_to_few_more() {
        // Rank 2's first two tasks ran unthrottled: as fast as the others' by its pace, which
        // alone would earn it 600 / 3 / 4 = 50 tasks.
        let mut d = Dispatcher::new(600, 3, None);
        d.observe(0, 100, 0.5);
        d.observe(1, 100, 0.5);
        d.observe(2, 2, 0.01);
        assert_eq!(d.take_chunk(2).count, 2);
        d.observe(2, 1, 0.05); // the quota bites: the pace slows and the count grows by one
        assert_eq!(d.take_chunk(2).count, 3);
        d.observe(2, 3, 0.15);
        assert_eq!(d.take_chunk(2).count, 6);
    }

    /// Ranks 0 and 1 take 1 ms per task, rank 2 (a tenth of the speed) 10 ms.
    fn one_slow_of_three(total: u64, fixed: Option<u64>) -> Dispatcher {
        let mut d = Dispatcher::new(total, 3, fixed);
        d.observe(0, 1000, 1.0);
        d.observe(1, 1000, 1.0);
        d.observe(2, 100, 1.0);
        d
    }

    #[test]
    fn a_slow_rank_sits_out_the_tail_for_good() {
        // In 10 ms / 1.5 each fast rank does 6 tasks: rank 2 gets work while more than 12
        // are left, then none, even if it asks again.
        let mut d = one_slow_of_three(13, Some(1));
        assert_eq!(d.take_chunk(2).count, 1);
        assert_eq!(d.take_chunk(2), Chunk { start: 1, count: 0 });
        assert_eq!(d.remaining(), 12);
        assert_eq!(d.take_chunk(1).count, 1);
        assert_eq!(d.take_chunk(2).count, 0, "out for good");
        assert_eq!(d.take_one_for_rank_0(3), Some(2), "the fast ranks go on");
        while d.take_chunk(1).count > 0 {}
        assert_eq!(d.remaining(), 0);
        // Guided chunks too, with the same tail.
        let mut d = one_slow_of_three(12, None);
        assert_eq!(d.take_chunk(2).count, 0);
        assert_eq!(d.take_chunk(1).count, 2, "12 / 2.1 tasks per ms × 1 / 4");
    }

    #[test]
    fn ranks_of_one_speed_all_work_to_the_last_task() {
        let mut d = Dispatcher::new(3, 3, Some(1));
        (0..3).for_each(|r| d.observe(r, 10, 0.1));
        assert_eq!(d.take_chunk(2).count, 1);
        assert_eq!(d.take_chunk(1).count, 1);
        assert_eq!(d.take_chunk(2).count, 1, "the last task");
        // Pace unknown for one rank: nobody sits out.
        let mut d = Dispatcher::new(1, 3, Some(1));
        d.observe(1, 10, 0.001);
        d.observe(2, 1, 1.0);
        assert_eq!(d.take_chunk(2).count, 1);
    }

    #[test]
    fn a_slow_rank_0_stops_computing_in_the_tail() {
        // Rank 0 at 10 ms, workers 1 and 2 at 1 ms: it computes while more than 12 are left.
        let mut d = Dispatcher::new(13, 3, Some(1));
        d.observe(0, 100, 1.0);
        d.observe(1, 1000, 1.0);
        d.observe(2, 1000, 1.0);
        assert_eq!(d.take_one_for_rank_0(3), Some(0));
        assert_eq!(d.take_one_for_rank_0(3), None);
        assert_eq!(d.take_chunk(1).count, 1);
        // With more workers than FEW_WORKERS rank 0 does not count as one of the others.
        let mut d = Dispatcher::new(2, 5, Some(1));
        d.observe(0, 1000, 0.001);
        (1..5).for_each(|r| d.observe(r, 10, 0.1));
        d.observe(4, 1, 1.0);
        assert_eq!(
            d.take_chunk(4).count,
            0,
            "ranks 1-3 do 2 tasks within its time"
        );
        assert_eq!(d.take_chunk(3).count, 1, "rank 0 fast but dispatching only");
    }

    #[test]
    fn fixed_chunks_and_the_tail() {
        let mut d = Dispatcher::new(10, 2, Some(4));
        let got: Vec<_> = (0..4).map(|_| d.take_chunk(1)).collect();
        assert_eq!(
            got,
            vec![
                Chunk { start: 0, count: 4 },
                Chunk { start: 4, count: 4 },
                Chunk { start: 8, count: 2 },
                Chunk {
                    start: 10,
                    count: 0
                },
            ]
        );
    }

    #[test]
    fn local_and_chunked_takes_share_one_pool() {
        let mut d = Dispatcher::new(3, 2, Some(2));
        assert_eq!(d.take_one_for_rank_0(2), Some(0));
        assert_eq!(d.take_chunk(1), Chunk { start: 1, count: 2 });
        assert_eq!(d.take_one_for_rank_0(2), None, "none left");
    }

    #[test]
    fn rank_0_computes_only_while_chunks_cover_a_request_per_worker() {
        // Guided chunks are remaining / (4 × ranks): rank 0 computes while that is at least
        // ranks - 1, i.e. down to 80 tasks at 5 ranks, 960 at 16, never at 256 with 10,000;
        // with 3 workers or fewer, to the end.
        for (ranks, left) in [(2, 0), (4, 0), (5, 80), (16, 960), (256, 10_000)] {
            let mut d = Dispatcher::new(10_000, ranks, None);
            while d.take_one_for_rank_0(ranks).is_some() {}
            assert_eq!(d.remaining(), left, "{ranks} ranks");
        }
    }
}
