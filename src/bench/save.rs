//! Saving a run: its journal and `runs.csv` opened before the run, the JSON written at the end
//! (atomically, never clobbering an earlier file: `util::fs`), one row appended to `runs.csv`.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::csv;
use super::journal::{Contents, Journal};
use super::schema::{Attempt, Run};
use super::work::Work;
use crate::record::TaskRecord;
use crate::util::fs::{create_new_name, open_nofollow, write_new};

/// Name of the table every run appends one row to.
pub const RUNS_CSV: &str = "runs.csv";

/// Output files opened before the long run, so an unwritable `--out` fails in a second, not
/// after an hour of computing: `runs.csv` and the run's journal. No temporary file is named
/// until the end, so a killed run leaves none behind.
#[derive(Debug)]
pub struct Outputs {
    dir: PathBuf,
    stem: String,
    journal: Journal,
    csv: File,
}

impl Outputs {
    /// Creates `dir` if needed, opens `runs.csv` for appending (refusing one whose header is
    /// not today's columns) and starts the run's journal with `earlier` (a resumed run's).
    pub fn prepare(dir: &Path, stem: &str, work: &Work, earlier: &Contents) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--out {}: cannot create the folder", dir.display()))?;
        let csv_path = dir.join(RUNS_CSV);
        let csv = open_nofollow(
            &csv_path,
            OpenOptions::new().read(true).append(true).create(true),
        )
        .with_context(|| format!("--out: cannot open {} for appending", csv_path.display()))?;
        check_header(&csv, &csv_path)?;
        let (file, path) = create_new_name(dir, stem, "tasks.csv.gz")
            .with_context(|| format!("--out: cannot create a file in {}", dir.display()))?;
        let journal = Journal::start(file, path, work, earlier)?;
        Ok(Outputs {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            journal,
            csv,
        })
    }

    /// The journal's file name (for the JSON's `tasks_file`).
    pub fn journal_name(&self) -> String {
        self.journal.file_name()
    }

    /// Appends this launch's new records to the journal.
    pub fn checkpoint(
        &mut self,
        launch: &Attempt,
        records: &[TaskRecord],
        wall_s: f64,
    ) -> Result<()> {
        self.journal.append(launch, records, wall_s)
    }

    /// Appends this launch's last records and how it ended to the journal.
    pub fn close_journal(&mut self, launch: &Attempt, records: &[TaskRecord]) -> Result<()> {
        self.journal.close(launch, records)
    }

    /// Writes the JSON under a new name (`STEM.json`, else `STEM-2.json`, …) and appends the
    /// CSV row. Returns the JSON's path.
    pub fn finish(mut self, run: &Run) -> Result<PathBuf> {
        let path = write_new(&self.dir, &self.stem, "json", &run.to_json())?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let csv_path = self.dir.join(RUNS_CSV);
        let row = csv::row(run, name.as_deref().unwrap_or(""));
        append_row(&mut self.csv, &csv_path, &row)
            .with_context(|| format!("appending to {}", csv_path.display()))?;
        Ok(path)
    }
}

/// Appends one CSV row under an exclusive lock, with the header first if the file is empty;
/// one write(2) on an O_APPEND file, so concurrent runs interleave whole rows, never bytes.
/// The header is checked again under the lock: another version may have started the file.
pub fn append_row(csv: &mut File, path: &Path, row: &[u8]) -> Result<()> {
    let _lock = Flock::exclusive(csv)?;
    check_header(csv, path)?;
    let empty = csv.seek(SeekFrom::End(0))? == 0;
    let mut bytes = if empty { csv::header() } else { Vec::new() };
    bytes.extend_from_slice(row);
    csv.write_all(&bytes)?;
    csv.sync_data()?;
    Ok(())
}

/// Refuses a non-empty `runs.csv` whose first line is not today's header: rows under another
/// header would be misread, and replacing the file would lose earlier runs.
fn check_header(csv: &File, path: &Path) -> Result<()> {
    let want = csv::header();
    let len = csv.metadata()?.len();
    let mut got = vec![0u8; want.len().min(len as usize)];
    csv.read_exact_at(&mut got, 0)
        .with_context(|| format!("reading {}", path.display()))?;
    if len > 0 && got != want {
        bail!(
            "{} has other columns than this version writes (the JSON names were adopted in \
             schema version 2): move it aside or choose another --out",
            path.display()
        );
    }
    Ok(())
}

/// An advisory `flock` held until dropped (the file must outlive it).
struct Flock(RawFd);

impl Flock {
    fn exclusive(f: &File) -> Result<Self> {
        let fd = f.as_raw_fd();
        // SAFETY: `fd` is an open descriptor owned by `f`.
        if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error()).context("locking runs.csv");
        }
        Ok(Flock(fd))
    }
}

