//! Saving a `net` result: `LABEL-STAMP-Nh.net.json` and `.net.csv` under `--out` (named by
//! `util::fs::stem`, as the benchmark's), opened before the measurement, written atomically
//! under names no earlier file has.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::options::NetOptions;
use super::schema::NetReport;
use crate::util::clock::iso8601_utc;
use crate::util::fs::{link_new_name, open_nofollow, stem};

/// One temporary file, removed on drop unless it was linked under its final name.
struct Temp {
    path: PathBuf,
    file: File,
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The result's files, prepared on rank 0.
pub struct NetOutputs {
    dir: PathBuf,
    label: String,
    started_at: String,
    json: Temp,
    csv: Temp,
}

impl NetOutputs {
    /// `None` with `--no-save`; an error (naming `--out`) when the folder can't be written.
    pub fn prepare(opts: &NetOptions, started_unix_s: f64) -> Result<Option<NetOutputs>> {
        let Some(dir) = &opts.output.out else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--out {}: cannot create the folder", dir.display()))?;
        let label = &opts.output.label;
        let temp = |ext: &str| -> Result<Temp> {
            let path = dir.join(format!(".{label}.{ext}.{}.tmp", std::process::id()));
            let file = open_nofollow(&path, OpenOptions::new().write(true).create_new(true))
                .with_context(|| format!("--out: cannot create a file in {}", dir.display()))?;
            Ok(Temp { path, file })
        };
        Ok(Some(NetOutputs {
            json: temp("json")?,
            csv: temp("csv")?,
            dir: dir.clone(),
            label: label.clone(),
            started_at: iso8601_utc(started_unix_s),
        }))
    }

    /// Writes both files; returns the JSON's path (the CSV has the same name, `.csv`).
    pub fn finish(mut self, report: &NetReport) -> Result<PathBuf> {
        let stem = stem(&self.label, &self.started_at, report.hosts.len(), 'h');
        write_all(&mut self.json, &report.to_json())?;
        write_all(&mut self.csv, &report.to_csv())?;
        let json = link_new_name(&self.json.path, &self.dir, &stem, "net.json")?;
        let csv = json.with_extension("csv");
        // The JSON's fresh name was free; its .csv twin is only taken by a deliberate clash.
        if let Err(e) = std::fs::hard_link(&self.csv.path, &csv) {
            let _ = std::fs::remove_file(&json); // ours, a moment old: no half result
            return Err(e).with_context(|| format!("creating {}", csv.display()));
        }
        Ok(json)
    }
}

fn write_all(t: &mut Temp, bytes: &[u8]) -> Result<()> {
    t.file
        .write_all(bytes)
        .and_then(|()| t.file.sync_all())
        .with_context(|| format!("writing {}", t.path.display()))
}
