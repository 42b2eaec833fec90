//! Failure detection and the time limit: workers send heartbeats to rank 0, which notices a
//! rank gone silent (a host switched off, a cable pulled) long before TCP would.
//!
//! A host that loses power sends no TCP reset; Open MPI and ssh then wait for keep-alive
//! timeouts of many minutes. Heartbeats are ordinary MPI messages on a communicator of their
//! own, so this works whatever launched the job (ssh from mpirun, or Slurm). They are sent
//! between tasks, from the thread that computes: no MPI thread support is needed, and a
//! rank stuck in a task is, to rank 0, as silent as a dead one (the timeout grows with the
//! longest task seen, so slow tasks are not mistaken for dead hosts).

use mpi::point_to_point::{Message, Status};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// Worker → rank 0: "still alive" (empty message).
const TAG_BEAT: i32 = 11;
/// Worker → rank 0: "finished; here is my record count" (one u64).
const TAG_DONE: i32 = 12;
/// Seconds between heartbeats.
pub const BEAT_EVERY_S: f64 = 1.0;
/// A rank silent for this many times its longest task is also presumed dead.
const SLOWEST_TASKS: f64 = 4.0;

/// The time limit and the heartbeat timeout. Each rank holds the deadline on its own clock,
/// counted from the same barrier, so all stop starting tasks at about the same moment.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// This rank's `mpi::time()` after which no new task starts (`--time-limit`), if any.
    pub deadline: Option<f64>,
    /// Seconds of silence after which rank 0 presumes a rank dead (`--heartbeat-timeout`).
    pub silence_s: f64,
}

impl Limits {
    /// True once the time limit has passed at `now` (`mpi::time()`, seconds).
    pub fn expired(&self, now: f64) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

/// A worker's side: a heartbeat at most every `BEAT_EVERY_S`, and a last word when done.
pub struct Beacon<'a> {
    comm: &'a SimpleCommunicator,
    next_at: f64,
}

impl<'a> Beacon<'a> {
    pub fn new(comm: &'a SimpleCommunicator) -> Self {
        Beacon {
            comm,
            next_at: mpi::time() + BEAT_EVERY_S,
        }
    }

    /// Call between tasks: sends a heartbeat when one is due (one clock read otherwise).
    #[inline]
    pub fn tick(&mut self) {
        let now = mpi::time();
        if now >= self.next_at {
            self.next_at = now + BEAT_EVERY_S;
            let none: [u8; 0] = [];
            // Empty messages go eagerly: this returns at once even if rank 0 is busy.
            self.comm
                .process_at_rank(0)
                .send_with_tag(&none[..], TAG_BEAT);
        }
    }

    /// Tells rank 0 this rank has finished with `records` records to gather.
    pub fn done(self, records: u64) {
        self.comm
            .process_at_rank(0)
            .send_with_tag(&records, TAG_DONE);
    }
}

/// A rank presumed dead, as seen by rank 0: silent for longer than the heartbeat timeout.
#[derive(Clone, Debug, PartialEq)]
pub struct Silent {
    /// The silent rank.
    pub rank: i32,
    /// Seconds since it was last heard from.
    pub silent_s: f64,
}

/// Rank 0's side: when each rank was last heard from, and which have finished.
pub struct Monitor<'a> {
    comm: &'a SimpleCommunicator,
    limits: Limits,
    last_seen: Vec<f64>,
    /// Record count announced by each finished rank (rank 0's own slot stays `None`).
    done: Vec<Option<u64>>,
    /// Longest single task seen so far, seconds.
    longest_task_s: f64,
}

impl<'a> Monitor<'a> {
    pub fn new(comm: &'a SimpleCommunicator, limits: Limits) -> Self {
        let size = comm.size() as usize;
        Monitor {
            comm,
            limits,
            last_seen: vec![mpi::time(); size],
            done: vec![None; size],
            longest_task_s: 0.0,
        }
    }

    /// Notes that `rank` was heard from on another channel (e.g. a work request).
    pub fn heard(&mut self, rank: i32) {
        self.last_seen[rank as usize] = mpi::time();
    }

    /// Notes a task's duration, which stretches the silence allowed.
    #[inline]
    pub fn task_took(&mut self, seconds: f64) {
        self.longest_task_s = self.longest_task_s.max(seconds);
    }

    /// Drains heartbeats and checks every unfinished rank's silence.
    pub fn poll(&mut self) -> Result<(), Silent> {
        while let Some((msg, status)) = self.comm.any_process().immediate_matched_probe() {
            self.receive(msg, status);
        }
        let now = mpi::time();
        let allowed = self
            .limits
            .silence_s
            .max(SLOWEST_TASKS * self.longest_task_s);
        for rank in 1..self.last_seen.len() {
            let silent_s = now - self.last_seen[rank];
            if self.done[rank].is_none() && silent_s > allowed {
                return Err(Silent {
                    rank: rank as i32,
                    silent_s,
                });
            }
        }
        Ok(())
    }

    fn receive(&mut self, msg: Message, status: Status) {
        let rank = status.source_rank();
        self.last_seen[rank as usize] = mpi::time();
        if status.tag() == TAG_DONE {
            let (count, _) = msg.matched_receive::<u64>();
            self.done[rank as usize] = Some(count);
        } else {
            let (_, _) = (msg, status).matched_receive_vec::<u8>();
        }
    }

    /// Waits, still watching, until every other rank has said it is done; returns the record
    /// count of each rank (rank 0's own is `own`).
    pub fn wait_all_done(&mut self, own: u64) -> Result<Vec<u64>, Silent> {
        loop {
            self.poll()?;
            if self.done.iter().skip(1).all(Option::is_some) {
                let mut counts: Vec<u64> = self.done.iter().map(|c| c.unwrap_or(0)).collect();
                counts[0] = own;
                return Ok(counts);
            }
            // Rank 0 has nothing else to do; don't burn the core a worker may share with it.
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
}

/// Shortest wait of `grace_before_abort`, seconds.
pub const MIN_ABORT_GRACE_S: f64 = 10.0;

/// Rank 0, after saving what a lost rank left, waits `max(--heartbeat-timeout, 10 s)` before
/// `MPI_Abort`, so that the launcher's own failure detection gets the first word.
///
/// Why: when the lost rank's host is unreachable (link down, power cut: no TCP reset), an
/// `MPI_Abort` makes Open MPI's mpirun send "kill" and "exit" orders down its TCP connection to
/// that host's orted and wait for the connection to end. Unacknowledged data switches TCP
/// keep-alive off, so the connection only fails when retransmission gives up (~15 min by
/// default); mpirun waited that long even after its ssh session to the host had ended
/// (measured with Open MPI 4.1). Had nobody aborted, a launcher that watches its daemons
/// (mpirun with `oob_tcp_keepalive_*` set, Slurm) declares the host dead and ends the job
/// itself. So let it: the results are already saved. If the launcher stays silent (the host is
/// up but the rank is stuck), we abort after the grace, and mpirun can reach every daemon.
pub fn grace_before_abort(heartbeat_timeout_s: f64) {
    let grace = heartbeat_timeout_s.max(MIN_ABORT_GRACE_S);
    std::thread::sleep(std::time::Duration::from_secs_f64(grace));
}
