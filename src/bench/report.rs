//! `RunReport`: the run's figures (busy speedup and efficiency, imbalance, per host), pure maths over
//! the gathered records. Nothing here does I/O or MPI.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::heterogeneity::{self, HostFigures, Ideal};
use super::work::{Stated, Work};
use crate::options::Options;
use crate::record::Environment;
use crate::record::{RankInfo, TaskRecord, TaskStatus, UnknownStatus};
use crate::schedule::Dispatch;
use crate::util::stats::medians;

/// The run's figures: the top level of its JSON, in the document's order (`schema::Run`
/// flattens them), each documented with its unit.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    /// Version of the binary (Cargo package version).
    pub version: &'static str,
    /// `--label`: a short name of the run.
    pub label: String,
    /// False when the run stopped before every task was done (the figures cover what was done).
    pub complete: bool,
    /// Why an incomplete run stopped: "time-limit", "rank-lost: host H (rank R)",
    /// "interrupted (SIGINT)" or "interrupted (SIGTERM)"; `null` when complete.
    pub stop_reason: Option<String>,
    /// Σ over tasks, in task order, of Re Σλ (dimensionless): bit-identical for any number of
    /// ranks, hosts or schedule. In the sleep workload: Σ of the planned waits, seconds (the
    /// wall time one rank would need).
    pub checksum: f64,
    /// Timed part on rank 0, seconds: from the barrier before distribution until every rank
    /// was done; for a resumed run, the sum over `attempts` (time between launches excluded).
    pub wall_s: f64,
    /// Tasks completed per second of `wall_s`, 1/s.
    pub tasks_per_s: f64,
    /// Σ of the per-task solve times over all ranks, seconds.
    pub busy_s: f64,
    /// busy_s / wall_s (dimensionless): how many ranks were busy on average, which cannot see
    /// per-task slow-down (oversubscription, a busy neighbour); `measured_speedup` can.
    pub busy_speedup: f64,
    /// busy_s / (ranks × wall_s) (dimensionless, 1 = every rank busy all the time); for a
    /// resumed run, busy_s over the rank-seconds of every attempt (Σ ranks × wall_s).
    pub busy_efficiency: f64,
    /// Max over ranks of busy seconds / mean over ranks (dimensionless, 1 = perfect balance).
    pub imbalance: f64,
    /// The heterogeneous ideal: Σ over ranks of each rank's own rate (its tasks / its busy_s),
    /// tasks/s.
    pub ideal_tasks_per_s: f64,
    /// tasks_per_s / ideal_tasks_per_s (dimensionless, 1 = every rank busy at its own pace).
    pub heterogeneous_efficiency: f64,
    /// tasks_per_s / (ranks × the fastest rank's rate) (dimensionless): drops below
    /// heterogeneous_efficiency as soon as one host is slower.
    pub homogeneous_efficiency: f64,
    /// One sentence per host more than 1.5× slower than the fastest (by median task time) or
    /// busy at the start (load per core ≥ 0.5), naming it.
    pub flags: Vec<String>,
    /// wall_s of the baseline / wall_s (dimensionless), with `--baseline`.
    pub measured_speedup: Option<f64>,
    /// measured_speedup / (ranks / baseline ranks) (dimensionless), with `--baseline`.
    pub measured_efficiency: Option<f64>,
    /// The run measured against, with `--baseline`.
    pub baseline: Option<Baseline>,
    /// MPI ranks (count).
    pub ranks: usize,
    /// Tasks completed (count).
    pub task_count: u64,
    /// Outcome counts of the per-task checks.
    pub checks: Checks,
    /// Per-host figures, in order of first rank.
    pub hosts: Vec<HostSummary>,
    /// Per-rank figures, in rank order.
    pub per_rank: Vec<RankSummary>,
}

/// Everything known about one run (`schema::Run` is what the JSON makes of it).
#[derive(Clone, Debug)]
pub struct RunReport {
    /// What the document's top level says of the run.
    pub figures: Figures,
    /// The options of the run.
    pub config: Options,
    /// Where and with what it ran.
    pub environment: Environment,
    /// Every task's record, in task order; every status code is known (`new` checks).
    pub tasks: Vec<TaskRecord>,
    /// Rank 0's time as dispatcher (dynamic schedule).
    pub dispatch: Option<Dispatch>,
}

