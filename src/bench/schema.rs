//! The run's JSON as users parse it, built from a `RunReport`. Where the JSON is the internal
//! type, that type is serialised as it is (`report::{Figures, Baseline, Checks, HostSummary,
//! RankSummary}`, `record::{Environment, RankInfo}`, `Attempt`): their fields are keys of this
//! schema. Explicit types here only where the JSON differs (`Run`, `Config`, `Dispatch`,
//! `Task`). A key that changes meaning or name is a new `SCHEMA_VERSION` (the test below pins
//! the keys, those of the internal types included; CHANGELOG.md lists the versions).

use serde::{Deserialize, Serialize};

use super::report::{Figures, RunReport};
use crate::options::{Options, value_name};
use crate::record::{Environment, TaskRecord, UnknownStatus};
use crate::schedule;
use crate::util::fs::json_bytes;

/// Version of the document's keys; CHANGELOG.md says what each version changed.
pub const SCHEMA_VERSION: u32 = 4;

/// One run: the file `LABEL-YYYYMMDDTHHMMSSZ-Nr.json` and the output of `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// Always "cluster-bench".
    pub tool: &'static str,
    /// Version of these keys, `SCHEMA_VERSION` (a count; absent before version 2).
    pub schema_version: u32,
    /// The run's figures, at the top level of the document.
    #[serde(flatten)]
    pub figures: Figures,
    /// The run's settings.
    pub config: Config,
    /// Where and with what it ran.
    pub environment: Environment,
    /// Every launch that computed part of this result, oldest first: one for a run that was
    /// never resumed.
    pub attempts: Vec<Attempt>,
    /// The per-task journal next to this JSON (`STEM.tasks.csv.gz`), `null` without one.
    pub tasks_file: Option<String>,
    /// Every completed task, in task order, with `--json-tasks`; `null` without it: the
    /// records are then in the journal `tasks_file` only (one row per task, same fields).
    pub tasks: Option<Vec<Task>>,
    /// Rank 0's time as dispatcher in the dynamic schedule; `null` in the static one.
    pub dispatch: Option<Dispatch>,
    /// Rank 0's peak resident memory (`VmHWM`) when this document was made, bytes: the run,
    /// its records and the report, not yet the document's own text; `null` where
    /// /proc/self/status can't be read.
    pub rank0_peak_rss_bytes: Option<u64>,
}

/// Where rank 0's time went as the dynamic schedule's dispatcher (between its own tasks).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Dispatch {
    /// Work requests answered (count).
    pub requests: u64,
    /// Seconds spent probing for requests, receiving their records and sending chunks.
    pub serve_s: f64,
    /// Seconds spent draining heartbeats and checking for silent ranks.
    pub poll_s: f64,
    /// (serve_s + poll_s) / requests, seconds: rank 0's service time per request.
    pub service_s_per_request: f64,
    /// (serve_s + poll_s) / wall_s (dimensionless): the share of the run rank 0 spent
    /// dispatching; near 1 it is the bottleneck.
    pub busy_fraction: f64,
}

/// One launch of a run (`--resume` adds launches to an interrupted one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// Start of its timed part, UTC, ISO 8601.
    pub started_at: String,
    /// Its hosts, in order of first rank.
    pub hosts: Vec<String>,
    /// Its MPI ranks (count).
    pub ranks: usize,
    /// Tasks it completed that the result holds (count).
    pub tasks_done: u64,
    /// Its timed part, seconds.
    pub wall_s: f64,
    /// Why it stopped before the run was complete; `null` when it completed the run.
    pub stop_reason: Option<String>,
}

