//! Shared by the tests of other launchers on the test hosts (Slurm, MPICH's Hydra): the
//! reference run, and the checks that a run used every host and got the reference checksum.

#![allow(dead_code)] // each test binary uses a different part of this module

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, mpi_env, run, text};
use crate::testnet::{self, Testnet, assert_all_gone, script};

/// The workload of the cross-launcher runs: small enough for a few seconds on 6 ranks.
pub const WORKLOAD: [&str; 6] = ["--tasks", "300", "--dim", "40", "--seed", "11"];
pub const TASKS: u64 = 300;

/// The checksum of WORKLOAD run by one process of the Open MPI binary on this machine.
pub fn reference_checksum() -> f64 {
    let v = common::json(&common::bench(
        &[&WORKLOAD[..], &["--json", "--no-save", "--quiet"]].concat(),
    ));
    v["checksum"].as_f64().expect("checksum")
}

/// The one run JSON in `dir`.
pub fn only_run_json(dir: &Path) -> Value {
    let mut files = common::json_files(dir);
    assert_eq!(files.len(), 1, "one run JSON in {dir:?}: {files:?}");
    files.remove(0).1
}

/// A finished WORKLOAD run on the 3 test hosts × 2 ranks: every host named with 2 ranks, every
/// task done once, and the checksum bit-identical to the one-process reference.
pub fn assert_three_hosts(v: &Value, reference: f64, what: &str) {
    assert_eq!(v["ranks"], 6, "{what}: ranks");
    assert_eq!(v["complete"], true, "{what}: complete");
    let hosts = v["hosts"].as_array().expect("hosts array");
    let names: BTreeSet<&str> = hosts.iter().filter_map(|h| h["name"].as_str()).collect();
    let want: BTreeSet<&str> = ["cbhost1", "cbhost2", "cbhost3"].into();
    assert_eq!(names, want, "{what}: hosts {hosts:?}");
    for h in hosts {
        assert_eq!(h["ranks"], 2, "{what}: ranks on {}", h["name"]);
    }
    let tasks: u64 = hosts.iter().filter_map(|h| h["tasks"].as_u64()).sum();
    assert_eq!(tasks, TASKS, "{what}: tasks over the hosts");
    let got = v["checksum"].as_f64().expect("checksum");
    assert_eq!(
        got.to_bits(),
        reference.to_bits(),
        "{what}: checksum {got} differs from the 1-process reference {reference} (numerics {} \
         vs {}; an MPICH build older than this checkout's kernel? scripts/setup.sh --mpi mpich \
         rebuilds it)",
        v["config"]["numerics"],
        cluster_bench::kernel::numerics_id()
    );
}

