//! A real Slurm cluster on the project's test hosts (`testnet.sh up 3 --slurm`: munged and
//! slurmctld on this machine, a slurmd in each host), driven as a Slurm user drives it:
//! `sbatch --wait -N 3 --ntasks-per-node=2 scripts/cluster-bench.sbatch` runs ranks on every
//! node with the 1-process checksum, under mpirun and under srun (PMIx); `scancel` mid-run
//! keeps the records finished so far; a node whose processes are all killed ends the job
//! within 30 s with a message naming it; `down` leaves no daemon, job or namespace behind.
//! Needs root, network namespaces and Debian's slurmctld/slurmd/munge (CI: `scripts/setup.sh
//! --slurm`); prints SKIPPED otherwise.

mod common;
mod launchers;
mod testnet;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use testnet::{Testnet, assert_all_gone, mpi_env, run, script, text};

const BIN: &str = env!("CARGO_BIN_EXE_cluster-bench");
/// The bound: a killed node ends the job this soon.
const FAULT_BOUND: Duration = Duration::from_secs(30);
const DEAD_HOST: &str = "cbhost3";
const DEAD_NS: &str = "cbnet-host3";

fn have_slurm() -> bool {
    ["munged", "slurmctld", "slurmd", "sbatch"].iter().all(|t| {
        Command::new("sh")
            .args(["-c", "command -v \"$1\"", "sh", t])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Test hosts with a Slurm cluster, or None (after printing SKIPPED).
fn slurm_cluster() -> Option<Testnet> {
    if !have_slurm() {
        println!(
            "SKIPPED: needs Debian's munge, slurmctld, slurmd, slurm-client (scripts/setup.sh --slurm)"
        );
        return None;
    }
    Testnet::up(3, &["--slurm"])
}

/// A Slurm client command for this cluster, with the MPI environment the job inherits: the
/// binary's folder on PATH (the script finds `cluster-bench` there, as on a real cluster).
fn slurm(net: &Testnet, tool: &str, submit_dir: &Path) -> Command {
    let mut cmd = Command::new(tool);
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    mpi_env(&mut cmd)
        .env("SLURM_CONF", net.state.join("slurm/slurm.conf"))
        .env("PATH", path)
        .env_remove("CLUSTER_BENCH_BIN")
        .current_dir(submit_dir);
    cmd
}

/// `sbatch --wait -N 3 --ntasks-per-node=2 scripts/cluster-bench.sbatch ARGS`, started.
fn submit(net: &Testnet, dir: &Path, launcher: &str, args: &[&str]) -> Child {
    slurm(net, "sbatch", dir)
        .env("CLUSTER_BENCH_LAUNCHER", launcher)
        .args(["--wait", "--parsable", "-N", "3", "--ntasks-per-node=2"])
        .arg(script("cluster-bench.sbatch"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sbatch starts")
}

/// The job id sbatch --parsable prints first (before it waits).
fn job_id(child: &mut Child) -> String {
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

/// Waits for sbatch --wait at most `bound`; on a hang kills it (the job stays for `down`).
fn wait_within(mut child: Child, bound: Duration, what: &str) -> (Output, Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > bound {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: sbatch --wait still waiting after {bound:?}\n{}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), start.elapsed())
}

fn job_output(dir: &Path, id: &str) -> String {
    fs::read_to_string(dir.join(format!("cluster-bench-{id}.out"))).unwrap_or_default()
}

fn run_job(net: &Testnet, launcher: &str, reference: f64) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = submit(net, dir.path(), launcher, &launchers::WORKLOAD);
    let id = job_id(&mut child);
    let (out, took) = wait_within(child, Duration::from_secs(120), launcher);
    let log = job_output(dir.path(), &id);
    println!("{launcher}: job {id} took {took:.1?}\n{log}");
    assert!(
        out.status.success(),
        "{launcher}: {:?}\n{log}{}",
        out.status,
        text(&out.stderr)
    );
    let v = launchers::only_run_json(&dir.path().join("results"));
    launchers::assert_three_hosts(&v, reference, launcher);
    assert!(launchers::mpi_library(&v).starts_with("Open MPI"), "{v:?}");
}

/// Slurm's daemons and job steps that outlived `down`: by their state folder in the command
/// line, or by running in a namespace other than this test's (slurmd and slurmstepd in a test
/// host, slurmscriptd beside slurmctld).
fn slurm_leftovers(state: &Path) -> Vec<(u32, String)> {
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

fn down_and_check(mut net: Testnet) {
    let pids = net.sshd_pids();
    let state: PathBuf = net.state.clone();
    let out = net.down();
    assert!(out.status.success(), "down: {}", text(&out.stderr));
    assert_all_gone(&pids);
    let left = slurm_leftovers(&state);
    assert!(left.is_empty(), "Slurm processes left behind: {left:?}");
}

#[test]
fn sbatch_runs_ranks_on_every_node() {
    let Some(net) = slurm_cluster() else {
        return;
    };
    let status = text(&run(&mut net.command("testnet.sh").arg("status")).stdout);
    assert!(status.contains("slurmd cbhost3"), "{status}");
    let reference = launchers::reference_checksum();
    run_job(&net, "mpirun", reference);
    run_job(&net, "srun", reference);
    down_and_check(net);
}

/// The records in a JSON that `--checkpoint-every` or the end of the run wrote.
fn records_in(dir: &Path) -> usize {
    launchers::json_files(dir)
        .iter()
        .filter_map(|p| fs::read(p).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter_map(|v| v["tasks"].as_array().map(Vec::len))
        .max()
        .unwrap_or(0)
}

#[test]
fn scancel_keeps_finished_tasks() {
    let Some(net) = slurm_cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let args = ["--dim", "60", "--tasks", "1000000", "--schedule", "dynamic"];
    let mut child = submit(
        &net,
        dir.path(),
        "mpirun",
        &[&args[..], &["--checkpoint-every", "1"]].concat(),
    );
    let id = job_id(&mut child);
    let start = Instant::now();
    while records_in(&results) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no checkpoint\n{}",
            job_output(dir.path(), &id)
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "job ended early\n{}",
            job_output(dir.path(), &id)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = run(slurm(&net, "scancel", dir.path()).arg(&id));
    assert!(out.status.success(), "scancel: {}", text(&out.stderr));
    let (out, took) = wait_within(child, Duration::from_secs(60), "scancel");
    let log = job_output(dir.path(), &id);
    println!(
        "scancel: job {id} ended {took:.1?} after scancel, {:?}\n{log}",
        out.status
    );
    assert!(!out.status.success(), "a cancelled job reported success");
    assert!(log.contains("CANCELLED"), "{log}");
    let kept = launchers::json_files(&results);
    let docs: Vec<serde_json::Value> = kept.iter().map(|p| launchers::read_json(p)).collect();
    assert!(!docs.is_empty(), "nothing kept in {results:?}");
    for (path, v) in kept.iter().zip(&docs) {
        assert_eq!(v["complete"], false, "{path:?} not marked incomplete");
    }
    let records = records_in(&results);
    println!("kept {records} task records in {kept:?}");
    assert!(records > 0);
    down_and_check(net);
}

/// Processes named `name` in a test host's namespace.
fn in_netns(ns: &str, name: &str) -> Vec<u32> {
    let out = run(Command::new("ip").args(["netns", "pids", ns]));
    text(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|p| fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == name))
        .collect()
}

#[test]
fn killed_node_ends_the_job() {
    let Some(net) = slurm_cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--dim",
        "60",
        "--tasks",
        "1000000",
        "--heartbeat-timeout",
        "5",
    ];
    let mut child = submit(&net, dir.path(), "mpirun", &args);
    let id = job_id(&mut child);
    let hosts = ["cbnet-host1", "cbnet-host2", DEAD_NS];
    let start = Instant::now();
    while !hosts
        .iter()
        .all(|ns| in_netns(ns, "cluster-bench").len() == 2)
    {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "ranks never all ran\n{}",
            job_output(dir.path(), &id)
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "job ended early\n{}",
            job_output(dir.path(), &id)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    // The whole node dies at once: slurmd, the job's slurmstepd, orted, ranks, sshd.
    let out = run(Command::new("ip").args(["netns", "pids", DEAD_NS]));
    for pid in text(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        // SAFETY: kill(2) of a process inside a namespace this test made.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let (out, took) = wait_within(child, FAULT_BOUND, "killed node");
    let log = job_output(dir.path(), &id);
    println!(
        "killed node: job {id} ended {took:.1?} after the fault, {:?}\n{log}",
        out.status
    );
    assert!(
        !out.status.success(),
        "job with a dead node reported success"
    );
    assert!(log.contains(DEAD_HOST), "{DEAD_HOST} not named:\n{log}");
    let deadline = Instant::now() + FAULT_BOUND.saturating_sub(took);
    for ns in &hosts[..2] {
        while !in_netns(ns, "cluster-bench").is_empty() || !in_netns(ns, "orted").is_empty() {
            assert!(Instant::now() < deadline, "ranks left running in {ns}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    down_and_check(net);
}
