//! cluster-bench: a distributed eigenvalue benchmark for ad-hoc MPI clusters.
//!
//! Layers, each importing only from the layers below it (`tests/layers.rs` holds the table and
//! fails on an upward import; docs/architecture.md draws the map):
//!
//! - **main** (`src/main.rs`): parse, initialise MPI, run the job, map it to an exit code.
//! - **cli**: the command line as clap types; only `main` imports it.
//! - **commands**, which never import each other: `bench` (the eigenvalue benchmark: its
//!   flags, the run as named steps, `--resume`, the report, the JSON schema, the table and the
//!   saved files) and `net` (all-pairs latency and bandwidth, the same file names).
//! - **core**: `options` (a validated benchmark run) → `schedule` (task ids to ranks; each
//!   rank's `runner` solves `workload` matrices with the `kernel`) → `record`s gathered on
//!   rank 0, with the run's `Environment`.
//! - **util**: files, medians, host facts, the clock, exit codes, signals, the progress line,
//!   the MPI launch glue.
//!
//! The data flows one way, down the benchmark's steps: flags → `Options` → schedule → records
//! → `bench::report` (pure maths) → `bench::schema` (the JSON's types) → saved files and
//! table.

// commands
pub mod bench;
pub mod net;

// core
pub mod kernel;
pub mod options;
pub mod record;
pub mod runner;
pub mod schedule;
pub mod workload;

// util
pub mod util;

// cli: last, as only main uses it
pub mod cli;
