//! Entry point: flags → `Options` before MPI starts, then one run; MPI finalizes on return.

use std::process::ExitCode;

use clap::Parser;
use cluster_bench::cli::{Args, FlagError, Job};
use cluster_bench::util::{exit, launch};
use cluster_bench::{bench, net};

fn main() -> ExitCode {
    // Parse and validate before MPI_Init: every rank gets the same flags, so every rank
    // reaches the same verdict and exits alike; only rank 0 says why.
    let job = match Args::try_parse()
        .map_err(FlagError::Clap)
        .and_then(Args::into_job)
    {
        Ok(o) => o,
        Err(e) => return e.report(launch::rank_from_env()),
    };
    launch::lend_enough_shared_memory_fragments();
    let slack = launch::CoarseTimers::where_ranks_share_cores();
    let Some(universe) = mpi::initialize() else {
        eprintln!("cluster-bench: error: MPI was already initialised");
        return ExitCode::from(exit::RUNTIME);
    };
    drop(slack);
    launch::abort_on_panic();
    let code = match &job {
        Job::Bench(opts) => bench::run(&universe.world(), opts),
        Job::Net(opts) => net::run(&universe.world(), opts),
    };
    let _slack = launch::CoarseTimers::where_ranks_share_cores();
    drop(universe); // MPI_Finalize
    code
}
