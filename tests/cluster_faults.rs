//! A host dies mid-run on the project's test hosts: 3 hosts × 2
//! ranks run cluster-bench, and a few seconds in, host 3 either has every process killed
//! (case A) or loses its link so that nothing answers and no TCP reset ever comes, as when a
//! machine loses power (case B). Each time the job must end within 30 s of the fault with a
//! non-zero exit and a message naming cbhost3; nothing of the job may be left on the
//! surviving hosts or on this machine; earlier results keep every byte; the completed records
//! of every surviving host are kept in a JSON marked incomplete and in the run's journal.
//! `scripts/run.sh --retries 1` finishes such a run without the lost host (host 2 killed, or
//! its link cut), with the undisturbed checksum; when rank 0's host dies, the workers on the
//! other hosts exit by themselves.
//!
//! mpirun runs with the `oob_tcp_keepalive_*` settings docs/faults.md recommends: without them,
//! Open MPI 4.1's mpirun waits ~15 min for an unreachable host's orted (see
//! `grace_before_abort` in src/schedule/watch.rs). The binary's part, tested here too: rank 0
//! names the silent host, saves, and leaves the launcher time to end the job.
//!
//! Needs root and network namespaces (CI runs as root); skipped elsewhere. The test network
//! is shared with tests/cluster.rs through the lock in tests/testnet; every test brings its
//! own network up and its guard always takes it down.

mod common;
mod testnet;

use common::{json_files, pid_running, run, text, wait_within};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use testnet::{TWO_RANKS_ON_3_HOSTS, Testnet, assert_all_gone, on_testnet};

/// The bound a job is held to: it ends this soon after the fault.
const FAULT_BOUND: Duration = Duration::from_secs(30);
/// The host that dies, its namespace, and the hosts that survive.
const DEAD_HOST: &str = "cbhost3";
const DEAD_NS: &str = "cbnet-host3";
const DEAD_ADDR: &str = "10.213.0.13";
const SURVIVING_NS: [&str; 2] = ["cbnet-host1", "cbnet-host2"];
/// Bytes of earlier results, which must survive unchanged: a runs.csv of today's columns
/// (another header is refused before the run) with an earlier row.
fn earlier_csv() -> Vec<u8> {
    [
        cluster_bench::bench::csv::header(),
        b"earlier,row\n".to_vec(),
    ]
    .concat()
}
const EARLIER_JSON: &[u8] = b"{\"earlier\": true}\n";

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// kill -9 of every process in the host's namespace (its sshd, sessions, orted, ranks).
    KillAll,
    /// The host's link goes down: silence, no reset (a machine that loses power).
    LinkDown,
}

fn with_keepalive<'a>(cmd: &'a mut Command, net: &Testnet) -> &'a mut Command {
    on_testnet(cmd, net)
        // The lab settings docs/faults.md recommends: mpirun probes its idle connection to
        // each orted every 5 s and declares a host that misses 3 probes 2 s apart dead (≤ 11 s
        // after the fault), before rank 0's abort (≥ 15 s: 5 s of silence + 10 s of grace).
        .env("OMPI_MCA_oob_tcp_keepalive_time", "5")
        .env("OMPI_MCA_oob_tcp_keepalive_intvl", "2")
        .env("OMPI_MCA_oob_tcp_keepalive_probes", "3")
}

/// Inode of a named network namespace (what /proc/PID/ns/net points to).
fn netns_inode(name: &str) -> Option<u64> {
    fs::metadata(format!("/run/netns/{name}"))
        .ok()
        .map(|m| m.ino())
}

fn proc_netns_inode(pid: u32) -> Option<u64> {
    fs::metadata(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|m| m.ino())
}

fn cmdline(pid: u32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    text(&raw).replace('\0', " ")
}

