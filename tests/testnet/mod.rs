//! Shared by the tests that need the project's test hosts (scripts/dev/testnet.sh).
//!
//! The test network (bridge cbnet-br0, 10.213.0.0/24) exists at most once per
//! machine, so every user holds an exclusive lock file for its whole life; each
//! run gets its own state folder; a guard always runs `testnet.sh down`.
//! Builds on tests/common: a test crate declares `mod common;` next to `mod testnet;`.
//!
//! A test that cannot make the hosts here (not root, no `ip netns`) prints `SKIPPED: …` on the
//! terminal, past the harness's output capture; where the hosts are required (`CI` set, or
//! `CLUSTER_BENCH_REQUIRE_TESTNET=1`) it fails instead.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{BIN, mpi_env, pid_running, repo, run, text};

pub const SUBNET: &str = "10.213.0.0/24";
pub const BRIDGE: &str = "cbnet-br0";
/// mpirun's placement of 6 ranks, two on each of the 3 test hosts whatever their core count
/// (the hosts share this machine's cores, so the kernel places them), then the binary.
pub const TWO_RANKS_ON_3_HOSTS: [&str; 7] = [
    "-np",
    "6",
    "--map-by",
    "ppr:2:node",
    "--bind-to",
    "none",
    BIN,
];
const OWNER_FILE: &str = "/run/cbnet-testnet.owner";

/// `mpi_env` plus ssh with the test network's config and wire-up only on the test subnet.
pub fn on_testnet<'a>(cmd: &'a mut Command, net: &Testnet) -> &'a mut Command {
    let agent = format!("ssh -F {}", net.ssh_config().display());
    mpi_env(cmd)
        .env("OMPI_MCA_plm_rsh_agent", agent)
        .env("OMPI_MCA_oob_tcp_if_include", SUBNET)
        .env("OMPI_MCA_btl_tcp_if_include", SUBNET)
}

pub fn script(name: &str) -> PathBuf {
    repo().join("scripts").join(name)
}

/// Why the test hosts cannot be made on this machine; None when they can (root, and
/// `ip netns` works).
pub fn cannot_make_hosts() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some(format!("needs root (running as uid {euid})"));
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`ip netns list` failed: {}",
            text(&o.stderr).trim()
        )),
        Err(e) => Some(format!(
            "needs `ip` (iproute2) with network namespaces: {e}"
        )),
    }
}

/// What demands that the test-host tests run rather than skip: `CLUSTER_BENCH_REQUIRE_TESTNET=1`,
/// or `CI` set (as CI services do) unless `CLUSTER_BENCH_REQUIRE_TESTNET=0` says otherwise.
fn required_by() -> Option<String> {
    let var = |name| std::env::var(name).unwrap_or_default();
    match var("CLUSTER_BENCH_REQUIRE_TESTNET").as_str() {
        "1" => return Some("CLUSTER_BENCH_REQUIRE_TESTNET=1".into()),
        "0" => return None,
        _ => {}
    }
    let ci = var("CI");
    (!matches!(ci.as_str(), "" | "0" | "false")).then(|| format!("CI={ci}"))
}

/// A test that cannot run says so: it fails where the test hosts are required, else prints
/// `SKIPPED` straight to stderr (the harness captures `println!`/`eprintln!` of passing tests).
pub fn skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test-host test")
        .to_owned();
    if let Some(why) = required_by() {
        panic!(
            "{test} cannot run: {reason}; {why} requires the test hosts (scripts/dev/testnet.sh)"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {test}: {reason} (scripts/dev/testnet.sh; set CLUSTER_BENCH_REQUIRE_TESTNET=1 to fail instead)"
    );
}

/// An exclusive lock on a file shared by every test that uses the test network
/// (threads of one test binary and other test binaries alike).
pub struct NetLock {
    _file: File,
}

impl NetLock {
    pub fn acquire() -> NetLock {
        let path = std::env::temp_dir().join("cluster-bench-testnet.lock");
        let file = File::create(&path).unwrap_or_else(|e| panic!("lock {path:?}: {e}"));
        // SAFETY: a valid open descriptor; flock blocks until the lock is ours
        // and is released when the file is closed (on drop).
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {path:?} failed");
        NetLock { _file: file }
    }
}

/// The test hosts of one test run. Dropping it runs `testnet.sh down`.
pub struct Testnet {
    pub state: PathBuf,
    _dir: tempfile::TempDir,
    _lock: NetLock,
    down_done: bool,
}

