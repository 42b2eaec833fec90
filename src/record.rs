//! What a rank measures and sends to rank 0: one `TaskRecord` per task, one `RankInfo` per rank;
//! and the run's `Environment` (every rank's host, the MPI library, the build).

use mpi::traits::Equivalence;
use serde::{Deserialize, Serialize};

use crate::util::clock::iso8601_utc;
use crate::util::{cpu, host};

/// Outcome of one task, as a small integer so the record stays a plain MPI datatype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TaskStatus {
    /// Eigenvalues computed and Σλ = tr A within the tolerance.
    Ok = 0,
    /// Eigenvalues computed but Σλ ≠ tr A.
    CheckFailed = 1,
    /// No solver converged.
    NoConvergence = 2,
    /// The matrix had a NaN or infinite entry.
    NonFinite = 3,
}

impl TaskStatus {
    /// The status of a wire code; `None` for a code this build does not know.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(TaskStatus::Ok),
            1 => Some(TaskStatus::CheckFailed),
            2 => Some(TaskStatus::NoConvergence),
            3 => Some(TaskStatus::NonFinite),
            _ => None,
        }
    }

    /// The status as the JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Ok => "ok",
            TaskStatus::CheckFailed => "check-failed",
            TaskStatus::NoConvergence => "no-convergence",
            TaskStatus::NonFinite => "non-finite",
        }
    }
}

/// A task status code no `TaskStatus` has: a record from another build, or a corrupted one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "task {task} came back with status code {code}, which this build does not know (is every \
     host running the same cluster-bench?)"
)]
pub struct UnknownStatus {
    /// The task.
    pub task: u64,
    /// Its status code.
    pub code: u8,
}

/// One task's measurement as it travels over MPI (a derived datatype): plain numbers only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Equivalence)]
pub struct TaskRecord {
    /// Task index (0-based).
    pub task: u64,
    /// Rank that computed it.
    pub rank: i32,
    /// `TaskStatus` code (see [`TaskRecord::status`]).
    pub status: u8,
    /// 1 when the fallback solver produced the eigenvalues.
    pub fallback: u8,
    /// Start of the task, seconds after the rank left the pre-run barrier.
    pub start_s: f64,
    /// Time to compute the task's eigenvalues, seconds.
    pub seconds: f64,
    /// Re Σλ (what the checksum adds up).
    pub eig_sum_re: f64,
    /// Im Σλ (zero up to rounding for a real matrix).
    pub eig_sum_im: f64,
    /// tr A, for the check.
    pub trace: f64,
}

impl TaskRecord {
    /// The decoded status; an unknown code is an error, never a guess.
    pub fn status(&self) -> Result<TaskStatus, UnknownStatus> {
        TaskStatus::from_code(self.status).ok_or(UnknownStatus {
            task: self.task,
            code: self.status,
        })
    }
}

/// Facts about the host a rank runs on, gathered once per run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RankInfo {
    /// MPI rank.
    pub rank: i32,
    /// Host name as its kernel reports it.
    pub host: String,
    /// Physical cores of its host (count).
    pub cores: usize,
    /// Hardware threads of those cores (count).
    pub threads: usize,
    /// The CPUs it ran on, a kernel CPU list ("3": pinned to CPU 3; "0-7": free on eight).
    pub affinity: String,
    /// The kernel's SIMD path on this rank ("avx512", "avx2-fma", "baseline").
    pub kernel_path: String,
    /// CPUs of its host kept busy by other work just before the run (count); `null` unknown.
    pub busy_cpus: Option<f64>,
    /// CPU model from /proc/cpuinfo.
    pub cpu_model: String,
    /// Total memory of the host, bytes.
    pub mem_total_bytes: u64,
    /// Process id on that host.
    pub pid: u32,
    /// Its host's 1-minute load average per online CPU before the run.
    pub load_per_core: Option<f64>,
}

impl RankInfo {
    /// This process's rank and its host's facts; `busy_cpus` as sampled before the run.
    pub fn local(rank: i32, busy_cpus: Option<f64>) -> Self {
        let h = host::facts();
        RankInfo {
            rank,
            host: h.name.clone(),
            cores: h.cores,
            threads: h.threads,
            affinity: cpu::format_cpu_list(&cpu::affinity()),
            busy_cpus,
            kernel_path: crate::kernel::simd_path().name().to_string(),
            cpu_model: h.cpu_model.clone(),
            mem_total_bytes: h.mem_total_bytes,
            pid: std::process::id(),
            load_per_core: h.load_per_core,
        }
    }
}

/// Where and with what a run happened.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Environment {
    /// Start of the timed part, UTC, ISO 8601 (`YYYY-MM-DDTHH:MM:SSZ`).
    pub started_at: String,
    /// The MPI library's version line, e.g. "Open MPI v4.1.4".
    pub mpi_library: String,
    /// `git describe` of the source the binary was built from, when known.
    pub git_revision: Option<String>,
    /// Every rank's host facts, in rank order.
    pub rank_info: Vec<RankInfo>,
}

impl Environment {
    /// The environment of a run whose timed part started at `started_unix_s` (Unix seconds)
    /// on ranks `rank_info`.
    pub fn collect(started_unix_s: f64, rank_info: Vec<RankInfo>) -> Self {
        Environment {
            started_at: iso8601_utc(started_unix_s),
            mpi_library: host::mpi_library(),
            git_revision: Some(env!("CLUSTER_BENCH_GIT_REV").to_string()).filter(|s| !s.is_empty()),
            rank_info,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip() {
        for s in [
            TaskStatus::Ok,
            TaskStatus::CheckFailed,
            TaskStatus::NoConvergence,
            TaskStatus::NonFinite,
        ] {
            assert_eq!(TaskStatus::from_code(s as u8), Some(s));
        }
        assert_eq!(TaskStatus::from_code(4), None);
        let r = TaskRecord {
            task: 7,
            status: 200,
            ..TaskRecord::default()
        };
        assert_eq!(r.status(), Err(UnknownStatus { task: 7, code: 200 }));
    }

    /// Each field against a source other than the one `local` reads.
    #[test]
    fn local_info_matches_what_the_kernel_reports() {
        let info = RankInfo::local(3, Some(0.5));
        assert_eq!(info.busy_cpus, Some(0.5));
        assert_eq!(info.rank, 3);
        let uts = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(info.host, uts.trim_end_matches('\n'));
        let self_pid = std::fs::read_link("/proc/self").unwrap();
        assert_eq!(info.pid.to_string(), self_pid.to_string_lossy());
        // sysinfo(2) counts the same RAM in pages, /proc/meminfo in KiB: equal in bytes.
        // SAFETY: sysinfo only writes into the zeroed struct it is given.
        let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::sysinfo(&mut si) }, 0);
        let ram = si.totalram as u64 * u64::from(si.mem_unit);
        assert_eq!(
            info.mem_total_bytes, ram,
            "MemTotal vs sysinfo (a container may fake /proc/meminfo)"
        );
        // The affinity list names as many CPUs as sched_getaffinity counts, and the host has
        // at least as many hardware threads, each core at least one.
        // SAFETY: a zeroed cpu_set_t is a valid empty set; the call fills it for this thread.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(unsafe { libc::sched_getaffinity(0, size, &mut set) }, 0);
        let affinity = unsafe { libc::CPU_COUNT(&set) } as usize;
        let own = cpu::parse_cpu_list(&info.affinity).unwrap();
        assert_eq!(own.len(), affinity, "affinity {}", info.affinity);
        assert!(affinity <= info.threads, "{affinity} of {}", info.threads);
        assert!((1..=info.threads).contains(&info.cores));
    }
}