/// The MPI library line a run's JSON reports.
pub fn mpi_library(v: &Value) -> String {
    v["environment"]["mpi_library"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------- Slurm

pub fn have_slurm() -> bool {
    ["munged", "slurmctld", "slurmd", "sbatch"].iter().all(|t| {
        Command::new("sh")
            .args(["-c", "command -v \"$1\"", "sh", t])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Test hosts with a Slurm cluster, or None (after `testnet::skip` said why).
pub fn slurm_cluster() -> Option<Testnet> {
    if !have_slurm() {
        testnet::skip(
            "needs Debian's munge, slurmctld, slurmd, slurm-client (scripts/setup.sh --slurm)",
        );
        return None;
    }
    Testnet::up(3, &["--slurm"])
}

/// A Slurm client command for this cluster, with the MPI environment the job inherits: the
/// binary's folder on PATH (the script finds `cluster-bench` there, as on a real cluster).
pub fn slurm(net: &Testnet, tool: &str, submit_dir: &Path) -> Command {
    let mut cmd = Command::new(tool);
    let bin_dir = Path::new(common::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    mpi_env(&mut cmd)
        .env("SLURM_CONF", net.state.join("slurm/slurm.conf"))
        .env("PATH", path)
        .env_remove("CLUSTER_BENCH_BIN")
        .current_dir(submit_dir);
    cmd
}

/// `sbatch --wait -N 3 --ntasks-per-node=2 scripts/cluster-bench.sbatch ARGS`, started, with
/// extra environment (CLUSTER_BENCH_LAUNCHER, CLUSTER_BENCH_BIN).
pub fn submit(net: &Testnet, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Child {
    slurm(net, "sbatch", dir)
        .envs(env.iter().copied())
        .args(["--wait", "--parsable", "-N", "3", "--ntasks-per-node=2"])
        .arg(script("cluster-bench.sbatch"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sbatch starts")
}

/// The job id sbatch --parsable prints first (before it waits).
pub fn job_id(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let id = line.trim().split(';').next().unwrap_or_default().to_owned();
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "job id: {line:?}"
    );
    id
}

/// How late `sbatch --wait` may see that its job ended: it asks slurmctld 2, 10, 42, 74 … s
/// after submission (a 2 s sleep, then ×4 up to 32 s), so a job that ends just after one
/// question is seen up to 32 s later.
pub const SBATCH_WAIT_LAG: Duration = Duration::from_secs(32);

/// Waits (asking `scontrol` every 0.2 s) until Slurm no longer has job `id` pending or
/// running, at most `bound`: how long that took, None if it still had. The job's own end, not
/// when `sbatch --wait` next looks (`SBATCH_WAIT_LAG`).
pub fn job_ended_within(net: &Testnet, dir: &Path, id: &str, bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() <= bound {
        let out = slurm(net, "scontrol", dir)
            .args(["show", "job", "--oneliner", id])
            .output()
            .expect("scontrol runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let state = text
            .split_whitespace()
            .find_map(|f| f.strip_prefix("JobState="))
            .unwrap_or("");
        if !matches!(state, "PENDING" | "CONFIGURING" | "RUNNING") {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

pub fn job_output(dir: &Path, id: &str) -> String {
    fs::read_to_string(dir.join(format!("cluster-bench-{id}.out"))).unwrap_or_default()
}

/// Slurm's daemons and job steps that outlived `down`: by their state folder in the command
/// line, or by running in a namespace other than this test's (slurmd and slurmstepd in a test
/// host, slurmscriptd beside slurmctld).
pub fn slurm_leftovers(state: &Path) -> Vec<(u32, String)> {
    let ns = |pid: &str, kind: &str| fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();
    let state = state.display().to_string();
    let names = [
        "munged",
        "slurmctld",
        "slurmscriptd",
        "slurmd",
        "slurmstepd",
    ];
    testnet::processes_named(&names)
        .into_iter()
        .filter(|(pid, _)| {
            let p = pid.to_string();
            let cmdline = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            text(&cmdline).contains(&state)
                || ns(&p, "net") != ns("self", "net")
                || ns(&p, "uts") != ns("self", "uts")
        })
        .collect()
}

pub fn down_and_check(mut net: Testnet) {
    let pids = net.sshd_pids();
    let state: PathBuf = net.state.clone();
    let out = net.down();
    assert!(out.status.success(), "down: {}", text(&out.stderr));
    assert_all_gone(&pids);
    let left = slurm_leftovers(&state);
    assert!(left.is_empty(), "Slurm processes left behind: {left:?}");
}

/// Processes whose name starts with `name` (comm is cut at 15 bytes) in a test host's namespace.
pub fn in_netns(ns: &str, name: &str) -> Vec<u32> {
    let out = run(Command::new("ip").args(["netns", "pids", ns]));
    text(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim().starts_with(name))
        })
        .collect()
}

/// SIGKILL to every process of a test host: the whole machine dies at once.
pub fn kill_host(ns: &str) {
    let out = run(Command::new("ip").args(["netns", "pids", ns]));
    for pid in text(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        // SAFETY: kill(2) of a process inside a namespace the test made.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Waits until `per_host` ranks (processes named cluster-bench) run on each test host.
pub fn wait_for_ranks(child: &mut Child, per_host: usize, log: impl Fn() -> String) {
    let start = Instant::now();
    let hosts = ["cbnet-host1", "cbnet-host2", "cbnet-host3"];
    while !hosts
        .iter()
        .all(|ns| in_netns(ns, "cluster-bench").len() == per_host)
    {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "ranks never all ran\n{}",
            log()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "job ended early\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until no rank (nor orted) is left on hosts 1 and 2, at most until `deadline`.
pub fn wait_survivors_clean(deadline: Instant) {
    for ns in ["cbnet-host1", "cbnet-host2"] {
        while !in_netns(ns, "cluster-bench").is_empty() || !in_netns(ns, "orted").is_empty() {
            assert!(Instant::now() < deadline, "ranks left running in {ns}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The most task records one run of `dir` kept: its JSON's count, or its journal's rows (a
/// run killed outright has only the journal); 0 before `dir` exists.
pub fn records_in(dir: &Path) -> usize {
    if !dir.is_dir() {
        return 0;
    }
    let in_json = common::json_files(dir)
        .iter()
        .filter_map(|(_, v)| v["task_count"].as_u64())
        .max();
    (in_json.unwrap_or(0) as usize).max(common::journal_records(dir))
}
