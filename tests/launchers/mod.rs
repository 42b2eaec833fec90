//! Shared by the tests of other launchers on the test hosts (Slurm, MPICH's Hydra): the
//! reference run, and the checks that a run used every host and got the reference checksum.

#![allow(dead_code)] // each test binary uses a different part of this module

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::common;

/// The workload of the cross-launcher runs: small enough for a few seconds on 6 ranks.
pub const WORKLOAD: [&str; 6] = ["--tasks", "300", "--dim", "40", "--seed", "11"];
pub const TASKS: u64 = 300;

/// The checksum of WORKLOAD run by one process of the Open MPI binary on this machine.
pub fn reference_checksum() -> f64 {
    let v = common::json(&common::bench(
        &[&WORKLOAD[..], &["--json", "--no-save", "--quiet"]].concat(),
    ));
    v["checksum"].as_f64().expect("checksum")
}

/// Every `*.json` in `dir` (not recursive), sorted by name.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
}

pub fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path:?}: not JSON ({e})"))
}

/// The one complete run JSON in `dir`.
pub fn only_run_json(dir: &Path) -> Value {
    let files = json_files(dir);
    assert_eq!(files.len(), 1, "one run JSON in {dir:?}: {files:?}");
    read_json(&files[0])
}

/// A finished WORKLOAD run on the 3 test hosts × 2 ranks: every host named with 2 ranks, every
/// task done once, and the checksum bit-identical to the one-process reference.
pub fn assert_three_hosts(v: &Value, reference: f64, what: &str) {
    assert_eq!(v["ranks"], 6, "{what}: ranks");
    assert_eq!(v["complete"], true, "{what}: complete");
    let hosts = v["hosts"].as_array().expect("hosts array");
    let names: BTreeSet<&str> = hosts.iter().filter_map(|h| h["name"].as_str()).collect();
    let want: BTreeSet<&str> = ["cbhost1", "cbhost2", "cbhost3"].into();
    assert_eq!(names, want, "{what}: hosts {hosts:?}");
    for h in hosts {
        assert_eq!(h["ranks"], 2, "{what}: ranks on {}", h["name"]);
    }
    let tasks: u64 = hosts.iter().filter_map(|h| h["tasks"].as_u64()).sum();
    assert_eq!(tasks, TASKS, "{what}: tasks over the hosts");
    let got = v["checksum"].as_f64().expect("checksum");
    assert_eq!(
        got.to_bits(),
        reference.to_bits(),
        "{what}: checksum {got} differs from the 1-process reference {reference}"
    );
}

/// The MPI library line a run's JSON reports.
pub fn mpi_library(v: &Value) -> String {
    v["environment"]["mpi_library"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
