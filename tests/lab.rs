//! The README's lab path, verbatim, on the project's test hosts: in a folder outside the
//! repository, `scripts/discover.sh -o lab.txt` over the test subnet, then
//! `mpirun --hostfile lab.txt cluster-bench` with no path and no extra mpirun flags runs the
//! command on every core of every host; nothing is left running. First on hosts that share
//! this machine's file system and user (and this machine itself, found among the targets and
//! put first), then on hosts that are separate machines
//! (`testnet.sh up 3 --lab`), with what a real lab adds. The environment holds only HOME (a
//! temporary one, whose Open MPI parameter file discover.sh writes), the test hosts' ssh
//! config or options and, as root, Open MPI's root consent.
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
use testnet::{SUBNET, Testnet, assert_all_gone, cores, nproc, processes_named, script};

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
fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("OMPI_") || key.starts_with("PMIX_") || key.starts_with("OPAL_") {
            cmd.env_remove(key.as_ref());
        }
    }
    // SAFETY: as in install_dir.
    if unsafe { libc::geteuid() } == 0 {
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    cmd
}

/// Ranks per host name of a run's JSON.
fn ranks_per_host(v: &Value) -> BTreeMap<String, u64> {
    v["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["ranks"].as_u64().unwrap(),
            )
        })
        .collect()
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
    // --here: this machine answers ssh at 10.213.0.1 too, named last among the targets.
    let Some(mut net) = Testnet::up(3, &["--here"]) else {
        return;
    };
    let l = Launch::new();
    let agent = format!("ssh -F {}", net.ssh_config().display());
    let out = run(l
        .command(script("discover.sh"))
        .env("OMPI_MCA_plm_rsh_agent", &agent)
        .args(["-o", "lab.txt", "-F"])
        .arg(net.ssh_config())
        .args(["10.213.0.11-13", "10.213.0.1"]));
    let stderr = ok(&out, "discover.sh");
    let n = u64::from(cores());
    let first: Vec<String> = ["1", "11", "12", "13"]
        .map(|k| format!("10.213.0.{k} slots={n}"))
        .into();
    assert_eq!(
        host_lines(&l.lab().join("lab.txt")),
        first,
        "this machine first: {stderr}"
    );

    let out = run(l
        .command("timeout")
        .env("OMPI_MCA_plm_rsh_agent", &agent)
        .args(["600", "mpirun", "--hostfile", "lab.txt", "cluster-bench"]));
    let report = text(&out.stdout);
    ok(&out, "mpirun --hostfile lab.txt cluster-bench");
    for k in 1..=3 {
        assert!(
            report.contains(&format!("cbhost{k}")),
            "cbhost{k} in:\n{report}"
        );
    }

    // Every core of every host: the hostfile's slots are the hosts' physical cores.
    let v = run_json(&l.lab());
    let mut want: BTreeMap<String, u64> = (1..=3).map(|k| (format!("cbhost{k}"), n)).collect();
    want.insert(this_host(), n);
    assert_eq!(ranks_per_host(&v), want, "ranks per host");
    assert_eq!(v["ranks"], 4 * n);
    assert_eq!(v["complete"], true, "{}", v["stop_reason"]);

    let left = job_leftovers();
    assert!(left.is_empty(), "left running on the test hosts: {left:?}");
    let pids = net.sshd_pids();
    let out = net.down();
    assert!(out.status.success(), "down: {}", text(&out.stderr));
    assert_all_gone(&pids);
}

/// A lab user's launching folder: `lab/` (where commands are typed) and `home/` (their HOME,
/// whose Open MPI parameter file discover.sh writes).
struct Launch {
    dir: tempfile::TempDir,
}

impl Launch {
    fn new() -> Launch {
        let dir = tempfile::tempdir().unwrap();
        assert!(!dir.path().starts_with(repo()), "{:?}", dir.path());
        fs::create_dir(dir.path().join("lab")).unwrap();
        fs::create_dir(dir.path().join("home")).unwrap();
        Launch { dir }
    }

    fn lab(&self) -> PathBuf {
        self.dir.path().join("lab")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A command typed in `lab/`, with only what a lab user sets (see `clean_command`).
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = clean_command(program);
        cmd.current_dir(self.lab()).env("HOME", self.home());
        cmd
    }
}

