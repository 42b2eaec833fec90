//! What a run computes, and the one comparison of an earlier run's work with this one's, which
//! `--resume` (refusing other work) and `--baseline` (warning of it) share.

use serde::{Deserialize, Serialize};

use crate::options::{Options, value_name};

/// What a run computes: two runs of equal `Work` compute the same matrices the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Work {
    /// `--workload` ("eig" or "sleep"); files written before the sleep workload existed were eig.
    #[serde(default = "eig")]
    pub workload: String,
    /// `--task-ms` of the sleep workload, milliseconds; `None` for eig.
    #[serde(default)]
    pub task_ms: Option<f64>,
    pub dim: usize,
    pub tasks: u64,
    pub seed: u64,
    pub kernel: String,
    /// The kernel's arithmetic on rank 0 (`kernel::numerics_id`, e.g. "fma/faer-v3/hqr1000-k3"):
    /// runs of different arithmetic round differently, so their checksums differ. Empty in
    /// files written before it was recorded.
    #[serde(default)]
    pub numerics: String,
}

fn eig() -> String {
    "eig".into()
}

/// The work an earlier run's file states: its `config`, where a key an older version did not
/// write is `None`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Stated {
    /// Absent before the sleep workload existed: such runs computed eigenvalues.
    pub workload: Option<String>,
    pub task_ms: Option<f64>,
    pub dim: Option<usize>,
    pub tasks: Option<u64>,
    pub seed: Option<u64>,
    pub kernel: Option<String>,
    /// Absent (or empty) before schema 4: not compared.
    pub numerics: Option<String>,
}

impl From<&Work> for Stated {
    fn from(w: &Work) -> Self {
        Stated {
            workload: Some(w.workload.clone()),
            task_ms: w.task_ms,
            dim: Some(w.dim),
            tasks: Some(w.tasks),
            seed: Some(w.seed),
            kernel: Some(w.kernel.clone()),
            numerics: Some(w.numerics.clone()).filter(|n| !n.is_empty()),
        }
    }
}

impl Work {
    /// The work `opts` asks for.
    pub fn of(opts: &Options) -> Self {
        Work {
            workload: opts.workload.name().into(),
            task_ms: opts.workload.task_ms(),
            dim: opts.dim,
            tasks: opts.tasks,
            seed: opts.seed,
            kernel: value_name(&opts.kernel),
            numerics: crate::kernel::numerics_id().into(),
        }
    }

    /// Eigenvalues of `tasks` seeded d×d matrices with `--kernel auto`: a test's work.
    #[cfg(test)]
    pub(crate) fn eig(dim: usize, tasks: u64, seed: u64) -> Self {
        Work {
            workload: eig(),
            task_ms: None,
            dim,
            tasks,
            seed,
            kernel: "auto".into(),
            numerics: crate::kernel::numerics_id().into(),
        }
    }

    /// How `theirs` differs from this work, one phrase per difference: "dim 40 (here 30)", "?"
    /// for a key their file lacks. What counts is what makes this run's tasks: the workload, the
    /// task count and seed, and the matrices and solver (dim, kernel) of the eig workload or the
    /// planned wait (task_ms) of the sleep one.
    pub fn differences(&self, theirs: &Stated) -> Vec<String> {
        let mut pairs = vec![(
            "workload",
            Some(theirs.workload.clone().unwrap_or_else(eig)),
            self.workload.clone(),
        )];
        match self.task_ms {
            Some(ms) => pairs.push((
                "task_ms",
                theirs.task_ms.map(|t| t.to_string()),
                ms.to_string(),
            )),
            None => pairs.push((
                "dim",
                theirs.dim.map(|d| d.to_string()),
                self.dim.to_string(),
            )),
        }
        pairs.push((
            "tasks",
            theirs.tasks.map(|t| t.to_string()),
            self.tasks.to_string(),
        ));
        pairs.push((
            "seed",
            theirs.seed.map(|s| s.to_string()),
            self.seed.to_string(),
        ));
        if self.task_ms.is_none() {
            pairs.push(("kernel", theirs.kernel.clone(), self.kernel.clone()));
            // A file that states no arithmetic (before schema 4) is taken at its word.
            let stated = theirs.numerics.clone().filter(|n| !n.is_empty());
            if stated.is_some() {
                pairs.push(("numerics", stated, self.numerics.clone()));
            }
        }
        pairs
            .into_iter()
            .filter(|(_, theirs, here)| theirs.as_deref() != Some(here.as_str()))
            .map(|(name, theirs, here)| {
                format!("{name} {} (here {here})", theirs.as_deref().unwrap_or("?"))
            })
            .collect()
    }
}
