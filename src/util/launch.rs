//! Process-level glue around MPI: which rank we are before MPI starts, how late waits may
//! wake where ranks share cores, and a panic in any rank turned into a job-wide abort.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::util::{cpu, exit};

/// This process's rank as the launcher announced it, read before MPI_Init (Open MPI, PMIx,
/// MPICH/Hydra, Slurm); 0 when started without a launcher.
pub fn rank_from_env() -> u32 {
    first_number_in_env(&[
        "OMPI_COMM_WORLD_RANK",
        "PMIX_RANK",
        "PMI_RANK",
        "SLURM_PROCID",
    ])
    .unwrap_or(0)
}

/// How many ranks of the job share this host, as the launcher announced it (Open MPI, Hydra,
/// Slurm); 1 when it did not say.
pub fn local_ranks_from_env() -> u32 {
    first_number_in_env(&[
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS_PER_NODE",
    ])
    .unwrap_or(1)
}

/// How late a waiting rank may wake: 1 ms where each rank has a core; where ranks share
/// cores, 25 µs per rank per core (3.2 ms for 256 ranks on 2 cores), at most 20 ms. Each
/// wake-up costs a few microseconds: hundreds of waiting ranks waking every millisecond would
/// keep two cores busy, and the rank or launcher they wait for would get no time.
pub fn wait_granularity() -> Duration {
    grain_for(ranks_sharing_cores(), cores())
}

/// Ranks that run on this machine's cores: those `share_cores` counted once MPI
/// is up, else the launcher's count of ranks on this host.
fn ranks_sharing_cores() -> u32 {
    match RANKS_ON_THIS_KERNEL.load(Ordering::Relaxed) {
        0 => {
            static LOCAL: OnceLock<u32> = OnceLock::new();
            *LOCAL.get_or_init(local_ranks_from_env)
        }
        n => n,
    }
}

/// 0 until `share_cores` has run.
static RANKS_ON_THIS_KERNEL: AtomicU32 = AtomicU32::new(0);

/// Counts the ranks of `world` that run under this process's kernel (same boot id): test
/// hosts in network namespaces, or containers, have host names of their own but share the
/// machine's cores, and their waits must back off for all of them. With `pin`, each of those
/// ranks is then pinned to a core of its own where there are enough ([`cpu::core_to_pin`]):
/// an unpinned rank may be moved between cores mid-task, or share one with another rank while
/// a core idles. Returns whether this rank was pinned (collective).
pub fn share_cores(world: &SimpleCommunicator, pin: bool) -> bool {
    let mask = cpu::affinity();
    let mine = [kernel_id(), mask_id(&mask)];
    let mut all = vec![0u64; 2 * world.size() as usize];
    world.all_gather_into(&mine[..], &mut all[..]);
    let group: Vec<(usize, u64)> = all
        .chunks_exact(2)
        .enumerate()
        .filter(|(_, pair)| pair[0] == mine[0])
        .map(|(rank, pair)| (rank, pair[1]))
        .collect();
    RANKS_ON_THIS_KERNEL.store(
        u32::try_from(group.len()).unwrap_or(u32::MAX),
        Ordering::Relaxed,
    );
    if !pin {
        return false;
    }
    let index = group.iter().position(|&(r, _)| r == world.rank() as usize);
    let same_masks = group.iter().all(|&(_, m)| m == mine[1]);
    let cores = cpu::topology().cores_in(&mask);
    let Some(core) = index.and_then(|i| cpu::core_to_pin(i, group.len(), same_masks, cores.len()))
    else {
        return false;
    };
    cpu::set_affinity(&cores[core]).is_ok()
}

/// A hash of a CPU list, to tell whether ranks may run on the same CPUs.
fn mask_id(cpus: &[usize]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    cpus.hash(&mut h);
    h.finish()
}

/// A hash of the kernel's boot id (one per running kernel); 0 when it can't be read, which
/// then counts every rank that can't read it as one machine.
fn kernel_id() -> u64 {
    use std::hash::{Hash, Hasher};
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    boot.trim().hash(&mut h);
    h.finish()
}

fn grain_for(ranks: u32, cores: usize) -> Duration {
    let per_core = ranks as f64 / cores.max(1) as f64;
    Duration::from_secs_f64((25e-6 * per_core).clamp(1e-3, 20e-3))
}