impl Drop for Flock {
    fn drop(&mut self) {
        // SAFETY: the caller keeps the file open while the lock lives.
        unsafe { libc::flock(self.0, libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::journal;

    fn report() -> Run {
        crate::bench::schema::sample()
    }

    fn prepare(dir: &Path, stem: &str) -> Result<Outputs> {
        let work = Work::eig(1, 2, 42);
        Outputs::prepare(dir, stem, &work, &Contents::new(work.clone()))
    }

    #[test]
    fn csv_row_matches_header_and_quotes_text() {
        let r = report();
        let text = String::from_utf8([csv::header(), csv::row(&r, "x.json")].concat()).unwrap();
        let mut rd = ::csv::Reader::from_reader(text.as_bytes());
        let hdr = rd.headers().unwrap().clone();
        assert_eq!(hdr.len(), csv::COLUMNS.len());
        let row = rd.records().next().unwrap().unwrap();
        let get = |k: &str| row.get(hdr.iter().position(|h| h == k).unwrap()).unwrap();
        assert_eq!(get("ranks"), "2");
        assert_eq!(get("hosts"), "2");
        assert_eq!(get("mpi_library"), "Open MPI v4.1.4, package: x");
        assert_eq!(get("checksum").parse::<f64>().unwrap(), r.figures.checksum);
        assert_eq!(get("busy_speedup"), "2");
        assert_eq!(get("busy_efficiency"), "1");
        assert_eq!(get("json_file"), "x.json");
        assert_eq!((get("workload"), get("task_ms")), ("eig", ""));
    }

    #[test]
    fn json_bytes_are_the_document_with_a_newline() {
        let r = report();
        let bytes = r.to_json();
        assert!(bytes.ends_with(b"}\n"));
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v, serde_json::to_value(&r).unwrap());
    }

    #[test]
    fn finish_never_clobbers_and_appends_one_header() {
        let dir = tempfile::tempdir().unwrap();
        let r = report();
        let a = prepare(dir.path(), "s").unwrap().finish(&r).unwrap();
        std::fs::write(dir.path().join("s-2.json"), b"earlier").unwrap();
        let b = prepare(dir.path(), "s").unwrap().finish(&r).unwrap();
        assert_eq!(a.file_name().unwrap(), "s.json");
        assert_eq!(b.file_name().unwrap(), "s-3.json");
        assert_eq!(
            std::fs::read(dir.path().join("s-2.json")).unwrap(),
            b"earlier"
        );
        let csv = std::fs::read_to_string(dir.path().join(RUNS_CSV)).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(csv.starts_with("started_at,"));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"keep").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&victim, out.join(RUNS_CSV)).unwrap();
        let err = prepare(&out, "s").unwrap_err();
        assert!(format!("{err:#}").contains("runs.csv"), "{err:#}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        // A link planted at the JSON's final name is left alone too: a new name is chosen.
        std::fs::remove_file(out.join(RUNS_CSV)).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("s.json")).unwrap();
        let p = prepare(&out, "s").unwrap().finish(&report()).unwrap();
        assert_eq!(p.file_name().unwrap(), "s-2.json");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn a_runs_csv_with_other_columns_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RUNS_CSV);
        let old = b"started_at,label,speedup\n2026,run,1.9\n";
        std::fs::write(&path, old).unwrap();
        let err = format!("{:#}", prepare(dir.path(), "s").unwrap_err());
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains("move it aside or choose another --out"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), old);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no file added"
        );
        // Today's header alone is accepted, and rows follow it.
        std::fs::write(&path, csv::header()).unwrap();
        prepare(dir.path(), "s").unwrap().finish(&report()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_run_that_ends_early_leaves_its_journal_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        drop(prepare(dir.path(), "s").unwrap());
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec![RUNS_CSV, "s.tasks.csv.gz"]);
    }

    #[test]
    fn the_journal_reads_back_bit_for_bit_and_skips_a_torn_member() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = prepare(dir.path(), "s").unwrap();
        let recs: Vec<TaskRecord> = (0..3)
            .map(|t| TaskRecord {
                task: t,
                rank: 1,
                seconds: 0.1 + t as f64 / 3.0,
                eig_sum_re: if t == 1 { f64::NAN } else { 1e-300 / 7.0 },
                trace: -1.0 / 3.0,
                ..TaskRecord::default()
            })
            .collect();
        let launch = Attempt {
            ranks: 2,
            ..Attempt::default()
        };
        out.checkpoint(&launch, &recs[..2], 1.5).unwrap();
        let path = dir.path().join("s.tasks.csv.gz");
        let before = std::fs::metadata(&path).unwrap().len() as usize;
        out.checkpoint(&launch, &recs, 2.5).unwrap();
        let c = journal::read(&path).unwrap();
        assert_eq!(c.work.tasks, 2);
        assert_eq!(c.records.len(), 3);
        for (a, b) in c.records.iter().zip(&recs) {
            assert_eq!(a.task, b.task);
            assert_eq!(a.seconds.to_bits(), b.seconds.to_bits());
            assert_eq!(a.trace.to_bits(), b.trace.to_bits());
            assert_eq!(a.eig_sum_re.is_nan(), b.eig_sum_re.is_nan());
            if !b.eig_sum_re.is_nan() {
                assert_eq!(a.eig_sum_re.to_bits(), b.eig_sum_re.to_bits());
            }
        }
        assert_eq!(c.attempts.len(), 1);
        assert_eq!((c.attempts[0].tasks_done, c.attempts[0].wall_s), (3, 2.5));
        // A kill mid-write: half of a further member (a copy of the last one). What was whole
        // reads as before.
        let bytes = std::fs::read(&path).unwrap();
        let last = &bytes[before..];
        let torn = &last[..last.len() / 2];
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(torn)
            .unwrap();
        assert_eq!(journal::read(&path).unwrap().records.len(), 3);
    }
}
