//! cluster-bench: a distributed eigenvalue benchmark for ad-hoc MPI clusters.

pub mod kernel;
pub mod workload;
