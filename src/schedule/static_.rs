//! Static schedule: one Scatterv of task ids, compute, one Gatherv of records.

use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::*;

use super::watch::{Beacon, Monitor};
use super::{Context, Outcome, displacements};
use crate::progress::Progress;
use crate::record::TaskRecord;
use crate::runner::TaskRunner;

/// Tasks per rank for `tasks` tasks over `ranks` ranks: contiguous blocks whose sizes differ by
/// at most one, the larger ones first. Ranks beyond `tasks` get none.
pub fn block_partition(tasks: u64, ranks: usize) -> Vec<i32> {
    let p = ranks as u64;
    (0..p)
        .map(|r| (tasks / p + u64::from(r < tasks % p)) as i32)
        .collect()
}

/// Scatters task ids, computes this rank's share and gathers every record on rank 0; rank 0
/// keeps what it has if a rank falls silent.
pub fn run(ctx: &Context, runner: &mut TaskRunner) -> Outcome {
    let ids = scatter_ids(ctx);
    if ctx.is_root() {
        root(ctx, runner, &ids)
    } else {
        non_root(ctx, runner, &ids);
        Outcome::NotRoot
    }
}

/// This rank's block of task ids, from one Scatterv.
fn scatter_ids(ctx: &Context) -> Vec<u64> {
    let (world, tasks) = (ctx.world, ctx.opts.tasks);
    let root = world.process_at_rank(0);
    let counts = block_partition(tasks, world.size() as usize);
    let mut ids = vec![0u64; counts[world.rank() as usize] as usize];
    if ctx.is_root() {
        let all: Vec<u64> = (0..tasks).collect();
        let displs = displacements(&counts);
        let part = Partition::new(&all[..], &counts[..], &displs[..]);
        root.scatter_varcount_into_root(&part, &mut ids[..]);
    } else {
        root.scatter_varcount_into(&mut ids[..]);
    }
    ids
}

/// Rank 0: computes its block while watching the others, then gathers every record.
fn root(ctx: &Context, runner: &mut TaskRunner, ids: &[u64]) -> Outcome {
    // Rank 0 sees only its own share: with equal blocks, its progress × ranks estimates the
    // whole.
    let ranks = ctx.world.size() as u64;
    let mut progress = Progress::new(!ctx.opts.quiet, ctx.opts.tasks);
    let mut monitor = Monitor::new(ctx.beats, ctx.limits);
    let mut records = Vec::with_capacity(ids.len());
    for &t in ids {
        if ctx.limits.expired(mpi::time()) {
            break;
        }
        let rec = runner.run(t);
        monitor.task_took(rec.seconds);
        records.push(rec);
        progress.update(records.len() as u64 * ranks, ranks > 1);
        if let Err(silent) = monitor.poll() {
            return ctx.lost(silent, records);
        }
    }
    progress.finish();
    // Enter the gather only once every rank has said it is done, so a dead rank is noticed
    // here rather than hanging the collective.
    let done = match monitor.wait_all_done(records.len() as u64) {
        Ok(done) => done,
        Err(silent) => return ctx.lost(silent, records),
    };
    let got: Vec<i32> = done.iter().map(|&c| c as i32).collect();
    let got_displs = displacements(&got);
    let mut all = vec![TaskRecord::default(); got.iter().sum::<i32>() as usize];
    {
        let mut part = PartitionMut::new(&mut all[..], &got[..], &got_displs[..]);
        ctx.world
            .process_at_rank(0)
            .gather_varcount_into_root(&records[..], &mut part);
    }
    ctx.finished(all)
}

/// Every other rank: computes its block with heartbeats, then sends its records to rank 0.
fn non_root(ctx: &Context, runner: &mut TaskRunner, ids: &[u64]) {
    let mut beacon = Beacon::new(ctx.beats);
    let mut records = Vec::with_capacity(ids.len());
    for &t in ids {
        if ctx.limits.expired(mpi::time()) {
            break;
        }
        records.push(runner.run(t));
        beacon.tick();
    }
    beacon.done(records.len() as u64);
    ctx.world
        .process_at_rank(0)
        .gather_varcount_into(&records[..]);
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