/// The run's settings, as flags name them.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// `--dim`: each task is a dim×dim matrix (count of rows).
    pub dim: usize,
    /// `--tasks`: tasks asked for (count).
    pub tasks: u64,
    /// `--seed`: task i's matrix depends on (seed, i) only.
    pub seed: u64,
    /// `--schedule`: "static" or "dynamic".
    pub schedule: String,
    /// `--chunk`: tasks per request in the dynamic schedule (count); `null` for guided chunks.
    pub chunk: Option<u64>,
    /// `--warmup`: untimed warm-up tasks per rank (count).
    pub warmup: u64,
    /// `--kernel`: "auto", "hqr", "faer" or "nalgebra".
    pub kernel: String,
    /// `--workload`: "eig" (eigenvalues of seeded matrices) or "sleep" (each task waits a seeded
    /// time, uniform within ±20 % of `task_ms`; `dim` and `kernel` then play no part).
    pub workload: String,
    /// `--task-ms`: the sleep workload's mean task time, milliseconds; `null` for "eig".
    pub task_ms: Option<f64>,
    /// `--out`: output folder; `null` with `--no-save`.
    pub out: Option<String>,
    /// `--label`.
    pub label: String,
    /// `--baseline`: path of the earlier run's JSON.
    pub baseline: Option<String>,
    /// `--time-limit`, seconds.
    pub time_limit_s: Option<f64>,
    /// `--heartbeat-timeout`, seconds.
    pub heartbeat_timeout_s: f64,
    /// `--checkpoint-every`, seconds.
    pub checkpoint_every_s: f64,
    /// `--resume`: path of the interrupted result this run completed.
    pub resume: Option<String>,
    /// `--bind`: "core" (each rank pinned to a core of its own where the launcher left them
    /// free and there were enough; see each rank's `affinity`) or "none".
    pub bind: String,
    /// The kernel's arithmetic on rank 0, e.g. "fma/faer-v3/hqr1000-k3" (FMA paths: avx512 and
    /// avx2-fma agree bit for bit) or "nofma/…" (baseline): `--resume` and `--baseline` treat
    /// other arithmetic as other work, since its checksum differs.
    pub numerics: String,
}

/// One task's measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Task {
    /// Task index, 0-based: its matrix depends on (seed, task) only.
    pub task: u64,
    /// MPI rank that computed it.
    pub rank: i32,
    /// "ok", "check-failed", "no-convergence" or "non-finite".
    pub status: &'static str,
    /// True when the fallback solver produced the eigenvalues.
    pub fallback: bool,
    /// Start of the task, seconds after its rank left the pre-run barrier.
    pub start_s: f64,
    /// Time to compute its eigenvalues, seconds.
    pub seconds: f64,
    /// Re Σλ (what the checksum adds up); `null` when no eigenvalues were computed. In the
    /// sleep workload: the task's planned wait, seconds.
    pub eig_sum_re: f64,
    /// Im Σλ (zero up to rounding for a real matrix); `null` when none were computed.
    pub eig_sum_im: f64,
    /// tr A, the check's reference. In the sleep workload: the planned wait, seconds, which
    /// `seconds` (the measured wait) must not undercut.
    pub trace: f64,
}

/// What the document holds beyond the report: every launch of the run and where its per-task
/// records are.
#[derive(Debug, Default)]
pub struct History {
    /// Every launch, oldest first (the `attempts` key).
    pub attempts: Vec<Attempt>,
    /// The journal's file name (`tasks_file`), `None` without one.
    pub tasks_file: Option<String>,
}

impl Run {
    /// The document of `r` and its `history`, with rank 0's peak memory now; fails on a task
    /// status code this build does not know.
    pub fn new(r: &RunReport, history: History) -> Result<Self, UnknownStatus> {
        Ok(Run {
            tool: "cluster-bench",
            schema_version: SCHEMA_VERSION,
            figures: r.figures.clone(),
            config: Config::from(&r.config),
            environment: r.environment.clone(),
            attempts: history.attempts,
            tasks_file: history.tasks_file,
            tasks: r
                .config
                .json_tasks
                .then(|| r.tasks.iter().map(Task::new).collect::<Result<_, _>>())
                .transpose()?,
            dispatch: r.dispatch.map(|d| Dispatch::new(&d, r.figures.wall_s)),
            rank0_peak_rss_bytes: crate::util::host::peak_rss_bytes(),
        })
    }
}

impl Run {
    /// The document as its file holds it (`util::fs::json_bytes`).
    pub fn to_json(&self) -> Vec<u8> {
        json_bytes(self)
    }
}

