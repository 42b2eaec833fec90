//! Failure detection and the time limit: workers send heartbeats to rank 0, which notices a
//! rank gone silent (a host switched off, a cable pulled) long before TCP would.
//!
//! A host that loses power sends no TCP reset; Open MPI and ssh then wait for keep-alive
//! timeouts of many minutes. Heartbeats are ordinary MPI messages on a communicator of their
//! own, so this works whatever launched the job (ssh from mpirun, or Slurm). They are sent
//! between tasks, from the thread that computes: no MPI thread support is needed, and a
//! rank stuck in a task is, to rank 0, as silent as a dead one (the timeout grows with the
//! longest task seen, so slow tasks are not mistaken for dead hosts).
//!
//! Beats carry the records finished since the last one, so rank 0 holds every record more
//! than a second old in either schedule. Rank 0 beats back; a worker's watchdog thread ends
//! the worker when rank 0 falls silent, even if mpirun can no longer tell it to.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mpi::point_to_point::{Message, Status};
use mpi::request::{Request, StaticScope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::outbox::Outbox;
use crate::record::TaskRecord;

/// Worker → rank 0: "still alive", with the records finished since the last beat.
const TAG_BEAT: i32 = 11;
/// Worker → rank 0: "finished", with its last records.
const TAG_DONE: i32 = 12;
/// Rank 0 → worker: "still alive" (empty message).
const TAG_ROOT_BEAT: i32 = 13;
/// Rank 0 → worker: "every rank is done; finalize" (empty message).
const TAG_BYE: i32 = 14;
/// Seconds between heartbeats.
pub const BEAT_EVERY_S: f64 = 1.0;
/// Most records in one message to rank 0: 64 × 56 bytes stay under the smallest eager limit of
/// the usual transports (4 KB, Open MPI's shared memory), so a send returns at once. A larger
/// message is sent by rendezvous, which waits until rank 0 receives it: hundreds of ranks
/// beating at the same second then queued behind one another for tens of milliseconds each.
pub const RECORDS_PER_MESSAGE: usize = 64;
/// After a signal, rank 0 waits this long for the workers' last records before saving, seconds.
const DRAIN_ON_SIGNAL_S: f64 = 0.3;
/// After a signal, a worker that sent its last records exits this much later, seconds.
const LEAVE_AFTER_S: f64 = 2.0;
/// Longest nap of a finished worker waiting for rank 0's goodbye.
const DONE_NAP_MAX: Duration = Duration::from_millis(20);
/// Seconds between rank 0's scans of every rank's silence (timeouts are whole seconds).
const SCAN_EVERY_S: f64 = 0.1;
/// A rank silent for this many times its longest task is also presumed dead.
const SLOWEST_TASKS: f64 = 4.0;

/// Why rank 0 stopped before every rank was done.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// A rank fell silent.
    Lost(Silent),
    /// SIGINT or SIGTERM (the signal number) reached rank 0.
    Signal(i32),
}

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

/// A worker's side: a heartbeat carrying its new records at most every `BEAT_EVERY_S`, its
/// last records when done; and it listens for rank 0's beats, which a watchdog thread checks.
pub struct Beacon<'a> {
    comm: &'a SimpleCommunicator,
    next_at: f64,
    /// Records finished since the last beat.
    pending: Vec<TaskRecord>,
    /// Beats (and a dynamic worker's requests) on their way to rank 0.
    outbox: Outbox,
}

impl<'a> Beacon<'a> {
    /// Starts the watchdog: rank 0 silent for `silence_s` (or 4× this rank's longest task)
    /// ends this process.
    pub fn new(comm: &'a SimpleCommunicator, silence_s: f64) -> Self {
        watchdog::start(silence_s);
        Beacon {
            comm,
            next_at: mpi::time() + BEAT_EVERY_S,
            pending: Vec::new(),
            outbox: Outbox::default(),
        }
    }

    /// A finished task whose record goes to rank 0 with the next beat (at once when a
    /// message's worth is pending).
    pub fn record(&mut self, rec: TaskRecord) {
        self.pending.push(rec);
        if self.pending.len() >= RECORDS_PER_MESSAGE {
            self.next_at = mpi::time();
        }
        self.took(rec.seconds);
    }

