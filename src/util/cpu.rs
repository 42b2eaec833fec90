//! This host's processors: physical cores and hardware threads, the CPUs a process may run on
//! (its affinity), pinning a rank to one core, and how busy the CPUs are with other work now.

use std::collections::BTreeMap;
use std::time::Duration;

/// Which physical core each online CPU (hardware thread) belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    /// (CPU id, (package id, core id)), in CPU order.
    cpus: Vec<(usize, (u32, u32))>,
}

impl Topology {
    /// The online CPUs and their cores from /sys; where the topology files can't be read,
    /// every CPU counts as a core of its own.
    pub fn read() -> Self {
        let root = "/sys/devices/system/cpu";
        let online = std::fs::read_to_string(format!("{root}/online"))
            .ok()
            .and_then(|t| parse_cpu_list(&t))
            .unwrap_or_else(|| {
                (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
            });
        let id = |cpu: usize, file: &str| -> Option<u32> {
            std::fs::read_to_string(format!("{root}/cpu{cpu}/topology/{file}"))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        let cpus = online
            .into_iter()
            .map(|cpu| {
                let core = match (id(cpu, "physical_package_id"), id(cpu, "core_id")) {
                    (Some(p), Some(c)) => (p, c),
                    _ => (u32::MAX, cpu as u32),
                };
                (cpu, core)
            })
            .collect();
        Topology { cpus }
    }

    /// A topology from (CPU, (package, core)) pairs.
    pub fn from_pairs(cpus: Vec<(usize, (u32, u32))>) -> Self {
        Topology { cpus }
    }

    /// Online hardware threads (logical CPUs).
    pub fn threads(&self) -> usize {
        self.cpus.len()
    }

    /// Online physical cores.
    pub fn cores(&self) -> usize {
        self.cores_in(&self.cpus.iter().map(|c| c.0).collect::<Vec<_>>())
            .len()
    }

    /// The cores with at least one thread in `allowed`, each as its threads in `allowed`,
    /// ordered by their first thread.
    pub fn cores_in(&self, allowed: &[usize]) -> Vec<Vec<usize>> {
        let mut by_core: BTreeMap<(u32, u32), Vec<usize>> = BTreeMap::new();
        for &(cpu, core) in &self.cpus {
            if allowed.contains(&cpu) {
                by_core.entry(core).or_default().push(cpu);
            }
        }
        let mut cores: Vec<Vec<usize>> = by_core.into_values().collect();
        cores.sort_by_key(|threads| threads[0]);
        cores
    }
}

/// The CPUs this host gives its processes: the cgroup's cpuset where one restricts them (a
/// container, or a test host with fewer CPUs), else every online CPU. Unlike [`affinity`],
/// a launcher's pinning of this one process does not narrow it.
pub fn host_cpus() -> Vec<usize> {
    let v1 = std::fs::read_to_string("/proc/self/cpuset")
        .ok()
        .map(|p| format!("/sys/fs/cgroup/cpuset{}/cpuset.effective_cpus", p.trim()));
    let v2 = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| {
            let path = t
                .lines()
                .find_map(|l| l.strip_prefix("0::"))?
                .trim()
                .to_string();
            Some(format!("/sys/fs/cgroup{path}/cpuset.cpus.effective"))
        });
    [v1, v2]
        .into_iter()
        .flatten()
        .find_map(|f| parse_cpu_list(&std::fs::read_to_string(f).ok()?).filter(|c| !c.is_empty()))
        .unwrap_or_else(|| topology().cpus.iter().map(|c| c.0).collect())
}

/// This host's topology, read once.
pub fn topology() -> &'static Topology {
    static TOPOLOGY: std::sync::OnceLock<Topology> = std::sync::OnceLock::new();
    TOPOLOGY.get_or_init(Topology::read)
}

/// A kernel CPU list ("0-3,8,10-11") as CPU ids; `None` when it is not one.
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

