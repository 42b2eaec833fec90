//! Process-level glue around MPI: which rank we are before MPI starts, flag errors printed
//! once, and a panic in any rank turned into a job-wide abort.

use std::process::ExitCode;

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::cli::OptionsError;
use crate::exit;

/// A command line that can't start a run.
#[derive(Debug)]
pub enum FlagError {
    /// clap's own: unknown flag, bad value, or `--help`/`--version` (not errors).
    Clap(clap::Error),
    /// A value clap accepted but the run can't use.
    Invalid(OptionsError),
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
            FlagError::Invalid(e) => {
                if rank == 0 {
                    eprintln!("cluster-bench: error: {e}");
                }
                ExitCode::from(exit::USAGE)
            }
        }
    }
}

/// This process's rank as the launcher announced it, read before MPI_Init (Open MPI, PMIx,
/// MPICH/Hydra, Slurm); 0 when started without a launcher.
pub fn rank_from_env() -> u32 {
    first_number_in_env(&[
        "OMPI_COMM_WORLD_RANK",
        "PMIX_RANK",
        "PMI_RANK",
        "SLURM_PROCID",
    ])
    .unwrap_or(0)
}

/// How many ranks of the job share this host, as the launcher announced it (Open MPI, Hydra,
/// Slurm); 1 when it did not say.
pub fn local_ranks_from_env() -> u32 {
    first_number_in_env(&[
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS_PER_NODE",
    ])
    .unwrap_or(1)
}

/// The value of the first of `keys` set to a whole number (each launcher has its own names).
fn first_number_in_env(keys: &[&str]) -> Option<u32> {
    keys.iter()
        .find_map(|k| std::env::var(k).ok()?.parse().ok())
}

/// A panic in one rank would otherwise leave the others blocked in a collective forever
/// (rsmpi issue #197): print the panic as usual, then abort the whole job.
pub fn abort_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!("cluster-bench: a rank panicked; aborting the MPI job");
        // SAFETY: MPI is initialised (the hook is installed after MPI_Init) and MPI_Abort
        // never returns.
        unsafe {
            mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, 70);
        }
    }));
}

/// Rank 0 prepares (opens files, reads inputs); one broadcast of the verdict makes every rank
/// go on, or stop with the same code (usage: the message names the file). Returns rank 0's
/// prepared state (`None` on other ranks).
pub fn agree_to_start<T>(
    world: &SimpleCommunicator,
    prepare: impl FnOnce() -> anyhow::Result<T>,
) -> Result<Option<T>, u8> {
    let (mut verdict, prepared) = if world.rank() == 0 {
        match prepare() {
            Ok(p) => (exit::OK, Some(p)),
            Err(e) => {
                eprintln!("cluster-bench: error: {e:#}");
                (exit::USAGE, None)
            }
        }
    } else {
        (exit::OK, None)
    };
    world.process_at_rank(0).broadcast_into(&mut verdict);
    if verdict == exit::OK {
        Ok(prepared)
    } else {
        Err(verdict)
    }
}
