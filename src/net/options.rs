//! `cluster-bench net`'s flags and their validation into `NetOptions` (every rank, before MPI).

use clap::Args;
use serde::Serialize;

use crate::options::{BadLabel, Output, OutputArgs, label_default};

/// Measure every pair of hosts: latency (small-message ping-pong) and bandwidth (large
/// messages), pairs in concurrent rounds; one rank per host takes part, the others wait.
#[derive(Debug, Args)]
#[command(mut_arg("label", label_default("net")))]
pub struct NetArgs {
    /// Bytes of each ping-pong message of the latency test.
    #[arg(long, default_value_t = 8, value_name = "BYTES")]
    pub latency_size: usize,

    /// Timed round trips per ordered pair (after 10 untimed ones); the latency is the median
    /// of their halves.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub latency_repeats: usize,

    /// Bytes of each message of the bandwidth test.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub bandwidth_size: usize,

    /// Messages in flight at once (one window, then the receiver's acknowledgement).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub window: usize,

    /// Timed windows per ordered pair continue until this many seconds have passed (at least
    /// one window, after one untimed message).
    #[arg(long, default_value_t = 0.25, value_name = "SECONDS")]
    pub bandwidth_seconds: f64,

    /// A host or link is flagged when its bandwidth is under 1/F, or its latency over F times,
    /// the typical host's best.
    #[arg(long, default_value_t = 3.0, value_name = "F")]
    pub slow_factor: f64,

    /// --out, --no-save, --label, --json, --quiet.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Untimed round trips before the timed ones: the first message between two hosts opens
/// Open MPI's TCP connection, which costs milliseconds.
pub const LATENCY_WARMUP: usize = 10;
/// Untimed large messages before the timed windows (connection set-up, TCP slow start).
pub const BANDWIDTH_WARMUP: usize = 1;

const MAX_MESSAGE: usize = 1 << 28;

/// Validated `net` options.
#[derive(Clone, Debug, Serialize)]
pub struct NetOptions {
    /// Bytes per latency message.
    pub latency_bytes: usize,
    /// Timed round trips per ordered pair.
    pub latency_repeats: usize,
    /// Untimed round trips first.
    pub latency_warmup: usize,
    /// Bytes per bandwidth message.
    pub bandwidth_bytes: usize,
    /// Messages per window.
    pub bandwidth_window: usize,
    /// Timed windows continue until this many seconds.
    pub bandwidth_s: f64,
    /// Untimed large messages first.
    pub bandwidth_warmup: usize,
    /// "Far slower" factor.
    pub slow_factor: f64,
    /// Where and how the result is reported (not part of the JSON's `config`).
    #[serde(skip)]
    pub output: Output,
}

/// A `net` flag value a user can fix; the message names the flag.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NetOptionsError {
    #[error("--{flag} must be between {min} and {max} (got {got})")]
    OutOfRange {
        flag: &'static str,
        min: usize,
        max: usize,
        got: usize,
    },
    #[error("--bandwidth-seconds must be a positive number of seconds up to 60 (got {0})")]
    BadSeconds(f64),
    #[error("--slow-factor must be a number above 1 (got {0})")]
    BadFactor(f64),
    #[error(transparent)]
    Label(#[from] BadLabel),
}

fn in_range(
    flag: &'static str,
    got: usize,
    min: usize,
    max: usize,
) -> Result<usize, NetOptionsError> {
    if (min..=max).contains(&got) {
        Ok(got)
    } else {
        Err(NetOptionsError::OutOfRange {
            flag,
            min,
            max,
            got,
        })
    }
}

impl NetArgs {
    /// Checks every flag; touches no file and no MPI.
    pub fn validate(self) -> Result<NetOptions, NetOptionsError> {
        let s = self.bandwidth_seconds;
        if !(s.is_finite() && s > 0.0 && s <= 60.0) {
            return Err(NetOptionsError::BadSeconds(s));
        }
        let f = self.slow_factor;
        if !(f.is_finite() && f > 1.0) {
            return Err(NetOptionsError::BadFactor(f));
        }
        Ok(NetOptions {
            latency_bytes: in_range("latency-size", self.latency_size, 1, 1 << 20)?,
            latency_repeats: in_range("latency-repeats", self.latency_repeats, 1, 100_000)?,
            latency_warmup: LATENCY_WARMUP,
            bandwidth_bytes: in_range("bandwidth-size", self.bandwidth_size, 1, MAX_MESSAGE)?,
            bandwidth_window: in_range("window", self.window, 1, 64)?,
            bandwidth_s: s,
            bandwidth_warmup: BANDWIDTH_WARMUP,
            slow_factor: f,
            output: self.output.validate()?,
        })
    }
}

/// `net ARGS…` parsed and validated, for unit tests.
#[cfg(test)]
pub fn parse(args: &[&str]) -> Result<NetOptions, NetOptionsError> {
    crate::options::parse_flags::<NetArgs>("net", args).validate()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn defaults_validate() {
        let o = parse(&[]).unwrap();
        assert_eq!(
            (o.latency_bytes, o.bandwidth_bytes, o.bandwidth_window),
            (8, 1 << 20, 4)
        );
        assert_eq!(o.output.out, Some(PathBuf::from("results")));
        assert_eq!(o.output.label, "net");
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (&["--latency-size", "0"][..], "--latency-size"),
            (&["--latency-repeats", "0"], "--latency-repeats"),
            (&["--bandwidth-size", "0"], "--bandwidth-size"),
            (&["--window", "65"], "--window"),
            (&["--bandwidth-seconds", "0"], "--bandwidth-seconds"),
            (&["--bandwidth-seconds", "NaN"], "--bandwidth-seconds"),
            (&["--slow-factor", "1"], "--slow-factor"),
            (&["--label", "a/b"], "--label"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.to_string().contains(flag), "{args:?}: {e}");
        }
        assert_eq!(parse(&["--no-save"]).unwrap().output.out, None);
    }
}
