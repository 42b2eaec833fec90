//! `cluster-bench net`: every ordered pair of hosts' latency and bandwidth, the pairs measured
//! in the concurrent rounds of a round-robin tournament, slow hosts and links flagged by name.

pub mod measure;
pub mod options;
pub mod report;
pub mod rounds;
pub mod save;
pub mod schema;
pub mod table;

use std::process::ExitCode;

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::record::Environment;
use crate::util::clock::unix_now_s;
use crate::util::exit;
use crate::util::host;
use crate::util::launch;
use measure::Hosts;
pub use options::{NetArgs, NetOptions, NetOptionsError};
use schema::{Context, NetReport};

/// Runs `net` on every rank and returns this rank's exit code.
pub fn run(world: &SimpleCommunicator, opts: &NetOptions) -> ExitCode {
    let rank0 = world.rank() == 0;
    // Rank 0 opens its output files first, so an unwritable --out fails before any traffic.
    let started_unix_s = unix_now_s();
    let outputs =
        match launch::agree_to_start(world, || save::NetOutputs::prepare(opts, started_unix_s)) {
            Ok(prepared) => prepared.flatten(),
            Err(code) => return ExitCode::from(code),
        };
    let names = measure::host_names(world, &host::facts().name);
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
            environment: Environment::collect(started_unix_s, Vec::new()),
        },
        &measured,
    );
    if opts.output.json {
        print!("{}", String::from_utf8_lossy(&report.to_json()));
    } else {
        print!("{}", table::table(&report));
    }
    if let Some(out) = outputs {
        match out.finish(&report) {
            Ok(path) if !opts.output.quiet => eprintln!("# saved {} and .csv", path.display()),
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
