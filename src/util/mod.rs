//! The bottom layer: what any command may use and that knows nothing of the benchmark or of
//! `net`: files, medians, this host, the wall clock, exit codes, signals, the progress line
//! and the glue between this process and the MPI launcher.

pub mod clock;
pub mod cpu;
pub mod exit;
pub mod fs;
pub mod host;
pub mod interrupt;
pub mod launch;
pub mod progress;
pub mod stats;
