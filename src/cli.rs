//! The command line as clap types: the benchmark's flags or a subcommand's, turned into a
//! validated `Job` on every rank before any MPI work; a flag error is said once, by rank 0.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::bench::options::{BenchArgs, OptionsError};
use crate::net::{NetArgs, NetOptions, NetOptionsError};
use crate::options::Options;
use crate::util::{exit, host};

/// Distributed eigenvalue benchmark: every rank computes the eigenvalues of seeded random
/// d×d matrices; rank 0 reports throughput, speedup, efficiency and per-host figures.
///
/// Run it under mpirun, e.g. `mpirun --hostfile hostfiles/localhost.txt cluster-bench`.
#[derive(Debug, Parser)]
#[command(version = version_text(), about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Without a subcommand: the eigenvalue benchmark.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The benchmark's flags.
    #[command(flatten)]
    pub bench: BenchArgs,
}

/// What `--version` says after the name: on the first line the build and the MPI library it
/// runs with (what must match on every host: discover.sh compares it), on the second this
/// host's architecture, C library and kernel SIMD path (what may differ).
fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let rev = env!("CLUSTER_BENCH_GIT_REV");
        let rev = if rev.is_empty() { "unknown" } else { rev };
        let simd =
            crate::kernel::select_simd_path().map_or("invalid CLUSTER_BENCH_SIMD", |p| p.name());
        format!(
            "{} (git {rev}, {})\n{}, glibc {}, kernel path {simd}",
            env!("CARGO_PKG_VERSION"),
            host::mpi_library(),
            std::env::consts::ARCH,
            host::glibc_version(),
        )
    })
}

/// What else cluster-bench can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Latency and bandwidth of every pair of hosts, in concurrent rounds; slow ones flagged.
    Net(NetArgs),
}

/// What a command line asks for, validated.
#[derive(Debug)]
pub enum Job {
    Bench(Options),
    Net(NetOptions),
}

impl Args {
    /// The subcommand's options, or the benchmark's.
    pub fn into_job(mut self) -> Result<Job, FlagError> {
        match self.command.take() {
            Some(Command::Net(net)) => net.validate().map(Job::Net).map_err(FlagError::Net),
            None => self
                .bench
                .validate()
                .map(Job::Bench)
                .map_err(FlagError::Bench),
        }
    }
}

/// A command line that can't start a run.
#[derive(Debug)]
pub enum FlagError {
    /// clap's own: unknown flag, bad value, or `--help`/`--version` (not errors).
    Clap(clap::Error),
    /// A benchmark flag value clap accepted but the run can't use.
    Bench(OptionsError),
    /// A `net` flag value clap accepted but the measurement can't use.
    Net(NetOptionsError),
}

impl FlagError {
    /// Prints the message on rank 0 only and returns the exit code every rank uses.
    pub fn report(self, rank: u32) -> ExitCode {
        match self {
            FlagError::Clap(e) => {
                let code = if e.use_stderr() {
                    exit::USAGE
                } else {
                    exit::OK
                };
                if rank == 0 {
                    let _ = e.print();
                }
                ExitCode::from(code)
            }
            FlagError::Bench(e) => invalid(&e, rank),
            FlagError::Net(e) => invalid(&e, rank),
        }
    }
}

/// A value the run can't use: said once, by rank 0.
fn invalid(e: &dyn std::fmt::Display, rank: u32) -> ExitCode {
    if rank == 0 {
        eprintln!("cluster-bench: error: {e}");
    }
    ExitCode::from(exit::USAGE)
}
