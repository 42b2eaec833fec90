//! What the binary writes: created with the user's umask, never through a planted symlink.

mod common;

use std::os::unix::fs::{MetadataExt, symlink};
use std::process::Command;

use common::{BIN, mpi_env, stderr};

/// Runs the binary as an MPI singleton under `umask MASK`.
fn run_with_umask(mask: &str, out: &str) -> std::process::Output {
    let mut cmd = Command::new("sh");
    mpi_env(&mut cmd)
        .arg("-c")
        .arg(format!("umask {mask} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["--tasks", "3", "--dim", "6", "--quiet", "--out", out]);
    cmd.output().unwrap()
}

#[test]
fn files_follow_the_users_umask() {
    for (mask, mode) in [("077", 0o600), ("022", 0o644)] {
        let dir = tempfile::tempdir().unwrap();
        let o = run_with_umask(mask, dir.path().to_str().unwrap());
        assert!(o.status.success(), "{}", stderr(&o));
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        // runs.csv, the run's JSON and its journal: an empty folder would pass the loop below.
        assert_eq!(files.len(), 3, "{files:?}");
        for e in files {
            let m = e.metadata().unwrap().mode() & 0o777;
            assert_eq!(m, mode, "{:?} under umask {mask}", e.file_name());
        }
    }
}

#[test]
fn a_symlink_planted_as_runs_csv_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, b"do not touch\n").unwrap();
    let out = dir.path().join("results");
    std::fs::create_dir(&out).unwrap();
    symlink(&target, out.join("runs.csv")).unwrap();
    let o = run_with_umask("022", out.to_str().unwrap());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("runs.csv"));
    assert_eq!(std::fs::read(&target).unwrap(), b"do not touch\n");
    // Nothing else was written: the run stopped before computing.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}
