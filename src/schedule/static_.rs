//! Static schedule: one Scatterv of task ids, compute, one Gatherv of records.

use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::watch::{Beacon, Limits, Monitor};
use super::{Computer, Lost, displacements};
use crate::cli::Options;
use crate::progress::Progress;
use crate::record::TaskRecord;

/// Tasks per rank for `tasks` tasks over `ranks` ranks: contiguous blocks whose sizes differ by
/// at most one, the larger ones first. Ranks beyond `tasks` get none.
pub fn block_partition(tasks: u64, ranks: usize) -> Vec<i32> {
    let p = ranks as u64;
    (0..p)
        .map(|r| (tasks / p + u64::from(r < tasks % p)) as i32)
        .collect()
}

/// Scatters task ids, computes this rank's share and gathers every record on rank 0; rank 0
/// returns what it has if a rank falls silent.
pub fn run(
    world: &SimpleCommunicator,
    beats: &SimpleCommunicator,
    opts: &Options,
    computer: &mut Computer,
    limits: Limits,
) -> Result<Option<Vec<TaskRecord>>, Lost> {
    let root = world.process_at_rank(0);
    let counts = block_partition(opts.tasks, world.size() as usize);
    let mine = counts[world.rank() as usize] as usize;
    let displs = displacements(&counts);

    let mut ids = vec![0u64; mine];
    if world.rank() == 0 {
        let all: Vec<u64> = (0..opts.tasks).collect();
        let part = Partition::new(&all[..], &counts[..], &displs[..]);
        root.scatter_varcount_into_root(&part, &mut ids[..]);
    } else {
        root.scatter_varcount_into(&mut ids[..]);
    }

    let mut records = Vec::with_capacity(mine);
    if world.rank() == 0 {
        // Rank 0 sees only its own share: with equal blocks, its progress × ranks estimates
        // the whole.
        let ranks = world.size() as u64;
        let mut progress = Progress::new(!opts.quiet, opts.tasks);
        let mut monitor = Monitor::new(beats, limits);
        for &t in &ids {
            if limits.expired(mpi::time()) {
                break;
            }
            let rec = computer.run(t);
            monitor.task_took(rec.seconds);
            records.push(rec);
            progress.update(records.len() as u64 * ranks, ranks > 1);
            if let Err(silent) = monitor.poll() {
                return Err(Lost::new(silent, records));
            }
        }
        progress.finish();
        // Enter the gather only once every rank has said it is done, so a dead rank is
        // noticed here rather than hanging the collective.
        let done = match monitor.wait_all_done(records.len() as u64) {
            Ok(done) => done,
            Err(silent) => return Err(Lost::new(silent, records)),
        };
        let got: Vec<i32> = done.iter().map(|&c| c as i32).collect();
        let got_displs = displacements(&got);
        let mut all = vec![TaskRecord::default(); got.iter().sum::<i32>() as usize];
        {
            let mut part = PartitionMut::new(&mut all[..], &got[..], &got_displs[..]);
            root.gather_varcount_into_root(&records[..], &mut part);
        }
        Ok(Some(all))
    } else {
        let mut beacon = Beacon::new(beats);
        for &t in &ids {
            if limits.expired(mpi::time()) {
                break;
            }
            records.push(computer.run(t));
            beacon.tick();
        }
        beacon.done(records.len() as u64);
        root.gather_varcount_into(&records[..]);
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_all_tasks_and_differ_by_at_most_one() {
        for tasks in [1u64, 2, 3, 7, 100, 1001] {
            for ranks in 1..=9 {
                let c = block_partition(tasks, ranks);
                assert_eq!(c.len(), ranks);
                assert_eq!(c.iter().map(|&x| x as u64).sum::<u64>(), tasks);
                let (min, max) = (c.iter().min().unwrap(), c.iter().max().unwrap());
                assert!(max - min <= 1, "{tasks} over {ranks}: {c:?}");
                assert!(c.windows(2).all(|w| w[0] >= w[1]), "larger blocks first");
            }
        }
    }

    #[test]
    fn fewer_tasks_than_ranks_leaves_ranks_idle() {
        assert_eq!(block_partition(2, 4), vec![1, 1, 0, 0]);
    }
}