fn cores() -> usize {
    crate::util::host::facts().threads
}

/// Lets the kernel wake this thread, and the threads it starts, up to a given time late from
/// their sleeps (timer slack; Linux's default is 50 µs) until the guard is dropped.
///
/// Open MPI waits for its start-up and shutdown exchanges (MPI_Init, MPI_Finalize) in loops
/// of 100 µs sleeps: 256 ranks on 2 cores ask for 2.5 million wake-ups a second, which starve
/// the launcher's server that ends the wait (start-up took 38 s instead of 17 s, 512 ranks
/// did not start in 450 s). Not kept during the run, where task times must stay exact.
#[must_use = "the slack lasts while the guard lives"]
pub struct CoarseTimers(Option<Duration>);

impl CoarseTimers {
    /// `wait_granularity` of slack where more ranks than cores share this host; none otherwise.
    pub fn where_ranks_share_cores() -> Self {
        let shared = local_ranks_from_env() as usize > cores();
        Self::new(shared.then(wait_granularity))
    }

    /// `slack` until dropped (`None`: leaves the timers alone).
    pub fn new(slack: Option<Duration>) -> Self {
        let before = slack.map(|s| {
            let before = timer_slack();
            set_timer_slack(s);
            before
        });
        CoarseTimers(before)
    }
}

impl Drop for CoarseTimers {
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            set_timer_slack(before);
        }
    }
}

/// This thread's timer slack.
pub fn timer_slack() -> Duration {
    // SAFETY: PR_GET_TIMERSLACK takes no pointer and only reads this thread's setting.
    let ns = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
    Duration::from_nanos(ns.max(0) as u64)
}

fn set_timer_slack(slack: Duration) {
    let ns = slack.as_nanos().clamp(1, libc::c_ulong::MAX as u128) as libc::c_ulong;
    // SAFETY: PR_SET_TIMERSLACK takes a number and changes only this thread's timers. A
    // failure leaves the slack as it was: correct, only slower to start.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, ns, 0, 0, 0);
    }
}

/// Open MPI's shared-memory transport lends a sender one fragment for each message until the
/// receiver reads it, and stops at 512 fragments: rank 0 answers each worker's requests
/// ahead of time, so with more than ~250 ranks on one host its sends waited for sleeping
/// workers to read older answers (512 ranks, 100 ms tasks: 321 µs per request instead of
/// 31, rank 0 busy 67 % of the run instead of 7 %). Where more than 128 ranks share this
/// host, the limit becomes 4 per local rank, unless the user set it.
pub fn lend_enough_shared_memory_fragments() {
    const KEY: &str = "OMPI_MCA_btl_vader_free_list_max";
    if let Some(max) = fragments_for(local_ranks_from_env())
        && std::env::var_os(KEY).is_none()
    {
        // SAFETY: called from main before MPI_Init, while this process has one thread.
        unsafe { std::env::set_var(KEY, max.to_string()) };
    }
}

/// Open MPI 4.1's own limit is 512.
fn fragments_for(local_ranks: u32) -> Option<u32> {
    (local_ranks > 128).then(|| local_ranks.saturating_mul(4))
}

/// The value of the first of `keys` set to a whole number (each launcher has its own names).
fn first_number_in_env(keys: &[&str]) -> Option<u32> {
    keys.iter()
        .find_map(|k| std::env::var(k).ok()?.parse().ok())
}

/// A panic in one rank would otherwise leave the others blocked in a collective forever
/// (rsmpi issue #197): print the panic as usual, then abort the whole job.
pub fn abort_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!("cluster-bench: a rank panicked; aborting the MPI job");
        // SAFETY: MPI is initialised (the hook is installed after MPI_Init) and MPI_Abort
        // never returns.
        unsafe {
            mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, 70);
        }
    }));
}

/// Rank 0 prepares (opens files, reads inputs); one broadcast of the verdict makes every rank
/// go on, or stop with the same code (usage: the message names the file). Returns rank 0's
/// prepared state (`None` on other ranks).
/// Where mpirun was typed, when Open MPI started this process on another machine: the
/// launcher's address ("10.0.0.5"); `None` on mpirun's own machine or under another launcher
/// (Slurm's srun, MPICH's Hydra), which say nothing of the kind.
pub fn launched_from_elsewhere() -> Option<String> {
    let var = |k| std::env::var(k).ok();
    launcher_elsewhere(
        &var("OMPI_MCA_orte_hnp_uri")?,
        &var("OMPI_MCA_orte_local_daemon_uri")?,
    )
}