/// The run a measured speedup is relative to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Baseline {
    /// Path of its JSON.
    pub path: String,
    /// Its wall_s, seconds.
    pub wall_s: f64,
    /// Its MPI ranks (count).
    pub ranks: usize,
    /// What of its work differs from this run's ("dim 40 (here 30)", "baseline incomplete");
    /// empty when like for like.
    pub differs: Vec<String>,
}

/// Why an earlier run's JSON can't be a baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("--baseline {0}: not a cluster-bench JSON ({1})")]
    NotJson(String, serde_json::Error),
    #[error("--baseline {0}: no positive `wall_s` and `ranks`: is it a cluster-bench JSON?")]
    NotARun(String),
}

/// What a baseline reads of an earlier run's JSON: keys every schema version has.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BaselineDoc {
    /// Its timed part, seconds.
    wall_s: Option<f64>,
    /// Its MPI ranks.
    ranks: Option<usize>,
    /// False when it stopped before every task was done.
    complete: Option<bool>,
    /// Its work.
    config: Stated,
}

impl Baseline {
    /// An earlier run's JSON `bytes` (from `path`) as the baseline of a run with `opts`.
    pub fn from_json(path: &str, bytes: &[u8], opts: &Options) -> Result<Self, BaselineError> {
        let doc: BaselineDoc = serde_json::from_slice(bytes)
            .map_err(|e| BaselineError::NotJson(path.to_string(), e))?;
        match (doc.wall_s.filter(|w| *w > 0.0), doc.ranks) {
            (Some(wall_s), Some(ranks)) => Ok(Baseline {
                path: path.to_string(),
                wall_s,
                ranks,
                differs: doc.differs(opts),
            }),
            _ => Err(BaselineError::NotARun(path.to_string())),
        }
    }
}

impl BaselineDoc {
    /// How the baseline's work differs from this run's, one phrase per difference.
    fn differs(&self, opts: &Options) -> Vec<String> {
        let mut out = Work::of(opts).differences(&self.config);
        if self.complete == Some(false) {
            out.push("baseline incomplete".into());
        }
        out
    }
}

/// Counts of task outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Checks {
    /// Σλ matched tr A within the tolerance.
    pub passed: u64,
    /// Σλ did not match tr A.
    pub failed: u64,
    /// No solver converged.
    pub no_convergence: u64,
    /// The matrix had a NaN or infinite entry.
    pub non_finite: u64,
    /// Solved by the fallback solver (also counted above by their outcome).
    pub fallbacks: u64,
}

impl Checks {
    /// True when every task was solved and checked.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.no_convergence == 0 && self.non_finite == 0
    }
}

/// One host's share of the run (like Parallel Python's `print_stats`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostSummary {
    /// Host name as its kernel reports it.
    pub name: String,
    /// MPI ranks on it (count).
    pub ranks: usize,
    /// Tasks computed on it (count).
    pub tasks: u64,
    /// Σ of its task times, seconds.
    pub busy_s: f64,
    /// busy_s / tasks, milliseconds.
    pub mean_ms_per_task: f64,
    /// Median of its task times, milliseconds; `null` without tasks.
    pub median_ms_per_task: Option<f64>,
    /// median_ms_per_task / the fastest host's (dimensionless: 1 fastest, 2 half as fast).
    pub speed_index: Option<f64>,
    /// speed_index > 1.5.
    pub slow: bool,
    /// 1-minute load average per online CPU before the run (runnable processes per core).
    pub load_per_core: Option<f64>,
    /// CPUs kept busy by other work just before the run (count, averaged over 0.2 s while
    /// every rank slept); `null` when unknown.
    pub busy_cpus_at_start: Option<f64>,
    /// busy_cpus_at_start ≥ half its cores (without a sample: load_per_core ≥ 0.5):
    /// something else was running there when the run started.
    pub busy_at_start: bool,
    /// More ranks than physical cores on it: its ranks shared cores (it is then never `slow`).
    pub oversubscribed: bool,
    /// Its tasks per second of the run's wall_s, 1/s.
    pub tasks_per_s: f64,
    /// Physical cores (count; its cpuset's where a cgroup restricts it).
    pub cores: usize,
    /// Hardware threads of those cores (count).
    pub threads: usize,
    /// The kernel's SIMD path there, chosen at run time from the CPU (capped by
    /// CLUSTER_BENCH_SIMD): "avx512", "avx2-fma" or "baseline".
    pub kernel_path: String,
    /// CPU model from /proc/cpuinfo.
    pub cpu_model: String,
}