impl From<&Options> for Config {
    fn from(o: &Options) -> Self {
        let path = |p: &std::path::Path| p.display().to_string();
        Config {
            dim: o.dim,
            tasks: o.tasks,
            seed: o.seed,
            schedule: value_name(&o.schedule),
            chunk: o.chunk,
            warmup: o.warmup,
            kernel: value_name(&o.kernel),
            workload: o.workload.name().into(),
            task_ms: o.workload.task_ms(),
            out: o.output.out.as_deref().map(path),
            label: o.output.label.clone(),
            baseline: o.baseline.as_deref().map(path),
            time_limit_s: o.time_limit_s,
            heartbeat_timeout_s: o.heartbeat_timeout_s,
            checkpoint_every_s: o.checkpoint_every_s,
            bind: value_name(&o.bind),
            numerics: crate::kernel::numerics_id().into(),
            resume: o.resume.as_deref().map(path),
        }
    }
}

impl Dispatch {
    fn new(d: &schedule::Dispatch, wall_s: f64) -> Self {
        let spent = d.serve_s + d.poll_s;
        let per = |n: f64| if n > 0.0 { spent / n } else { 0.0 };
        Dispatch {
            requests: d.requests,
            serve_s: d.serve_s,
            poll_s: d.poll_s,
            service_s_per_request: per(d.requests as f64),
            busy_fraction: per(wall_s),
        }
    }
}

impl Task {
    /// The row of one wire record; an unknown status code is an error, never a guess.
    pub fn new(r: &TaskRecord) -> Result<Self, UnknownStatus> {
        Ok(Task {
            task: r.task,
            rank: r.rank,
            status: r.status()?.as_str(),
            fallback: r.fallback != 0,
            start_s: r.start_s,
            seconds: r.seconds,
            eig_sum_re: r.eig_sum_re,
            eig_sum_im: r.eig_sum_im,
            trace: r.trace,
        })
    }
}

/// A small run of two tasks on two hosts, for tests of the schema and its exporters.
#[cfg(test)]
pub(crate) fn sample() -> Run {
    sample_with(&[])
}

