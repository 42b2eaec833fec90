//! The scaling workflow: the Python tests (the metric maths, and the readers fed by this
//! binary's files), `scripts/sweep.sh`'s input checks, and a small end-to-end study that must
//! produce every file and plot.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, mpi_env, repo, stderr, stdout};

/// The project's Python (made by scripts/setup.sh); a missing one is a failure, not a skip.
fn python() -> PathBuf {
    let py = repo().join(".venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/setup.sh (or scripts/setup.sh --no-build) first",
        py.display()
    );
    py
}

fn sweep(args: &[&str]) -> Output {
    let mut cmd = Command::new(repo().join("scripts/sweep.sh"));
    mpi_env(&mut cmd)
        .env("CLUSTER_BENCH", BIN)
        .env("PYTHON", python())
        .current_dir(repo())
        .args(args);
    let _guard = common::MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    cmd.output().expect("scripts/sweep.sh runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn python_tests_pass() {
    // tests/python/test_binary.py runs this binary under mpirun: one MPI job at a time.
    let _guard = common::MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let out = mpi_env(&mut Command::new(python()))
        .args(["-m", "unittest", "discover", "-s", "tests/python", "-v"])
        .env("CLUSTER_BENCH_BIN", BIN)
        .current_dir(repo())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python unit tests failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    // unittest reports on stderr; make sure tests actually ran.
    let report = stderr(&out);
    assert!(
        report.contains("Ran ") && !report.contains("Ran 0 tests"),
        "{report}"
    );
    // This binary's files were read: test_binary.py ran, it was not skipped.
    assert!(
        report.contains("test_the_json_is_a_version_these_scripts_read")
            && !report.contains("SKIPPED: no binary"),
        "{report}"
    );
}

#[test]
fn sweep_rejects_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.txt", "localhost slots=2\n");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "--hostfile FILE is required"),
        (
            vec![
                "--hostfile".into(),
                dir.path().join("nope.txt").display().to_string(),
            ],
            "hostfile not found",
        ),
        (
            vec![
                "--hostfile".into(),
                write(dir.path(), "bad1.txt", "localhost slots=two\n")
                    .display()
                    .to_string(),
            ],
            "slots must be a whole number",
        ),
        (
            vec![
                "--hostfile".into(),
                write(dir.path(), "bad2.txt", "localhost cpus=2\n")
                    .display()
                    .to_string(),
            ],
            "unknown field",
        ),
        (
            vec![
                "--hostfile".into(),
                write(dir.path(), "bad3.txt", "# nothing\n\n")
                    .display()
                    .to_string(),
            ],
            "lists no hosts",
        ),
        (
            vec![
                "--hostfile".into(),
                good.display().to_string(),
                "--repeat".into(),
                "0".into(),
            ],
            "--repeat must be",
        ),
        (
            vec![
                "--hostfile".into(),
                good.display().to_string(),
                "--dim".into(),
                "1e3".into(),
            ],
            "--dim must be",
        ),
        (
            vec![
                "--hostfile".into(),
                good.display().to_string(),
                "--mode".into(),
                "medium".into(),
            ],
            "--mode must be",
        ),
        (
            vec![
                "--hostfile".into(),
                good.display().to_string(),
                "--max-ranks".into(),
                "4".into(),
            ],
            "add --oversubscribe",
        ),
        (
            vec![
                "--hostfile".into(),
                good.display().to_string(),
                "--label".into(),
                "../x".into(),
            ],
            "--label must be",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut full = args.clone();
        full.extend(["--out-root", dir.path().to_str().unwrap()]);
        let out = sweep(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(want),
            "{args:?}: want {want:?} in:\n{}",
            stderr(&out)
        );
    }
    // Nothing was created for bad input.
    let made: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(made.is_empty(), "{made:?}");
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut rd = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hdr = rd.headers().unwrap().clone();
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            hdr.iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The lines of a gzip file, decompressed by the system's gzip.
fn gunzip_lines(path: &Path) -> Vec<String> {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .output()
        .expect("gzip runs");
    assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

fn float(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|e| panic!("{key} = {:?} in {row:?}: {e}", row[key]))
}

fn assert_nonempty(path: &Path) {
    let len = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len();
    assert!(len > 0, "{} is empty", path.display());
}

#[test]
fn small_sweep_produces_every_file_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let hostfile = write(dir.path(), "hosts.txt", "localhost slots=2\n");
    let out_root = dir.path().join("results");
    let args = [
        "--hostfile",
        hostfile.to_str().unwrap(),
        "--repeat",
        "1",
        "--dim",
        "20",
        "--tasks",
        "40",
        "--tasks-per-rank",
        "20",
        "--out-root",
        out_root.to_str().unwrap(),
        "--label",
        "t",
    ];
    let out = sweep(&args);
    assert!(
        out.status.success(),
        "sweep failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    let log = stderr(&out);
    assert!(log.contains("[1/8]") && log.contains("[8/8]"), "{log}");
    assert!(log.contains("ETA"), "{log}");

    let studies: Vec<PathBuf> = std::fs::read_dir(&out_root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(studies.len(), 1, "{studies:?}");
    let study = &studies[0];
    let name = study.file_name().unwrap().to_str().unwrap();
    assert!(
        name.ends_with("-t") && name.len() == "YYYY-MM-DD-t".len(),
        "{name}"
    );

    for f in [
        "study-runs.csv",
        "tasks.csv.gz",
        "hosts.csv",
        "points.csv",
        "fit.json",
        "SETUP.md",
        "manifest.tsv",
        "study.conf",
    ] {
        assert_nonempty(&study.join(f));
    }
    for stem in ["speedup", "efficiency", "hosts"] {
        for ext in ["png", "svg"] {
            assert_nonempty(&study.join("plots").join(format!("{stem}.{ext}")));
        }
    }
    // Timelines are PNG only: as SVG, one bar per task makes them large.
    for schedule in ["static", "dynamic"] {
        assert_nonempty(&study.join("plots").join(format!("timeline-{schedule}.png")));
        assert!(
            !study
                .join(format!("plots/timeline-{schedule}.svg"))
                .exists()
        );
    }
    assert!(!study.join("tasks.csv").exists() && !study.join("runs.csv").exists());
    let jsons = std::fs::read_dir(study.join("runs"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(jsons, 8, "one JSON per run");

    let runs = read_csv(&study.join("study-runs.csv"));
    assert_eq!(runs.len(), 8);
    let checksums: BTreeSet<String> = runs
        .iter()
        .filter(|r| r["mode"] == "strong")
        .map(|r| r["checksum"].clone())
        .collect();
    assert_eq!(
        checksums.len(),
        1,
        "same work, same checksum: {checksums:?}"
    );
    for r in &runs {
        assert!(float(r, "wall_s") > 0.0);
        assert!(float(r, "busy_speedup") > 0.0, "{r:?}");
        let want_tasks = if r["mode"] == "weak" {
            20 * r["p"].parse::<u64>().unwrap()
        } else {
            40
        };
        assert_eq!(r["tasks"], want_tasks.to_string(), "{r:?}");
    }
    let tasks = gunzip_lines(&study.join("tasks.csv.gz"));
    assert_eq!(
        tasks.len(),
        1 + 2 * (40 + 40) + 2 * (20 + 40),
        "header + one row per task"
    );

    let points = read_csv(&study.join("points.csv"));
    let mut got: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    for r in &points {
        got.entry((r["mode"].clone(), r["schedule"].clone()))
            .or_default()
            .push(r["p"].parse().unwrap());
    }
    for mode in ["strong", "weak"] {
        for schedule in ["static", "dynamic"] {
            assert_eq!(
                got.get(&(mode.to_string(), schedule.to_string())),
                Some(&vec![1, 2]),
                "{mode} {schedule}: {got:?}"
            );
        }
    }
    for r in &points {
        for key in [
            "wall_s_median",
            "tasks_per_s_median",
            "speedup",
            "efficiency",
            "busy_speedup_median",
            "imbalance_median",
        ] {
            assert!(float(r, key) > 0.0, "{key} in {r:?}");
        }
        let p: u32 = r["p"].parse().unwrap();
        if p == 1 {
            assert!((float(r, "speedup") - 1.0).abs() < 1e-12);
            assert_eq!(r["karp_flatt"], "", "undefined at p = 1");
        } else if r["mode"] == "strong" {
            let (s, e) = (float(r, "speedup"), float(r, "karp_flatt"));
            assert!(((1.0 / s - 0.5) / 0.5 - e).abs() < 1e-9, "{r:?}");
        } else {
            // Weak scaling: speedup is the scaled one, p·T1/Tp; both derived metrics follow.
            let (s, p) = (float(r, "speedup"), f64::from(p));
            assert!((float(r, "weak_efficiency") - s / p).abs() < 1e-9, "{r:?}");
            let alpha = (p - s) / (p - 1.0);
            assert!((float(r, "gustafson_serial") - alpha).abs() < 1e-9, "{r:?}");
        }
    }
    let fit: serde_json::Value =
        serde_json::from_slice(&std::fs::read(study.join("fit.json")).unwrap()).unwrap();
    for schedule in ["static", "dynamic"] {
        assert!(fit["strong"][schedule]["ts_s"].is_f64(), "{fit}");
        assert!(fit["weak"][schedule]["alpha"].is_f64(), "{fit}");
    }
    let setup = std::fs::read_to_string(study.join("SETUP.md")).unwrap();
    assert!(setup.contains("Open MPI"), "{setup}");
    assert!(setup.contains("scripts/sweep.sh"), "{setup}");

    // The same label again the same day: a new folder with a suffix, the first one untouched.
    let before = std::fs::read(study.join("points.csv")).unwrap();
    let mut again = args.to_vec();
    again.extend(["--mode", "strong", "--schedule", "static"]);
    let out = sweep(&again);
    assert!(out.status.success(), "second sweep: {}", stderr(&out));
    let second = PathBuf::from(format!("{}-2", study.display()));
    assert_nonempty(&second.join("points.csv"));
    assert_eq!(read_csv(&second.join("study-runs.csv")).len(), 2);
    assert_eq!(std::fs::read(study.join("points.csv")).unwrap(), before);
    assert_eq!(std::fs::read_dir(&out_root).unwrap().count(), 2);
}
