//! Shared helpers of the integration tests: the real binary under the real `mpirun`.
#![allow(dead_code)] // each test binary uses a different part

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cluster_bench::bench::journal;
use cluster_bench::record::TaskRecord;
use serde_json::Value;

/// The machine has 2 cores: one MPI job at a time keeps oversubscribed runs from starving.
pub static MPI_LOCK: Mutex<()> = Mutex::new(());

pub const BIN: &str = env!("CARGO_BIN_EXE_cluster-bench");

/// Environment every MPI launch in the tests needs: CI runs as root; ob1 skips slow transport
/// probing; TCP is the transport between hosts. Oversubscription is asked for per command line.
pub fn mpi_env(cmd: &mut Command) -> &mut Command {
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_pml", "ob1")
        .env("OMPI_MCA_btl", "self,vader,tcp")
}

/// `mpirun -np N cluster-bench ARGS…`, serialised with other MPI jobs of this test binary.
pub fn mpirun(np: usize, args: &[&str]) -> Output {
    let _guard = MPI_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd)
        .args(["-np", &np.to_string(), "--oversubscribe", BIN])
        .args(args);
    cmd.output().expect("mpirun runs (is Open MPI installed?)")
}

/// The binary alone (an MPI singleton).
pub fn bench(args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    mpi_env(&mut cmd).args(args);
    cmd.output().expect("binary runs")
}

/// The repository's top folder.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command, returning its output; panics only if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// Parses a run's `--json` output, failing with everything the run printed.
pub fn json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "run failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", stdout(o)))
}

/// Every `*.json` in `dir` as (file name, document), by name. A file that does not parse fails
/// the test: the binary writes its files atomically, so none may be half-written.
pub fn json_files(dir: &Path) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .map(|n| {
            let doc = serde_json::from_slice(&fs::read(dir.join(&n)).unwrap())
                .unwrap_or_else(|e| panic!("{n} in {}: not JSON ({e})", dir.display()));
            (n, doc)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Waits for `child` at most `bound`: how long it took, or None if it still runs (left running
/// for the caller to look at and kill).
pub fn wait_within(child: &mut Child, bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(start.elapsed());
        }
        if start.elapsed() > bound {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the job, at most `bound`; kills it and fails the test if it hangs.
pub fn finish_within(mut child: Child, bound: Duration) -> (Output, Duration) {
    let took = wait_within(&mut child, bound);
    if took.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let took = took.unwrap_or_else(|| {
        panic!(
            "job still running after {bound:?}; stderr:\n{}",
            stderr(&out)
        )
    });
    (out, took)
}

/// The process is alive (a zombie waiting to be reaped counts as gone).
pub fn pid_running(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => match stat.rfind(')') {
            Some(i) => !stat[i + 1..].trim_start().starts_with('Z'),
            None => true,
        },
        Err(_) => false,
    }
}

/// The most records any run journal (`*.tasks.csv.gz`) in `dir` holds; a journal being
/// written reads as its last whole checkpoint.
pub fn journal_records(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".tasks.csv.gz"))
                .filter_map(|p| journal::read(&p).ok())
                .map(|c| c.records.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Names of the temporary files (`*.tmp`) left in `dir`: a run leaves none, however it ends.
pub fn temporary_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// The per-task records of the run whose JSON `doc` was saved in `dir`: the rows of its
/// journal (`tasks_file`), every row as written (none merged away), sorted by task.
pub fn records_of(dir: &Path, doc: &Value) -> Vec<TaskRecord> {
    let name = doc["tasks_file"]
        .as_str()
        .unwrap_or_else(|| panic!("no tasks_file in the JSON in {}", dir.display()));
    let path = dir.join(name);
    let mut records = journal::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
        .records;
    records.sort_by_key(|r| r.task);
    records
}

/// A resumed run's JSON `doc`, saved in `dir`, is the whole work: complete, every task of
/// `0..tasks` exactly once in its journal, and the checksum bit-identical to the undisturbed
/// `reference`.
pub fn assert_whole_run(dir: &Path, doc: &Value, reference: f64, tasks: u64, what: &str) {
    assert_eq!(doc["complete"], true, "{what}: not complete");
    let got = doc["checksum"].as_f64().unwrap();
    assert_eq!(
        got.to_bits(),
        reference.to_bits(),
        "{what}: {got} vs {reference}"
    );
    let ids: Vec<u64> = records_of(dir, doc).iter().map(|r| r.task).collect();
    assert_eq!(
        ids,
        (0..tasks).collect::<Vec<u64>>(),
        "{what}: every task once"
    );
}
