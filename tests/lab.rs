//! The README's lab path, verbatim, on the project's test hosts: in a folder outside the
//! repository, `scripts/discover.sh -o lab.txt` over the test subnet, then
//! `mpirun --hostfile lab.txt cluster-bench` with no path and no extra mpirun flags runs the
//! command scripts/setup.sh installed on every core of every host; nothing is left running.
//! The environment holds only the test hosts' ssh config and, as root, Open MPI's root consent.
//! Needs root and network namespaces (CI runs as root); skipped elsewhere.

mod common;
mod testnet;

use common::{repo, run, text};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use testnet::{SUBNET, Testnet, assert_all_gone, nproc, processes_named, script};

/// The folder scripts/setup.sh installs the command into (scripts/lib/install.sh).
fn install_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        PathBuf::from("/usr/local/bin")
    } else {
        PathBuf::from(std::env::var("HOME").expect("HOME")).join(".local/bin")
    }
}

/// What the bare name `cluster-bench` runs with this process's PATH.
fn command_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("cluster-bench"))
        .find(|p| p.is_file())
}

/// A command with Open MPI's and PMIx's variables removed: the test may set only what a
/// lab user would.
fn clean_command(program: impl AsRef<std::ffi::OsStr>, net: &Testnet) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("OMPI_") || key.starts_with("PMIX_") || key.starts_with("OPAL_") {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env(
        "OMPI_MCA_plm_rsh_agent",
        format!("ssh -F {}", net.ssh_config().display()),
    );
    // SAFETY: as in install_dir.
    if unsafe { libc::geteuid() } == 0 {
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    cmd
}

/// The JSON of the one run a plain run recorded in `dir/results/runs.csv` (its `json_file`
/// column names the file beside it).
fn run_json(dir: &Path) -> Value {
    let results = dir.join("results");
    let mut csv = csv::Reader::from_path(results.join("runs.csv")).expect("results/runs.csv");
    let column = csv
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "json_file")
        .expect("a json_file column");
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "one row in results/runs.csv: {rows:?}");
    let file = results.join(&rows[0][column]);
    serde_json::from_slice(&fs::read(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"))).unwrap()
}

/// orted and cluster-bench processes in another network namespace (the test hosts'), once
/// the ssh sessions that ran them had up to 10 s to close after mpirun returned.
fn job_leftovers() -> Vec<(u32, String)> {
    let own = fs::read_link("/proc/self/ns/net").ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<(u32, String)> = processes_named(&["orted", "cluster-bench"])
            .into_iter()
            .filter(|(pid, _)| fs::read_link(format!("/proc/{pid}/ns/net")).ok() != own)
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn discover_then_bare_mpirun_runs_the_installed_command_everywhere() {
    let installed = install_dir().join("cluster-bench");
    assert!(
        installed.is_file(),
        "{} is missing: scripts/setup.sh installs it (scripts/test.sh runs it first)",
        installed.display()
    );
    assert_eq!(
        command_on_path().as_deref(),
        Some(installed.as_path()),
        "the bare name must find the installed command first on PATH"
    );
    let Some(mut net) = Testnet::up(3, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().starts_with(repo()), "{:?}", dir.path());

    let out = run(clean_command(script("discover.sh"), &net)
        .current_dir(dir.path())
        .args(["-o", "lab.txt", "-F"])
        .arg(net.ssh_config())
        .arg(SUBNET));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "discover.sh: {stderr}");
    let hostfile = fs::read_to_string(dir.path().join("lab.txt")).unwrap();
    assert_eq!(
        hostfile.lines().filter(|l| !l.starts_with('#')).count(),
        3,
        "{hostfile}"
    );

    let out = run(clean_command("timeout", &net)
        .current_dir(dir.path())
        .args(["600", "mpirun", "--hostfile", "lab.txt", "cluster-bench"]));
    let report = text(&out.stdout);
    assert!(
        out.status.success(),
        "mpirun --hostfile lab.txt cluster-bench failed: {:?}\n{report}\n{}",
        out.status,
        text(&out.stderr)
    );
    for k in 1..=3 {
        assert!(
            report.contains(&format!("cbhost{k}")),
            "cbhost{k} in:\n{report}"
        );
    }

    // Every core of every host: the hostfile's slots are the hosts' nproc.
    let v = run_json(dir.path());
    let ranks: BTreeMap<String, u64> = v["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["ranks"].as_u64().unwrap(),
            )
        })
        .collect();
    let n = u64::from(nproc());
    let want: BTreeMap<String, u64> = (1..=3).map(|k| (format!("cbhost{k}"), n)).collect();
    assert_eq!(ranks, want, "ranks per host");
    assert_eq!(v["ranks"], 3 * n);
    assert_eq!(v["complete"], true, "{}", v["stop_reason"]);

    let left = job_leftovers();
    assert!(left.is_empty(), "left running on the test hosts: {left:?}");
    let pids = net.sshd_pids();
    let out = net.down();
    assert!(out.status.success(), "down: {}", text(&out.stderr));
    assert_all_gone(&pids);
}
