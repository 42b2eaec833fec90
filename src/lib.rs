//! cluster-bench: a distributed eigenvalue benchmark for ad-hoc MPI clusters.
//!
//! Data flow, one way: `cli` (flags → `Options`) → `app` (one run as named steps) →
//! `schedule` (task ids to ranks; each rank's `runner` solves `workload` matrices with the
//! `kernel`) → `record`s gathered on rank 0 → `report` (pure maths) → `schema` (the JSON's
//! own types) → `export` (JSON, runs.csv) and `output` (terminal table). `host`, `clock` and
//! `exit` hold this host's facts, wall-clock time and the exit codes; `interrupt` catches
//! SIGINT/SIGTERM on rank 0; `resume` reads back what an interrupted run had.

pub mod app;
pub mod cli;
pub mod clock;
pub mod exit;
pub mod export;
pub mod heterogeneity;
pub mod host;
pub mod interrupt;
pub mod kernel;
pub mod launch;
pub mod net;
pub mod output;
pub mod progress;
pub mod record;
pub mod report;
pub mod resume;
pub mod runner;
pub mod schedule;
pub mod schema;
pub mod workload;
