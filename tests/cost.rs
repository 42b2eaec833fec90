//! `scripts/study/bench_cost.sh`: bad input stops before anything runs; a small study's cost.csv
//! holds the bytes its runs really left and rank 0's own peak memory, and cost.md the table.
//! (No timing is checked: the figures are the script's to measure, not the test's.)

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{BIN, mpi_env, repo, stderr};

fn bench_cost(out_root: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(repo().join("scripts/study/bench_cost.sh"));
    mpi_env(&mut cmd)
        .env("CLUSTER_BENCH", BIN)
        .args(args)
        .arg("--out-root")
        .arg(out_root);
    let _guard = common::MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    common::run(&mut cmd)
}

#[test]
fn bad_input_is_refused_with_exit_2_before_anything_runs() {
    let root = tempfile::tempdir().unwrap();
    let bad: [&[&str]; 6] = [
        &["--tasks", "0"],
        &["--tasks", "2e7"],
        &["--tasks", "1e5 ten"],
        &["--tasks", " "],
        &["--label", "-x"],
        &["--no-such-option"],
    ];
    for args in bad {
        let o = bench_cost(root.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("bench_cost.sh: "), "{}", stderr(&o));
    }
    assert_eq!(
        fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing made"
    );
}

#[test]
fn a_small_study_measures_what_its_runs_left() {
    let root = tempfile::tempdir().unwrap();
    let o = bench_cost(root.path(), &["--tasks", "300 3e3", "--label", "c"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let study = fs::read_dir(root.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut rd = csv::Reader::from_path(study.join("cost.csv")).unwrap();
    let hdr = rd.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    for (row, tasks) in rows.iter().zip([300u64, 3000]) {
        let col = |k: &str| row.get(hdr.iter().position(|h| h == k).unwrap()).unwrap();
        let num = |k: &str| col(k).parse::<f64>().unwrap();
        assert_eq!(num("tasks") as u64, tasks);
        let json_path = study.join(col("json"));
        let doc: serde_json::Value =
            serde_json::from_slice(&fs::read(&json_path).unwrap()).unwrap();
        assert_eq!(doc["task_count"], tasks);
        let journal = study.join("runs").join(doc["tasks_file"].as_str().unwrap());
        let size = |p: &Path| fs::metadata(p).unwrap().len() as f64;
        assert_eq!(num("json_bytes"), size(&json_path));
        assert_eq!(num("journal_bytes"), size(&journal));
        assert_eq!(
            common::records_of(&study.join("runs"), &doc).len() as u64,
            tasks
        );
        // One runs.csv row: its header comes with the first one only.
        assert!(
            (100.0..2000.0).contains(&num("runs_csv_row_bytes")),
            "{row:?}"
        );
        let disk = num("json_bytes") + num("journal_bytes") + num("runs_csv_row_bytes");
        assert!((num("disk_bytes_per_task") - disk / tasks as f64).abs() <= 0.05);
        let rss = doc["rank0_peak_rss_bytes"].as_f64().unwrap();
        assert_eq!(num("rank0_peak_rss_bytes"), rss);
        assert!((num("rss_bytes_per_task") - rss / tasks as f64).abs() <= 0.05);
        // GNU time's largest process of the job: rank 0, or mpirun itself if larger.
        assert!(num("job_max_rss_bytes") >= 0.9 * rss, "{row:?}");
    }
    let md = fs::read_to_string(study.join("cost.md")).unwrap();
    assert!(md.contains("scripts/study/bench_cost.sh --tasks"), "{md}");
    assert!(
        md.contains("\n| 300 | ") && md.contains("\n| 3000 | "),
        "{md}"
    );
}
