//! Writing results: exporters turn a `schema::Run` into bytes; this module puts bytes on disk
//! atomically, never clobbering an earlier file and never following a planted symlink.

pub mod csv;
pub mod json;

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::schema::Run;

/// Name of the table every run appends one row to.
pub const RUNS_CSV: &str = "runs.csv";

/// Output files opened before the long run, so an unwritable `--out` fails in a second, not
/// after an hour of computing.
#[derive(Debug)]
pub struct Outputs {
    dir: PathBuf,
    stem: String,
    /// The JSON's private temporary file, linked to its final name when complete.
    tmp_path: PathBuf,
    tmp: Option<File>,
    csv: File,
}

impl Outputs {
    /// Creates `dir` if needed, opens `runs.csv` for appending (refusing one whose header is
    /// not today's columns) and a temporary JSON file.
    pub fn prepare(dir: &Path, stem: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--out {}: cannot create the folder", dir.display()))?;
        let csv_path = dir.join(RUNS_CSV);
        let csv = open_nofollow(
            &csv_path,
            OpenOptions::new().read(true).append(true).create(true),
        )
        .with_context(|| format!("--out: cannot open {} for appending", csv_path.display()))?;
        check_header(&csv, &csv_path)?;
        let tmp_path = dir.join(format!(".{stem}.json.{}.tmp", std::process::id()));
        // create_new is O_EXCL: it fails on any existing path, a symlink included.
        let tmp = open_nofollow(&tmp_path, OpenOptions::new().write(true).create_new(true))
            .with_context(|| format!("--out: cannot create a file in {}", dir.display()))?;
        Ok(Outputs {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            tmp_path,
            tmp: Some(tmp),
            csv,
        })
    }

    /// Path of the run's checkpoint, `STEM.partial.json`.
    pub fn partial_path(&self) -> PathBuf {
        self.dir.join(format!("{}.partial.json", self.stem))
    }

    /// Replaces the run's checkpoint with `run` (marked incomplete), atomically: a reader
    /// sees the previous checkpoint or this one, never half of one.
    pub fn checkpoint(&self, run: &Run) -> Result<()> {
        let tmp = self
            .dir
            .join(format!(".{}.partial.{}.tmp", self.stem, std::process::id()));
        let mut f = open_nofollow(
            &tmp,
            OpenOptions::new().write(true).create(true).truncate(true),
        )
        .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(&json::to_bytes(run))?;
        f.sync_all()?;
        // rename(2) replaces a planted symlink itself, never the file it points to.
        std::fs::rename(&tmp, self.partial_path())
            .with_context(|| format!("renaming {}", tmp.display()))
    }

    /// Writes the JSON under a new name (`STEM.json`, else `STEM-2.json`, …) and appends the
    /// CSV row. Returns the JSON's path.
    pub fn finish(mut self, run: &Run) -> Result<PathBuf> {
        let mut tmp = self.tmp.take().expect("finish is called once");
        tmp.write_all(&json::to_bytes(run))
            .and_then(|()| tmp.sync_all())
            .with_context(|| format!("writing {}", self.tmp_path.display()))?;
        drop(tmp);
        let path = link_new_name(&self.tmp_path, &self.dir, &self.stem, "json")?;
        let _ = std::fs::remove_file(&self.tmp_path);
        // The complete record supersedes the checkpoint.
        let _ = std::fs::remove_file(self.partial_path());
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let csv_path = self.dir.join(RUNS_CSV);
        let row = csv::row(run, name.as_deref().unwrap_or(""));
        append_row(&mut self.csv, &csv_path, &row)
            .with_context(|| format!("appending to {}", csv_path.display()))?;
        Ok(path)
    }
}

impl Drop for Outputs {
    /// A run that ends before `finish` leaves no temporary file behind.
    fn drop(&mut self) {
        if self.tmp.is_some() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// Opens without following a symlink at the last path component (O_NOFOLLOW), so a link
/// planted in `results/` can't redirect our writes elsewhere.
pub fn open_nofollow(path: &Path, opts: &mut OpenOptions) -> std::io::Result<File> {
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o666) // the user's umask decides the final mode
        .open(path)
}

/// Hard-links `tmp` to the first free name `stem.ext`, `stem-2.ext`, …: link(2) fails rather
/// than replace an existing file, so two runs can't overwrite each other's results.
pub fn link_new_name(tmp: &Path, dir: &Path, stem: &str, ext: &str) -> Result<PathBuf> {
    for n in 1..10_000 {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(name);
        match std::fs::hard_link(tmp, &path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    bail!("no free file name for {stem}.{ext} in {}", dir.display())
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

/// File stem of a run's JSON: `LABEL-YYYYMMDDTHHMMSSZ-Nr`.
pub fn stem(label: &str, started_at_iso: &str, ranks: usize) -> String {
    let compact: String = started_at_iso
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{label}-{compact}-{ranks}r")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Run {
        crate::schema::sample()
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
        assert_eq!(get("checksum").parse::<f64>().unwrap(), r.checksum);
        assert_eq!(get("busy_speedup"), "2");
        assert_eq!(get("busy_efficiency"), "1");
        assert_eq!(get("json_file"), "x.json");
    }

    #[test]
    fn json_bytes_are_the_document_with_a_newline() {
        let bytes = json::to_bytes(&report());
        assert!(bytes.ends_with(b"}\n"));
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v, serde_json::to_value(report()).unwrap());
    }

    #[test]
    fn finish_never_clobbers_and_appends_one_header() {
        let dir = tempfile::tempdir().unwrap();
        let r = report();
        let a = Outputs::prepare(dir.path(), "s")
            .unwrap()
            .finish(&r)
            .unwrap();
        std::fs::write(dir.path().join("s-2.json"), b"earlier").unwrap();
        let b = Outputs::prepare(dir.path(), "s")
            .unwrap()
            .finish(&r)
            .unwrap();
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
        let err = Outputs::prepare(&out, "s").unwrap_err();
        assert!(format!("{err:#}").contains("runs.csv"), "{err:#}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        // A link planted at the JSON's final name is left alone too: a new name is chosen.
        std::fs::remove_file(out.join(RUNS_CSV)).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("s.json")).unwrap();
        let p = Outputs::prepare(&out, "s")
            .unwrap()
            .finish(&report())
            .unwrap();
        assert_eq!(p.file_name().unwrap(), "s-2.json");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn a_runs_csv_with_other_columns_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RUNS_CSV);
        let old = b"started_at,label,speedup\n2026,run,1.9\n";
        std::fs::write(&path, old).unwrap();
        let err = format!("{:#}", Outputs::prepare(dir.path(), "s").unwrap_err());
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
        Outputs::prepare(dir.path(), "s")
            .unwrap()
            .finish(&report())
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn dropped_outputs_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        drop(Outputs::prepare(dir.path(), "s").unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(RUNS_CSV)]);
    }

    #[test]
    fn stems_are_compact() {
        assert_eq!(
            stem("run", "2026-11-26T01:02:03Z", 4),
            "run-20261126T010203Z-4r"
        );
    }
}
