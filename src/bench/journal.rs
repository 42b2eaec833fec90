//! The run's per-task journal `STEM.tasks.csv.gz`: appended by rank 0 at every checkpoint, so
//! a run killed outright keeps what rank 0 held at the last one; `--resume` reads it back, and
//! it is where the per-task records live (the JSON holds them only with `--json-tasks`).
//!
//! Format: concatenated gzip members (together one valid gzip stream: `zcat`, Python's gzip
//! and pandas read it), each a whole number of lines. CSV rows of `COLUMNS` (f64 in Rust's
//! shortest round-trip form, so a resumed checksum is bit-identical) and `#` lines: `#work`
//! (what was computed), `#attempt` (one launch: hosts and ranks; closed launches also say
//! tasks_done, wall_s, stop_reason), `#wall_s` after each member of a checkpoint, `#stop` at
//! the end of a launch. A checkpoint is written in members of at most `MEMBER_ROWS` rows, so
//! neither the writer nor the reader ever holds more than one member's text; a member torn by
//! a kill mid-write is skipped by the reader.
//!
//! Measured at 10⁵ tasks of `--dim 4`: 88 bytes of text and 31 bytes of gzip per row at
//! level 1 (`Compression::fast`), 29 at level 3 for half the speed: rank 0 writes inline, so
//! level 1.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use super::schema::Attempt;
use super::work::Work;
use crate::record::TaskRecord;

/// First line of every journal.
const MAGIC: &str = "#cluster-bench-tasks 1";
/// Rows per gzip member at most (about 1.5 MB of text): bounds the memory of a checkpoint
/// however many records it has to write. Members this size compress as well as one whole
/// stream (gzip looks back 32 KiB) and add 18 bytes each.
const MEMBER_ROWS: usize = 1 << 14;
/// The CSV columns of a row.
pub const COLUMNS: &str = "task,rank,status,fallback,start_s,seconds,eig_sum_re,eig_sum_im,trace";

/// What a journal holds.
#[derive(Debug)]
pub struct Contents {
    pub work: Work,
    /// Every launch, oldest first; the last one, if killed, says so in its `stop_reason`.
    pub attempts: Vec<Attempt>,
    /// Every row, in file order.
    pub records: Vec<TaskRecord>,
}

impl Contents {
    /// What a run that starts afresh has of `work`: no launch, no record.
    pub fn new(work: Work) -> Self {
        Contents {
            work,
            attempts: Vec::new(),
            records: Vec::new(),
        }
    }
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
        let mut j = Journal {
            file,
            path,
            written: 0,
            opened: false,
        };
        for chunk in earlier.records.chunks(MEMBER_ROWS) {
            chunk.iter().for_each(|r| row(&mut text, r));
            j.member(&text)?;
            text.clear();
        }
        if !text.is_empty() {
            j.member(&text)?; // no earlier records: the header alone
        }
        j.sync()?;
        Ok(j)
    }

    /// The journal's file name.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Appends this launch's records not yet written (`records` only ever grows) and the time,
    /// in members of at most `MEMBER_ROWS` rows, each ending with the time.
    pub fn append(&mut self, launch: &Attempt, records: &[TaskRecord], wall_s: f64) -> Result<()> {
        let mut text = String::new();
        if !self.opened {
            text += &format!("#attempt {}\n", json(launch));
        }
        loop {
            let upto = records.len().min(self.written + MEMBER_ROWS);
            records[self.written..upto]
                .iter()
                .for_each(|r| row(&mut text, r));
            text += &format!("#wall_s {wall_s:?}\n");
            self.member(&text)?;
            self.opened = true;
            self.written = upto;
            if upto == records.len() {
                return self.sync();
            }
            text.clear();
        }
    }

    /// The last records and how this launch ended.
    pub fn close(&mut self, launch: &Attempt, records: &[TaskRecord]) -> Result<()> {
        self.append(launch, records, launch.wall_s)?;
        self.member(&format!("#stop {}\n", json(launch)))?;
        self.sync()
    }

    /// One gzip member, one write(2) on the O_APPEND file: a kill leaves it whole or torn at
    /// the end, never interleaved.
    fn member(&mut self, text: &str) -> Result<()> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(text.as_bytes())?;
        let bytes = gz.finish()?;
        self.file
            .write_all(&bytes)
            .with_context(|| format!("appending to {}", self.path.display()))
    }

    /// On disk, not only in the page cache: once per checkpoint, not per member.
    fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
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

/// Reads a journal one member at a time; a torn last member (a kill mid-write) is ignored.
pub fn read(path: &Path) -> Result<Contents> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = BufReader::new(file);
    let mut lines = Lines::new(path);
    let mut member = String::new();
    while r.fill_buf().is_ok_and(|b| !b.is_empty()) {
        member.clear();
        if flate2::bufread::GzDecoder::new(&mut r)
            .read_to_string(&mut member)
            .is_err()
        {
            break; // torn: written when the run was killed
        }
        member.lines().try_for_each(|l| lines.read(l))?;
    }
    lines.finish()
}

