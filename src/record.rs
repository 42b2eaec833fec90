//! What a rank measures and sends to rank 0: one `TaskRecord` per task, one `RankInfo` per rank.

use mpi::traits::Equivalence;
use serde::{Deserialize, Serialize, Serializer};

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
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => TaskStatus::Ok,
            1 => TaskStatus::CheckFailed,
            2 => TaskStatus::NoConvergence,
            _ => TaskStatus::NonFinite,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Ok => "ok",
            TaskStatus::CheckFailed => "check-failed",
            TaskStatus::NoConvergence => "no-convergence",
            TaskStatus::NonFinite => "non-finite",
        }
    }
}

/// One task's measurement, sent over MPI as a derived datatype.
#[derive(Clone, Copy, Debug, Default, PartialEq, Equivalence, Serialize)]
pub struct TaskRecord {
    /// Task index (0-based).
    pub task: u64,
    /// Rank that computed it.
    pub rank: i32,
    /// `TaskStatus` code.
    #[serde(serialize_with = "status_name")]
    pub status: u8,
    /// 1 when the fallback solver produced the eigenvalues.
    #[serde(serialize_with = "as_bool")]
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

fn status_name<S: Serializer>(code: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(TaskStatus::from_code(*code).as_str())
}

fn as_bool<S: Serializer>(v: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(*v != 0)
}

/// Facts about the host a rank runs on, gathered once per run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RankInfo {
    /// MPI rank.
    pub rank: i32,
    /// Host name as the kernel reports it (`gethostname`).
    pub host: String,
    /// Logical cores the rank may use.
    pub cores: usize,
    /// CPU model from /proc/cpuinfo.
    pub cpu_model: String,
    /// Total memory of the host, bytes.
    pub mem_total_bytes: u64,
    /// Process id on that host.
    pub pid: u32,
}

impl RankInfo {
    /// Reads this process's host facts; what can't be read is left empty rather than failing a run.
    pub fn local(rank: i32) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        RankInfo {
            rank,
            host: hostname(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_default(),
            mem_total_bytes: crate::cli::meminfo_field_kib(&meminfo, "MemTotal:").unwrap_or(0)
                * 1024,
            pid: std::process::id(),
        }
    }
}

/// The first `model name` line of /proc/cpuinfo.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// This machine's host name (the UTS name, which test hosts in namespaces set per host).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates when it fits.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_is_read_from_cpuinfo() {
        let t = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
        assert_eq!(cpu_model(t).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor: 0\n"), None);
    }

    #[test]
    fn status_codes_round_trip() {
        for s in [
            TaskStatus::Ok,
            TaskStatus::CheckFailed,
            TaskStatus::NoConvergence,
            TaskStatus::NonFinite,
        ] {
            assert_eq!(TaskStatus::from_code(s as u8), s);
        }
    }

    /// Each field against a source other than the one `local` reads.
    #[test]
    fn local_info_matches_what_the_kernel_reports() {
        let info = RankInfo::local(3);
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
        // available_parallelism may lower the CPU affinity count (cgroup quota), never raise it.
        // SAFETY: a zeroed cpu_set_t is a valid empty set; the call fills it for this thread.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(unsafe { libc::sched_getaffinity(0, size, &mut set) }, 0);
        let affinity = unsafe { libc::CPU_COUNT(&set) } as usize;
        assert!(
            (1..=affinity).contains(&info.cores),
            "{} of {affinity}",
            info.cores
        );
    }
}
