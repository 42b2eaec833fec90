//! End to end on the project's test hosts: discover.sh over the whole test
//! subnet → hostfile → `mpirun --hostfile` runs cluster-bench on 6 ranks
//! (3 hosts × 2) in both schedules → the report and JSON name every host, the
//! checksum equals a 1-rank local run → `down` leaves nothing behind.
//! Needs root and network namespaces (CI runs as root); skipped elsewhere.

mod common;
mod testnet;

use common::{BIN, json, json_files, mpi_env, run, text};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use testnet::{SUBNET, TWO_RANKS_ON_3_HOSTS, Testnet, assert_all_gone, on_testnet, script};

const TASKS: u64 = 36;
const WORKLOAD: [&str; 8] = [
    "--tasks", "36", "--dim", "40", "--seed", "7", "--warmup", "1",
];

/// Host name → (ranks, tasks) of a run's JSON, checking that it adds up.
fn hosts_of(v: &Value) -> Vec<(String, u64, u64)> {
    let hosts: Vec<(String, u64, u64)> = v["hosts"]
        .as_array()
        .expect("hosts array")
        .iter()
        .map(|h| {
            assert!(h["busy_s"].as_f64().is_some(), "busy_s in {h}");
            (
                h["name"].as_str().unwrap().to_owned(),
                h["ranks"].as_u64().unwrap(),
                h["tasks"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(hosts.iter().map(|h| h.2).sum::<u64>(), TASKS, "{hosts:?}");
    hosts
}

fn only_json_in(dir: &Path) -> Value {
    let mut files = json_files(dir);
    let names: Vec<&String> = files.iter().map(|f| &f.0).collect();
    assert_eq!(files.len(), 1, "one run JSON in {dir:?}: {names:?}");
    files.remove(0).1
}

#[test]
fn discover_then_mpirun_across_test_hosts() {
    let Some(mut net) = Testnet::up(3, &["--negatives"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hostfile = dir.path().join("lab.txt");

    // Discovery over the whole test subnet.
    let out = run(Command::new(script("discover.sh"))
        .arg("-o")
        .arg(&hostfile)
        .arg("--no-mca-conf")
        .arg("-F")
        .arg(net.ssh_config())
        .args(["--binary", BIN, SUBNET]));
    assert!(out.status.success(), "discover: {}", text(&out.stderr));
    let hosts: Vec<String> = fs::read_to_string(&hostfile)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(hosts, ["10.213.0.11", "10.213.0.12", "10.213.0.13"]);

    // The reference: one rank, on this machine.
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd)
        .args(["-np", "1", BIN])
        .args(WORKLOAD)
        .args(["--json", "--no-save", "--quiet"]);
    let reference = json(&run(&mut cmd));
    let want = reference["checksum"].as_f64().expect("checksum");

    let expected: BTreeSet<String> = (1..=3).map(|k| format!("cbhost{k}")).collect();
    for schedule in ["static", "dynamic"] {
        let out_dir = dir.path().join(schedule);
        let mut cmd = Command::new("timeout");
        cmd.args(["300", "mpirun", "--hostfile"])
            .arg(&hostfile)
            .args(TWO_RANKS_ON_3_HOSTS)
            .args(WORKLOAD)
            .args([
                "--schedule",
                schedule,
                "--label",
                schedule,
                "--quiet",
                "--out",
            ])
            .arg(&out_dir);
        if schedule == "static" {
            cmd.arg("--json");
        }
        let out = run(on_testnet(&mut cmd, &net));
        let v = if schedule == "static" {
            json(&out)
        } else {
            assert!(
                out.status.success(),
                "dynamic run failed:\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            // The report on the terminal names every host.
            let report = text(&out.stdout);
            for name in &expected {
                assert!(
                    report.contains(name.as_str()),
                    "{name} in report:\n{report}"
                );
            }
            only_json_in(&out_dir)
        };
        assert_eq!(v["ranks"], 6, "{schedule}");
        let hosts = hosts_of(&v);
        let names: BTreeSet<String> = hosts.iter().map(|h| h.0.clone()).collect();
        assert_eq!(names, expected, "{schedule}: {hosts:?}");
        for (name, ranks, tasks) in &hosts {
            assert_eq!(*ranks, 2, "{schedule}: ranks on {name}");
            if schedule == "static" {
                assert!(*tasks > 0, "static: {name} got no task");
            }
        }
        assert_eq!(
            v["checksum"].as_f64().unwrap().to_bits(),
            want.to_bits(),
            "{schedule}: checksum differs from the 1-rank run"
        );
        if schedule == "static" {
            // The file under --out says the same.
            let file = only_json_in(&out_dir);
            assert_eq!(file["checksum"], v["checksum"]);
            assert_eq!(hosts_of(&file).len(), 3);
        }
        println!("{schedule}: {hosts:?}");
    }

    // Rank 0 on cbhost1, not here: without --out its files would stay there, so the run is
    // refused before any work, and nothing is written where mpirun was typed.
    let here = dir.path().join("typed-here");
    fs::create_dir(&here).unwrap();
    let mut cmd = Command::new("timeout");
    cmd.current_dir(&here)
        .args(["120", "mpirun", "--hostfile"])
        .arg(&hostfile)
        .args(TWO_RANKS_ON_3_HOSTS)
        .args(WORKLOAD);
    let out = run(on_testnet(&mut cmd, &net));
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "a run saving on cbhost1 was not refused"
    );
    assert!(
        err.contains("rank 0 runs on cbhost1, not on the machine where mpirun was typed"),
        "{err}"
    );
    assert_eq!(
        fs::read_dir(&here).unwrap().count(),
        0,
        "files written here"
    );

    let pids = net.sshd_pids();
    let out = net.down();
    assert!(out.status.success(), "down: {}", text(&out.stderr));
    assert_all_gone(&pids);
}