/// One rank's share of the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankSummary {
    /// MPI rank.
    pub rank: i32,
    /// Its host's name.
    pub host: String,
    /// Tasks it computed (count).
    pub tasks: u64,
    /// Σ of its task times, seconds.
    pub busy_s: f64,
    /// Median of its task times, milliseconds; `null` without tasks.
    pub median_ms_per_task: Option<f64>,
}

/// Inputs of the report that are not the records themselves.
pub struct ReportInput<'a> {
    pub opts: &'a Options,
    /// This launch's records, sorted by task.
    pub records: Vec<TaskRecord>,
    /// This launch's timed part, seconds.
    pub wall_s: f64,
    pub environment: Environment,
    pub baseline: Option<Baseline>,
    pub stop_reason: Option<String>,
    /// What earlier launches of a resumed run did (empty otherwise).
    pub earlier: Earlier,
    pub dispatch: Option<Dispatch>,
}

/// The earlier launches of a resumed run. The report's run-wide figures cover every launch:
/// wall_s is the sum of their timed parts (the time between launches is nobody's), busy_s the
/// sum over every task, busy_speedup = busy_s / wall_s, busy_efficiency = busy_s / the
/// rank-seconds of every launch. The per-rank and per-host figures are this launch's (rank
/// numbers name this launch's processes); `attempts` in the JSON lists each launch.
#[derive(Clone, Debug, Default)]
pub struct Earlier {
    /// Their records, sorted by task, none of a task this launch computed.
    pub records: Vec<TaskRecord>,
    /// Σ of their timed parts, seconds.
    pub wall_s: f64,
    /// Σ of ranks × timed part, rank-seconds.
    pub rank_s: f64,
}

impl RunReport {
    /// The figures of a run; fails on a task status code this build does not know.
    pub fn new(input: ReportInput<'_>) -> Result<Self, UnknownStatus> {
        let ReportInput {
            opts,
            records,
            wall_s,
            environment,
            baseline,
            stop_reason,
            dispatch,
            earlier,
        } = input;
        let rank_info = &environment.rank_info;
        let ranks = rank_info.len();
        let per_rank = per_rank(&records, rank_info);
        let mut hosts = per_host(&per_rank, rank_info, wall_s);
        judge_hosts(&mut hosts, &records, rank_info);
        // This attempt's own pace: a resumed run's earlier attempts ran elsewhere or earlier.
        let own: Vec<(u64, f64)> = per_rank.iter().map(|r| (r.tasks, r.busy_s)).collect();
        let ideal = Ideal::new(ratio(records.len() as f64, wall_s), &own);
        let records = merged(earlier.records, records);
        let checks = checks(&records)?;
        let busy_s: f64 = records.iter().map(|r| r.seconds).sum();
        let task_count = records.len() as u64;
        let rank_s = earlier.rank_s + ranks as f64 * wall_s;
        let wall_s = earlier.wall_s + wall_s;
        let busy_speedup = ratio(busy_s, wall_s);
        let measured_speedup = baseline.as_ref().map(|b| ratio(b.wall_s, wall_s));
        let measured_efficiency = baseline
            .as_ref()
            .zip(measured_speedup)
            .map(|(b, s)| s / (ranks as f64 / b.ranks.max(1) as f64));
        Ok(RunReport {
            figures: Figures {
                version: env!("CARGO_PKG_VERSION"),
                label: opts.output.label.clone(),
                complete: task_count == opts.tasks,
                stop_reason: stop_reason
                    .or_else(|| (task_count < opts.tasks).then(|| "time-limit".to_string())),
                checksum: checksum(&records),
                wall_s,
                tasks_per_s: ratio(task_count as f64, wall_s),
                busy_s,
                busy_speedup,
                busy_efficiency: ratio(busy_s, rank_s),
                imbalance: imbalance(&per_rank),
                ideal_tasks_per_s: ideal.tasks_per_s,
                heterogeneous_efficiency: ideal.heterogeneous_efficiency,
                homogeneous_efficiency: ideal.homogeneous_efficiency,
                flags: heterogeneity::flags(
                    &hosts.iter().map(HostSummary::figures).collect::<Vec<_>>(),
                ),
                measured_speedup,
                measured_efficiency,
                baseline,
                ranks,
                task_count,
                checks,
                hosts,
                per_rank,
            },
            config: opts.clone(),
            environment,
            tasks: records,
            dispatch,
        })
    }
}

