//! scripts/discover.sh: input validation (anywhere) and classification on the
//! project's test hosts (root with network namespaces; skipped elsewhere).

mod common;
mod testnet;

use common::{BIN, run, text};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;
use testnet::{Testnet, assert_all_gone, cores, script};

/// discover.sh writing `out_file`, leaving this user's Open MPI parameter file alone.
fn discover(out_file: &Path) -> Command {
    let mut cmd = Command::new(script("discover.sh"));
    cmd.arg("-o").arg(out_file).arg("--no-mca-conf");
    cmd
}

/// Bad targets and options: exit 2, a clear message, nothing written, nothing
/// executed. Never sends a packet (validation comes first).
#[test]
fn discover_rejects_bad_targets() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("lab.txt");
    let pwned = dir.path().join("pwned");
    let p = pwned.display();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--".into(), format!("a;touch {p}")], "invalid target"),
        (vec!["--".into(), format!("$(touch {p})")], "invalid target"),
        (vec!["--".into(), format!("`touch {p}`")], "invalid target"),
        (
            vec!["--".into(), format!("-oProxyCommand=touch {p}")],
            "never start with '-'",
        ),
        (vec![format!("-oProxyCommand=touch {p}")], "unknown option"),
        (vec!["10.213.0.0/33".into()], "prefix length must be 0..32"),
        (vec!["10.213.0.40-30".into()], "reversed"),
        (vec!["10.213.0.40-10.213.0.30".into()], "reversed"),
        (vec!["10.213.0.300".into()], "not a valid IPv4"),
        (vec!["10.0.0.0/15".into()], "larger than a /16"),
        (vec!["10.0.0.0-10.2.0.0".into()], "larger than a /16"),
        (vec!["host name".into()], "invalid target"),
        (vec!["".into()], "invalid target"),
        (vec![], "no targets given"),
        (
            vec!["-j".into(), "0".into(), "10.213.0.11".into()],
            "-j needs",
        ),
        (
            vec!["-t".into(), "1;id".into(), "10.213.0.11".into()],
            "-t needs",
        ),
        (
            vec!["-u".into(), "root;id".into(), "10.213.0.11".into()],
            "-u: not a user",
        ),
        (
            vec!["--binary".into(), "x y".into(), "10.213.0.11".into()],
            "--binary needs",
        ),
        (
            vec!["@/nonexistent/targets".into()],
            "cannot read target file",
        ),
    ];
    for (args, message) in cases {
        let out = run(discover(&out_file).args(&args));
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} should exit 2; stderr: {stderr}"
        );
        assert!(
            stderr.contains(message),
            "{args:?}: expected '{message}' in: {stderr}"
        );
        assert!(!pwned.exists(), "{args:?} executed a command");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{args:?} wrote files: {left:?}");
    }

    // A bad line inside an @file is rejected the same way.
    let targets = dir.path().join("targets");
    fs::write(&targets, format!("# lab\n10.213.0.11\n$(touch {p})\n")).unwrap();
    let out = run(discover(&out_file).arg(format!("@{}", targets.display())));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("invalid target"));
    assert!(!pwned.exists() && !out_file.exists());
}

#[test]
fn discover_help_and_foreign_file() {
    let out = run(Command::new(script("discover.sh")).arg("--help"));
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Usage: scripts/discover.sh"));

    // A file discover.sh did not write is never overwritten.
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("hosts.txt");
    fs::write(&out_file, "my own hostfile\n").unwrap();
    let out = run(discover(&out_file).arg("10.213.0.11"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not written by discover.sh"));
    assert_eq!(fs::read_to_string(&out_file).unwrap(), "my own hostfile\n");
}

/// Hostfile lines (no comments): (host, slots).
fn hostfile_entries(path: &Path) -> Vec<(String, u32)> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let host = words.next().unwrap().to_owned();
            let slots = words
                .next()
                .and_then(|w| w.strip_prefix("slots="))
                .unwrap_or_else(|| panic!("no slots= in {l:?}"))
                .parse()
                .unwrap();
            (host, slots)
        })
        .collect()
}

