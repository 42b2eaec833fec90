//! The `net` result as users parse it: the JSON document and the CSV (one row per ordered
//! pair). Units are in the names: `_us` microseconds, `_mb_per_s` 10^6 bytes per second.

use serde::Serialize;

use super::measure::{Hosts, Measured};
use super::options::NetOptions;
use super::report::{self, HostVerdict, Link, Verdict};
use crate::record::Environment;
use crate::util::fs::json_bytes;

/// Names the document's kind, for tools that read several kinds of JSON.
pub const SCHEMA: &str = "cluster-bench-net";
/// Bumped when a key changes meaning or goes away (new keys may appear at any time).
pub const SCHEMA_VERSION: u32 = 1;

/// The whole result of `cluster-bench net`.
#[derive(Clone, Debug, Serialize)]
pub struct NetReport {
    pub schema: &'static str,
    pub schema_version: u32,
    /// Crate version of the binary.
    pub version: &'static str,
    /// `--label`.
    pub label: String,
    /// Start of the measurement, UTC, ISO 8601.
    pub started_at: String,
    /// `MPI_Get_library_version`, first part.
    pub mpi_library: String,
    /// `git describe` of the build, when known.
    pub git_revision: Option<String>,
    /// MPI ranks in the job (one per host measured, the others waited).
    pub ranks: usize,
    /// Rounds of the tournament (pairs in a round were measured at the same time).
    pub rounds: usize,
    /// From the first round's start to the last one's end, seconds.
    pub wall_s: f64,
    /// How each pair was measured.
    pub config: NetOptions,
    /// The typical host's best link: what "far slower" is measured against.
    pub reference: Reference,
    /// One per host, in order of its lowest rank.
    pub hosts: Vec<HostEntry>,
    /// One per ordered pair, by (from, to).
    pub pairs: Vec<PairEntry>,
    /// Slow hosts, then slow links no slow host explains, as sentences naming the hosts.
    pub flags: Vec<String>,
}

/// Reference figures (see README, "Reading the matrix").
#[derive(Clone, Debug, Serialize)]
pub struct Reference {
    /// Median over hosts of their best send and best receive bandwidth, MB/s.
    pub bandwidth_mb_per_s: f64,
    /// Median over hosts of their lowest latency, µs.
    pub latency_us: f64,
    /// Flagged: bandwidth under reference / factor, or latency over reference × factor.
    pub slow_factor: f64,
}

/// One host: its best links and whether even those are far off (see `stats`).
#[derive(Clone, Debug, Serialize)]
pub struct HostEntry {
    pub name: String,
    /// Ranks on it.
    pub ranks: usize,
    /// The rank that measured for it.
    pub rank: usize,
    #[serde(flatten)]
    pub judged: HostVerdict,
}

/// One ordered pair: `from` sent, `to` received.
#[derive(Clone, Debug, Serialize)]
pub struct PairEntry {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub measured: Link,
    /// Bandwidth under reference / factor.
    pub slow_bandwidth: bool,
    /// Latency over reference × factor.
    pub slow_latency: bool,
}

/// Column names of the CSV, in order.
pub const CSV_COLUMNS: [&str; 10] = [
    "from",
    "to",
    "round",
    "latency_us",
    "latency_min_us",
    "bandwidth_mb_per_s",
    "bandwidth_bytes",
    "bandwidth_s",
    "slow_bandwidth",
    "slow_latency",
];

/// What the report is built from besides the measurement.
pub struct Context<'a> {
    pub opts: &'a NetOptions,
    pub hosts: &'a Hosts,
    pub ranks: usize,
    /// Start, MPI library and build (its `rank_info` is not used).
    pub environment: Environment,
}

impl NetReport {
    pub fn new(cx: Context, m: &Measured) -> NetReport {
        let far = cx.opts.slow_factor;
        let n = cx.hosts.names.len();
        let v = report::judge(n, &m.links, far);
        let flags = report::flags(&cx.hosts.names, &m.links, &v, far);
        NetReport {
            schema: SCHEMA,
            schema_version: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION"),
            label: cx.opts.output.label.clone(),
            started_at: cx.environment.started_at,
            mpi_library: cx.environment.mpi_library,
            git_revision: cx.environment.git_revision,
            ranks: cx.ranks,
            rounds: m.rounds,
            wall_s: m.wall_s,
            config: cx.opts.clone(),
            reference: Reference {
                bandwidth_mb_per_s: v.reference_mb_per_s,
                latency_us: v.reference_latency_us,
                slow_factor: far,
            },
            hosts: host_entries(cx.hosts, &v),
            pairs: pair_entries(&cx.hosts.names, &m.links, &v),
            flags,
        }
    }

