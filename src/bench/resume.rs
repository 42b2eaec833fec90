//! `--resume FILE`: the records and launches of an interrupted run, read from its JSON (its
//! `tasks`, or else the journal it names) or its journal, and refused unless the run did the
//! same work; the ids still missing.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::journal::{self, Contents};
use super::schema::Attempt;
use super::work::{Stated, Work};
use crate::options::Options;
use crate::record::{TaskRecord, TaskStatus};

/// `stop_reason` of a launch that ended without a word (killed outright): its records are
/// those of its last checkpoint.
pub const KILLED: &str = "killed (records up to its last checkpoint)";

/// Reads `path` (a journal if gzip, else a run's JSON) for a run with `opts`: refuses other
/// work, naming each difference, and a complete run. Records come back sorted, each task once.
pub fn load(path: &Path, opts: &Options) -> Result<Contents> {
    let shown = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("--resume {shown}"))?;
    let mut c = if bytes.starts_with(&[0x1f, 0x8b]) {
        journal::read(path)
    } else {
        from_json(path, &bytes)
    }
    .with_context(|| format!("--resume {shown}"))?;
    let differs = Work::of(opts).differences(&Stated::from(&c.work));
    if !differs.is_empty() {
        bail!(
            "--resume {shown} did other work: {} (a resumed run must repeat --workload, \
             --task-ms, --dim, --tasks, --seed and --kernel, on rank 0 a CPU with the same \
             arithmetic: FMA or not, see CLUSTER_BENCH_SIMD)",
            differs.join(", ")
        );
    }
    c.records.sort_by_key(|r| r.task);
    c.records.dedup_by_key(|r| r.task);
    if let Some(r) = c.records.iter().find(|r| r.task >= opts.tasks) {
        bail!(
            "--resume {shown}: task {} is not below --tasks {}",
            r.task,
            opts.tasks
        );
    }
    if c.records.len() as u64 == opts.tasks {
        bail!("--resume {shown}: the run is complete; there is nothing to resume");
    }
    for a in c.attempts.iter_mut().filter(|a| a.stop_reason.is_none()) {
        a.stop_reason = Some(KILLED.into());
    }
    Ok(c)
}

/// The task ids below `tasks` that `records` (sorted by task) lacks, in increasing order.
pub fn missing(records: &[TaskRecord], tasks: u64) -> Vec<u64> {
    let mut have = records.iter().map(|r| r.task).peekable();
    (0..tasks)
        .filter(|&t| {
            let found = have.peek() == Some(&t);
            if found {
                have.next();
            }
            !found
        })
        .collect()
}

/// The keys of a run's JSON that a resume reads.
#[derive(Deserialize)]
struct Doc {
    config: Work,
    /// Every record (schema version 2, or `--json-tasks`); else `null` and the journal has them.
    #[serde(default)]
    tasks: Option<Vec<TaskDoc>>,
    /// The journal's file name, in the JSON's folder.
    #[serde(default)]
    tasks_file: Option<String>,
    /// Tasks the result holds.
    #[serde(default)]
    task_count: Option<u64>,
    #[serde(default)]
    attempts: Vec<Attempt>,
}

#[derive(Deserialize)]
struct TaskDoc {
    task: u64,
    rank: i32,
    status: String,
    fallback: bool,
    start_s: f64,
    seconds: f64,
    /// `null` (NaN) when no eigenvalues were computed.
    eig_sum_re: Option<f64>,
    eig_sum_im: Option<f64>,
    trace: Option<f64>,
}

/// What the run's JSON at `path` holds: its launches, and its records from `tasks` or, without
/// them, from the journal it names.
fn from_json(path: &Path, bytes: &[u8]) -> Result<Contents> {
    let doc: Doc = serde_json::from_slice(bytes).context("not a cluster-bench JSON")?;
    let records = match &doc.tasks {
        Some(tasks) => tasks.iter().map(TaskDoc::record).collect::<Result<_>>()?,
        None => journal_records(path, &doc)?,
    };
    Ok(Contents {
        work: doc.config,
        attempts: doc.attempts,
        records,
    })
}

/// The records of the journal `doc` (the JSON at `json`) names: a file in the JSON's own
/// folder, of the same work, holding as many tasks as the JSON counts.
fn journal_records(json: &Path, doc: &Doc) -> Result<Vec<TaskRecord>> {
    let name = doc.tasks_file.as_deref().with_context(|| {
        "it has no per-task records (`tasks` is null) and names no journal (`tasks_file`): a \
         run with --no-save keeps none; resume from a JSON with them, or start afresh"
    })?;
    if Path::new(name).file_name() != Some(std::ffi::OsStr::new(name)) {
        bail!("its tasks_file {name:?} is not a file name in the JSON's folder");
    }
    let path = json.with_file_name(name);
    let c = journal::read(&path).with_context(|| format!("its journal {}", path.display()))?;
    if c.work != doc.config {
        bail!("its journal {} is of other work", path.display());
    }
    let mut records = c.records;
    records.sort_by_key(|r| r.task);
    records.dedup_by_key(|r| r.task);
    if let Some(n) = doc.task_count.filter(|&n| n != records.len() as u64) {
        bail!(
            "its journal {} holds {} tasks, the JSON counts {n}",
            path.display(),
            records.len()
        );
    }
    Ok(records)
}

