//! Faults on one machine, with the real mpirun: a rank that stops answering, a rank that is
//! killed, a rank that panics, the time limit, and concurrent runs sharing `results/`.
//! (Hosts that die on a real network are tested in tests/cluster_faults.rs on the test hosts.)

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    BIN, MPI_LOCK, finish_within, json_files, mpi_env, mpirun, pid_running, stderr, stdout,
};

/// The job must end this soon after a fault.
const FAULT_BOUND: Duration = Duration::from_secs(30);

fn spawn(np: usize, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd).args(["-np", &np.to_string(), "--oversubscribe"]);
    for (k, v) in env {
        cmd.env(k, v).args(["-x", k]);
    }
    cmd.arg(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts")
}

/// PIDs of live (not zombie) processes whose parent is `ppid`, with their MPI rank.
fn ranks_of(ppid: u32) -> Vec<(u32, u32)> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, …
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        if rest[1].parse::<u32>().ok() != Some(ppid) || rest[0] == "Z" {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let rank = env
            .split(|&b| b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok())
            .find_map(|kv| kv.strip_prefix("OMPI_COMM_WORLD_RANK="))
            .and_then(|r| r.parse().ok());
        if let Some(rank) = rank {
            out.push((pid, rank));
        }
    }
    out
}

/// Waits until mpirun `ppid` has started `n` ranks; returns the pid of rank `rank`.
fn pid_of_rank(ppid: u32, n: usize, rank: u32) -> u32 {
    let start = Instant::now();
    loop {
        let ranks = ranks_of(ppid);
        if ranks.len() == n {
            return ranks.iter().find(|(_, r)| *r == rank).unwrap().0;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "ranks never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain kill(2) on a pid this test started (through mpirun).
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// Names of the temporary files (`.STEM….tmp`) left in `dir`: a run that ends, even by a fault
/// it detects, removes its own.
fn temporary_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Long enough to be mid-run when the fault comes (seconds on this 2-core machine).
const LONG: [&str; 4] = ["--tasks", "200000", "--dim", "40"];

#[test]
fn a_rank_that_stops_answering_is_named_and_the_job_ends_keeping_earlier_results() {
    for schedule in ["static", "dynamic"] {
        let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        // An earlier result that must not change by a byte.
        let earlier = [
            cluster_bench::export::csv::header(),
            b"earlier,row\n".to_vec(),
        ]
        .concat();
        std::fs::write(dir.path().join("runs.csv"), &earlier).unwrap();
        let mut args = LONG.to_vec();
        args.extend([
            "--schedule",
            schedule,
            "--out",
            out,
            "--heartbeat-timeout",
            "3",
        ]);
        args.extend(["--quiet"]);
        let child = spawn(3, &args, &[]);
        let victim = pid_of_rank(child.id(), 3, 2);
        std::thread::sleep(Duration::from_millis(1500));
        // SIGSTOP: the process is there but silent, like a host whose cable was pulled.
        signal(victim, libc::SIGSTOP);
        let (o, took) = finish_within(child, FAULT_BOUND);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(5), "{schedule}: {err}");
        assert!(err.contains("(rank 2) has not been heard from"), "{err}");
        assert!(
            err.contains(&format!("host {}", common_hostname())),
            "{err}"
        );
        assert!(took < FAULT_BOUND);
        assert!(!pid_running(victim), "the silent rank was left behind");
        let csv = std::fs::read_to_string(dir.path().join("runs.csv")).unwrap();
        assert!(csv.as_bytes().starts_with(&earlier), "{csv}");
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
        let docs = json_files(dir.path());
        assert_eq!(docs.len(), 1, "{schedule}: {docs:?}");
        let doc = &docs[0].1;
        assert_eq!(doc["complete"], false);
        assert!(
            doc["stop_reason"]
                .as_str()
                .unwrap()
                .starts_with("rank-lost")
        );
        let kept = doc["tasks"].as_array().unwrap().len();
        assert!(kept > 0, "{schedule}: no completed task kept");
        if schedule == "dynamic" {
            // Every rank's completed chunks reached rank 0 as the run went.
            let ranks: std::collections::BTreeSet<i64> = doc["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["rank"].as_i64().unwrap())
                .collect();
            assert!(ranks.len() >= 2, "records of one rank only: {ranks:?}");
        }
    }
}

fn common_hostname() -> String {
    cluster_bench::host::hostname()
}

#[test]
fn a_killed_rank_ends_the_job_and_the_checkpoint_keeps_completed_work() {
    let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let mut args = LONG.to_vec();
    args.extend([
        "--schedule",
        "dynamic",
        "--out",
        out,
        "--checkpoint-every",
        "0.5",
    ]);
    args.push("--quiet");
    let child = spawn(3, &args, &[]);
    let victim = pid_of_rank(child.id(), 3, 1);
    std::thread::sleep(Duration::from_millis(2500));
    signal(victim, libc::SIGKILL);
    let (o, _) = finish_within(child, FAULT_BOUND);
    assert!(!o.status.success());
    let docs = json_files(dir.path());
    let partial = docs
        .iter()
        .find(|(n, _)| n.ends_with(".partial.json"))
        .unwrap_or_else(|| panic!("no checkpoint among {docs:?}"));
    assert_eq!(partial.1["complete"], false);
    assert!(!partial.1["tasks"].as_array().unwrap().is_empty());
}

#[test]
fn a_panicking_rank_aborts_the_job_with_the_reason() {
    let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    for schedule in ["static", "dynamic"] {
        let child = spawn(
            3,
            &[
                "--tasks",
                "600",
                "--dim",
                "30",
                "--no-save",
                "--schedule",
                schedule,
            ],
            // Task 500 is rank 2's in the static schedule, and late in the dynamic one.
            &[
                ("CLUSTER_BENCH_PANIC_AT_TASK", "500"),
                ("RUST_BACKTRACE", "0"),
            ],
        );
        let (o, _) = finish_within(child, FAULT_BOUND);
        let err = stderr(&o);
        assert!(!o.status.success(), "{schedule}");
        assert!(err.contains("injected panic at task 500"), "{err}");
        assert!(err.contains("aborting the MPI job"), "{err}");
    }
}

#[test]
fn a_failed_check_is_reported_and_the_run_exits_1() {
    let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    for schedule in ["static", "dynamic"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let child = spawn(
            2,
            &[
                "--tasks",
                "20",
                "--dim",
                "12",
                "--out",
                out,
                "--schedule",
                schedule,
            ],
            &[("CLUSTER_BENCH_CORRUPT_TASK", "13")],
        );
        let (o, _) = finish_within(child, FAULT_BOUND);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{schedule}: {err}");
        assert!(err.contains("1 of 20 tasks failed their check"), "{err}");
        // The report still comes first, and the files say which task failed.
        assert!(stdout(&o).contains("checks passed 19/20"));
        let docs = json_files(dir.path());
        assert_eq!(docs.len(), 1);
        let tasks = docs[0].1["tasks"].as_array().unwrap();
        let failed: Vec<u64> = tasks
            .iter()
            .filter(|t| t["status"] == "check-failed")
            .map(|t| t["task"].as_u64().unwrap())
            .collect();
        assert_eq!(failed, vec![13]);
        assert_eq!(docs[0].1["checks"]["failed"], 1);
        let csv = std::fs::read_to_string(dir.path().join("runs.csv")).unwrap();
        assert_eq!(csv.lines().count(), 2, "{csv}");
    }
}

#[test]
fn time_limit_stops_cleanly_and_says_how_far_it_got() {
    for schedule in ["static", "dynamic"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let mut args = LONG.to_vec();
        args.extend(["--schedule", schedule, "--out", out, "--time-limit", "1"]);
        let o = mpirun(2, &args);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("--time-limit reached"),
            "{}",
            stderr(&o)
        );
        let docs = json_files(dir.path());
        assert_eq!(docs.len(), 1);
        let doc = &docs[0].1;
        assert_eq!(doc["complete"], false);
        assert_eq!(doc["stop_reason"], "time-limit");
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
        let n = doc["task_count"].as_u64().unwrap();
        assert!(n > 0 && n < 200_000, "{n}");
        // Both ranks' work is in, and the rows add up.
        assert_eq!(doc["tasks"].as_array().unwrap().len() as u64, n);
        assert!(doc["wall_s"].as_f64().unwrap() < 10.0);
        let csv = std::fs::read_to_string(dir.path().join("runs.csv")).unwrap();
        assert!(csv.lines().nth(1).unwrap().contains(",false,"), "{csv}");
    }
}

#[test]
fn concurrent_runs_sharing_results_lose_no_row() {
    let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let runs = 6;
    let children: Vec<Child> = (0..runs)
        .map(|_| {
            spawn(
                1,
                &["--tasks", "20", "--dim", "10", "--out", out, "--quiet"],
                &[],
            )
        })
        .collect();
    for c in children {
        let (o, _) = finish_within(c, Duration::from_secs(120));
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mut rd = csv::Reader::from_path(dir.path().join("runs.csv")).unwrap();
    let rows: Vec<_> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), runs);
    assert!(
        rows.iter()
            .all(|r| r.len() == cluster_bench::export::csv::COLUMNS.len())
    );
    assert_eq!(json_files(dir.path()).len(), runs, "each run its own JSON");
}
