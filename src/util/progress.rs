//! Rank 0's progress line on stderr (tasks done/total, rate, ETA) for runs longer than a moment.

use std::io::{IsTerminal, Write};

/// Seconds of silence before the first progress line: short runs print none.
const QUIET_START_S: f64 = 2.0;
/// Seconds between updates on a terminal (redrawn in place) and in a log (one line each).
const TTY_EVERY_S: f64 = 0.5;
const LOG_EVERY_S: f64 = 10.0;

/// Throttled progress reporting: `update` is cheap (one clock read) unless a line is due.
pub struct Progress {
    enabled: bool,
    tty: bool,
    total: u64,
    t0: f64,
    next_at: f64,
    printed: bool,
}

impl Progress {
    /// `enabled` false (e.g. `--quiet`, or not rank 0) makes every call a no-op.
    pub fn new(enabled: bool, total: u64) -> Self {
        let t0 = mpi::time();
        Progress {
            enabled,
            tty: std::io::stderr().is_terminal(),
            total,
            t0,
            next_at: t0 + QUIET_START_S,
            printed: false,
        }
    }

    /// Reports `done` tasks (an estimate when `approx`, e.g. from rank 0's own share).
    #[inline]
    pub fn update(&mut self, done: u64, approx: bool) {
        if !self.enabled {
            return;
        }
        let now = mpi::time();
        if now < self.next_at {
            return;
        }
        self.next_at = now + if self.tty { TTY_EVERY_S } else { LOG_EVERY_S };
        let line = line(done.min(self.total), self.total, now - self.t0, approx);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        self.printed = true;
    }

    /// Ends the in-place line so the report starts on a fresh one.
    pub fn finish(&mut self) {
        if self.enabled && self.tty && self.printed {
            eprintln!();
        }
    }
}

/// `# progress 1200/2000 tasks (60%), 412.3 tasks/s, ETA 1.9 s`
pub fn line(done: u64, total: u64, elapsed_s: f64, approx: bool) -> String {
    let rate = if elapsed_s > 0.0 {
        done as f64 / elapsed_s
    } else {
        0.0
    };
    let eta = if rate > 0.0 {
        format!("{:.1} s", (total - done) as f64 / rate)
    } else {
        "?".into()
    };
    format!(
        "# progress {}{done}/{total} tasks ({}%), {rate:.1} tasks/s, ETA {eta}",
        if approx { "~" } else { "" },
        done * 100 / total.max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn progress_line_has_rate_and_eta() {
        assert_eq!(
            line(500, 2000, 2.0, false),
            "# progress 500/2000 tasks (25%), 250.0 tasks/s, ETA 6.0 s"
        );
        assert_eq!(
            line(0, 10, 3.0, true),
            "# progress ~0/10 tasks (0%), 0.0 tasks/s, ETA ?"
        );
    }
}