/// CPU ids as a kernel CPU list, runs folded ("0-3,8").
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            sorted[i].to_string()
        } else {
            format!("{}-{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// The CPUs this process may run on (its affinity mask); empty when it can't be read.
pub fn affinity() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// Restricts this process (its calling thread and the threads it starts later) to `cpus`.
pub fn set_affinity(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET ignores ids past CPU_SETSIZE's bound check below.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Which core of a shared affinity mask the rank at `index` among the ranks that share this
/// machine's cores should be pinned to: its own core when every one of them may run on the
/// same CPUs and there are at least as many cores there as ranks; `None` otherwise (more
/// ranks than cores: pinning would stack ranks; different masks: the launcher already
/// placed them).
pub fn core_to_pin(index: usize, ranks: usize, same_masks: bool, cores: usize) -> Option<usize> {
    (same_masks && ranks <= cores && index < ranks).then_some(index)
}

/// The host's CPU time since boot from /proc/stat's first line, in clock ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuTicks {
    /// Ticks spent on anything but idle and I/O wait.
    pub busy: u64,
    /// All ticks.
    pub total: u64,
}

/// The host's CPU ticks from /proc/stat's `cpu` line ("cpu user nice system idle iowait …").
pub fn parse_cpu_ticks(stat: &str) -> Option<CpuTicks> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // guest and guest_nice (fields 9, 10) are already counted in user and nice.
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied()? + fields.get(4).copied().unwrap_or(0);
    Some(CpuTicks {
        busy: total.saturating_sub(idle),
        total,
    })
}

/// How many CPUs were busy on average between two readings: busy ticks over all ticks, times
/// the online CPUs the ticks were counted over.
pub fn busy_cpus(before: CpuTicks, after: CpuTicks, cpus: usize) -> Option<f64> {
    let total = after.total.checked_sub(before.total)?;
    let busy = after.busy.checked_sub(before.busy)?;
    (total > 0).then(|| busy as f64 / total as f64 * cpus as f64)
}

/// How many of the host's CPUs are busy right now, averaged over `window`, while this process
/// sleeps through it (so it measures everybody else); `None` where /proc/stat can't be read.
pub fn sample_busy_cpus(window: Duration) -> Option<f64> {
    let read = || {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| parse_cpu_ticks(&t))
    };
    let before = read()?;
    std::thread::sleep(window);
    let after = read()?;
    busy_cpus(before, after, topology().threads())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_way_smt() -> Topology {
        // 4 threads on 2 cores: CPUs 0 and 2 share core 0, 1 and 3 core 1 (Intel numbering).
        Topology::from_pairs(vec![(0, (0, 0)), (1, (0, 1)), (2, (0, 0)), (3, (0, 1))])
    }

    #[test]
    fn cores_count_threads_that_share_a_core_once() {
        let t = two_way_smt();
        assert_eq!((t.threads(), t.cores()), (4, 2));
        assert_eq!(t.cores_in(&[0, 1, 2, 3]), vec![vec![0, 2], vec![1, 3]]);
        assert_eq!(t.cores_in(&[1, 3]), vec![vec![1, 3]]);
    }

    #[test]
    fn this_hosts_topology_has_a_core_for_every_thread_at_most() {
        let t = topology();
        assert!(t.cores() >= 1 && t.cores() <= t.threads(), "{t:?}");
        let mine = affinity();
        assert!(!mine.is_empty());
        let host = host_cpus();
        assert!(
            mine.iter().all(|c| host.contains(c)),
            "{mine:?} within {host:?}"
        );
    }

    #[test]
    fn cpu_lists_read_and_written_as_the_kernel_does() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(format_cpu_list(&[11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[4]), "4");
        assert_eq!(format_cpu_list(&[]), "");
    }

    #[test]
    fn ranks_are_pinned_only_when_each_gets_a_core_of_one_shared_mask() {
        assert_eq!(core_to_pin(1, 2, true, 2), Some(1));
        assert_eq!(core_to_pin(0, 3, true, 2), None, "more ranks than cores");
        assert_eq!(
            core_to_pin(0, 2, false, 2),
            None,
            "the launcher placed them"
        );
    }

    #[test]
    fn busy_cpus_are_busy_ticks_over_all_ticks_times_cpus() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
        let a = parse_cpu_ticks(stat).unwrap();
        assert_eq!(
            a,
            CpuTicks {
                busy: 150,
                total: 1000
            }
        );
        let b = CpuTicks {
            busy: 250,
            total: 1200,
        };
        assert_eq!(busy_cpus(a, b, 2), Some(1.0));
        assert_eq!(busy_cpus(b, a, 2), None, "counters never run backwards");
        assert_eq!(busy_cpus(a, a, 2), None);
    }

    #[test]
    fn a_sample_of_this_host_lies_between_none_and_all_cpus() {
        let busy = sample_busy_cpus(Duration::from_millis(50)).unwrap();
        assert!(
            (0.0..=topology().threads() as f64 + 1e-9).contains(&busy),
            "{busy}"
        );
    }

    #[test]
    fn pinning_to_the_cpus_already_allowed_keeps_them() {
        // Run in a thread of its own: affinity is per thread and must not leak into others.
        std::thread::spawn(|| {
            let before = affinity();
            set_affinity(&before).unwrap();
            assert_eq!(affinity(), before);
            set_affinity(&before[..1]).unwrap();
            assert_eq!(affinity(), before[..1].to_vec());
        })
        .join()
        .unwrap();
    }
}