    /// Starts sending `records` to rank 0 as heartbeats of at most `RECORDS_PER_MESSAGE` each.
    pub fn forward(&mut self, records: &[TaskRecord]) {
        for piece in records.chunks(RECORDS_PER_MESSAGE) {
            self.outbox.send(self.comm, TAG_BEAT, piece);
        }
    }

    /// Starts sending `records` to rank 0 of `comm` with `tag` (a dynamic worker's request)
    /// behind the beats already on their way.
    pub fn send(&mut self, comm: &SimpleCommunicator, tag: i32, records: &[TaskRecord]) {
        self.outbox.send(comm, tag, records);
    }

    /// Sends the pending records, the last message (possibly empty) tagged `tag`.
    fn send_pending(&mut self, tag: i32) {
        let pending = std::mem::take(&mut self.pending);
        let last = pending.len().saturating_sub(1) / RECORDS_PER_MESSAGE * RECORDS_PER_MESSAGE;
        self.forward(&pending[..last]);
        self.outbox.send(self.comm, tag, &pending[last..]);
    }

    /// A finished task (its record travels otherwise): a long one stretches the silence this
    /// rank allows rank 0, whose tasks are as long.
    pub fn took(&mut self, seconds: f64) {
        watchdog::task_took(seconds);
        self.tick();
    }

    /// Call between tasks: hears rank 0, and sends a heartbeat when one is due (one clock
    /// read otherwise). On SIGINT/SIGTERM, sends what is pending and leaves (see `leave`).
    #[inline]
    pub fn tick(&mut self) {
        if crate::util::interrupt::received().is_some() {
            self.leave(&[]);
        }
        let now = mpi::time();
        if now >= self.next_at {
            self.next_at = now + BEAT_EVERY_S;
            self.listen();
            self.send_pending(TAG_BEAT);
        }
        self.outbox.reap();
    }

    /// Drains rank 0's beats; true once rank 0 said goodbye.
    pub fn listen(&mut self) -> bool {
        let root = self.comm.process_at_rank(0);
        while let Some((msg, status)) = root.immediate_matched_probe() {
            let (_, _) = (msg, status).matched_receive_vec::<u8>();
            watchdog::heard();
            if status.tag() == TAG_BYE {
                watchdog::disarm();
                return true;
            }
        }
        false
    }

    /// Sends rank 0 this rank's last records, then waits (hearing rank 0) until every rank is
    /// done, so no rank sits in `MPI_Finalize` unwatched.
    pub fn done(mut self) {
        self.send_pending(TAG_DONE);
        self.outbox.flush();
        // Naps that grow to DONE_NAP_MAX: hundreds of finished ranks checking every
        // millisecond would take the cores from the ranks still at work and from rank 0.
        super::naps_until(Duration::from_millis(1), DONE_NAP_MAX, || {
            if self.listen() {
                return Some(());
            }
            if crate::util::interrupt::received().is_some() {
                self.leave(&[]);
            }
            None
        });
    }

    /// After SIGINT/SIGTERM (mpirun sends SIGTERM to every rank at once): hands rank 0 the
    /// records it has not seen (pending ones and `unsent`), which rank 0 waits a moment for
    /// before saving, then exits. Dying of the signal at once would make mpirun kill rank 0
    /// before it had saved.
    pub fn leave(&mut self, unsent: &[TaskRecord]) -> ! {
        self.pending.extend_from_slice(unsent);
        self.send_pending(TAG_DONE);
        // Rank 0 saves and exits; mpirun's SIGKILL follows a second after its SIGTERM.
        // Meanwhile MPI needs calls to get the records out.
        let end = mpi::time() + LEAVE_AFTER_S;
        while mpi::time() < end {
            self.outbox.reap();
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: _exit ends the process without MPI_Finalize, which would wait for rank 0.
        unsafe { libc::_exit(i32::from(crate::util::exit::INTERRUPTED)) }
    }
}

/// A worker's watchdog thread: the only way out when rank 0's host dies and the main thread is
/// stuck inside MPI (only the main thread ever calls MPI; this one reads two atomics).
mod watchdog {
    use super::*;

