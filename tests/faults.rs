//! Faults on one machine, with the real mpirun: a rank that stops answering, a rank that is
//! killed, a rank that panics, the time limit, Ctrl-C and `--resume`, and concurrent runs
//! sharing `results/`.
//! (Hosts that die on a real network are tested in tests/cluster_faults.rs on the test hosts.)

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster_bench::record::TaskStatus;
use common::{
    BIN, MPI_LOCK, bench, finish_within, json, json_files, mpi_env, mpirun, pid_running,
    records_of, stderr, stdout, temporary_files,
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
            cluster_bench::bench::csv::header(),
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
        let kept = records_of(dir.path(), doc);
        assert!(!kept.is_empty(), "{schedule}: no completed task kept");
        assert_eq!(doc["task_count"].as_u64(), Some(kept.len() as u64));
        if schedule == "dynamic" {
            // Every rank's completed chunks reached rank 0 as the run went.
            let ranks: std::collections::BTreeSet<i32> = kept.iter().map(|t| t.rank).collect();
            assert!(ranks.len() >= 2, "records of one rank only: {ranks:?}");
        }
    }
}

fn common_hostname() -> String {
    cluster_bench::util::host::hostname()
}

#[test]
fn a_killed_rank_ends_the_job_and_rank_0_keeps_every_rank_s_work() {
    for schedule in ["static", "dynamic"] {
        let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let mut args = LONG.to_vec();
        args.extend(["--schedule", schedule, "--out", out]);
        args.extend(["--checkpoint-every", "0.5", "--quiet"]);
        let child = spawn(3, &args, &[]);
        let victim = pid_of_rank(child.id(), 3, 1);
        std::thread::sleep(Duration::from_millis(2500));
        signal(victim, libc::SIGKILL);
        let (o, _) = finish_within(child, FAULT_BOUND);
        assert!(!o.status.success());
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
        // mpirun's SIGTERM let rank 0 close its journal with every record it had, from every
        // rank, and write its JSON counting them.
        let docs = json_files(dir.path());
        assert_eq!(docs.len(), 1, "{schedule}: {docs:?}\n{}", stderr(&o));
        let doc = &docs[0].1;
        assert_eq!(doc["complete"], false);
        assert_eq!(doc["stop_reason"], "interrupted (SIGTERM)", "{schedule}");
        let tasks = records_of(dir.path(), doc);
        assert!(!tasks.is_empty(), "{schedule}: empty journal");
        assert_eq!(doc["task_count"].as_u64(), Some(tasks.len() as u64));
        let ranks: std::collections::BTreeSet<i32> = tasks.iter().map(|t| t.rank).collect();
        assert_eq!(
            ranks.len(),
            3,
            "{schedule}: records of ranks {ranks:?} only"
        );
    }
}

/// The work of the Ctrl-C runs: seconds on 2 ranks here, so a signal 0.5–3 s in is mid-run.
const INTERRUPTED: [&str; 6] = ["--dim", "60", "--tasks", "30000", "--seed", "9"];

/// A pseudo-random delay in [0.5, 3) s: the tests interrupt at no fixed moment.
fn random_moment() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    Duration::from_millis(500 + u64::from(nanos) % 2500)
}

