//! A real Slurm cluster on the project's test hosts (`scripts/dev/testnet.sh up 3 --slurm`: munged and
//! slurmctld on this machine, a slurmd in each host), driven as a Slurm user drives it:
//! `sbatch --wait -N 3 --ntasks-per-node=2 scripts/cluster-bench.sbatch` runs ranks on every
//! node with the 1-process checksum, under mpirun and under srun (PMIx); `scancel` mid-run of
//! a static run keeps the records of every rank finished so far, in a JSON rank 0 writes on
//! the SIGTERM (and its journal); a node whose processes are all killed ends the job, under
//! mpirun and under srun, within 30 s with a message naming it; `down` leaves no daemon, job
//! or namespace behind.
//! Needs root, network namespaces and Debian's slurmctld/slurmd/munge (CI: `scripts/setup.sh
//! --slurm`); prints SKIPPED otherwise.

mod common;
mod launchers;
mod testnet;

use common::{finish_within, json_files, run, text};
use launchers::{down_and_check, job_id, job_output, records_in, slurm, slurm_cluster, submit};
use std::path::Path;
use std::time::{Duration, Instant};
use testnet::Testnet;

/// The bound: a killed node ends the job this soon.
const FAULT_BOUND: Duration = Duration::from_secs(30);

fn run_job(net: &Testnet, launcher: &str, reference: f64) {
    let dir = tempfile::tempdir().unwrap();
    let env = [("CLUSTER_BENCH_LAUNCHER", launcher)];
    let mut child = submit(net, dir.path(), &env, &launchers::WORKLOAD);
    let id = job_id(&mut child);
    let (out, took) = finish_within(child, Duration::from_secs(120));
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

#[test]
fn sbatch_runs_ranks_on_every_node() {
    let Some(net) = slurm_cluster() else {
        return;
    };
    let status = text(&run(net.command("dev/testnet.sh").arg("status")).stdout);
    assert!(status.contains("slurmd cbhost3"), "{status}");
    let reference = launchers::reference_checksum();
    run_job(&net, "mpirun", reference);
    run_job(&net, "srun", reference);
    down_and_check(net);
}

#[test]
fn scancel_keeps_finished_tasks() {
    let Some(net) = slurm_cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let args = ["--dim", "60", "--tasks", "1000000", "--schedule", "static"];
    let args = [&args[..], &["--checkpoint-every", "1"]].concat();
    let mut child = submit(&net, dir.path(), &[], &args);
    let id = job_id(&mut child);
    let log = || job_output(dir.path(), &id);
    let start = Instant::now();
    while records_in(&results) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no checkpoint\n{}",
            log()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "job ended early\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = run(slurm(&net, "scancel", dir.path()).arg(&id));
    assert!(out.status.success(), "scancel: {}", text(&out.stderr));
    let (out, took) = finish_within(child, Duration::from_secs(60));
    println!(
        "scancel: job {id} ended {took:.1?} after scancel, {:?}\n{}",
        out.status,
        log()
    );
    assert!(!out.status.success(), "a cancelled job reported success");
    assert!(log().contains("CANCELLED"), "{}", log());
    let kept = json_files(&results);
    assert!(!kept.is_empty(), "nothing kept in {results:?}");
    for (name, v) in &kept {
        assert_eq!(v["complete"], false, "{name} not marked incomplete");
        let reason = v["stop_reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("interrupted (SIG"), "{name}: {reason}");
        let ranks: std::collections::BTreeSet<i32> = common::records_of(&results, v)
            .iter()
            .map(|t| t.rank)
            .collect();
        assert!(ranks.len() > 1, "{name}: records of ranks {ranks:?} only");
    }
    let records = records_in(&results);
    println!(
        "kept {records} task records in {:?}",
        kept.iter().map(|k| &k.0).collect::<Vec<_>>()
    );
    assert!(records > 0);
    down_and_check(net);
}

#[test]
fn killed_node_ends_the_job() {
    kill_a_node_mid_job("mpirun");
}

#[test]
fn killed_node_ends_the_srun_job() {
    kill_a_node_mid_job("srun");
}

/// Kills every process of cbhost3 (slurmd, slurmstepd, orted, ranks, sshd: the whole node dies
/// at once) 3 s into a job the sbatch script starts with `launcher`, and checks that the job
/// ends within the bound, fails, names the node, and leaves nothing on the other nodes.
fn kill_a_node_mid_job(launcher: &str) {
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
    let env = [("CLUSTER_BENCH_LAUNCHER", launcher)];
    let mut child = submit(&net, dir.path(), &env, &args);
    let id = job_id(&mut child);
    let log = |d: &Path| job_output(d, &id);
    launchers::wait_for_ranks(&mut child, 2, || log(dir.path()));
    std::thread::sleep(Duration::from_secs(3));
    launchers::kill_host("cbnet-host3");
    let took = launchers::job_ended_within(&net, dir.path(), &id, FAULT_BOUND);
    let (out, _) = finish_within(child, FAULT_BOUND + launchers::SBATCH_WAIT_LAG);
    let took = took.unwrap_or_else(|| {
        panic!("{launcher}: job {id} still running {FAULT_BOUND:?} after the fault")
    });
    let text = log(dir.path());
    println!(
        "killed node, {launcher}: job {id} ended {took:.1?} after the fault, {:?}\n{text}",
        out.status
    );
    assert!(
        !out.status.success(),
        "{launcher}: job with a dead node reported success"
    );
    assert!(
        text.contains("cbhost3"),
        "{launcher}: cbhost3 not named:\n{text}"
    );
    launchers::wait_survivors_clean(Instant::now() + FAULT_BOUND.saturating_sub(took));
    down_and_check(net);
}
