//! How uneven the machines of a run were, from its own task times: each rank's own task rate,
//! each host's speed index, who was slow or busy at the start, and the efficiency against the
//! heterogeneous ideal. Pure, so every rule is unit-tested.
//!
//! A host's speed index compares median task times (the median, so one task that met a
//! passing hiccup does not move it). A rank's own rate is its tasks / its busy seconds: every
//! second it computed counts, including those a busy host or a CPU quota took from it. The
//! ideal of a heterogeneous cluster is Σ of the ranks' own rates: a schedule that keeps every
//! rank busy to the end reaches it, whatever the hosts. Against ranks × the fastest rank's
//! rate, a cluster with one slow host can never score 1.

/// A host is flagged slow when its median task time is over this many times the fastest host's.
pub const SLOW_FACTOR: f64 = 1.5;
/// A host is flagged busy when other work kept at least this share of its cores busy in the
/// moment before the run (sampled while every rank slept).
pub const BUSY_SHARE: f64 = 0.5;
/// Where that sample is missing: busy when, over the minute before the run, each of its cores
/// had at least this many runnable processes on average (its 1-minute load average per core,
/// which also remembers the user's own run or build that just ended).
pub const BUSY_LOAD_PER_CORE: f64 = 0.5;

/// Each median over the fastest (smallest) one: 1 for the fastest host, 2 for one taking twice
/// as long per task; `None` where there is no median.
pub fn speed_indices(medians: &[Option<f64>]) -> Vec<Option<f64>> {
    let fastest = medians
        .iter()
        .flatten()
        .copied()
        .filter(|m| *m > 0.0)
        .fold(f64::INFINITY, f64::min);
    medians
        .iter()
        .map(|m| m.filter(|_| fastest.is_finite()).map(|m| m / fastest))
        .collect()
}

/// Efficiencies of a run that did `tasks_per_s`, from its ranks' own rates.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ideal {
    /// Σ over ranks of tasks / busy seconds, tasks/s (ranks without tasks add nothing).
    pub tasks_per_s: f64,
    /// Achieved / `tasks_per_s`: 1 when every rank computed at its own pace all the time.
    pub heterogeneous_efficiency: f64,
    /// Achieved / (ranks × the fastest rank's rate): what a uniform cluster would have done.
    pub homogeneous_efficiency: f64,
}

impl Ideal {
    /// `ranks` holds each rank's (tasks, busy seconds).
    pub fn new(achieved_tasks_per_s: f64, ranks: &[(u64, f64)]) -> Ideal {
        let rates: Vec<f64> = ranks
            .iter()
            .filter(|(tasks, busy_s)| *tasks > 0 && *busy_s > 0.0)
            .map(|(tasks, busy_s)| *tasks as f64 / busy_s)
            .collect();
        let sum: f64 = rates.iter().sum();
        let fastest = rates.iter().copied().fold(0.0, f64::max);
        let of = |ideal: f64| {
            if ideal > 0.0 {
                achieved_tasks_per_s / ideal
            } else {
                0.0
            }
        };
        Ideal {
            tasks_per_s: sum,
            heterogeneous_efficiency: of(sum),
            homogeneous_efficiency: of(fastest * ranks.len() as f64),
        }
    }
}

/// Whether a host is slow (by its speed index) and whether it was busy at the start.
pub fn is_slow(speed_index: Option<f64>) -> bool {
    speed_index.is_some_and(|s| s > SLOW_FACTOR)
}

/// Busy by the sample of CPUs busy with other work where there is one, else by the load.
pub fn is_busy(busy_cpus: Option<f64>, cores: usize, load_per_core: Option<f64>) -> bool {
    match busy_cpus {
        Some(b) => b >= BUSY_SHARE * cores.max(1) as f64,
        None => load_per_core.is_some_and(|l| l >= BUSY_LOAD_PER_CORE),
    }
}

/// More ranks than physical cores on a host (0 cores: unknown, never flagged).
pub fn is_oversubscribed(ranks: usize, cores: usize) -> bool {
    cores > 0 && ranks > cores
}

/// What the flags need to know of one host.
pub struct HostFigures<'a> {
    pub name: &'a str,
    pub median_ms_per_task: Option<f64>,
    pub speed_index: Option<f64>,
    pub load_per_core: Option<f64>,
    pub busy_cpus: Option<f64>,
    pub cores: usize,
    pub ranks: usize,
}

