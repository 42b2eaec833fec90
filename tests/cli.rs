//! Bad input to the binary: a clear message naming the flag, exit code 2, nothing written.

mod common;

use common::{bench, stderr, stdout};
use serde_json::Value;

fn assert_usage_error(args: &[&str], needle: &str) {
    let o = bench(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(
        stderr(&o).contains(needle),
        "{args:?}: expected {needle:?} in:\n{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "{args:?} printed on stdout");
}

#[test]
fn zero_and_out_of_range_sizes() {
    assert_usage_error(&["--dim", "0"], "--dim must be at least 1");
    assert_usage_error(&["--tasks", "0"], "--tasks must be at least 1");
    assert_usage_error(&["--dim=-5"], "--dim");
    assert_usage_error(&["--tasks", "ten"], "--tasks");
    assert_usage_error(&["--dim", "100000"], "--dim 100000 is larger");
    assert_usage_error(&["--tasks", "99999999999"], "--tasks");
}

#[test]
fn more_memory_than_the_host_has_is_refused_before_allocating() {
    // 20,000² doubles × 3 = 9.6 GB: refused only where less is available, so ask for the
    // check directly with the host's real figure.
    let avail = cluster_bench::util::host::facts()
        .mem_available_bytes
        .unwrap();
    let need = cluster_bench::bench::options::bytes_per_rank(20_000);
    if need > avail {
        assert_usage_error(&["--dim", "20000"], "available memory");
    } else {
        assert!(cluster_bench::bench::options::check_memory(20_000, Some(need - 1)).is_err());
    }
}

#[test]
fn unknown_flags_and_bad_values() {
    assert_usage_error(&["--frobnicate"], "--frobnicate");
    assert_usage_error(&["--schedule", "random"], "--schedule");
    assert_usage_error(&["--kernel", "lapack"], "--kernel");
    assert_usage_error(
        &["--chunk", "3"],
        "--chunk only applies to --schedule dynamic",
    );
    assert_usage_error(&["--schedule", "dynamic", "--chunk", "0"], "--chunk");
    assert_usage_error(&["--label", "../x"], "--label");
    assert_usage_error(&["--out", "x", "--no-save"], "--no-save");
}

#[test]
fn unwritable_out_is_refused_before_the_run_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("results");
    assert_usage_error(
        &[
            "--tasks",
            "3",
            "--dim",
            "5",
            "--out",
            under_file.to_str().unwrap(),
        ],
        "--out",
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_runs_csv_with_other_columns_is_refused_before_the_run_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("runs.csv");
    // The header of version 0.1, whose speedup/efficiency are busy_speedup/busy_efficiency now.
    let old = b"started_at,label,ranks,hosts,tasks,dim,schedule,kernel,seed,wall_s,tasks_per_s,\
busy_s,speedup,efficiency\n2026-11-26T01:02:03Z,run,1,1,3,5,static,auto,42,1,3,1,1,1\n";
    std::fs::write(&csv, old).unwrap();
    let out = dir.path().to_str().unwrap();
    assert_usage_error(
        &["--tasks", "3", "--dim", "5", "--out", out],
        &format!("{} has other columns", csv.display()),
    );
    assert_usage_error(
        &["--tasks", "3", "--dim", "5", "--out", out],
        "move it aside or choose another --out",
    );
    assert_eq!(std::fs::read(&csv).unwrap(), old);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn missing_or_foreign_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    assert_usage_error(
        &["--no-save", "--baseline", missing.to_str().unwrap()],
        "--baseline",
    );
    let foreign = dir.path().join("other.json");
    std::fs::write(&foreign, b"{\"hello\": 1}").unwrap();
    assert_usage_error(
        &["--no-save", "--baseline", foreign.to_str().unwrap()],
        "is it a cluster-bench JSON?",
    );
}

#[test]
fn help_and_version_exit_zero() {
    let o = bench(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--schedule"));
    let o = bench(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    // The line hosts must agree on (build, MPI library), then what may differ between them.
    let first = format!("cluster-bench {} (git ", env!("CARGO_PKG_VERSION"));
    assert!(lines[0].starts_with(&first), "{text}");
    assert!(
        lines[0].ends_with("Open MPI v4.1.4)") || lines[0].contains("MPICH"),
        "{text}"
    );
    assert!(lines[1].starts_with(std::env::consts::ARCH), "{text}");
    assert!(
        lines[1].contains(", glibc 2.") && lines[1].contains(", kernel path "),
        "{text}"
    );
}

#[test]
fn a_singleton_run_works_without_mpirun() {
    let o = bench(&["--tasks", "3", "--dim", "8", "--no-save", "--json"]);
    let v = common::json(&o);
    assert_eq!(v["ranks"], 1);
    assert_eq!(v["task_count"], 3);
    // No journal and no --json-tasks: no per-task record anywhere.
    assert_eq!(
        (&v["tasks"], &v["tasks_file"]),
        (&Value::Null, &Value::Null)
    );
    let o = bench(&[
        "--tasks",
        "3",
        "--dim",
        "8",
        "--no-save",
        "--json",
        "--json-tasks",
    ]);
    assert_eq!(common::json(&o)["tasks"].as_array().unwrap().len(), 3);
}
