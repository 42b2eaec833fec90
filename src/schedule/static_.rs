//! Static schedule: every rank computes a fixed contiguous block of the task ids (all ranks
//! know the list, so nothing is scattered); records stream to rank 0 with the heartbeats.

use mpi::traits::*;

use super::watch::{Beacon, Monitor};
use super::{Context, Outcome, Saver, displacements, wait_for_workers};
use crate::runner::TaskRunner;
use crate::util::progress::Progress;

/// Tasks per rank for `tasks` tasks over `ranks` ranks: contiguous blocks whose sizes differ by
/// at most one, the larger ones first. Ranks beyond `tasks` get none.
pub fn block_partition(tasks: u64, ranks: usize) -> Vec<i32> {
    let p = ranks as u64;
    (0..p)
        .map(|r| (tasks / p + u64::from(r < tasks % p)) as i32)
        .collect()
}

/// Computes this rank's block; rank 0 also receives everyone's records and keeps what it has
/// if the run stops early.
pub fn run(ctx: &Context, runner: &mut TaskRunner, saver: &mut Saver) -> Outcome {
    let block = my_block(ctx);
    if ctx.is_root() {
        root(ctx, runner, saver, block)
    } else {
        non_root(ctx, runner, block);
        Outcome::NotRoot
    }
}

/// Indices into `ctx.ids` of this rank's block.
fn my_block(ctx: &Context) -> std::ops::Range<u64> {
    let counts = block_partition(ctx.ids.len(), ctx.world.size() as usize);
    let rank = ctx.world.rank() as usize;
    let start = displacements(&counts)[rank] as u64;
    start..start + counts[rank] as u64
}

/// Rank 0: computes its block while watching the others and saving, then waits for them.
fn root(
    ctx: &Context,
    runner: &mut TaskRunner,
    saver: &mut Saver,
    block: std::ops::Range<u64>,
) -> Outcome {
    let mut progress = Progress::new(!ctx.opts.output.quiet, ctx.ids.len());
    let mut monitor = Monitor::new(ctx.beats, ctx.limits);
    let mut records = Vec::with_capacity(ctx.ids.len() as usize);
    for i in block {
        if ctx.limits.expired(mpi::time()) {
            break;
        }
        let rec = runner.run(ctx.ids.get(i));
        monitor.task_took(rec.seconds);
        records.push(rec);
        progress.update(records.len() as u64, false);
        if let Err(stop) = monitor.poll(&mut records) {
            return ctx.outcome(records, Some(stop));
        }
        saver.maybe(ctx, &records);
    }
    progress.finish();
    wait_for_workers(ctx, &mut monitor, saver, records)
}

/// Every other rank: computes its block, its records going to rank 0 with the heartbeats.
fn non_root(ctx: &Context, runner: &mut TaskRunner, block: std::ops::Range<u64>) {
    let mut beacon = Beacon::new(ctx.beats, ctx.limits.silence_s);
    for i in block {
        if ctx.limits.expired(mpi::time()) {
            break;
        }
        beacon.record(runner.run(ctx.ids.get(i)));
    }
    beacon.done();
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