/// Two lists of records sorted by task, as one. The longer list grows by exactly the shorter
/// one (no doubling), so a resumed run's records are held about once.
fn merged(a: Vec<TaskRecord>, b: Vec<TaskRecord>) -> Vec<TaskRecord> {
    let (mut into, from) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    if from.is_empty() {
        return into;
    }
    into.reserve_exact(from.len());
    into.extend_from_slice(&from);
    drop(from);
    into.sort_unstable_by_key(|r| r.task);
    into
}

/// a / b, or 0 when b is not positive (a run too short to time).
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Σ Re Σλ in task order: the same additions in the same order whatever the rank count, so
/// the sum is bit-identical.
pub fn checksum(records: &[TaskRecord]) -> f64 {
    debug_assert!(records.windows(2).all(|w| w[0].task < w[1].task));
    records.iter().map(|r| r.eig_sum_re).sum()
}

/// Counts of each task outcome; an unknown status code is an error, not a guess.
pub fn checks(records: &[TaskRecord]) -> Result<Checks, UnknownStatus> {
    let mut c = Checks::default();
    for r in records {
        match r.status()? {
            TaskStatus::Ok => c.passed += 1,
            TaskStatus::CheckFailed => c.failed += 1,
            TaskStatus::NoConvergence => c.no_convergence += 1,
            TaskStatus::NonFinite => c.non_finite += 1,
        }
        c.fallbacks += u64::from(r.fallback);
    }
    Ok(c)
}

pub fn per_rank(records: &[TaskRecord], info: &[RankInfo]) -> Vec<RankSummary> {
    let mut out: Vec<RankSummary> = info
        .iter()
        .map(|i| RankSummary {
            rank: i.rank,
            host: i.host.clone(),
            tasks: 0,
            busy_s: 0.0,
            median_ms_per_task: None,
        })
        .collect();
    for r in records {
        if let Some(s) = out.get_mut(r.rank as usize) {
            s.tasks += 1;
            s.busy_s += r.seconds;
        }
    }
    let by_rank = records.iter().map(|r| (r.rank as usize, r.seconds));
    for (s, m) in out.iter_mut().zip(medians(by_rank, info.len())) {
        s.median_ms_per_task = m.map(|secs| secs * 1e3);
    }
    out
}

/// Each host's median task time, speed index and load at start, and whether it is slow or
/// was busy (hosts in `per_host` order).
pub fn judge_hosts(hosts: &mut [HostSummary], records: &[TaskRecord], info: &[RankInfo]) {
    let host_of_rank: Vec<usize> = info
        .iter()
        .map(|i| hosts.iter().position(|h| h.name == i.host).unwrap_or(0))
        .collect();
    let by_host = records
        .iter()
        .filter_map(|r| host_of_rank.get(r.rank as usize).map(|&h| (h, r.seconds)));
    let medians = medians(by_host, hosts.len());
    let speed = heterogeneity::speed_indices(&medians);
    for (k, h) in hosts.iter_mut().enumerate() {
        h.median_ms_per_task = medians[k].map(|secs| secs * 1e3);
        h.speed_index = speed[k];
        h.oversubscribed = heterogeneity::is_oversubscribed(h.ranks, h.cores);
        h.slow = heterogeneity::is_slow(speed[k]) && !h.oversubscribed;
        let most = |of: fn(&RankInfo) -> Option<f64>| {
            info.iter()
                .zip(&host_of_rank)
                .filter(|(_, hk)| **hk == k)
                .filter_map(|(i, _)| of(i))
                .reduce(f64::max)
        };
        h.load_per_core = most(|i| i.load_per_core);
        h.busy_cpus_at_start = most(|i| i.busy_cpus);
        h.busy_at_start = heterogeneity::is_busy(h.busy_cpus_at_start, h.cores, h.load_per_core);
    }
}

impl HostSummary {
    /// What the heterogeneity flags read of this host.
    pub fn figures(&self) -> HostFigures<'_> {
        HostFigures {
            name: &self.name,
            median_ms_per_task: self.median_ms_per_task,
            speed_index: self.speed_index,
            load_per_core: self.load_per_core,
            busy_cpus: self.busy_cpus_at_start,
            cores: self.cores,
            ranks: self.ranks,
        }
    }
}

/// Max over mean of per-rank busy time; 1.0 is perfect balance, idle ranks count as zero.
pub fn imbalance(ranks: &[RankSummary]) -> f64 {
    let max = ranks.iter().map(|r| r.busy_s).fold(0.0, f64::max);
    let mean = ranks.iter().map(|r| r.busy_s).sum::<f64>() / ranks.len().max(1) as f64;
    ratio(max, mean)
}

