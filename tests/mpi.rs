//! The binary under real `mpirun` with 1, 2 and 3 (oversubscribed) ranks, both schedules.

mod common;

use std::collections::BTreeSet;

use common::{json, json_files, mpirun, records_of, stderr, stdout};
use serde_json::Value;

fn run_json(np: usize, schedule: &str, tasks: u64, dim: usize) -> Value {
    json(&mpirun(
        np,
        &[
            "--schedule",
            schedule,
            "--tasks",
            &tasks.to_string(),
            "--dim",
            &dim.to_string(),
            "--warmup",
            "1",
            "--json",
            "--json-tasks",
            "--no-save",
        ],
    ))
}

/// Every task exactly once, each host's and rank's counts adding up.
fn assert_consistent(v: &Value, np: usize, tasks: u64) {
    assert_eq!(v["ranks"], np as u64);
    assert_eq!(v["complete"], true);
    let recs = v["tasks"].as_array().unwrap();
    let ids: Vec<u64> = recs.iter().map(|r| r["task"].as_u64().unwrap()).collect();
    assert_eq!(
        ids,
        (0..tasks).collect::<Vec<_>>(),
        "each task once, in order"
    );
    assert!(recs.iter().all(|r| r["status"] == "ok"));
    assert!(recs.iter().all(|r| r["seconds"].as_f64().unwrap() >= 0.0));
    let ranks: Vec<i64> = recs.iter().map(|r| r["rank"].as_i64().unwrap()).collect();
    assert!(ranks.iter().all(|&r| (0..np as i64).contains(&r)));
    let host_tasks: u64 = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["tasks"].as_u64().unwrap())
        .sum();
    assert_eq!(host_tasks, tasks);
    let host_ranks: u64 = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["ranks"].as_u64().unwrap())
        .sum();
    assert_eq!(host_ranks, np as u64);
    assert!(v["wall_s"].as_f64().unwrap() > 0.0);
    let tps = v["tasks_per_s"].as_f64().unwrap();
    let expect = tasks as f64 / v["wall_s"].as_f64().unwrap();
    assert!((tps - expect).abs() <= 1e-9 * expect);
}

#[test]
fn checksum_is_bit_identical_for_any_rank_count_and_schedule() {
    let (tasks, dim) = (23, 40);
    let reference = run_json(1, "static", tasks, dim);
    assert_consistent(&reference, 1, tasks);
    let want = reference["checksum"].as_f64().unwrap();
    // The checksum of 23 matrices with entries in [0,1) is Σ traces: mean 23·40/2 = 460,
    // standard deviation √(23·40/12) ≈ 8.8, so 60 is about 7 σ.
    assert!((want - 460.0).abs() < 60.0, "checksum {want}");
    for np in [1, 2, 3] {
        for schedule in ["static", "dynamic"] {
            let v = run_json(np, schedule, tasks, dim);
            assert_consistent(&v, np, tasks);
            assert_eq!(
                v["checksum"].as_f64().unwrap().to_bits(),
                want.to_bits(),
                "np {np} {schedule}"
            );
        }
    }
}

#[test]
fn fewer_tasks_than_ranks() {
    for schedule in ["static", "dynamic"] {
        let v = run_json(3, schedule, 2, 10);
        assert_consistent(&v, 3, 2);
        let per_rank = v["per_rank"].as_array().unwrap();
        assert_eq!(per_rank.len(), 3);
        let idle = per_rank.iter().filter(|r| r["tasks"] == 0).count();
        assert!(idle >= 1, "{schedule}: {per_rank:?}");
    }
}

#[test]
fn dynamic_spreads_work_over_every_rank() {
    let v = run_json(3, "dynamic", 60, 30);
    assert_consistent(&v, 3, 60);
    for r in v["per_rank"].as_array().unwrap() {
        assert!(r["tasks"].as_u64().unwrap() > 0, "{r}");
    }
}

#[test]
fn files_are_written_and_never_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let args = [
        "--tasks", "5", "--dim", "20", "--out", out, "--label", "t1", "--json",
    ];
    let first = mpirun(2, &args);
    let second = mpirun(2, &args);
    let (a, b) = (json(&first), json(&second));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        5,
        "two JSONs, two journals, runs.csv: {names:?}"
    );
    assert!(names.contains(&"runs.csv".to_string()));
    let journals = names.iter().filter(|n| n.ends_with(".tasks.csv.gz"));
    assert_eq!(journals.count(), 2, "{names:?}");
    // Same label and maybe the same second: the second run gets its own name.
    let jsons: Vec<&String> = names.iter().filter(|n| n.ends_with(".json")).collect();
    assert!(
        jsons
            .iter()
            .all(|n| n.starts_with("t1-") && n.contains("-2r"))
    );
    // The file is the document printed on stdout.
    let files: Vec<Value> = jsons
        .iter()
        .map(|n| serde_json::from_slice(&std::fs::read(dir.path().join(n)).unwrap()).unwrap())
        .collect();
    assert!(files.contains(&a) && files.contains(&b));
    // Without --json-tasks the JSON holds no per-task row; its journal holds every task once.
    for doc in [&a, &b] {
        assert_eq!(doc["tasks"], Value::Null);
        let records = records_of(dir.path(), doc);
        let ids: Vec<u64> = records.iter().map(|r| r.task).collect();
        assert_eq!(ids, (0..5).collect::<Vec<u64>>(), "each task once");
        assert!(records.iter().all(|r| r.status == 0 && r.seconds >= 0.0));
        let ranks: BTreeSet<i32> = records.iter().map(|r| r.rank).collect();
        assert_eq!(ranks, BTreeSet::from([0, 1]));
        assert!(
            doc["rank0_peak_rss_bytes"].as_u64().unwrap() > 1 << 20,
            "{doc}"
        );
    }

    let mut rd = csv::Reader::from_path(dir.path().join("runs.csv")).unwrap();
    let hdr = rd.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let col = |row: &csv::StringRecord, k: &str| {
        row.get(hdr.iter().position(|h| h == k).unwrap())
            .unwrap()
            .to_string()
    };
    for (row, doc) in rows.iter().zip([&a, &b]) {
        assert_eq!(col(row, "ranks"), "2");
        assert_eq!(col(row, "tasks"), "5");
        assert_eq!(col(row, "dim"), "20");
        assert_eq!(col(row, "label"), "t1");
        assert_eq!(col(row, "schedule"), "static");
        assert_eq!(col(row, "complete"), "true");
        assert_eq!(col(row, "checks_failed"), "0");
        let c: f64 = col(row, "checksum").parse().unwrap();
        assert_eq!(c.to_bits(), doc["checksum"].as_f64().unwrap().to_bits());
        assert!(jsons.iter().any(|n| **n == col(row, "json_file")));
    }
}

