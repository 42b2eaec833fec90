//! `cluster-bench net` under the real mpirun: on one machine (one host: no pairs, exit 0) and
//! on the project's test hosts with one host's link limited to 100 Mbit by a tbf queue (it is
//! measured at ≤ 15 MB/s, the other pairs ≥ 5× faster, and it is flagged by name).

mod common;
mod testnet;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::{BIN, finish_within, mpirun, stderr, stdout, text};
use serde_json::Value;
use testnet::{Testnet, on_testnet};

/// The 100 Mbit test host.
const SLOW: &str = "cbhost2";

#[test]
fn one_host_has_no_pairs_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = mpirun(2, &["net", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("no pairs to measure"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("nothing saved"), "{}", stderr(&out));
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "files written: {left:?}");
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, says) in [
        (&["net", "--window", "0"][..], "--window"),
        (&["net", "--bandwidth-seconds=-1"], "--bandwidth-seconds"),
        (&["--dim", "5", "net"], "net"),
    ] {
        let out = common::bench(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

fn bandwidth(pairs: &[Value], slow: bool) -> Vec<f64> {
    pairs
        .iter()
        .filter(|p| (p["from"] == SLOW || p["to"] == SLOW) == slow)
        .map(|p| p["bandwidth_mb_per_s"].as_f64().expect("bandwidth"))
        .collect()
}

#[test]
fn a_100_mbit_host_is_measured_and_flagged() {
    let Some(net) = Testnet::up(3, &[]) else {
        return;
    };
    let limit = net
        .command("dev/testnet.sh")
        .args(["limit", "2", "100mbit"])
        .output();
    let limit = limit.expect("testnet.sh limit runs");
    assert!(limit.status.success(), "limit: {}", text(&limit.stderr));
    let dir = tempfile::tempdir().unwrap();
    // Two ranks per host: one measures, the other waits.
    let mut cmd = Command::new("mpirun");
    cmd.args(["--host", "cbhost1:2,cbhost2:2,cbhost3:2", "-np", "6"])
        .args(["--map-by", "ppr:2:node", "--bind-to", "none", BIN, "net"])
        .args(["--label", "t", "--out"])
        .arg(dir.path());
    let child = on_testnet(&mut cmd, &net)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (out, _) = finish_within(child, Duration::from_secs(80));
    let table = stdout(&out);
    assert!(out.status.success(), "{table}{}", stderr(&out));
    println!("{table}");

    let mut files: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].starts_with("t-") && files[0].ends_with("-3h.net.csv"),
        "{files:?}"
    );
    let v: Value = serde_json::from_slice(&fs::read(dir.path().join(&files[1])).unwrap()).unwrap();
    let csv = fs::read_to_string(dir.path().join(&files[0])).unwrap();
    assert_eq!(csv.lines().count(), 7, "header + 6 ordered pairs:\n{csv}");

    assert_eq!(v["ranks"], 6);
    let hosts = v["hosts"].as_array().unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cbhost1", "cbhost2", "cbhost3"]);
    assert!(hosts.iter().all(|h| h["ranks"] == 2), "{hosts:?}");
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 6);

    // 100 Mbit/s is 12.5 MB/s; the fast pairs go through the same bridge unshaped.
    let slow = bandwidth(pairs, true);
    let fast = bandwidth(pairs, false);
    assert_eq!((slow.len(), fast.len()), (4, 2));
    let slowest_fast = fast.iter().copied().fold(f64::INFINITY, f64::min);
    let fastest_slow = slow.iter().copied().fold(0.0, f64::max);
    assert!(fastest_slow <= 15.0, "links of {SLOW}: {slow:?} MB/s");
    assert!(
        slowest_fast >= 5.0 * fastest_slow,
        "fast {fast:?} vs slow {slow:?}"
    );

    for h in hosts {
        let flagged = h["slow_send"] == true && h["slow_receive"] == true;
        assert_eq!(flagged, h["name"] == SLOW, "{h}");
    }
    let flags: Vec<&str> = v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        flags
            .iter()
            .any(|f| f.starts_with(&format!("slow host {SLOW}: sends"))),
        "{flags:?}"
    );
    assert!(
        table.contains(&format!("# FLAG slow host {SLOW}")),
        "{table}"
    );
    assert!(
        table.contains("# bandwidth, MB/s: row host sends to column host"),
        "{table}"
    );
}
