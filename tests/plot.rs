//! `scripts/plot.py` on a real `runs.csv`: 1- and 2-rank runs of the real binary under `mpirun`,
//! then the script as a user types it, which must draw every plot.

mod common;

use std::path::Path;
use std::process::Command;

use common::{mpirun, repo, stderr, stdout};

fn plot(args: &[&Path]) -> std::process::Output {
    let script = repo().join("scripts/plot.py");
    Command::new(script)
        .args(args)
        .output()
        .expect("scripts/plot.py runs")
}

fn run(out: &Path, np: usize, tasks: &str, schedule: &str) {
    let dir = out.to_str().unwrap();
    let args = [
        "--dim",
        "30",
        "--tasks",
        tasks,
        "--schedule",
        schedule,
        "--out",
        dir,
        "--quiet",
    ];
    let o = mpirun(np, &args);
    assert!(o.status.success(), "run failed: {}", stderr(&o));
}

#[test]
fn plots_a_real_runs_csv() {
    let dir = tempfile::tempdir().unwrap();
    for (np, tasks, schedule) in [
        (1, "40", "static"),
        (2, "40", "static"),
        (1, "80", "static"),
        (2, "80", "static"),
        (1, "40", "dynamic"),
        (2, "40", "dynamic"),
    ] {
        run(dir.path(), np, tasks, schedule);
    }
    let csv = dir.path().join("runs.csv");
    let out = plot(&[&csv]);
    assert!(
        out.status.success(),
        "plot.py failed: {:?}\n{}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    let plots = dir.path().join("plots");
    for stem in [
        "tasks-per-s",
        "measured-speedup",
        "wall-vs-tasks",
        "hosts-newest",
    ] {
        let png = std::fs::read(plots.join(format!("{stem}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
            "{stem}.png"
        );
        let svg = std::fs::read_to_string(plots.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{stem}.svg");
        assert!(
            stdout(&out).contains(&format!("{stem}.png")),
            "{}",
            stdout(&out)
        );
    }
    // Only plot files: no temporary file left behind.
    assert_eq!(std::fs::read_dir(&plots).unwrap().count(), 8);
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
}

#[test]
fn a_malformed_runs_csv_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("runs.csv");
    std::fs::write(&csv, "started_at,label,ranks\n2026,x\n").unwrap();
    let out = plot(&[&csv]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}:1:", csv.display())),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("plots").exists());
}
