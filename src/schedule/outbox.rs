//! A worker's messages to rank 0, sent without waiting for rank 0 to take them.
//!
//! A blocking send of even a small message can wait until the receiver takes it: Open MPI's
//! shared-memory transport gives fast boxes to a few dozen peers only, and the others' messages
//! complete when rank 0 drains its queue, which it does between its own tasks. With 256 ranks
//! on one host, workers lost tens of milliseconds per request that way. Non-blocking sends
//! let a worker go on with its next task; the buffers are freed as the sends complete.

use std::collections::VecDeque;

use mpi::request::{Request, StaticScope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::record::TaskRecord;

/// Sends in progress, each owning its buffer.
#[derive(Default)]
pub struct Outbox {
    sent: VecDeque<Request<'static, [TaskRecord]>>,
}

impl Outbox {
    /// Starts sending a copy of `records` to rank 0 of `comm` with `tag`. Messages from one
    /// sender on one communicator and tag arrive in the order they were started.
    pub fn send(&mut self, comm: &SimpleCommunicator, tag: i32, records: &[TaskRecord]) {
        let buf: &'static [TaskRecord] = Box::leak(records.to_vec().into_boxed_slice());
        let root = comm.process_at_rank(0);
        self.sent
            .push_back(root.immediate_send_with_tag(StaticScope, buf, tag));
        self.reap();
    }

    /// Frees the buffers of the sends that have completed (and lets MPI progress the others).
    pub fn reap(&mut self) {
        for _ in 0..self.sent.len() {
            let req = self.sent.pop_front().expect("counted");
            match req.test_with_data() {
                Ok((_, buf)) => free(buf),
                Err(req) => self.sent.push_back(req),
            }
        }
    }

    /// True when every send has completed.
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    /// Waits (napping) until every send has completed.
    pub fn flush(&mut self) {
        super::nap_until(|| {
            self.reap();
            self.is_empty().then_some(())
        });
    }
}

impl Drop for Outbox {
    /// An MPI request must complete before its buffer goes; rank 0 takes every message while
    /// it runs, and a worker whose rank 0 is gone is ended by its watchdog.
    fn drop(&mut self) {
        self.flush();
    }
}

/// Frees a buffer leaked by `Outbox::send` once its send has completed.
fn free(buf: &'static [TaskRecord]) {
    // SAFETY: every buffer handed to MPI by `send` came from `Box::leak`, and MPI has finished
    // with it (the request completed), so this is the only reference left to the allocation.
    drop(unsafe { Box::from_raw(std::ptr::from_ref(buf).cast_mut()) });
}