fn statuses(json_path: &Path) -> BTreeMap<String, String> {
    let json: Value = serde_json::from_str(&fs::read_to_string(json_path).unwrap()).unwrap();
    json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["target"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The whole path on the test hosts: 3 good hosts and one of each negative
/// case, the whole /24 scanned, the hostfile holds exactly the good ones.
#[test]
fn discover_classifies_testnet_hosts() {
    let Some(mut net) = Testnet::up(3, &["--negatives"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("lab.txt");
    let json_file = dir.path().join("lab.json");
    let binary = BIN;

    // Cold ARP, as for a first scan.
    let _ = run(Command::new("ip").args(["neigh", "flush", "dev", testnet::BRIDGE]));
    let started = Instant::now();
    let out = run(discover(&out_file).arg("-F").arg(net.ssh_config()).args([
        "--binary",
        binary,
        testnet::SUBNET,
    ]));
    let elapsed = started.elapsed().as_secs_f64();
    println!("discover.sh over {} took {elapsed:.2} s", testnet::SUBNET);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "discover.sh failed: {stderr}");
    // The figure that matters is in results/discovery-scan.md (<= 3 s); a
    // loaded CI machine gets slack here.
    assert!(elapsed < 15.0, "scan took {elapsed:.1} s");

    let n = cores();
    let expected: Vec<(String, u32)> = (11..=13).map(|k| (format!("10.213.0.{k}"), n)).collect();
    assert_eq!(hostfile_entries(&out_file), expected, "stderr: {stderr}");

    let status = statuses(&json_file);
    assert_eq!(status.len(), 254, "every address of the /24 is listed");
    for (target, want) in [
        ("10.213.0.11", "ok"),
        ("10.213.0.12", "ok"),
        ("10.213.0.13", "ok"),
        ("10.213.0.101", "refused"),
        ("10.213.0.102", "auth-failed"),
        ("10.213.0.103", "timeout"),
        ("10.213.0.104", "no-mpi"),
        ("10.213.0.105", "mpi-version-mismatch"),
        ("10.213.0.200", "unreachable"),
        ("10.213.0.254", "unreachable"),
    ] {
        assert_eq!(status[target], want, "status of {target}");
    }
    let json: Value = serde_json::from_str(&fs::read_to_string(&json_file).unwrap()).unwrap();
    let host1 = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "10.213.0.11")
        .unwrap();
    assert_eq!(host1["hostname"], "cbhost1");
    assert_eq!(host1["in_hostfile"], true);
    assert_eq!(json["hosts"], 3);

    // The same host by name and by address appears once; a missing binary is
    // "no-binary" and keeps a host out (then no host qualifies: exit 1, the
    // earlier hostfile is left as it was).
    let before = fs::read_to_string(&out_file).unwrap();
    let out = run(discover(&out_file).arg("-F").arg(net.ssh_config()).args([
        "--binary",
        "/nonexistent/cluster-bench",
        "10.213.0.11",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(statuses(&json_file)["10.213.0.11"], "no-binary");
    assert_eq!(fs::read_to_string(&out_file).unwrap(), before);

    let out = run(discover(&out_file)
        .arg("-F")
        .arg(net.ssh_config())
        .args(["--binary", binary, "--format", "mpich"])
        .args(["10.213.0.12", "cbhost2", "cbhost1"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hostfile = fs::read_to_string(&out_file).unwrap();
    let lines: Vec<&str> = hostfile.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines, [format!("10.213.0.12:{n}"), format!("cbhost1:{n}")]);

    // deploy.sh over that (MPICH-syntax) hostfile: the hosts share this
    // machine's file system, so the binary is already there...
    let out = run(Command::new(script("deploy.sh"))
        .arg(&out_file)
        .arg("-F")
        .arg(net.ssh_config())
        .args(["--binary", binary, "--check"]));
    assert!(
        out.status.success(),
        "deploy --check: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr).matches("identical binary").count(), 2);
    // ...except under /run, a private tmpfs on every test host: a real copy.
    let local_dir = format!("/run/cbnet-deploy-test.{}", std::process::id());
    fs::create_dir_all(&local_dir).unwrap();
    let local_bin = format!("{local_dir}/cluster-bench");
    fs::copy(binary, &local_bin).unwrap();
    let out = run(Command::new(script("deploy.sh"))
        .arg(&out_file)
        .arg("-F")
        .arg(net.ssh_config())
        .args(["--binary", &local_bin]));
    let _ = fs::remove_dir_all(&local_dir);
    assert!(out.status.success(), "deploy: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).matches(" copied").count(),
        2,
        "{}",
        text(&out.stderr)
    );

    // down removes everything and can run twice.
    let pids = net.sshd_pids();
    assert!(pids.len() >= 6, "saved sshd PIDs: {pids:?}");
    let out = net.down();
    assert!(out.status.success(), "down: {}", text(&out.stderr));
    assert_all_gone(&pids);
    let out = net.down();
    assert!(out.status.success(), "second down: {}", text(&out.stderr));
}