/// Live processes of the job on the surviving hosts and on this machine: orted and
/// cluster-bench in a surviving host's namespace; cluster-bench anywhere but on the dead host
/// whose command line has this run's `--out` folder; ssh anywhere that uses this test
/// network's ssh config (mpirun's sessions to the hosts). The dead host is not looked at.
fn job_leftovers(net: &Testnet, out_dir: &Path) -> Vec<(u32, String, String)> {
    let surviving: Vec<u64> = SURVIVING_NS.iter().filter_map(|n| netns_inode(n)).collect();
    let dead = netns_inode(DEAD_NS);
    let config = net.ssh_config().display().to_string();
    let out = out_dir.display().to_string();
    testnet::processes_named(&["orted", "cluster-bench", "ssh"])
        .into_iter()
        .filter(|(pid, name)| {
            let ns = proc_netns_inode(*pid);
            let args = cmdline(*pid);
            ns.is_some_and(|i| surviving.contains(&i))
                || (name == "ssh" && args.contains(&config))
                || (name == "cluster-bench" && ns != dead && args.contains(&out))
        })
        .map(|(pid, name)| (pid, name, cmdline(pid)))
        .collect()
}

/// The records of the run's journal in `dir`.
fn journal(dir: &Path) -> Vec<cluster_bench::record::TaskRecord> {
    let found = fs::read_dir(dir).unwrap().flatten().map(|e| e.path());
    let path = found
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".tasks.csv.gz"))
        .unwrap_or_else(|| panic!("no journal in {dir:?}"));
    cluster_bench::bench::journal::read(&path).unwrap().records
}

/// PIDs of live processes in a namespace, with their command names.
fn netns_pids(ns: &str) -> Vec<(u32, String)> {
    let out = run(Command::new("ip").args(["netns", "pids", ns]));
    text(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|&p| pid_running(p))
        .map(|p| {
            let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            (p, comm.trim().to_owned())
        })
        .collect()
}

fn ps_forest() -> String {
    text(&run(Command::new("ps").args(["-eo", "pid,ppid,stat,etimes,args", "--forest"])).stdout)
}

