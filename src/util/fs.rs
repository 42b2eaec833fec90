//! Files that appear whole or not at all, under names no earlier file has, never through a
//! planted symlink, named by one policy: what every command's result files are written with.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Creates the first free `stem.ext`, `stem-2.ext`, … (O_EXCL: never an existing file, nor a
/// planted symlink).
pub fn create_new_name(dir: &Path, stem: &str, ext: &str) -> Result<(File, PathBuf)> {
    for n in 1..10_000 {
        let path = dir.join(numbered(stem, n, ext));
        match open_nofollow(&path, OpenOptions::new().append(true).create_new(true)) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    bail!("no free file name for {stem}.{ext} in {}", dir.display())
}

fn numbered(stem: &str, n: u32, ext: &str) -> String {
    if n == 1 {
        format!("{stem}.{ext}")
    } else {
        format!("{stem}-{n}.{ext}")
    }
}

/// Writes `bytes` to a new file `stem.ext` (or `stem-N.ext`) that appears complete or not at
/// all: written to an unnamed O_TMPFILE in `dir`, then linked to its name. Filesystems without
/// O_TMPFILE (NFS) get a named temporary file that lives only while it is written.
pub fn write_new(dir: &Path, stem: &str, ext: &str, bytes: &[u8]) -> Result<PathBuf> {
    let unnamed = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
        .mode(0o666)
        .open(dir);
    let mut f = match unnamed {
        Ok(f) => f,
        Err(_) => return write_new_named(dir, stem, ext, bytes),
    };
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing a file in {}", dir.display()))?;
    let fd = PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()));
    link_new_name(&fd, dir, stem, ext)
}

fn write_new_named(dir: &Path, stem: &str, ext: &str, bytes: &[u8]) -> Result<PathBuf> {
    let tmp = dir.join(format!(".{stem}.{ext}.{}.tmp", std::process::id()));
    let mut f = open_nofollow(&tmp, OpenOptions::new().write(true).create_new(true))
        .with_context(|| format!("creating {}", tmp.display()))?;
    let linked = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))
        .and_then(|()| link_new_name(&tmp, dir, stem, ext));
    let _ = std::fs::remove_file(&tmp);
    linked
}

/// Opens without following a symlink at the last path component (O_NOFOLLOW), so a link
/// planted in `results/` can't redirect our writes elsewhere.
pub fn open_nofollow(path: &Path, opts: &mut OpenOptions) -> std::io::Result<File> {
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o666) // the user's umask decides the final mode
        .open(path)
}

/// Hard-links `tmp` (a path, or an O_TMPFILE's /proc/self/fd/N) to the first free name
/// `stem.ext`, `stem-2.ext`, …: linkat(2) fails rather than replace an existing file, so two
/// runs can't overwrite each other's results.
pub fn link_new_name(tmp: &Path, dir: &Path, stem: &str, ext: &str) -> Result<PathBuf> {
    let from = CString::new(tmp.as_os_str().as_bytes())?;
    for n in 1..10_000 {
        let path = dir.join(numbered(stem, n, ext));
        let to = CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: two NUL-terminated paths; AT_SYMLINK_FOLLOW resolves /proc/self/fd/N to the
        // open file (the way to name an O_TMPFILE without CAP_DAC_READ_SEARCH).
        let rc = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if rc == 0 {
            return Ok(path);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(e).with_context(|| format!("creating {}", path.display()));
        }
    }
    bail!("no free file name for {stem}.{ext} in {}", dir.display())
}

/// File stem of every command's result document: `LABEL-YYYYMMDDTHHMMSSZ-N{unit}`, the start
/// in UTC and what the result spans (`-4r`: 4 ranks; `-3h`: 3 hosts).
pub fn stem(label: &str, started_at_iso: &str, count: usize, unit: char) -> String {
    let compact: String = started_at_iso
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{label}-{compact}-{count}{unit}")
}

/// A result document as its file holds it: pretty-printed JSON with a trailing newline (NaN,
/// e.g. a failed task's sum, becomes `null`).
pub fn json_bytes<T: Serialize>(doc: &T) -> Vec<u8> {
    // Plain structs of numbers, strings and vectors: serde_json can't fail on them.
    let mut v = serde_json::to_vec_pretty(doc).expect("a result document serialises");
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_compact() {
        assert_eq!(
            stem("run", "2026-11-26T01:02:03Z", 4, 'r'),
            "run-20261126T010203Z-4r"
        );
    }
}