    /// The JSON document, pretty-printed, with a trailing newline (NaN becomes `null`).
    pub fn to_json(&self) -> Vec<u8> {
        json_bytes(self)
    }

    /// The CSV: a header, then one row per ordered pair.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(vec![]);
        w.write_record(CSV_COLUMNS).expect("in-memory write");
        for p in &self.pairs {
            let m = &p.measured;
            w.write_record([
                p.from.clone(),
                p.to.clone(),
                m.round.to_string(),
                m.latency_us.to_string(),
                m.latency_min_us.to_string(),
                m.bandwidth_mb_per_s.to_string(),
                m.bandwidth_bytes.to_string(),
                m.bandwidth_s.to_string(),
                p.slow_bandwidth.to_string(),
                p.slow_latency.to_string(),
            ])
            .expect("in-memory write");
        }
        w.into_inner().expect("in-memory flush")
    }
}

fn host_entries(hosts: &Hosts, v: &Verdict) -> Vec<HostEntry> {
    (0..hosts.names.len())
        .map(|i| HostEntry {
            name: hosts.names[i].clone(),
            ranks: hosts.ranks[i],
            rank: hosts.leaders[i],
            judged: v.hosts[i].clone(),
        })
        .collect()
}

fn pair_entries(names: &[String], links: &[Link], v: &Verdict) -> Vec<PairEntry> {
    links
        .iter()
        .zip(&v.links)
        .map(|(l, &(slow_bandwidth, slow_latency))| PairEntry {
            from: names[l.from].clone(),
            to: names[l.to].clone(),
            measured: l.clone(),
            slow_bandwidth,
            slow_latency,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> NetReport {
        let opts = crate::net::options::parse(&[]).unwrap();
        let names: Vec<String> = ["a", "b,\"x\"", "a", "c"].map(String::from).to_vec();
        let hosts = Hosts::group(&names);
        let link = |from, to, bw| Link {
            from,
            to,
            latency_us: 50.0,
            bandwidth_mb_per_s: bw,
            ..Link::default()
        };
        let mut links = Vec::new();
        for (f, t) in [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)] {
            links.push(link(f, t, if f == 1 || t == 1 { 10.0 } else { 900.0 }));
        }
        let m = Measured {
            links,
            rounds: 3,
            wall_s: 1.5,
        };
        let cx = Context {
            opts: &opts,
            hosts: &hosts,
            ranks: 4,
            environment: Environment {
                started_at: "2026-01-01T00:00:00Z".into(),
                mpi_library: "Open MPI v4.1.4".into(),
                ..Environment::default()
            },
        };
        NetReport::new(cx, &m)
    }

    #[test]
    fn json_keys_are_pinned_and_pairs_name_their_hosts() {
        let v: serde_json::Value = serde_json::from_slice(&report().to_json()).unwrap();
        for k in [
            "schema",
            "schema_version",
            "version",
            "label",
            "started_at",
            "mpi_library",
            "ranks",
            "rounds",
            "wall_s",
            "config",
            "reference",
            "hosts",
            "pairs",
            "flags",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["hosts"][0]["ranks"], 2);
        assert_eq!(v["hosts"][2]["rank"], 3);
        let p = &v["pairs"][2];
        assert_eq!(
            (p["from"].as_str(), p["to"].as_str()),
            (Some("b,\"x\""), Some("a"))
        );
        assert_eq!(p["bandwidth_mb_per_s"], 10.0);
        assert_eq!(p["slow_bandwidth"], true);
        assert_eq!(v["hosts"][1]["slow_send"], true);
        assert_eq!(v["flags"].as_array().unwrap().len(), 1, "{}", v["flags"]);
    }

    #[test]
    fn csv_has_a_row_per_pair_under_the_header() {
        let bytes = report().to_csv();
        let mut rd = csv::Reader::from_reader(&bytes[..]);
        assert_eq!(
            rd.headers().unwrap().iter().collect::<Vec<_>>(),
            CSV_COLUMNS
        );
        let rows: Vec<_> = rd.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 6);
        assert_eq!(&rows[2][0], "b,\"x\"");
        assert_eq!(&rows[2][8], "true");
    }
}
