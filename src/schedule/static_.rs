//! Static schedule: one Scatterv of task ids, compute, one Gatherv of records.

use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::{Computer, displacements};
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

/// Scatters task ids, computes this rank's share and gathers every record on rank 0.
pub fn run(
    world: &SimpleCommunicator,
    opts: &Options,
    computer: &mut Computer,
) -> Option<Vec<TaskRecord>> {
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

    // Rank 0 sees only its own share: with equal blocks, its progress × ranks estimates the whole.
    let ranks = world.size() as u64;
    let mut progress = Progress::new(world.rank() == 0 && !opts.quiet, opts.tasks);
    let mut records = Vec::with_capacity(mine);
    for &t in &ids {
        records.push(computer.run(t));
        progress.update(records.len() as u64 * ranks, ranks > 1);
    }
    progress.finish();

    if world.rank() == 0 {
        let mut all = vec![TaskRecord::default(); opts.tasks as usize];
        {
            let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(&records[..], &mut part);
        }
        Some(all)
    } else {
        root.gather_varcount_into(&records[..]);
        None
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
