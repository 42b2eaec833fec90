//! The run's per-task journal `STEM.tasks.csv.gz`: appended by rank 0 at every checkpoint, so
//! a run killed outright keeps what rank 0 held at the last one; `--resume` reads it back.
//!
//! Format: concatenated gzip members (together one valid gzip stream: `zcat`, Python's gzip
//! and pandas read it), each a whole number of lines. CSV rows of `COLUMNS` (f64 in Rust's
//! shortest round-trip form, so a resumed checksum is bit-identical) and `#` lines: `#work`
//! (what was computed), `#attempt` (one launch: hosts and ranks; closed launches also say
//! tasks_done, wall_s, stop_reason), `#wall_s` after each checkpoint, `#stop` at the end of a
//! launch. A member torn by a kill mid-write is skipped by the reader.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::record::TaskRecord;
use crate::schema::Attempt;

/// First line of every journal.
const MAGIC: &str = "#cluster-bench-tasks 1";
/// The CSV columns of a row.
pub const COLUMNS: &str = "task,rank,status,fallback,start_s,seconds,eig_sum_re,eig_sum_im,trace";

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
}

fn eig() -> String {
    "eig".into()
}

/// What a journal holds.
#[derive(Debug)]
pub struct Contents {
    pub work: Work,
    /// Every launch, oldest first; the last one, if killed, says so in its `stop_reason`.
    pub attempts: Vec<Attempt>,
    /// Every row, in file order.
    pub records: Vec<TaskRecord>,
}

/// An open journal, appended to by rank 0 only.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Records of this launch already written (a prefix of the launch's record list).
    written: usize,
    /// This launch's `#attempt` line is written.
    opened: bool,
}

impl Journal {
    /// Starts a journal in `file` (new, empty) with `work`, and the earlier launches and
    /// records of a resumed run.
    pub fn start(file: File, path: PathBuf, work: &Work, earlier: &Contents) -> Result<Self> {
        let mut text = format!("{MAGIC}\n#work {}\n{COLUMNS}\n", json(work));
        for a in &earlier.attempts {
            text += &format!("#attempt {}\n", json(a));
        }
        earlier.records.iter().for_each(|r| row(&mut text, r));
        let mut j = Journal {
            file,
            path,
            written: 0,
            opened: false,
        };
        j.member(&text)?;
        Ok(j)
    }

    /// The journal's file name.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Appends this launch's records not yet written (`records` only ever grows) and the time.
    pub fn append(&mut self, launch: &Attempt, records: &[TaskRecord], wall_s: f64) -> Result<()> {
        let mut text = String::new();
        if !self.opened {
            text += &format!("#attempt {}\n", json(launch));
        }
        records[self.written..]
            .iter()
            .for_each(|r| row(&mut text, r));
        text += &format!("#wall_s {wall_s:?}\n");
        self.member(&text)?;
        self.opened = true;
        self.written = records.len();
        Ok(())
    }

    /// The last records and how this launch ended.
    pub fn close(&mut self, launch: &Attempt, records: &[TaskRecord]) -> Result<()> {
        self.append(launch, records, launch.wall_s)?;
        self.member(&format!("#stop {}\n", json(launch)))
    }

    /// One gzip member, one write(2) on the O_APPEND file.
    fn member(&mut self, text: &str) -> Result<()> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(text.as_bytes())?;
        let bytes = gz.finish()?;
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("appending to {}", self.path.display()))
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain struct")
}

fn row(text: &mut String, r: &TaskRecord) {
    use std::fmt::Write as _;
    let _ = writeln!(
        text,
        "{},{},{},{},{:?},{:?},{:?},{:?},{:?}",
        r.task,
        r.rank,
        r.status,
        r.fallback,
        r.start_s,
        r.seconds,
        r.eig_sum_re,
        r.eig_sum_im,
        r.trace
    );
}

/// Reads a journal; a torn last member (a kill mid-write) is ignored.
pub fn read(path: &Path) -> Result<Contents> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let text = whole_members(BufReader::new(file));
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        bail!("{} is not a cluster-bench journal", path.display());
    }
    let mut work = None;
    let mut c = Contents {
        work: Work {
            workload: eig(),
            task_ms: None,
            dim: 0,
            tasks: 0,
            seed: 0,
            kernel: String::new(),
        },
        attempts: Vec::new(),
        records: Vec::new(),
    };
    let mut open_rows = 0u64;
    for (n, line) in lines.enumerate() {
        let bad = || format!("{} line {}: {line:?}", path.display(), n + 2);
        if let Some(rest) = line.strip_prefix("#work ") {
            work = Some(serde_json::from_str(rest).with_context(bad)?);
        } else if let Some(rest) = line.strip_prefix("#attempt ") {
            c.attempts
                .push(serde_json::from_str(rest).with_context(bad)?);
            open_rows = 0;
        } else if let Some(rest) = line.strip_prefix("#stop ") {
            if let Some(last) = c.attempts.last_mut() {
                *last = serde_json::from_str(rest).with_context(bad)?;
            }
        } else if let Some(rest) = line.strip_prefix("#wall_s ") {
            if let Some(last) = c.attempts.last_mut() {
                last.wall_s = rest.parse().with_context(bad)?;
                last.tasks_done = open_rows;
            }
        } else if line != COLUMNS {
            c.records.push(parse_row(line).with_context(bad)?);
            open_rows += 1;
        }
    }
    c.work = work.with_context(|| format!("{}: no #work line", path.display()))?;
    Ok(c)
}

/// The text of every complete gzip member, in order.
fn whole_members(mut r: impl BufRead) -> String {
    let mut text = String::new();
    while r.fill_buf().is_ok_and(|b| !b.is_empty()) {
        let mut member = String::new();
        if flate2::bufread::GzDecoder::new(&mut r)
            .read_to_string(&mut member)
            .is_err()
        {
            break; // torn: written when the run was killed
        }
        text += &member;
    }
    text
}

fn parse_row(line: &str) -> Result<TaskRecord> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 9 {
        bail!("expected 9 fields");
    }
    Ok(TaskRecord {
        task: f[0].parse()?,
        rank: f[1].parse()?,
        status: f[2].parse()?,
        fallback: f[3].parse()?,
        start_s: f[4].parse()?,
        seconds: f[5].parse()?,
        eig_sum_re: f[6].parse()?,
        eig_sum_im: f[7].parse()?,
        trace: f[8].parse()?,
    })
}