#[test]
fn ctrl_c_keeps_what_was_done_and_resume_completes_it_bit_identically() {
    let reference = {
        let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let args = [&INTERRUPTED[..], &["--json", "--no-save", "--quiet"]].concat();
        json(&bench(&args))["checksum"].as_f64().unwrap()
    };
    for (schedule, from) in [("static", "json"), ("dynamic", "tasks.csv.gz")] {
        let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let mut args = INTERRUPTED.to_vec();
        args.extend(["--schedule", schedule, "--out", out, "--quiet"]);
        let child = spawn(2, &args, &[]);
        pid_of_rank(child.id(), 2, 1);
        let moment = random_moment();
        std::thread::sleep(moment);
        let start = Instant::now();
        signal(child.id(), libc::SIGINT); // Ctrl-C reaches mpirun
        let saved = wait_for_json(dir.path(), start);
        let (o, _) = finish_within(child, FAULT_BOUND);
        println!(
            "{schedule}: Ctrl-C {moment:?} in; JSON saved {saved:?} and mpirun gone {:?} \
             after it; {:?}",
            start.elapsed(),
            o.status
        );
        assert!(!o.status.success(), "{schedule}: {}", stderr(&o));
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
        let docs = json_files(dir.path());
        assert_eq!(docs.len(), 1, "{schedule}: {docs:?}\n{}", stderr(&o));
        let (name, doc) = &docs[0];
        assert_eq!(doc["complete"], false);
        let reason = doc["stop_reason"].as_str().unwrap();
        assert!(reason.starts_with("interrupted (SIG"), "{reason}");
        let kept = doc["task_count"].as_u64().unwrap();
        let csv = std::fs::read_to_string(dir.path().join("runs.csv")).unwrap();
        assert!(csv.lines().nth(1).unwrap().contains(",false,"), "{csv}");

        let file = match from {
            "json" => name.clone(),
            _ => doc["tasks_file"].as_str().unwrap().to_owned(),
        };
        let resume = dir.path().join(&file);
        let mut more = INTERRUPTED.to_vec();
        more.extend(["--schedule", schedule, "--out", out, "--quiet", "--json"]);
        more.extend(["--resume", resume.to_str().unwrap()]);
        let done = json(&mpirun_unlocked(3, &more));
        common::assert_whole_run(dir.path(), &done, reference, 30_000, schedule);
        let attempts = done["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0]["tasks_done"].as_u64(), Some(kept));
        assert_eq!(attempts[1]["tasks_done"].as_u64(), Some(30_000 - kept));
        assert_eq!(attempts[1]["ranks"], 3);
        assert_eq!(attempts[1]["stop_reason"], serde_json::Value::Null);
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
    }
}

/// `mpirun -np N --oversubscribe BIN ARGS`, for a caller that holds `MPI_LOCK`.
fn mpirun_unlocked(np: usize, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd).args(["-np", &np.to_string(), "--oversubscribe", BIN]);
    cmd.args(args).output().expect("mpirun runs")
}

/// Waits for a run's JSON to appear in `dir`: how long after `start` it did.
fn wait_for_json(dir: &std::path::Path, start: Instant) -> Option<Duration> {
    while start.elapsed() < FAULT_BOUND {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".json"));
        if found {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn a_resume_file_of_other_work_or_a_complete_run_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let work = ["--dim", "20", "--tasks", "400000", "--seed", "4"];
    let first = mpirun(
        1,
        &[&work[..], &["--out", out, "--time-limit", "0.5"]].concat(),
    );
    assert_eq!(first.status.code(), Some(4), "{}", stderr(&first));
    let (name, _) = json_files(dir.path()).remove(0);
    let partial = dir.path().join(&name);
    let before = std::fs::read_dir(dir.path()).unwrap().count();
    let other = [
        "--dim", "21", "--tasks", "400000", "--seed", "5", "--resume",
    ];
    let o = mpirun(
        2,
        &[&other[..], &[partial.to_str().unwrap(), "--out", out]].concat(),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("dim 20 (here 21)"), "{err}");
    assert!(err.contains("seed 4 (here 5)"), "{err}");
    assert!(!err.contains("tasks 400000"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before);
    // A complete run has nothing to resume.
    let small = ["--dim", "8", "--tasks", "5", "--out", out, "--quiet"];
    assert!(mpirun(1, &small).status.success());
    let complete = json_files(dir.path())
        .into_iter()
        .find(|(_, v)| v["complete"] == true)
        .unwrap()
        .0;
    let path = dir.path().join(complete);
    let again = [&small[..], &["--resume", path.to_str().unwrap()]].concat();
    let o = mpirun(1, &again);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing to resume"), "{}", stderr(&o));
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
        let failed: Vec<u64> = records_of(dir.path(), &docs[0].1)
            .iter()
            .filter(|t| t.status == TaskStatus::CheckFailed as u8)
            .map(|t| t.task)
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
        assert_eq!(records_of(dir.path(), doc).len() as u64, n);
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
            .all(|r| r.len() == cluster_bench::bench::csv::COLUMNS.len())
    );
    assert_eq!(json_files(dir.path()).len(), runs, "each run its own JSON");
}