    static LAST_HEARD_MS: AtomicU64 = AtomicU64::new(0);
    static ALLOWED_MS: AtomicU64 = AtomicU64::new(u64::MAX);
    static DISARMED: AtomicBool = AtomicBool::new(false);

    fn now_ms() -> u64 {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    pub fn start(silence_s: f64) {
        heard();
        ALLOWED_MS.store((silence_s * 1e3) as u64, Ordering::Relaxed);
        std::thread::spawn(|| {
            while !DISARMED.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let silent = now_ms().saturating_sub(LAST_HEARD_MS.load(Ordering::Relaxed));
                if silent > ALLOWED_MS.load(Ordering::Relaxed) && !DISARMED.load(Ordering::Relaxed)
                {
                    eprintln!(
                        "cluster-bench: rank 0 has not been heard from for {:.1} s: presuming \
                         its host down; this rank exits",
                        silent as f64 / 1e3
                    );
                    // SAFETY: _exit ends the process at once; nothing is shared with the main
                    // thread that needs tidying (a rank's records are rank 0's to keep).
                    unsafe { libc::_exit(i32::from(crate::util::exit::ROOT_LOST)) };
                }
            }
        });
    }

    pub fn heard() {
        LAST_HEARD_MS.store(now_ms(), Ordering::Relaxed);
    }

    /// A long task of rank 0's delays its beats: allow 4× the longest task seen here.
    pub fn task_took(seconds: f64) {
        let ms = (SLOWEST_TASKS * seconds * 1e3) as u64;
        ALLOWED_MS.fetch_max(ms, Ordering::Relaxed);
    }