pub fn per_host(ranks: &[RankSummary], info: &[RankInfo], wall_s: f64) -> Vec<HostSummary> {
    let mut order: Vec<String> = Vec::new();
    let mut by_host: BTreeMap<String, HostSummary> = BTreeMap::new();
    for (r, i) in ranks.iter().zip(info) {
        let h = by_host.entry(r.host.clone()).or_insert_with(|| {
            order.push(r.host.clone());
            HostSummary {
                name: r.host.clone(),
                ranks: 0,
                tasks: 0,
                busy_s: 0.0,
                mean_ms_per_task: 0.0,
                median_ms_per_task: None,
                speed_index: None,
                slow: false,
                load_per_core: None,
                busy_cpus_at_start: None,
                busy_at_start: false,
                oversubscribed: false,
                tasks_per_s: 0.0,
                cores: i.cores,
                threads: i.threads,
                kernel_path: i.kernel_path.clone(),
                cpu_model: i.cpu_model.clone(),
            }
        });
        h.ranks += 1;
        h.tasks += r.tasks;
        h.busy_s += r.busy_s;
    }
    order
        .into_iter()
        .map(|name| {
            let mut h = by_host.remove(&name).expect("inserted above");
            h.mean_ms_per_task = ratio(h.busy_s * 1e3, h.tasks as f64);
            h.tasks_per_s = ratio(h.tasks as f64, wall_s);
            h
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(task: u64, rank: i32, seconds: f64, sum: f64) -> TaskRecord {
        TaskRecord {
            task,
            rank,
            seconds,
            eig_sum_re: sum,
            ..TaskRecord::default()
        }
    }

    fn info(rank: i32, host: &str) -> RankInfo {
        RankInfo {
            rank,
            host: host.into(),
            cores: 2,
            ..RankInfo::default()
        }
    }

    #[test]
    fn per_rank_per_host_and_imbalance_from_known_records() {
        let records = vec![
            rec(0, 0, 1.0, 0.0),
            rec(1, 1, 2.0, 0.0),
            rec(2, 2, 3.0, 0.0),
            rec(3, 0, 1.0, 0.0),
        ];
        let infos = [info(0, "a"), info(1, "b"), info(2, "a")];
        let ranks = per_rank(&records, &infos);
        assert_eq!(
            ranks
                .iter()
                .map(|r| (r.tasks, r.busy_s))
                .collect::<Vec<_>>(),
            vec![(2, 2.0), (1, 2.0), (1, 3.0)]
        );
        // max 3 over mean 7/3
        assert!((imbalance(&ranks) - 9.0 / 7.0).abs() < 1e-12);
        let hosts = per_host(&ranks, &infos, 2.0);
        assert_eq!(hosts.len(), 2);
        assert_eq!(
            (hosts[0].name.as_str(), hosts[0].ranks, hosts[0].tasks),
            ("a", 2, 3)
        );
        assert!((hosts[0].busy_s - 5.0).abs() < 1e-12);
        assert!((hosts[0].mean_ms_per_task - 5000.0 / 3.0).abs() < 1e-9);
        assert!((hosts[0].tasks_per_s - 1.5).abs() < 1e-12);
        assert_eq!((hosts[1].name.as_str(), hosts[1].tasks), ("b", 1));
    }

    #[test]
    fn a_slow_host_is_judged_against_its_own_pace() {
        let mut records: Vec<TaskRecord> = (0..4).map(|t| rec(t, 0, 0.01, 0.0)).collect();
        records.push(rec(4, 1, 0.04, 0.0));
        let mut infos = vec![info(0, "a"), info(1, "b")];
        infos[1].load_per_core = Some(1.5);
        let opts = crate::bench::options::parse(&["--tasks", "5"]).unwrap();
        let r = RunReport::new(ReportInput {
            opts: &opts,
            records,
            wall_s: 0.05,
            environment: Environment {
                rank_info: infos,
                ..Environment::default()
            },
            baseline: None,
            stop_reason: None,
            dispatch: None,
            earlier: Earlier::default(),
        })
        .unwrap();
        // 100 tasks/s achieved; own rates 100 + 25; the fastest rank alone would do 2 × 100.
        assert!((r.figures.ideal_tasks_per_s - 125.0).abs() < 1e-9);
        assert!((r.figures.heterogeneous_efficiency - 0.8).abs() < 1e-9);
        assert!((r.figures.homogeneous_efficiency - 0.5).abs() < 1e-9);
        let b = &r.figures.hosts[1];
        assert_eq!(
            (b.speed_index, b.slow, b.busy_at_start),
            (Some(4.0), true, true)
        );
        assert_eq!(r.figures.hosts[0].speed_index, Some(1.0));
        assert!(!r.figures.hosts[0].slow && !r.figures.hosts[0].busy_at_start);
        assert_eq!(r.figures.flags.len(), 2, "{:?}", r.figures.flags);
        assert!(
            r.figures.flags[0].starts_with("slow host b: 40.000 ms"),
            "{:?}",
            r.figures.flags
        );
        assert_eq!(r.figures.per_rank[1].median_ms_per_task, Some(40.0));
    }

    #[test]
    fn idle_ranks_count_in_imbalance() {
        let ranks = per_rank(&[rec(0, 0, 4.0, 0.0)], &[info(0, "a"), info(1, "a")]);
        assert!((imbalance(&ranks) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn checksum_is_the_ordered_sum() {
        let r = [
            rec(0, 1, 0.0, 1.5),
            rec(1, 0, 0.0, -0.25),
            rec(2, 0, 0.0, 1e-3),
        ];
        assert_eq!(checksum(&r), 1.5 + -0.25 + 1e-3);
    }

    #[test]
    fn checks_count_each_status() {
        let mut r = vec![rec(0, 0, 0.0, 0.0); 5];
        r[1].status = TaskStatus::CheckFailed as u8;
        r[2].status = TaskStatus::NoConvergence as u8;
        r[3].status = TaskStatus::NonFinite as u8;
        r[4].fallback = 1;
        let c = checks(&r).unwrap();
        assert_eq!(
            c,
            Checks {
                passed: 2,
                failed: 1,
                no_convergence: 1,
                non_finite: 1,
                fallbacks: 1
            }
        );
        assert!(!c.all_passed());
        r[2].status = 9;
        assert_eq!(checks(&r), Err(UnknownStatus { task: 0, code: 9 }));
    }

    #[test]
    fn baseline_differences_are_named() {
        let opts = crate::bench::options::parse(&["--dim", "30", "--tasks", "6"]).unwrap();
        let same = br#"{"wall_s": 2.0, "ranks": 1, "complete": true,
            "config": {"dim": 30, "tasks": 6, "seed": 42, "kernel": "auto"}}"#;
        let b = Baseline::from_json("b.json", same, &opts).unwrap();
        assert_eq!((b.wall_s, b.ranks, b.differs.len()), (2.0, 1, 0));
        let other = br#"{"wall_s": 2.0, "ranks": 1, "complete": false,
            "config": {"dim": 40, "tasks": 6, "seed": 1, "kernel": "faer"}}"#;
        assert_eq!(
            Baseline::from_json("b.json", other, &opts).unwrap().differs,
            vec![
                "dim 40 (here 30)",
                "seed 1 (here 42)",
                "kernel faer (here auto)",
                "baseline incomplete"
            ]
        );
    }

    #[test]
    fn a_sleep_baseline_compares_workload_and_task_time() {
        let opts = crate::bench::options::parse(&[
            "--workload",
            "sleep",
            "--task-ms",
            "10",
            "--tasks",
            "6",
        ])
        .unwrap();
        let diffs = |json: &[u8]| Baseline::from_json("b.json", json, &opts).unwrap().differs;
        let same = br#"{"wall_s": 2.0, "ranks": 1, "config": {"dim": 99, "tasks": 6,
            "seed": 42, "kernel": "faer", "workload": "sleep", "task_ms": 10.0}}"#;
        assert!(diffs(same).is_empty(), "dim and kernel play no part");
        let eig = br#"{"wall_s": 2.0, "ranks": 1, "config": {"tasks": 6, "seed": 42}}"#;
        assert_eq!(
            diffs(eig),
            vec!["workload eig (here sleep)", "task_ms ? (here 10)"]
        );
    }

    #[test]
    fn a_foreign_json_is_no_baseline() {
        let opts = crate::bench::options::parse(&[]).unwrap();
        for bad in [
            &b"{\"hello\": 1}"[..],
            b"{\"wall_s\": 0, \"ranks\": 2}",
            b"[1]",
            b"{",
        ] {
            let e = Baseline::from_json("x.json", bad, &opts).unwrap_err();
            assert!(e.to_string().starts_with("--baseline x.json: "), "{e}");
        }
    }

    #[test]
    fn ratio_guards_zero_time() {
        assert_eq!(ratio(5.0, 0.0), 0.0);
        assert_eq!(ratio(6.0, 2.0), 3.0);
    }
}