impl TaskDoc {
    fn record(&self) -> Result<TaskRecord> {
        let status = (0..=u8::MAX)
            .filter_map(TaskStatus::from_code)
            .find(|s| s.as_str() == self.status)
            .with_context(|| format!("task {}: unknown status {:?}", self.task, self.status))?;
        Ok(TaskRecord {
            task: self.task,
            rank: self.rank,
            status: status as u8,
            fallback: u8::from(self.fallback),
            start_s: self.start_s,
            seconds: self.seconds,
            eig_sum_re: self.eig_sum_re.unwrap_or(f64::NAN),
            eig_sum_im: self.eig_sum_im.unwrap_or(f64::NAN),
            trace: self.trace.unwrap_or(f64::NAN),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(task: u64) -> TaskRecord {
        TaskRecord {
            task,
            ..TaskRecord::default()
        }
    }

    #[test]
    fn missing_ids_are_the_complement() {
        let have = [rec(0), rec(2), rec(3), rec(7)];
        assert_eq!(missing(&have, 9), vec![1, 4, 5, 6, 8]);
        assert_eq!(missing(&[], 3), vec![0, 1, 2]);
    }

    /// A JSON of schema 3 (no `tasks`) with its journal `name` beside it, of `work`, holding
    /// `recs`; `doc` edits the JSON first.
    fn saved_run(
        dir: &Path,
        work: &Work,
        recs: &[TaskRecord],
        doc: impl FnOnce(&mut serde_json::Value),
    ) -> Result<Contents> {
        let name = "r.tasks.csv.gz";
        let file = std::fs::File::create(dir.join(name)).unwrap();
        let fresh = Contents::new(work.clone());
        let mut j = journal::Journal::start(file, dir.join(name), work, &fresh).unwrap();
        let launch = Attempt {
            ranks: 2,
            tasks_done: recs.len() as u64,
            stop_reason: Some("time-limit".into()),
            ..Attempt::default()
        };
        j.close(&launch, recs).unwrap();
        let mut v = serde_json::json!({
            "config": work, "tasks": null, "tasks_file": name,
            "task_count": recs.len(), "attempts": [launch],
        });
        doc(&mut v);
        from_json(&dir.join("r.json"), &serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn a_json_without_tasks_reads_its_journal_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let work = Work::eig(4, 9, 1);
        let recs: Vec<TaskRecord> = [5u64, 0, 2, 7]
            .iter()
            .map(|&t| TaskRecord {
                task: t,
                rank: (t % 2) as i32,
                seconds: 1e-7 * t as f64 + 1.0 / 3.0,
                eig_sum_re: (t as f64 + 0.1).ln(),
                trace: if t == 2 { f64::NAN } else { -1.0 / 7.0 },
                ..TaskRecord::default()
            })
            .collect();
        let c = saved_run(dir.path(), &work, &recs, |_| {}).unwrap();
        assert_eq!(c.work, work);
        assert_eq!(c.attempts.len(), 1);
        assert_eq!(c.attempts[0].stop_reason.as_deref(), Some("time-limit"));
        let mut want = recs.clone();
        want.sort_by_key(|r| r.task);
        let bits = |r: &TaskRecord| {
            let f = [r.start_s, r.seconds, r.eig_sum_re, r.eig_sum_im, r.trace];
            (r.task, r.rank, r.status, f.map(f64::to_bits))
        };
        let got: Vec<_> = c.records.iter().map(bits).collect();
        assert_eq!(got, want.iter().map(bits).collect::<Vec<_>>());

        // Without a journal, another folder, other work or another count: refused, saying why.
        let refused = |edit: fn(&mut serde_json::Value), why: &str| {
            let e = format!(
                "{:#}",
                saved_run(dir.path(), &work, &recs, edit).unwrap_err()
            );
            assert!(e.contains(why), "{e}");
        };
        refused(|v| v["tasks_file"] = serde_json::Value::Null, "--no-save");
        refused(
            |v| v["tasks_file"] = "../r.tasks.csv.gz".into(),
            "not a file name",
        );
        refused(|v| v["config"]["seed"] = 2.into(), "is of other work");
        refused(
            |v| v["task_count"] = 5.into(),
            "holds 4 tasks, the JSON counts 5",
        );
    }

    #[test]
    fn every_difference_is_named() {
        let a = Work {
            workload: "sleep".into(),
            task_ms: Some(5.0),
            dim: 40,
            tasks: 10,
            seed: 1,
            kernel: "hqr".into(),
            numerics: "fma/faer-v3/hqr1000-k3".into(),
        };
        let b = Work {
            workload: "eig".into(),
            task_ms: None,
            dim: 30,
            tasks: 10,
            seed: 2,
            kernel: "auto".into(),
            numerics: "fma/faer-v3/hqr1000-k3".into(),
        };
        assert_eq!(
            b.differences(&Stated::from(&a)),
            vec![
                "workload sleep (here eig)",
                "dim 40 (here 30)",
                "seed 1 (here 2)",
                "kernel hqr (here auto)"
            ]
        );
        assert_eq!(
            a.differences(&Stated::from(&b)),
            vec![
                "workload eig (here sleep)",
                "task_ms ? (here 5)",
                "seed 2 (here 1)"
            ],
            "the sleep workload's tasks do not depend on dim and kernel"
        );
        assert!(a.differences(&Stated::from(&a)).is_empty());
    }

    #[test]
    fn other_arithmetic_is_other_work_where_the_file_states_it() {
        let here = Work::eig(30, 10, 2);
        let mut theirs = here.clone();
        theirs.numerics = "nofma/faer-scalar/hqr350-k3".into();
        assert_eq!(
            here.differences(&Stated::from(&theirs)),
            [format!(
                "numerics nofma/faer-scalar/hqr350-k3 (here {})",
                here.numerics
            )]
        );
        theirs.numerics = String::new();
        assert!(
            here.differences(&Stated::from(&theirs)).is_empty(),
            "a file from before schema 4 states none"
        );
    }
}