/// `sample()` with more flags.
#[cfg(test)]
pub(crate) fn sample_with(flags: &[&str]) -> Run {
    use super::report::ReportInput;
    use crate::record::RankInfo;
    let args = [&["--tasks", "2"][..], flags].concat();
    let opts = super::options::parse(&args).unwrap();
    let rec = |task, rank| TaskRecord {
        task,
        rank,
        seconds: 0.5,
        eig_sum_re: 0.1,
        ..TaskRecord::default()
    };
    let info = |rank, host: &str| RankInfo {
        rank,
        host: host.into(),
        ..RankInfo::default()
    };
    let report = RunReport::new(ReportInput {
        opts: &opts,
        records: vec![rec(0, 0), rec(1, 1)],
        wall_s: 0.5,
        environment: Environment {
            started_at: "2026-11-26T01:02:03Z".into(),
            mpi_library: "Open MPI v4.1.4, package: x".into(),
            rank_info: vec![info(0, "h,\"1\""), info(1, "h2")],
            ..Environment::default()
        },
        baseline: None,
        stop_reason: None,
        dispatch: None,
        earlier: Default::default(),
    })
    .unwrap();
    Run::new(&report, History::default()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    fn sorted(mut k: Vec<&str>) -> Vec<&str> {
        k.sort_unstable();
        k
    }

    /// The keys scripts rely on: changing one of these is a new schema version.
    #[test]
    fn the_stable_keys_are_pinned() {
        let v = serde_json::to_value(sample_with(&["--json-tasks"])).unwrap();
        let top = vec![
            "tool",
            "schema_version",
            "version",
            "label",
            "complete",
            "stop_reason",
            "checksum",
            "wall_s",
            "tasks_per_s",
            "busy_s",
            "busy_speedup",
            "busy_efficiency",
            "imbalance",
            "ideal_tasks_per_s",
            "heterogeneous_efficiency",
            "homogeneous_efficiency",
            "flags",
            "measured_speedup",
            "measured_efficiency",
            "baseline",
            "ranks",
            "task_count",
            "checks",
            "hosts",
            "per_rank",
            "config",
            "environment",
            "attempts",
            "tasks_file",
            "tasks",
            "dispatch",
            "rank0_peak_rss_bytes",
        ];
        assert_eq!(keys(&v), sorted(top));
        let config = vec![
            "dim",
            "tasks",
            "seed",
            "schedule",
            "chunk",
            "warmup",
            "kernel",
            "workload",
            "task_ms",
            "out",
            "label",
            "baseline",
            "time_limit_s",
            "heartbeat_timeout_s",
            "checkpoint_every_s",
            "resume",
            "bind",
            "numerics",
        ];
        assert_eq!(keys(&v["config"]), sorted(config));
        let host = vec![
            "name",
            "ranks",
            "tasks",
            "busy_s",
            "mean_ms_per_task",
            "median_ms_per_task",
            "speed_index",
            "slow",
            "load_per_core",
            "busy_cpus_at_start",
            "busy_at_start",
            "oversubscribed",
            "tasks_per_s",
            "cores",
            "threads",
            "kernel_path",
            "cpu_model",
        ];
        assert_eq!(keys(&v["hosts"][0]), sorted(host));
        assert_eq!(
            keys(&v["per_rank"][0]),
            sorted(vec![
                "rank",
                "host",
                "tasks",
                "busy_s",
                "median_ms_per_task"
            ])
        );
        let task = vec![
            "task",
            "rank",
            "status",
            "fallback",
            "start_s",
            "seconds",
            "eig_sum_re",
            "eig_sum_im",
            "trace",
        ];
        assert_eq!(keys(&v["tasks"][0]), sorted(task));
        let checks = vec![
            "passed",
            "failed",
            "no_convergence",
            "non_finite",
            "fallbacks",
        ];
        assert_eq!(keys(&v["checks"]), sorted(checks));
        let env = vec!["started_at", "mpi_library", "git_revision", "rank_info"];
        assert_eq!(keys(&v["environment"]), sorted(env));
    }

    #[test]
    fn values_are_plain_json() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["tool"], "cluster-bench");
        assert_eq!(v["schema_version"], 4);
        assert_eq!(v["busy_speedup"], 2.0);
        assert_eq!(v["config"]["schedule"], "static");
        assert_eq!(v["config"]["kernel"], "auto");
        assert_eq!(v["config"]["workload"], "eig");
        assert_eq!(v["config"]["task_ms"], Value::Null);
        assert_eq!(v["config"]["out"], "results");
        assert_eq!(v["hosts"][0]["name"], "h,\"1\"");
        assert_eq!(v["hosts"][1]["tasks"], 1);
    }

    /// Per-task rows cost ~270 bytes each in the JSON: only with `--json-tasks`.
    #[test]
    fn tasks_are_null_unless_asked_for() {
        let plain = serde_json::to_value(sample()).unwrap();
        assert_eq!(plain["tasks"], Value::Null);
        assert_eq!(plain["task_count"], 2);
        let v = serde_json::to_value(sample_with(&["--json-tasks"])).unwrap();
        let tasks = v["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(
            (&tasks[0]["task"], &tasks[1]["task"]),
            (&0.into(), &1.into())
        );
        assert_eq!(tasks[1]["status"], "ok");
        assert_eq!(tasks[1]["fallback"], false);
        // Everything else is the same document (but rank 0's peak memory, which the tests
        // running beside this one raise: it is the process's).
        let mut without = v.clone();
        without["tasks"] = Value::Null;
        let mut plain = plain;
        for doc in [&mut without, &mut plain] {
            doc["rank0_peak_rss_bytes"] = Value::Null;
        }
        assert_eq!(without, plain);
    }

    #[test]
    fn dispatch_figures_are_per_request_and_per_wall_second() {
        let d = schedule::Dispatch {
            requests: 4,
            serve_s: 0.3,
            poll_s: 0.1,
        };
        let v = Dispatch::new(&d, 2.0);
        assert!((v.service_s_per_request - 0.1).abs() < 1e-15);
        assert!((v.busy_fraction - 0.2).abs() < 1e-15);
        let none = Dispatch::new(&schedule::Dispatch::default(), 0.0);
        assert_eq!((none.service_s_per_request, none.busy_fraction), (0.0, 0.0));
    }

    #[test]
    fn an_unknown_status_code_is_an_error() {
        let r = TaskRecord {
            task: 3,
            status: 42,
            ..TaskRecord::default()
        };
        assert_eq!(
            Task::new(&r).unwrap_err(),
            UnknownStatus { task: 3, code: 42 }
        );
    }
}
