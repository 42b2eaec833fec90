//! `cluster-bench net`: every ordered pair of hosts' latency and bandwidth, the pairs measured
//! in the concurrent rounds of a round-robin tournament, slow hosts and links flagged by name.

pub mod measure;
pub mod options;
pub mod output;
pub mod rounds;
pub mod save;
pub mod schema;
pub mod stats;

use std::process::ExitCode;

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::app::exit;
use measure::Hosts;
pub use options::{NetArgs, NetOptions, NetOptionsError};
use schema::{Context, NetReport};

/// Runs `net` on every rank and returns this rank's exit code.
pub fn run(world: &SimpleCommunicator, opts: &NetOptions) -> ExitCode {
    let rank0 = world.rank() == 0;
    // Rank 0 opens its output files first, so an unwritable --out fails before any traffic.
    let started_unix_s = unix_now_s();
    let prepared = rank0.then(|| save::NetOutputs::prepare(opts, started_unix_s));
    let mut verdict = match &prepared {
        Some(Err(_)) => exit::USAGE,
        _ => exit::OK,
    };
    world.process_at_rank(0).broadcast_into(&mut verdict);
    if verdict != exit::OK {
        if let Some(Err(e)) = prepared {
            eprintln!("cluster-bench: error: {e:#}");
        }
        return ExitCode::from(verdict);
    }
    let names = measure::host_names(world, &crate::record::hostname());
    let hosts = Hosts::group(&names);
    if hosts.names.len() < 2 {
        if rank0 {
            say_no_pairs(&hosts, names.len());
        }
        return ExitCode::from(exit::OK);
    }
    let Some(measured) = measure::measure(world, &hosts, opts) else {
        return ExitCode::from(exit::OK); // rank 0 reports
    };
    let report = NetReport::new(
        Context {
            opts,
            hosts: &hosts,
            ranks: names.len(),
            started_at: crate::report::iso8601_utc(started_unix_s),
            mpi_library: mpi_library(),
            git_revision: Some(env!("CLUSTER_BENCH_GIT_REV").to_string()).filter(|s| !s.is_empty()),
        },
        &measured,
    );
    if opts.json {
        print!("{}", String::from_utf8_lossy(&report.to_json()));
    } else {
        print!("{}", output::table(&report));
    }
    if let Some(Ok(Some(out))) = prepared {
        match out.finish(&report) {
            Ok(path) if !opts.quiet => eprintln!("# saved {} and .csv", path.display()),
            Ok(_) => {}
            Err(e) => {
                eprintln!("cluster-bench: error: {e:#}");
                return ExitCode::from(exit::RUNTIME);
            }
        }
    }
    ExitCode::from(exit::OK)
}

/// One host: nothing to measure, which is not an error (a first try on one machine).
fn say_no_pairs(hosts: &Hosts, ranks: usize) {
    println!(
        "# cluster-bench v{} net: no pairs to measure: all {ranks} rank(s) run on one host ({})",
        env!("CARGO_PKG_VERSION"),
        hosts.names.join(", ")
    );
    eprintln!(
        "cluster-bench net: nothing measured, nothing saved: net measures the links between \
         hosts; start ranks on two or more hosts (mpirun --hostfile FILE cluster-bench net)"
    );
}

fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The MPI library's own version line up to its first comma, e.g. "Open MPI v4.1.4".
fn mpi_library() -> String {
    mpi::environment::library_version()
        .ok()
        .and_then(|v| v.split(',').next().map(|s| s.trim().to_string()))
        .unwrap_or_default()
}
