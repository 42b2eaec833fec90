//! cluster-bench: a distributed eigenvalue benchmark for ad-hoc MPI clusters.
//!
//! Data flow: CLI → `cli::Options` → `schedule` hands task ids to ranks, each runs the
//! `kernel` on `workload` matrices → `record::TaskRecord`s gathered on rank 0 → `report`
//! (pure maths) → `export` (JSON, CSV) and `output` (terminal table).

pub mod app;
pub mod cli;
pub mod export;
pub mod kernel;
pub mod launch;
pub mod net;
pub mod output;
pub mod progress;
pub mod record;
pub mod report;
pub mod schedule;
pub mod workload;