/// `--json-tasks` puts the journal's rows in the JSON too: the same records, bit for bit.
#[test]
fn json_tasks_are_the_journal_s_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let args = ["--tasks", "7", "--dim", "9", "--schedule", "dynamic"];
    let v = json(&mpirun(
        2,
        &[&args[..], &["--out", out, "--json", "--json-tasks"]].concat(),
    ));
    let in_json = v["tasks"].as_array().unwrap();
    let records = records_of(dir.path(), &v);
    assert_eq!(in_json.len(), records.len());
    for (t, r) in in_json.iter().zip(&records) {
        assert_eq!(t["task"].as_u64(), Some(r.task));
        assert_eq!(t["rank"].as_i64(), Some(i64::from(r.rank)));
        assert_eq!(t["status"], "ok");
        let floats = [
            ("start_s", r.start_s),
            ("seconds", r.seconds),
            ("eig_sum_re", r.eig_sum_re),
            ("trace", r.trace),
        ];
        for (key, x) in floats {
            assert_eq!(t[key].as_f64().map(f64::to_bits), Some(x.to_bits()), "{t}");
        }
    }
    // And the saved file is the document printed.
    assert_eq!(json_files(dir.path())[0].1, v);
}

#[test]
fn baseline_gives_a_measured_speedup() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let base = json(&mpirun(
        1,
        &[
            "--tasks", "6", "--dim", "30", "--out", out, "--json", "--label", "base",
        ],
    ));
    let files = json_files(dir.path());
    assert_eq!(files.len(), 1, "the baseline's JSON");
    let base_file = dir.path().join(&files[0].0);
    // 2 ranks, 6 tasks of size `dim` against that baseline, and more flags.
    let against_base = |dim: &str, more: &[&str]| {
        let mut args = vec!["--tasks", "6", "--dim", dim, "--no-save"];
        args.extend(["--baseline", base_file.to_str().unwrap()]);
        args.extend(more);
        mpirun(2, &args)
    };
    let v = json(&against_base("30", &["--json"]));
    let s = v["measured_speedup"].as_f64().unwrap();
    let expect = base["wall_s"].as_f64().unwrap() / v["wall_s"].as_f64().unwrap();
    assert!((s - expect).abs() <= 1e-9 * expect);
    assert_eq!(v["baseline"]["ranks"], 1);
    assert_eq!(v["baseline"]["differs"], serde_json::json!([]));
    // Unlike work is still compared, but with a warning naming the difference.
    let other = against_base("20", &["--json"]);
    assert!(
        stderr(&other).contains("did other work (dim 30 (here 20))"),
        "{}",
        stderr(&other)
    );
    let table = against_base("30", &[]);
    assert!(
        stdout(&table).contains("# measured speedup"),
        "{}",
        stdout(&table)
    );
}

#[test]
fn table_has_osu_style_headers_and_host_rows() {
    let o = mpirun(2, &["--tasks", "4", "--dim", "20", "--no-save"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let data: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    // One summary row and one row per host (one host here).
    assert_eq!(data.len(), 2, "{text}");
    let summary: Vec<&str> = data[0].split_whitespace().collect();
    assert_eq!(&summary[..3], &["2", "1", "4"]);
    assert!(text.contains("checks passed 4/4"));
}

#[test]
fn bad_flags_under_mpirun_fail_on_every_rank_with_one_message() {
    let o = mpirun(2, &["--dim", "0"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.matches("--dim must be at least 1").count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let o = mpirun(2, &["--help"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).matches("Usage:").count(), 1);
}

/// Busy means busy now: with every CPU of this host kept busy by other processes while the
/// run starts, the host is flagged busy from the sample (whatever the load average says), and
/// the JSON has each rank's affinity and the host's cores and threads.
#[test]
fn a_host_busy_with_other_work_is_flagged_from_a_sample() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hogs: Vec<_> = (0..threads)
        .map(|_| {
            std::process::Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .expect("sh")
        })
        .collect();
    let v = run_json(1, "static", 10, 20);
    for mut h in hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
    let host = &v["hosts"][0];
    let busy = host["busy_cpus_at_start"].as_f64().expect("sampled");
    let cores = host["cores"].as_f64().unwrap();
    assert!(busy >= 0.5 * cores, "{host}");
    assert_eq!(host["busy_at_start"], true, "{host}");
    assert!(
        v["flags"][0].as_str().unwrap().starts_with("busy host"),
        "{}",
        v["flags"]
    );
    assert!(host["threads"].as_u64().unwrap() >= host["cores"].as_u64().unwrap());
    let info = &v["environment"]["rank_info"][0];
    assert!(!info["affinity"].as_str().unwrap().is_empty(), "{info}");
}
