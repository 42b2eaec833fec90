//! The process exit codes, one place: every rank and every step of a run uses these.

/// Every task solved and checked.
pub const OK: u8 = 0;
/// The run finished but a task failed its check (reported before exiting).
pub const CHECK_FAILED: u8 = 1;
/// A flag, a file or the input is wrong: the message says which; nothing was computed.
pub const USAGE: u8 = 2;
/// Something failed at run time (I/O after the run).
pub const RUNTIME: u8 = 3;
/// `--time-limit` stopped the run before every task was done (what was done is saved).
pub const INCOMPLETE: u8 = 4;
/// A rank fell silent (its host died or was cut off); the job was aborted after saving.
pub const RANK_LOST: u8 = 5;
/// SIGINT or SIGTERM (Ctrl-C on mpirun, `scancel`, a Slurm time limit) stopped the run; what
/// was done is saved (`--resume` completes it).
pub const INTERRUPTED: u8 = 6;
/// A worker's rank 0 fell silent (its host died or was cut off): the worker exited by itself.
pub const ROOT_LOST: u8 = 7;