/// One sentence per slow host, per host with more ranks than cores (never called slow: its
/// ranks slowed each other) and per host busy at the start, naming the host.
pub fn flags(hosts: &[HostFigures]) -> Vec<String> {
    let fastest = hosts
        .iter()
        .filter(|h| h.speed_index == Some(1.0))
        .find_map(|h| h.median_ms_per_task.map(|m| (h.name, m)));
    let mut out = Vec::new();
    for h in hosts {
        let crowded = is_oversubscribed(h.ranks, h.cores);
        if crowded {
            out.push(format!(
                "more ranks than cores on host {}: {} ranks on {} cores, so its tasks shared \
                 cores (not a slow host)",
                h.name, h.ranks, h.cores
            ));
        }
        if let (true, false, Some(s), Some(m), Some((f, fm))) = (
            is_slow(h.speed_index),
            crowded,
            h.speed_index,
            h.median_ms_per_task,
            fastest,
        ) {
            out.push(format!(
                "slow host {}: {m:.3} ms per task (median), {s:.2}x the fastest host's \
                 ({f}: {fm:.3} ms)",
                h.name
            ));
        }
        if is_busy(h.busy_cpus, h.cores, h.load_per_core) {
            out.push(busy_sentence(h));
        }
    }
    out
}

fn busy_sentence(h: &HostFigures) -> String {
    match (h.busy_cpus, h.load_per_core) {
        (Some(b), _) => format!(
            "busy host {}: other work kept {b:.1} of its {} cores busy just before the run",
            h.name, h.cores
        ),
        (None, Some(l)) => format!(
            "busy host {}: load {l:.2} per core over the minute before the run",
            h.name
        ),
        (None, None) => format!("busy host {}", h.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_index_is_relative_to_the_fastest() {
        let s = speed_indices(&[Some(0.004), Some(0.002), None, Some(0.0035)]);
        assert_eq!(s, vec![Some(2.0), Some(1.0), None, Some(1.75)]);
        assert_eq!(speed_indices(&[None]), vec![None]);
        assert!(is_slow(s[0]) && is_slow(s[3]) && !is_slow(s[1]) && !is_slow(None));
    }

    #[test]
    fn ideal_is_the_sum_of_own_rates() {
        // Two ranks at 100 tasks/s, one at 25: the ideal is 225, not 3 × 100.
        let i = Ideal::new(213.75, &[(100, 1.0), (50, 0.5), (10, 0.4)]);
        assert!((i.tasks_per_s - 225.0).abs() < 1e-9);
        assert!((i.heterogeneous_efficiency - 0.95).abs() < 1e-9);
        assert!((i.homogeneous_efficiency - 0.7125).abs() < 1e-9);
        // A rank without tasks adds no rate but counts in ranks × fastest.
        let i = Ideal::new(100.0, &[(10, 0.1), (0, 0.0)]);
        assert_eq!(
            (i.heterogeneous_efficiency, i.homogeneous_efficiency),
            (1.0, 0.5)
        );
        assert_eq!(Ideal::new(5.0, &[(0, 0.0)]).heterogeneous_efficiency, 0.0);
    }

    #[test]
    fn flags_name_slow_and_busy_hosts() {
        let h = |name, ms: f64, load| HostFigures {
            name,
            median_ms_per_task: Some(ms),
            speed_index: Some(ms / 2.0),
            load_per_core: load,
            busy_cpus: None,
            cores: 2,
            ranks: 2,
        };
        let hosts = [
            h("a", 2.0, Some(0.1)),
            h("b", 3.0, None),
            h("c", 8.0, Some(0.75)),
        ];
        let f = flags(&hosts);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(
            f[0],
            "slow host c: 8.000 ms per task (median), 4.00x the fastest host's (a: 2.000 ms)"
        );
        assert_eq!(
            f[1],
            "busy host c: load 0.75 per core over the minute before the run"
        );
    }

    #[test]
    fn a_sample_of_busy_cpus_overrules_the_load_average() {
        // The load average remembers the user's own build; the sample sees an idle host.
        assert!(!is_busy(Some(0.1), 2, Some(3.0)));
        assert!(is_busy(Some(1.0), 2, Some(0.0)), "one of two cores taken");
        assert!(!is_busy(Some(0.9), 2, None));
        assert!(is_busy(None, 2, Some(0.5)), "no sample: the load decides");
    }

    #[test]
    fn a_host_with_more_ranks_than_cores_is_flagged_so_not_slow() {
        let crowded = HostFigures {
            name: "c",
            median_ms_per_task: Some(8.0),
            speed_index: Some(4.0),
            load_per_core: None,
            busy_cpus: Some(1.5),
            cores: 2,
            ranks: 3,
        };
        let fast = HostFigures {
            name: "a",
            median_ms_per_task: Some(2.0),
            speed_index: Some(1.0),
            ranks: 2,
            busy_cpus: Some(0.0),
            ..crowded
        };
        let f = flags(&[fast, crowded]);
        assert_eq!(
            f,
            [
                "more ranks than cores on host c: 3 ranks on 2 cores, so its tasks shared cores \
                 (not a slow host)",
                "busy host c: other work kept 1.5 of its 2 cores busy just before the run",
            ]
        );
        assert!(!is_oversubscribed(2, 2) && is_oversubscribed(3, 2) && !is_oversubscribed(3, 0));
    }
}