/// The user's ssh options for the separate-machine hosts: `-u student`, its key, the
/// test network's ssh config.
fn student(net: &Testnet) -> Vec<String> {
    let key = net.state.join("keys/student_ed25519");
    vec![
        "-u".into(),
        "student".into(),
        "-i".into(),
        key.display().to_string(),
        "-F".into(),
        net.ssh_config().display().to_string(),
    ]
}

fn ok(out: &std::process::Output, what: &str) -> String {
    let err = text(&out.stderr);
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}{err}",
        out.status,
        text(&out.stdout)
    );
    err
}

/// Hostfile lines without comments.
fn host_lines(file: &Path) -> Vec<String> {
    fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('#').next().unwrap().trim().to_owned())
        .collect()
}

fn this_host() -> String {
    text(&run(Command::new("uname").arg("-n")).stdout)
        .trim()
        .to_owned()
}

/// The README's lab path on hosts that are separate machines (own homes, /tmp and
/// /usr/local/bin; login user `student` by key only; docker0-like 172.17.0.1 on every host;
/// a firewall that opens ssh and 50000-50199 only): discover (the command not there yet),
/// deploy into student's own home, discover again, the plain `mpirun --hostfile lab.txt
/// cluster-bench`, plot. Rank 0 runs here (this machine first), so the results are in the
/// launching folder; nothing lands in the hosts' homes but the deployed command.
#[test]
fn readme_lab_path_on_separate_machines() {
    let Some(mut net) = Testnet::up(3, &["--lab"]) else {
        return;
    };
    let l = Launch::new();
    let ssh = student(&net);
    let discover = |extra: &[&str]| {
        run(l
            .command(script("discover.sh"))
            .args(&ssh)
            .args(["--include-local", "--ports", "50000-50199", "-o", "lab.txt"])
            .args(extra)
            .arg(SUBNET))
    };
    let t = Instant::now();
    ok(&discover(&["--binary", "none"]), "discover --binary none");
    let me = this_host();
    let want: Vec<String> = std::iter::once(format!("{me} slots={}", cores()))
        .chain((11..=13).map(|k| format!("student@10.213.0.{k} slots={}", cores())))
        .collect();
    assert_eq!(host_lines(&l.lab().join("lab.txt")), want);

    let err = ok(
        &run(l.command(script("deploy.sh")).arg("lab.txt").args(&ssh)),
        "deploy.sh",
    );
    assert_eq!(
        err.matches("copied to /home/student/.local/bin/cluster-bench")
            .count(),
        3,
        "{err}"
    );
    let err = ok(&discover(&[]), "discover after deploy");
    assert_eq!(host_lines(&l.lab().join("lab.txt")), want, "{err}");
    let conf = fs::read_to_string(l.home().join(".openmpi/mca-params.conf")).unwrap();
    for setting in [
        "btl_tcp_if_include = 10.213.0.0/24",
        "oob_tcp_if_include = 10.213.0.0/24",
        "btl_tcp_port_min_v4 = 50100",
        "PATH=/home/student/.local/bin:",
    ] {
        assert!(conf.contains(setting), "{setting} in:\n{conf}");
    }
    let inventory: Value =
        serde_json::from_slice(&fs::read(l.lab().join("lab.json")).unwrap()).unwrap();
    assert_eq!(
        inventory["shared_addresses"],
        serde_json::json!(["172.17.0.1/16"])
    );
    println!(
        "discover, deploy, discover: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let out =
        run(l
            .command("timeout")
            .args(["600", "mpirun", "--hostfile", "lab.txt", "cluster-bench"]));
    ok(&out, "mpirun --hostfile lab.txt cluster-bench");
    println!("mpirun: {:.1} s", t.elapsed().as_secs_f64());
    let ranks = ranks_per_host(&run_json(&l.lab()));
    let mut expect: BTreeMap<String, u64> = (1..=3)
        .map(|k| (format!("cbhost{k}"), u64::from(cores())))
        .collect();
    expect.insert(me, u64::from(cores()));
    assert_eq!(ranks, expect, "ranks per host");

    ok(
        &run(l.command(script("plot.py")).arg("results/runs.csv")),
        "plot.py",
    );
    assert!(l.lab().join("results/plots").is_dir());

    for k in 1..=3 {
        let home = net.state.join(format!("hosts/host{k}/fs/home/student"));
        assert!(home.join(".local/bin/cluster-bench").is_file(), "{home:?}");
        assert!(
            !home.join("results").exists(),
            "results written on host {k}"
        );
    }
    assert!(
        !Path::new("/home/student").exists(),
        "a host's home is visible here"
    );
    let left = job_leftovers();
    assert!(left.is_empty(), "left running on the test hosts: {left:?}");
    let pids = net.sshd_pids();
    ok(&net.down(), "down");
    assert_all_gone(&pids);
}

/// What a real lab throws at discovery, each named with its fix: a cloned image (host 3
/// has host 1's name and machine id) is refused, a firewall that drops the ports mpirun
/// would use is found before mpirun hangs, and a changed host key is named as such. Host 2
/// has one CPU (a cpuset): one slot.
#[test]
fn clones_firewalls_and_changed_host_keys_are_named() {
    let Some(net) = Testnet::up(3, &["--lab", "--clone", "3"]) else {
        return;
    };
    ok(
        &run(net.command("dev/testnet.sh").args(["cpus", "2", "0"])),
        "testnet.sh cpus 2 0",
    );
    let l = Launch::new();
    let ssh = student(&net);
    let discover = || {
        run(l.command(script("discover.sh")).args(&ssh).args([
            "--binary",
            "none",
            "-o",
            "lab.txt",
            "10.213.0.11-13",
        ]))
    };
    let t = Instant::now();
    let out = discover();
    let err = text(&out.stderr);
    println!(
        "discover with a clone and a firewall: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(out.status.code(), Some(1), "blocked ports exit 1: {err}");
    let inventory: Value =
        serde_json::from_slice(&fs::read(l.lab().join("lab.json")).unwrap()).unwrap();
    let clone = &inventory["targets"][2];
    assert_eq!(clone["status"], "hostname-clash", "{clone}");
    assert!(
        clone["detail"]
            .as_str()
            .unwrap()
            .contains("same machine id, another boot id"),
        "{clone}"
    );
    assert_eq!(
        host_lines(&l.lab().join("lab.txt")),
        [
            format!("student@10.213.0.11 slots={}", cores()),
            "student@10.213.0.12 slots=1".to_owned()
        ]
    );
    let hostfile = fs::read_to_string(l.lab().join("lab.txt")).unwrap();
    for comment in [
        format!("{} cores / {} threads", cores(), nproc()),
        "1 cores / 1 threads".to_owned(),
    ] {
        assert!(hostfile.contains(&comment), "{comment} in:\n{hostfile}");
    }
    assert!(
        err.contains(
            "pre-flight: cbhost1 (10.213.0.11) cannot reach cbhost2 (10.213.0.12) on TCP port"
        ) && err.contains("a firewall drops it")
            && err.contains("--ports LO-HI"),
        "{err}"
    );

    // Host 2 reinstalled: its known key is no longer the one it shows.
    let known = net.state.join("known_hosts");
    let stranger = fs::read_to_string(net.state.join("keys/stranger_ed25519.pub")).unwrap();
    let forged: String = fs::read_to_string(&known)
        .unwrap()
        .lines()
        .map(|l| match l.strip_prefix("10.213.0.12 ") {
            Some(_) => format!("10.213.0.12 {}", stranger.trim()),
            None => l.to_owned(),
        })
        .map(|l| l + "\n")
        .collect();
    fs::write(&known, forged).unwrap();
    let _ = discover();
    let inventory: Value =
        serde_json::from_slice(&fs::read(l.lab().join("lab.json")).unwrap()).unwrap();
    let host2 = &inventory["targets"][1];
    assert_eq!(host2["status"], "host-key-changed", "{host2}");
    let fix = format!("ssh-keygen -R '10.213.0.12' -f {}", known.display());
    assert!(host2["detail"].as_str().unwrap().contains(&fix), "{host2}");

    // A host as a hostfile names it (what run.sh's re-check passes), inside the ports the
    // firewall opens: one line, the user kept once, nothing blocked.
    let out = run(l
        .command(script("discover.sh"))
        .args(&ssh)
        .args(["--binary", "none", "--ports", "50000-50199"])
        .args(["-o", "one.txt", "student@10.213.0.11"]));
    ok(&out, "discover student@10.213.0.11");
    assert_eq!(
        host_lines(&l.lab().join("one.txt")),
        [format!("student@10.213.0.11 slots={}", cores())]
    );
}
