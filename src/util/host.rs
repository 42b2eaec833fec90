//! Where a run happens: this host's facts (name, cores, CPU model, memory) from the kernel and
//! /proc, read once per process so flag validation and the report see the same figures; the
//! MPI library's version line.

use std::sync::OnceLock;

use super::cpu;

/// This host as the kernel describes it; what can't be read is left empty rather than failing
/// a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostFacts {
    /// Host name (`gethostname`: the UTS name, which test hosts in namespaces set per host).
    pub name: String,
    /// Physical cores this host gives its processes (its cgroup's cpuset, else every online
    /// CPU), however a launcher pinned this one process.
    pub cores: usize,
    /// Hardware threads (logical CPUs) of those cores: twice `cores` with 2-way SMT.
    pub threads: usize,
    /// CPU model from /proc/cpuinfo ("" when unknown).
    pub cpu_model: String,
    /// Total memory of the host, bytes (0 when unknown).
    pub mem_total_bytes: u64,
    /// Memory available to new allocations when the facts were read, bytes; `None` when unknown.
    pub mem_available_bytes: Option<u64>,
    /// 1-minute load average / online CPUs when the facts were read (before the run), i.e. how
    /// many runnable processes each core had on average over the last minute; `None` when
    /// unknown.
    pub load_per_core: Option<f64>,
}

/// This host's facts, read at the first call.
pub fn facts() -> &'static HostFacts {
    static FACTS: OnceLock<HostFacts> = OnceLock::new();
    FACTS.get_or_init(HostFacts::read)
}

impl HostFacts {
    /// Reads the facts now (use [`facts`] for the process-wide copy).
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let bytes = |field| meminfo_field_kib(&meminfo, field).map(|kib| kib * 1024);
        let host_cpus = cpu::host_cpus();
        HostFacts {
            name: hostname(),
            cores: cpu::topology().cores_in(&host_cpus).len().max(1),
            threads: host_cpus.len().max(1),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_default(),
            mem_total_bytes: bytes("MemTotal:").unwrap_or(0),
            mem_available_bytes: bytes("MemAvailable:"),
            load_per_core: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|t| loadavg_1m(&t))
                .map(|load| load / online_cpus() as f64),
        }
    }
}

/// The C library's version ("2.36").
pub fn glibc_version() -> String {
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) }
        .to_string_lossy()
        .into_owned()
}

/// The MPI library's own version line, e.g. "Open MPI v4.1.4" or "MPICH Version: 4.0.2"
/// (callable before MPI_Init, as MPI allows).
pub fn mpi_library() -> String {
    mpi::environment::library_version()
        .map(|v| library_line(&v))
        .unwrap_or_default()
}

/// The first line of `MPI_Get_library_version` up to its first comma, blanks collapsed
/// (MPICH's is several tab-aligned lines; Open MPI's one line with the build details).
fn library_line(version: &str) -> String {
    let first = version.lines().next().unwrap_or_default();
    let first = first.split(',').next().unwrap_or_default();
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The value in KiB of one `/proc/meminfo` field.
pub fn meminfo_field_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// This process's peak resident memory so far (`VmHWM` of /proc/self/status), bytes; `None`
/// where it can't be read.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    meminfo_field_kib(&status, "VmHWM:").map(|kib| kib * 1024)
}

/// The 1-minute load average, the first field of /proc/loadavg.
pub fn loadavg_1m(text: &str) -> Option<f64> {
    let load: f64 = text.split_whitespace().next()?.parse().ok()?;
    (load.is_finite() && load >= 0.0).then_some(load)
}

/// CPUs online on the host: the load average counts runnable tasks over all of them (a CPU
/// quota on this process lowers `cores`, not the host's CPUs).
fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// The first `model name` line of /proc/cpuinfo.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// This machine's host name (the UTS name).
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
    fn library_line_is_one_line() {
        let ompi = "Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4";
        assert_eq!(library_line(ompi), "Open MPI v4.1.4");
        let mpich = "MPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 12:34:45 CDT 2022\n";
        assert_eq!(library_line(mpich), "MPICH Version: 4.0.2");
        assert_eq!(library_line(""), "");
    }

    #[test]
    fn meminfo_parsing() {
        let t = "MemTotal:       24000000 kB\nMemAvailable:   12345 kB\n";
        assert_eq!(meminfo_field_kib(t, "MemAvailable:"), Some(12345));
        assert_eq!(meminfo_field_kib(t, "Nope:"), None);
    }

    /// The peak grows by what this process touches: 64 MiB written page by page must show.
    #[test]
    fn peak_rss_sees_touched_memory() {
        let before = peak_rss_bytes().expect("/proc/self/status is readable here");
        let big = vec![1u8; 64 << 20];
        let after = peak_rss_bytes().unwrap();
        assert!(after >= before, "{after} < {before}");
        assert!(
            after >= 64 << 20,
            "VmHWM {after} bytes with 64 MiB resident"
        );
        drop(std::hint::black_box(big));
    }

    #[test]
    fn loadavg_parsing() {
        assert_eq!(loadavg_1m("1.73 3.63 4.43 2/517 20265\n"), Some(1.73));
        assert_eq!(loadavg_1m(""), None);
        assert_eq!(loadavg_1m("-1 0 0"), None);
        let here = facts()
            .load_per_core
            .expect("/proc/loadavg is readable here");
        assert!(here >= 0.0, "{here}");
    }

    #[test]
    fn cpu_model_is_read_from_cpuinfo() {
        let t = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
        assert_eq!(cpu_model(t).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor: 0\n"), None);
    }

    #[test]
    fn this_host_has_a_name_cores_and_memory() {
        let h = facts();
        assert!(!h.name.is_empty());
        assert!(h.cores >= 1);
        assert!(h.mem_total_bytes > 0, "/proc/meminfo: {h:?}");
        assert!(std::ptr::eq(h, facts()), "read once");
    }
}