/// A journal's lines, read in order into what it holds.
struct Lines<'a> {
    path: &'a Path,
    /// Lines read so far.
    count: usize,
    work: Option<Work>,
    attempts: Vec<Attempt>,
    records: Vec<TaskRecord>,
    /// Rows since the last `#attempt` line.
    open_rows: u64,
}

impl<'a> Lines<'a> {
    fn new(path: &'a Path) -> Self {
        Lines {
            path,
            count: 0,
            work: None,
            attempts: Vec::new(),
            records: Vec::new(),
            open_rows: 0,
        }
    }

    fn read(&mut self, line: &str) -> Result<()> {
        self.count += 1;
        let (path, n) = (self.path, self.count);
        if n == 1 {
            if line != MAGIC {
                bail!("{} is not a cluster-bench journal", path.display());
            }
            return Ok(());
        }
        let bad = || format!("{} line {n}: {line:?}", path.display());
        if let Some(rest) = line.strip_prefix("#work ") {
            let work: Work = serde_json::from_str(rest).with_context(bad)?;
            // The records to come, at most: one exact allocation instead of doublings.
            let most = work.tasks.min(super::options::MAX_TASKS) as usize;
            self.records
                .reserve_exact(most.saturating_sub(self.records.len()));
            self.work = Some(work);
        } else if let Some(rest) = line.strip_prefix("#attempt ") {
            let attempt = serde_json::from_str(rest).with_context(bad)?;
            self.attempts.push(attempt);
            self.open_rows = 0;
        } else if let Some(rest) = line.strip_prefix("#stop ") {
            if let Some(last) = self.attempts.last_mut() {
                *last = serde_json::from_str(rest).with_context(bad)?;
            }
        } else if let Some(rest) = line.strip_prefix("#wall_s ") {
            if let Some(last) = self.attempts.last_mut() {
                last.wall_s = rest.parse().with_context(bad)?;
                last.tasks_done = self.open_rows;
            }
        } else if line != COLUMNS {
            self.records.push(parse_row(line).with_context(bad)?);
            self.open_rows += 1;
        }
        Ok(())
    }

    fn finish(self) -> Result<Contents> {
        if self.count == 0 {
            bail!("{} is not a cluster-bench journal", self.path.display());
        }
        let work = self.work;
        Ok(Contents {
            work: work.with_context(|| format!("{}: no #work line", self.path.display()))?,
            attempts: self.attempts,
            records: self.records,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whole gzip members in `bytes`.
    fn members(mut bytes: &[u8]) -> usize {
        let mut n = 0;
        while !bytes.is_empty() {
            let mut d = flate2::bufread::GzDecoder::new(&mut bytes);
            if d.read_to_end(&mut Vec::new()).is_err() {
                break;
            }
            n += 1;
        }
        n
    }

    /// A checkpoint of more rows than a member holds is several members, each ending with the
    /// time: every row reads back once, in order, and a member torn by a kill costs only its
    /// own rows, the launch's `tasks_done` still counting exactly the rows kept.
    #[test]
    fn a_large_checkpoint_is_written_in_bounded_members() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.tasks.csv.gz");
        let work = Work::eig(4, 3 * MEMBER_ROWS as u64, 1);
        let file = File::create(&path).unwrap();
        let fresh = Contents::new(work.clone());
        let mut j = Journal::start(file, path.clone(), &work, &fresh).unwrap();
        let n = work.tasks as usize - 7;
        let recs: Vec<TaskRecord> = (0..n as u64)
            .map(|t| TaskRecord {
                task: t,
                seconds: t as f64 * 1e-9,
                eig_sum_re: 1.0 / (t as f64 + 1.0),
                ..TaskRecord::default()
            })
            .collect();
        let launch = Attempt {
            ranks: 2,
            ..Attempt::default()
        };
        j.append(&launch, &recs[..10], 0.5).unwrap();
        let after_first = std::fs::metadata(&path).unwrap().len() as usize;
        j.append(&launch, &recs, 1.5).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // The header, the first checkpoint, then ⌈(n − 10) / MEMBER_ROWS⌉ = 3 members.
        assert_eq!(members(&bytes), 1 + 1 + 3);
        let c = read(&path).unwrap();
        assert_eq!(c.records.len(), n);
        assert!(
            c.records
                .iter()
                .enumerate()
                .all(|(i, r)| r.task == i as u64)
        );
        assert_eq!(
            (c.attempts[0].tasks_done, c.attempts[0].wall_s),
            (n as u64, 1.5)
        );
        // Killed while writing the second checkpoint's last member: its first two are kept.
        let cut = after_first + (bytes.len() - after_first) * 5 / 6;
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let c = read(&path).unwrap();
        assert_eq!(c.records.len(), 10 + 2 * MEMBER_ROWS);
        assert_eq!(c.attempts[0].tasks_done, c.records.len() as u64);
    }
}