impl Testnet {
    /// Brings up `n` good hosts plus the given negative hosts (`--refused`,
    /// `--negatives`, ...). None when this machine cannot make them, after `skip`
    /// said so (or failed the test where the hosts are required).
    pub fn up(n: u32, extra: &[&str]) -> Option<Testnet> {
        if let Some(reason) = cannot_make_hosts() {
            skip(&reason);
            return None;
        }
        let lock = NetLock::acquire();
        wait_for_free_testnet();
        let dir = tempfile::Builder::new()
            .prefix("cbnet-test.")
            .tempdir()
            .expect("temp dir");
        let state = dir.path().join("state");
        let net = Testnet {
            state,
            _dir: dir,
            _lock: lock,
            down_done: false,
        };
        let out = run(net
            .command("dev/testnet.sh")
            .arg("up")
            .arg(n.to_string())
            .args(extra));
        assert!(
            out.status.success(),
            "testnet.sh up failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        Some(net)
    }

    /// A command for one of the scripts, pointed at this run's state folder.
    pub fn command(&self, script_name: &str) -> Command {
        let mut cmd = Command::new(script(script_name));
        cmd.env("CLUSTER_BENCH_TESTNET_DIR", &self.state);
        cmd
    }

    pub fn ssh_config(&self) -> PathBuf {
        self.state.join("ssh_config")
    }

    /// PIDs of every sshd the script saved.
    pub fn sshd_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        if let Ok(entries) = fs::read_dir(self.state.join("hosts")) {
            for entry in entries.flatten() {
                let file = entry.path().join("sshd.pid");
                if let Ok(s) = fs::read_to_string(&file)
                    && let Ok(pid) = s.trim().parse()
                {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    /// Runs `down` and returns its output (the guard will not run it again).
    pub fn down(&mut self) -> Output {
        self.down_done = true;
        run(self.command("dev/testnet.sh").arg("down"))
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        if !self.down_done {
            let out = self.down();
            if !out.status.success() {
                eprintln!("testnet.sh down failed: {}", text(&out.stderr));
            }
        }
    }
}

/// Waits until no test network is up. One left by a crashed test run (its
/// state folder is a test's temporary folder, and we hold the lock, so that
/// run is over) is taken down; one made by anybody else (a developer, a
/// script) is theirs: wait for it to go, then fail with a clear message.
fn wait_for_free_testnet() {
    let test_prefix = std::env::temp_dir().join("cbnet-test.");
    let test_prefix = test_prefix.to_string_lossy().into_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let mut said = false;
    while bridge_exists() {
        let owner = fs::read_to_string(OWNER_FILE).unwrap_or_default();
        let owner = owner.trim().to_owned();
        if owner.starts_with(&test_prefix) && Path::new(&owner).is_dir() {
            eprintln!("taking down the test network a crashed test run left ({owner})");
            let _ = Command::new(script("dev/testnet.sh"))
                .arg("down")
                .env("CLUSTER_BENCH_TESTNET_DIR", &owner)
                .output();
            continue;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a test network is up that no test made (state folder {owner:?}); \
             take it down with: CLUSTER_BENCH_TESTNET_DIR={owner} scripts/dev/testnet.sh down"
        );
        if !said {
            eprintln!("waiting for the test network of {owner:?} to be taken down");
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

/// Names of the network namespaces the test network uses that still exist.
pub fn leftover_namespaces() -> Vec<String> {
    let out = run(Command::new("ip").args(["netns", "list"]));
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with("cbnet-"))
        .map(str::to_owned)
        .collect()
}

pub fn bridge_exists() -> bool {
    Command::new("ip")
        .args(["link", "show", BRIDGE])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Processes whose command name is one of `names`, as (pid, name). Used only
/// to check that nothing was left behind, never to kill.
pub fn processes_named(names: &[&str]) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(comm) = fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim();
        if names.contains(&comm) && pid_running(pid) {
            found.push((pid, comm.to_owned()));
        }
    }
    found
}

/// Processes named sshd, orted or cluster-bench that run in another network
/// namespace than this test: what the test hosts ran (nothing else on this
/// machine lives in a foreign network namespace under those names).
pub fn leftovers_in_namespaces() -> Vec<(u32, String)> {
    let own = fs::read_link("/proc/self/ns/net").ok();
    processes_named(&["sshd", "orted", "cluster-bench"])
        .into_iter()
        .filter(|(pid, _)| fs::read_link(format!("/proc/{pid}/ns/net")).ok() != own)
        .collect()
}

/// Asserts that `down` left no namespace, bridge, saved sshd, or sshd, orted
/// or cluster-bench process of the test hosts behind.
pub fn assert_all_gone(sshd_pids: &[u32]) {
    let ns = leftover_namespaces();
    assert!(ns.is_empty(), "namespaces left behind: {ns:?}");
    assert!(!bridge_exists(), "bridge {BRIDGE} left behind");
    let alive: Vec<u32> = sshd_pids
        .iter()
        .copied()
        .filter(|&p| pid_running(p))
        .collect();
    assert!(alive.is_empty(), "sshd processes left behind: {alive:?}");
    let left = leftovers_in_namespaces();
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// The number `nproc` prints here (what the test hosts report: they share
/// this machine's CPUs).
pub fn nproc() -> u32 {
    let out = run(&mut Command::new("nproc"));
    text(&out.stdout).trim().parse().expect("nproc output")
}

/// Physical cores here as discover.sh counts them (distinct core and socket pairs of
/// `lscpu -p`, at most `nproc`): a test host's slots by default.
pub fn cores() -> u32 {
    let out = run(Command::new("lscpu").arg("-p=Core,Socket"));
    let pairs: std::collections::BTreeSet<&str> = std::str::from_utf8(&out.stdout)
        .expect("lscpu output")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    u32::try_from(pairs.len()).unwrap().clamp(1, nproc())
}