    pub fn disarm() {
        DISARMED.store(true, Ordering::Relaxed);
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

/// Rank 0's side: when each rank was last heard from, which have finished; its own beats.
pub struct Monitor<'a> {
    comm: &'a SimpleCommunicator,
    limits: Limits,
    last_seen: Vec<f64>,
    /// Ranks that said they are done (rank 0's own slot stays false).
    done: Vec<bool>,
    /// Longest single task seen so far, seconds.
    longest_task_s: f64,
    /// When rank 0 next tells the workers it is alive.
    next_beat_at: f64,
    /// Its beats still in flight.
    root_beats: RootBeats,
    /// When rank 0 next looks for silent ranks (an O(ranks) scan, so not on every poll).
    next_scan_at: f64,
}

impl<'a> Monitor<'a> {
    pub fn new(comm: &'a SimpleCommunicator, limits: Limits) -> Self {
        let size = comm.size() as usize;
        Monitor {
            comm,
            limits,
            last_seen: vec![mpi::time(); size],
            done: vec![false; size],
            longest_task_s: 0.0,
            next_beat_at: mpi::time(),
            root_beats: RootBeats::new(size),
            next_scan_at: mpi::time(),
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

    /// Drains heartbeats (keeping the records they carry in `sink`), beats to the workers when
    /// due, and stops on a signal or on a rank's silence.
    pub fn poll(&mut self, sink: &mut Vec<TaskRecord>) -> Result<(), Stop> {
        while let Some((msg, status)) = self.comm.any_process().immediate_matched_probe() {
            self.receive(msg, status, sink);
        }
        if let Some(sig) = crate::util::interrupt::received() {
            self.drain_last_words(sink);
            return Err(Stop::Signal(sig));
        }
        let now = mpi::time();
        if now >= self.next_beat_at {
            self.next_beat_at = now + BEAT_EVERY_S;
            self.root_beats.beat(self.comm, None);
        }
        if now < self.next_scan_at {
            return Ok(());
        }
        self.next_scan_at = now + SCAN_EVERY_S;
        let allowed = self
            .limits
            .silence_s
            .max(SLOWEST_TASKS * self.longest_task_s);
        for rank in 1..self.last_seen.len() {
            let silent_s = now - self.last_seen[rank];
            if !self.done[rank] && silent_s > allowed {
                return Err(Stop::Lost(Silent {
                    rank: rank as i32,
                    silent_s,
                }));
            }
        }
        Ok(())
    }

    fn receive(&mut self, msg: Message, status: Status, sink: &mut Vec<TaskRecord>) {
        let rank = status.source_rank();
        self.last_seen[rank as usize] = mpi::time();
        let (records, _) = (msg, status).matched_receive_vec::<TaskRecord>();
        sink.extend_from_slice(&records);
        if status.tag() == TAG_DONE {
            self.done[rank as usize] = true;
        }
    }

    /// After a signal: the workers got it too and send their last records; keeps those that
    /// come within `DRAIN_ON_SIGNAL_S`.
    fn drain_last_words(&mut self, sink: &mut Vec<TaskRecord>) {
        let end = mpi::time() + DRAIN_ON_SIGNAL_S;
        while !self.all_done() && mpi::time() < end {
            while let Some((msg, status)) = self.comm.any_process().immediate_matched_probe() {
                self.receive(msg, status, sink);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// True once every other rank has said it is done.
    pub fn all_done(&self) -> bool {
        self.done.iter().skip(1).all(|&d| d)
    }

    /// Lets every worker go to `MPI_Finalize` (call once all are done).
    pub fn bye(&mut self) {
        self.root_beats.flush();
        let none: [u8; 0] = [];
        for rank in 1..self.comm.size() {
            self.comm
                .process_at_rank(rank)
                .send_with_tag(&none[..], TAG_BYE);
        }
    }
}

/// Rank 0's beats to the workers, sent without waiting. A blocking send, even of an empty
/// message, can wait for good on a rank whose host has just died: Open MPI's TCP transport
/// finds the connection broken and queues the message behind a reconnect that never succeeds.
/// Rank 0 would then beat no one, every worker's watchdog would presume rank 0 dead, and no
/// one would name the host that really died (seen under srun, where no launcher does it).
struct RootBeats {
    /// The beat in flight to each rank (index 0, rank 0 itself, stays empty).
    pending: Vec<Option<Request<'static, [u8]>>>,
}

/// The empty message of a beat.
static NO_DATA: [u8; 0] = [];

impl RootBeats {
    fn new(size: usize) -> Self {
        RootBeats {
            pending: (0..size).map(|_| None).collect(),
        }
    }

    /// Tells every worker but `skip` that rank 0 is alive; one whose last beat is still in
    /// flight (a dead host's rank, which never takes it) gets none.
    fn beat(&mut self, comm: &SimpleCommunicator, skip: Option<i32>) {
        for rank in (1..comm.size()).filter(|&r| Some(r) != skip) {
            let slot = &mut self.pending[rank as usize];
            if let Some(req) = slot.take()
                && let Err(req) = req.test()
            {
                *slot = Some(req);
                continue;
            }
            let to = comm.process_at_rank(rank);
            *slot = Some(to.immediate_send_with_tag(StaticScope, &NO_DATA[..], TAG_ROOT_BEAT));
        }
    }

    /// Waits until every beat in flight has gone (every worker is alive: it said it is done).
    fn flush(&mut self) {
        for req in self.pending.iter_mut().filter_map(Option::take) {
            req.wait();
        }
    }
}

impl Drop for RootBeats {
    /// Beats still in flight when rank 0 stops early (a rank lost, a signal) are left to
    /// `MPI_Abort` or `MPI_Finalize`: their buffer is static, and waiting for a dead rank would
    /// never end.
    fn drop(&mut self) {
        for req in self.pending.iter_mut().filter_map(Option::take) {
            if let Err(req) = req.test() {
                std::mem::forget(req);
            }
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
///
/// Rank 0 keeps beating to the surviving workers meanwhile, and takes (and drops: what was
/// saved is saved) whatever they send, so none waits inside MPI with its watchdog firing.
pub fn grace_before_abort(
    world: &SimpleCommunicator,
    beats: &SimpleCommunicator,
    lost: i32,
    heartbeat_timeout_s: f64,
) {
    let end = mpi::time() + heartbeat_timeout_s.max(MIN_ABORT_GRACE_S);
    let mut next_beat_at = mpi::time();
    let mut root_beats = RootBeats::new(beats.size() as usize);
    while mpi::time() < end {
        for comm in [world, beats] {
            while let Some(probed) = comm.any_process().immediate_matched_probe() {
                let _ = probed.matched_receive_vec::<TaskRecord>();
            }
        }
        if mpi::time() >= next_beat_at {
            next_beat_at += BEAT_EVERY_S;
            root_beats.beat(beats, Some(lost));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
