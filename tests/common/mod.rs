//! Shared helpers of the integration tests: the real binary under the real `mpirun`.
#![allow(dead_code)] // each test binary uses a different part

use std::process::{Command, Output};
use std::sync::Mutex;

/// The machine has 2 cores: one MPI job at a time keeps oversubscribed runs from starving.
pub static MPI_LOCK: Mutex<()> = Mutex::new(());

pub const BIN: &str = env!("CARGO_BIN_EXE_cluster-bench");

/// Environment every MPI launch here needs: CI runs as root; ob1 skips slow transport probing.
pub fn mpi_env(cmd: &mut Command) -> &mut Command {
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_pml", "ob1")
        .env("OMPI_MCA_btl", "self,vader,tcp")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
}

/// `mpirun -np N cluster-bench ARGS…`, serialised with other MPI jobs of this test binary.
pub fn mpirun(np: usize, args: &[&str]) -> Output {
    let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd)
        .args(["-np", &np.to_string(), "--oversubscribe", BIN])
        .args(args);
    cmd.output().expect("mpirun runs (is Open MPI installed?)")
}

/// The binary alone (an MPI singleton).
pub fn bench(args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    mpi_env(&mut cmd).args(args);
    cmd.output().expect("binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses a run's `--json` output, failing with everything the run printed.
pub fn json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "run failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", stdout(o)))
}