/// Waits until `n` ranks run on every host (the job is under way).
fn wait_for_ranks(child: &mut Child, per_host: usize) {
    let start = Instant::now();
    loop {
        let counts: Vec<usize> = ["cbnet-host1", "cbnet-host2", DEAD_NS]
            .iter()
            .map(|ns| {
                netns_pids(ns)
                    .iter()
                    .filter(|(_, c)| c == "cluster-bench")
                    .count()
            })
            .collect();
        if counts.iter().all(|&c| c == per_host) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("mpirun ended before the ranks started: {status:?}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "ranks never all started: {counts:?}\n{}",
            ps_forest()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn inject(fault: Fault, ns: &str) {
    match fault {
        Fault::KillAll => {
            // Everything that host runs, the sshd listener included, dies at once.
            let victims = netns_pids(ns);
            assert!(!victims.is_empty());
            for (pid, _) in &victims {
                // SAFETY: kill(2) of a process inside a namespace this test made.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
        }
        Fault::LinkDown => {
            // The namespace's side of its veth goes down: its peer loses carrier, the bridge
            // drops every frame for it, and the host can send nothing: no FIN, no RST.
            let out = run(Command::new("ip").args(["-n", ns, "link", "set", "eth0", "down"]));
            assert!(out.status.success(), "link down: {}", text(&out.stderr));
        }
    }
}

/// Waits for mpirun at most `bound`; on a hang, kills it and the ssh sessions of this test
/// (processes this test started) and fails with what was still running.
fn finish_within(
    mut child: Child,
    bound: Duration,
    net: &Testnet,
    out_dir: &Path,
) -> (Output, Duration) {
    if let Some(took) = wait_within(&mut child, bound) {
        return (child.wait_with_output().unwrap(), took);
    }
    let forest = ps_forest();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    for (pid, name, _) in job_leftovers(net, out_dir) {
        if name == "ssh" {
            // SAFETY: kill(2) of an ssh session to this test's hosts.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
    panic!(
        "job still running {bound:?} after the fault; processes:\n{forest}\nstderr:\n{}",
        text(&out.stderr)
    );
}

/// One run with one fault; returns how long the job took to end after the fault.
fn host_dies(schedule: &str, fault: Fault) -> Option<Duration> {
    let mut net = Testnet::up(3, &[])?;
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("results");
    fs::create_dir(&out_dir).unwrap();
    fs::write(out_dir.join("runs.csv"), earlier_csv()).unwrap();
    fs::write(out_dir.join("earlier.json"), EARLIER_JSON).unwrap();
    let hostfile = dir.path().join("hosts.txt");
    fs::write(
        &hostfile,
        "cbhost1 slots=2\ncbhost2 slots=2\ncbhost3 slots=2\n",
    )
    .unwrap();

    let mut cmd = Command::new("mpirun");
    with_keepalive(&mut cmd, &net)
        .arg("--hostfile")
        .arg(&hostfile)
        .args(TWO_RANKS_ON_3_HOSTS)
        // Far longer than the test: the fault always comes mid-run.
        .args(["--dim", "60", "--tasks", "1000000", "--seed", "3"])
        .args(["--heartbeat-timeout", "5", "--checkpoint-every", "1"])
        .args([
            "--schedule",
            schedule,
            "--label",
            schedule,
            "--quiet",
            "--out",
        ])
        .arg(&out_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("mpirun starts");
    wait_for_ranks(&mut child, 2);
    // Mid-run: long enough for completed tasks (and, dynamic, a checkpoint) to exist.
    std::thread::sleep(Duration::from_secs(4));
    assert!(child.try_wait().unwrap().is_none(), "the run ended early");
    inject(fault, DEAD_NS);
    let (o, took) = finish_within(child, FAULT_BOUND, &net, &out_dir);
    let err = text(&o.stderr);
    println!(
        "{schedule} {fault:?}: job ended {took:.1?} after the fault, {:?}",
        o.status
    );
    println!("stderr:\n{err}");
    assert!(!o.status.success(), "{schedule} {fault:?}: exit 0\n{err}");
    assert!(took < FAULT_BOUND);
    match fault {
        // Silence: rank 0's heartbeat watch, or mpirun's keep-alive, names the host.
        Fault::LinkDown => {
            assert!(
                err.contains(DEAD_HOST),
                "{schedule} {fault:?}: {DEAD_HOST} not named:\n{err}"
            );
            // The fault was silence: the dead host closed no connection.
            let closed = format!("Connection to {DEAD_ADDR} closed");
            assert!(!err.contains(&closed), "not a silent fault:\n{err}");
        }
        // Killed: Open MPI ends the job within a second, before any heartbeat is missed. It
        // may speak only through ssh ("Connection to 10.213.0.13 closed by remote host"),
        // naming the host as the ssh config resolves it (discover.sh's hostfiles hold
        // addresses anyway), or through the TCP transport ("Peer host: cbhost3").
        Fault::KillAll => assert!(
            err.contains(DEAD_HOST) || err.contains(DEAD_ADDR),
            "{schedule} {fault:?}: neither {DEAD_HOST} nor {DEAD_ADDR} named:\n{err}"
        ),
    }

    // Nothing of the job left on the surviving hosts or here; the processes get until the
    // bound (counted from the fault) to go.
    let deadline = Instant::now() + FAULT_BOUND.saturating_sub(took);
    loop {
        let left = job_leftovers(&net, &out_dir);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{schedule} {fault:?}: left behind {left:?}\n{}",
            ps_forest()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Earlier results: not a byte changed (rows may be appended).
    let csv = fs::read(out_dir.join("runs.csv")).unwrap();
    assert!(csv.starts_with(&earlier_csv()), "runs.csv:\n{}", text(&csv));
    assert_eq!(
        fs::read(out_dir.join("earlier.json")).unwrap(),
        EARLIER_JSON
    );
    // Every JSON but the earlier one parses (atomic writes) and is marked incomplete.
    let mut docs = json_files(&out_dir);
    docs.retain(|(name, _)| name != "earlier.json");
    for (name, doc) in &docs {
        assert_eq!(doc["complete"], false, "{name} not marked incomplete");
    }
    // Completed work is kept, from every surviving host (records stream to rank 0 in both
    // schedules): in the JSON rank 0 writes when the job is torn down (link down: always; a
    // killed host: unless Open MPI's TCP transport, seeing the dead peer first, killed rank 0
    // at once), and else in the journal, appended every second here.
    let ranks: BTreeSet<i32> = match docs.first() {
        Some((_, doc)) => common::records_of(&out_dir, doc),
        None => journal(&out_dir),
    }
    .iter()
    .map(|r| r.rank)
    .collect();
    println!(
        "kept: JSON {:?}, journal {} records, from ranks {ranks:?}",
        docs.first().map(|d| &d.0),
        common::journal_records(&out_dir)
    );
    if matches!(fault, Fault::LinkDown) {
        assert!(!docs.is_empty(), "no JSON kept in {out_dir:?}");
    }
    assert!(ranks.len() >= 4, "records of ranks {ranks:?} only");
    assert_eq!(common::temporary_files(&out_dir), Vec::<String>::new());

    let pids = net.sshd_pids();
    let out = net.down();
    assert!(out.status.success(), "down: {}", text(&out.stderr));
    assert_all_gone(&pids);
    Some(took)
}

#[test]
fn link_down_static() {
    host_dies("static", Fault::LinkDown);
}

#[test]
fn link_down_dynamic() {
    host_dies("dynamic", Fault::LinkDown);
}

#[test]
fn host_killed_dynamic() {
    host_dies("dynamic", Fault::KillAll);
}

#[test]
fn host_killed_static() {
    host_dies("static", Fault::KillAll);
}

// ------------------------------------------------ finishing without the lost host: run.sh

/// The work of the runs that must complete: ~6 s on the 6 ranks sharing this machine's 2 cores.
const FINITE: [&str; 6] = ["--dim", "60", "--tasks", "30000", "--seed", "3"];
const FINITE_TASKS: u64 = 30_000;
/// The host that dies in the run.sh tests (rank 0 is on cbhost1).
const HOST2: &str = "cbhost2";
const HOST2_NS: &str = "cbnet-host2";

/// The checksum of FINITE from one process, computed once per test binary.
fn reference() -> f64 {
    static REF: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *REF.get_or_init(|| {
        let args = [&FINITE[..], &["--json", "--no-save", "--quiet"]].concat();
        common::json(&common::bench(&args))["checksum"]
            .as_f64()
            .unwrap()
    })
}

/// `scripts/run.sh --retries 1` with host 2 of 3 failing mid-run: the run completes on the
/// other two with the undisturbed checksum, every task once, in two attempts.
fn run_sh_finishes_without(schedule: &str, fault: Fault) {
    let reference = reference();
    let Some(mut net) = Testnet::up(3, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("results");
    let hostfile = dir.path().join("hosts.txt");
    let hosts = "cbhost1 slots=2\ncbhost2 slots=2\ncbhost3 slots=2\n";
    fs::write(&hostfile, hosts).unwrap();
    let mut cmd = Command::new(testnet::script("run.sh"));
    with_keepalive(&mut cmd, &net)
        .env("CLUSTER_BENCH_COMMAND", common::BIN)
        .args(["--no-setup", "--retries", "1", "--hostfile"])
        .arg(&hostfile)
        .arg("-F")
        .arg(net.ssh_config())
        .arg("--")
        .args(FINITE)
        .args(["--heartbeat-timeout", "5", "--checkpoint-every", "1"])
        .args(["--schedule", schedule, "--quiet", "--out"])
        .arg(&out_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run.sh starts");
    wait_for_ranks(&mut child, 2);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(child.try_wait().unwrap().is_none(), "the run ended early");
    inject(fault, HOST2_NS);
    let (o, took) = common::finish_within(child, Duration::from_secs(150));
    let err = text(&o.stderr);
    println!("run.sh {schedule} {fault:?}: ended {took:.1?} after the fault\n{err}");
    assert!(
        o.status.success(),
        "{schedule} {fault:?}: {:?}\n{err}",
        o.status
    );
    let last: Vec<&str> = err.lines().rev().take(2).collect();
    assert_eq!(
        last,
        ["run.sh: run complete", "run.sh: lost hosts: cbhost2"]
    );

    let docs = json_files(&out_dir);
    let (_, done) = docs
        .iter()
        .find(|(_, v)| v["complete"] == true)
        .unwrap_or_else(|| panic!("no complete JSON among {docs:?}"));
    common::assert_whole_run(&out_dir, done, reference, FINITE_TASKS, schedule);
    let attempts = done["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    let names = |a: &serde_json::Value| -> Vec<String> {
        let h = a["hosts"].as_array().unwrap();
        h.iter().map(|h| h.as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(&attempts[0]), ["cbhost1", "cbhost2", "cbhost3"]);
    assert_eq!(names(&attempts[1]), ["cbhost1", "cbhost3"]);
    let sum: u64 = attempts
        .iter()
        .map(|a| a["tasks_done"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, FINITE_TASKS, "no task counted twice");
    // The first attempt kept the work of the host that died (ranks 2 and 3), streamed to
    // rank 0 before the fault: only its last second or so was recomputed.
    let first = docs
        .iter()
        .find(|(_, v)| v["complete"] == false)
        .map(|(_, v)| common::records_of(&out_dir, v));
    if let Some(tasks) = first {
        let from_dead = tasks.iter().filter(|t| matches!(t.rank, 2 | 3)).count();
        println!(
            "first attempt kept {} records, {from_dead} of them from {HOST2}",
            tasks.len()
        );
        assert!(from_dead > 0, "nothing of {HOST2}'s work was kept");
    }
    assert_eq!(common::temporary_files(&out_dir), Vec::<String>::new());
    let _ = net.down();
}

#[test]
fn run_sh_retries_after_a_killed_host_static() {
    run_sh_finishes_without("static", Fault::KillAll);
}

#[test]
fn run_sh_retries_after_a_killed_host_dynamic() {
    run_sh_finishes_without("dynamic", Fault::KillAll);
}

#[test]
fn run_sh_retries_after_a_cut_link_static() {
    run_sh_finishes_without("static", Fault::LinkDown);
}

#[test]
fn run_sh_retries_after_a_cut_link_dynamic() {
    run_sh_finishes_without("dynamic", Fault::LinkDown);
}

// ------------------------------------------------ rank 0's host dies

/// Rank 0's host goes silent (link down, then every process killed, so no reset ever leaves
/// it) while mpirun, on this machine, has no keep-alive and would wait for it for many
/// minutes: the workers on the other hosts notice rank 0's silence and exit by themselves.
#[test]
fn workers_exit_when_rank_0_s_host_dies() {
    let Some(mut net) = Testnet::up(3, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("results");
    let hostfile = dir.path().join("hosts.txt");
    let hosts = "cbhost1 slots=2\ncbhost2 slots=2\ncbhost3 slots=2\n";
    fs::write(&hostfile, hosts).unwrap();
    let mut cmd = Command::new("mpirun");
    on_testnet(&mut cmd, &net)
        .arg("--hostfile")
        .arg(&hostfile)
        .args(TWO_RANKS_ON_3_HOSTS)
        .args([
            "--dim",
            "60",
            "--tasks",
            "1000000",
            "--heartbeat-timeout",
            "5",
        ])
        .args(["--quiet", "--out"])
        .arg(&out_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("mpirun starts");
    wait_for_ranks(&mut child, 2);
    std::thread::sleep(Duration::from_secs(2));
    inject(Fault::LinkDown, "cbnet-host1");
    inject(Fault::KillAll, "cbnet-host1");
    let start = Instant::now();
    let workers = || -> Vec<(u32, String)> {
        ["cbnet-host2", "cbnet-host3"]
            .iter()
            .flat_map(|ns| netns_pids(ns))
            .filter(|(_, c)| c == "cluster-bench")
            .collect()
    };
    while !workers().is_empty() && start.elapsed() < FAULT_BOUND {
        std::thread::sleep(Duration::from_millis(100));
    }
    let gone_after = start.elapsed();
    let left = workers();
    let forest = ps_forest();
    // mpirun (started by this test) may still wait for the dead host: end it and its ssh
    // sessions (which hold its output pipes open) before reading its output.
    let _ = child.kill();
    for (pid, name, _) in job_leftovers(&net, &out_dir) {
        if name == "ssh" {
            // SAFETY: kill(2) of an ssh session to this test's hosts.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    println!("rank 0's host died: workers gone {gone_after:.1?} after it\n{err}");
    assert!(
        left.is_empty(),
        "workers still running: {left:?}\n{forest}\n{err}"
    );
    assert!(gone_after < FAULT_BOUND);
    assert!(err.contains("rank 0 has not been heard from"), "{err}");
    let _ = net.down();
}