/// Open MPI names each daemon `JOB.VPID;tcp://ADDR:PORT;…`, mpirun (the HNP) being vpid 0: a
/// process whose local daemon is not the HNP runs on another machine than mpirun.
fn launcher_elsewhere(hnp_uri: &str, local_daemon_uri: &str) -> Option<String> {
    let name = |uri: &str| uri.split(';').next().unwrap_or_default().to_string();
    if name(hnp_uri) == name(local_daemon_uri) {
        return None;
    }
    let addr = hnp_uri
        .split(';')
        .find_map(|u| u.strip_prefix("tcp://"))
        .and_then(|a| a.rsplit_once(':'))
        .map_or("another machine", |(host, _)| host);
    Some(addr.to_string())
}

pub fn agree_to_start<T>(
    world: &SimpleCommunicator,
    prepare: impl FnOnce() -> anyhow::Result<T>,
) -> Result<Option<T>, u8> {
    let (mut verdict, prepared) = if world.rank() == 0 {
        match prepare() {
            Ok(p) => (exit::OK, Some(p)),
            Err(e) => {
                eprintln!("cluster-bench: error: {e:#}");
                (exit::USAGE, None)
            }
        }
    } else {
        (exit::OK, None)
    };
    world.process_at_rank(0).broadcast_into(&mut verdict);
    if verdict == exit::OK {
        Ok(prepared)
    } else {
        Err(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rank_is_elsewhere_when_its_daemon_is_not_mpirun() {
        let hnp = "1078198272.0;tcp://10.213.0.1:49737;tcp6://[fd00::2]:45833";
        assert_eq!(launcher_elsewhere(hnp, hnp), None);
        let remote = "1078198272.1;tcp://10.213.0.2:40001";
        assert_eq!(launcher_elsewhere(hnp, remote), Some("10.213.0.1".into()));
        assert_eq!(
            launcher_elsewhere("1.0;tcp6://[fd00::2]:1", "1.2;tcp6://[fd00::3]:1"),
            Some("another machine".into())
        );
    }

    #[test]
    fn grain_is_a_millisecond_until_ranks_share_cores_then_grows_to_20_ms() {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        assert_eq!(ms(grain_for(1, 2)), 1.0);
        assert_eq!(ms(grain_for(80, 2)), 1.0);
        assert!((ms(grain_for(256, 2)) - 3.2).abs() < 1e-9);
        assert!((ms(grain_for(512, 2)) - 6.4).abs() < 1e-9);
        assert_eq!(ms(grain_for(100_000, 2)), 20.0);
        assert_eq!(ms(grain_for(4, 0)), 1.0, "no core count: taken as one core");
    }

    #[test]
    fn fragments_are_left_alone_up_to_128_local_ranks_then_4_each() {
        assert_eq!(fragments_for(1), None);
        assert_eq!(fragments_for(128), None);
        assert_eq!(fragments_for(129), Some(516));
        assert_eq!(fragments_for(512), Some(2048));
    }

    #[test]
    fn the_kernel_id_is_read_and_the_same_each_time() {
        assert_ne!(kernel_id(), 0, "/proc/sys/kernel/random/boot_id unreadable");
        assert_eq!(kernel_id(), kernel_id());
    }

    #[test]
    fn coarse_timers_set_the_slack_and_put_it_back() {
        // Timer slack belongs to a thread: a thread of its own keeps this test's changes away
        // from the harness's other threads.
        std::thread::spawn(|| {
            let before = timer_slack();
            assert!(
                before < Duration::from_millis(1),
                "default slack {before:?}"
            );
            {
                let _coarse = CoarseTimers::new(Some(Duration::from_millis(5)));
                assert_eq!(timer_slack(), Duration::from_millis(5));
            }
            assert_eq!(timer_slack(), before);
            let _none = CoarseTimers::new(None);
            assert_eq!(timer_slack(), before);
        })
        .join()
        .unwrap();
    }
}
