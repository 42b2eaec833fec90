//! The sleep workload under real `mpirun`: the planned waits, their checks and a checksum that
//! is the same for any rank count and schedule.

mod common;

use std::process::Command;

use common::{BIN, json, mpi_env, mpirun, run, stderr};
use serde_json::Value;

const TASKS: u64 = 40;
const TASK_MS: f64 = 5.0;

fn sleep_run(np: usize, schedule: &str) -> Value {
    json(&mpirun(
        np,
        &[
            "--workload",
            "sleep",
            "--task-ms",
            &TASK_MS.to_string(),
            "--schedule",
            schedule,
            "--tasks",
            &TASKS.to_string(),
            "--json",
            "--json-tasks",
            "--no-save",
        ],
    ))
}

/// Every task once, each checked: the reported plan is the reference, the wait not shorter.
fn assert_waits_checked(v: &Value, np: usize) {
    assert_eq!(v["ranks"], np as u64);
    assert_eq!(v["complete"], true);
    assert_eq!(v["checks"]["passed"], TASKS);
    assert_eq!(v["config"]["workload"], "sleep");
    assert_eq!(v["config"]["task_ms"], TASK_MS);
    let tasks = v["tasks"].as_array().unwrap();
    let ids: Vec<u64> = tasks.iter().map(|t| t["task"].as_u64().unwrap()).collect();
    assert_eq!(ids, (0..TASKS).collect::<Vec<_>>());
    for t in tasks {
        let (plan, took) = (t["trace"].as_f64().unwrap(), t["seconds"].as_f64().unwrap());
        assert_eq!(t["eig_sum_re"].as_f64(), Some(plan), "{t}");
        assert!((0.8e-3 * TASK_MS..=1.2e-3 * TASK_MS).contains(&plan), "{t}");
        assert!(took >= plan, "a wait shorter than planned: {t}");
    }
}

/// Rank 0's dispatch figures: present in the dynamic schedule only, each worker's requests
/// counted (two up front, one per chunk), times within the run.
fn assert_dispatch(v: &Value, np: usize, schedule: &str) {
    let d = &v["dispatch"];
    if schedule == "static" {
        assert_eq!(*d, Value::Null);
        return;
    }
    let requests = d["requests"].as_u64().unwrap();
    assert!(requests >= 2 * (np as u64 - 1), "{d}");
    let spent = d["serve_s"].as_f64().unwrap() + d["poll_s"].as_f64().unwrap();
    assert!(
        spent >= 0.0 && spent <= v["wall_s"].as_f64().unwrap(),
        "{d}"
    );
    let fraction = d["busy_fraction"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&fraction), "{d}");
}

#[test]
fn the_sleep_checksum_is_the_same_for_any_rank_count_and_schedule() {
    let reference = sleep_run(1, "static");
    assert_waits_checked(&reference, 1);
    let want = reference["checksum"].as_f64().unwrap();
    // Σ of 40 waits uniform in 5 ms ± 20 %: mean 0.2 s, σ = √40 · 5 ms · 0.2/√3 ≈ 3.7 ms;
    // 20 ms is more than 5 σ.
    assert!((want - 0.2).abs() < 0.02, "checksum {want}");
    for np in [1, 4] {
        for schedule in ["static", "dynamic"] {
            let v = sleep_run(np, schedule);
            assert_waits_checked(&v, np);
            assert_dispatch(&v, np, schedule);
            assert_eq!(
                v["checksum"].as_f64().unwrap().to_bits(),
                want.to_bits(),
                "np {np} {schedule}"
            );
        }
    }
}

#[test]
fn a_corrupted_sleep_record_fails_its_check() {
    let mut cmd = Command::new(BIN);
    mpi_env(&mut cmd)
        .env("CLUSTER_BENCH_CORRUPT_TASK", "3")
        .args(["--workload", "sleep", "--task-ms", "1", "--tasks", "5"])
        .args(["--no-save", "--quiet"]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 of 5 tasks failed their check"));
}

#[test]
fn task_ms_without_the_sleep_workload_is_a_usage_error() {
    let mut cmd = Command::new(BIN);
    mpi_env(&mut cmd).args(["--task-ms", "5", "--no-save"]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--task-ms only applies to --workload sleep"));
}
