//! What the measured links mean: the typical host's best link, and which hosts and links are
//! far slower than it. Pure, so every rule is unit-tested.
//!
//! A link's speed is bounded by both of its ends, so a single median over links would be
//! dragged down by one slow host (with 3 hosts, 4 of the 6 links touch it). Instead each host
//! is judged by its *best* link: the fastest it sends at, the fastest it receives at, its
//! lowest latency. The reference is the median of those bests over the hosts, and "far" is a
//! factor (3 by default): a host whose best link sends or receives at less than 1/3 of the
//! reference bandwidth, or whose lowest latency is more than 3× the reference latency, is
//! flagged; so is any single link that is that far off, when no flagged end explains it.

use serde::Serialize;

use crate::util::stats::median;

/// One ordered pair's measurement: `from` sends, `to` receives (indices into the hosts; the
/// JSON names the hosts instead).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Link {
    #[serde(skip)]
    pub from: usize,
    #[serde(skip)]
    pub to: usize,
    /// Round of the tournament it was measured in (0-based).
    pub round: usize,
    /// Median of the half round-trips of small messages, µs.
    pub latency_us: f64,
    /// Smallest half round-trip, µs.
    pub latency_min_us: f64,
    /// Bytes of the timed large messages / their time, MB/s (1 MB = 10^6 bytes).
    pub bandwidth_mb_per_s: f64,
    /// Bytes sent in the timed large messages.
    pub bandwidth_bytes: u64,
    /// Time of the timed large messages, seconds.
    pub bandwidth_s: f64,
}

/// A host's best links and whether they are far off the typical host's.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostVerdict {
    /// Fastest bandwidth of a link this host sends on, MB/s.
    pub best_send_mb_per_s: f64,
    /// Fastest bandwidth of a link this host receives on, MB/s.
    pub best_receive_mb_per_s: f64,
    /// Lowest latency of a link to or from this host, µs.
    pub best_latency_us: f64,
    /// Even its best link sends at under reference / factor.
    pub slow_send: bool,
    /// Even its best link receives at under reference / factor.
    pub slow_receive: bool,
    /// Even its lowest latency is over reference × factor.
    pub slow_latency: bool,
}

impl HostVerdict {
    pub fn slow(&self) -> bool {
        self.slow_send || self.slow_receive || self.slow_latency
    }
}

/// The judgement of a whole measurement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    /// Median over hosts of their best send and best receive bandwidths, MB/s.
    pub reference_mb_per_s: f64,
    /// Median over hosts of their lowest latency, µs.
    pub reference_latency_us: f64,
    /// Per host, in host order.
    pub hosts: Vec<HostVerdict>,
    /// Per link, in the order of the links given: (slow bandwidth, slow latency).
    pub links: Vec<(bool, bool)>,
}

/// Judges `links` among `n` hosts with the factor `far` (> 1).
pub fn judge(n: usize, links: &[Link], far: f64) -> Verdict {
    let mut hosts = vec![
        HostVerdict {
            best_latency_us: f64::INFINITY,
            ..HostVerdict::default()
        };
        n
    ];
    for l in links {
        let bw = l.bandwidth_mb_per_s;
        hosts[l.from].best_send_mb_per_s = hosts[l.from].best_send_mb_per_s.max(bw);
        hosts[l.to].best_receive_mb_per_s = hosts[l.to].best_receive_mb_per_s.max(bw);
        for h in [l.from, l.to] {
            hosts[h].best_latency_us = hosts[h].best_latency_us.min(l.latency_us);
        }
    }
    let bests: Vec<f64> = hosts
        .iter()
        .flat_map(|h| [h.best_send_mb_per_s, h.best_receive_mb_per_s])
        .collect();
    let lows: Vec<f64> = hosts.iter().map(|h| h.best_latency_us).collect();
    // No links, no reference (rather than a median of the zeros above).
    let measured = |v: Option<f64>| v.filter(|_| !links.is_empty()).unwrap_or(f64::NAN);
    let reference_mb_per_s = measured(median(&bests));
    let reference_latency_us = measured(median(&lows));
    let slow_bw = |bw: f64| bw < reference_mb_per_s / far;
    let slow_lat = |us: f64| us > reference_latency_us * far;
    for h in &mut hosts {
        h.slow_send = slow_bw(h.best_send_mb_per_s);
        h.slow_receive = slow_bw(h.best_receive_mb_per_s);
        h.slow_latency = slow_lat(h.best_latency_us);
    }
    let links = links
        .iter()
        .map(|l| (slow_bw(l.bandwidth_mb_per_s), slow_lat(l.latency_us)))
        .collect();
    Verdict {
        reference_mb_per_s,
        reference_latency_us,
        hosts,
        links,
    }
}

/// One line per flagged host, then one per flagged link no flagged host explains; names are
/// the hosts' names in host order.
pub fn flags(names: &[String], links: &[Link], v: &Verdict, far: f64) -> Vec<String> {
    let mut out = Vec::new();
    let ref_bw = format!("the typical host's best, {:.1} MB/s", v.reference_mb_per_s);
    let ref_lat = format!(
        "the typical host's lowest, {:.1} us",
        v.reference_latency_us
    );
    for (name, h) in names.iter().zip(&v.hosts) {
        let mut parts = Vec::new();
        if h.slow_send {
            parts.push(format!("sends at most {:.1} MB/s", h.best_send_mb_per_s));
        }
        if h.slow_receive {
            parts.push(format!(
                "receives at most {:.1} MB/s",
                h.best_receive_mb_per_s
            ));
        }
        if !parts.is_empty() {
            out.push(format!(
                "slow host {name}: {}: under 1/{far} of {ref_bw}",
                parts.join(" and ")
            ));
        }
        if h.slow_latency {
            out.push(format!(
                "slow host {name}: latency at least {:.1} us: over {far}x {ref_lat}",
                h.best_latency_us
            ));
        }
    }
    for (l, &(bw, lat)) in links.iter().zip(&v.links) {
        let (a, b) = (&v.hosts[l.from], &v.hosts[l.to]);
        let pair = format!("{} -> {}", names[l.from], names[l.to]);
        if bw && !a.slow_send && !b.slow_receive {
            out.push(format!(
                "slow link {pair}: {:.1} MB/s: under 1/{far} of {ref_bw}",
                l.bandwidth_mb_per_s
            ));
        }
        if lat && !a.slow_latency && !b.slow_latency {
            out.push(format!(
                "slow link {pair}: latency {:.1} us: over {far}x {ref_lat}",
                l.latency_us
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ordered pair of `n` hosts, with bandwidth and latency from `f(from, to)`.
    fn all_pairs(n: usize, f: impl Fn(usize, usize) -> (f64, f64)) -> Vec<Link> {
        let mut v = Vec::new();
        for from in 0..n {
            for to in (0..n).filter(|&t| t != from) {
                let (bw, lat) = f(from, to);
                v.push(Link {
                    from,
                    to,
                    bandwidth_mb_per_s: bw,
                    latency_us: lat,
                    ..Link::default()
                });
            }
        }
        v
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|k| format!("h{k}")).collect()
    }

    #[test]
    fn one_slow_host_of_three_is_flagged_by_name() {
        // Host 1 (h2) sits behind a 100 Mbit port: 4 of the 6 links touch it.
        let links = all_pairs(3, |a, b| {
            if a == 1 || b == 1 {
                (11.5, 60.0)
            } else {
                (900.0, 50.0)
            }
        });
        let v = judge(3, &links, 3.0);
        assert_eq!(v.reference_mb_per_s, 900.0);
        let slow: Vec<bool> = v.hosts.iter().map(HostVerdict::slow).collect();
        assert_eq!(slow, [false, true, false]);
        assert!(v.hosts[1].slow_send && v.hosts[1].slow_receive);
        let f = flags(&names(3), &links, &v, 3.0);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].starts_with("slow host h2: sends at most 11.5 MB/s"),
            "{f:?}"
        );
    }

    #[test]
    fn a_host_slow_one_way_and_a_single_slow_link_are_told_apart() {
        // h3 receives slowly (a limit on its way in only); h1 -> h2 alone is slow.
        let links = all_pairs(4, |a, b| match (a, b) {
            (_, 2) => (10.0, 50.0),
            (0, 1) => (50.0, 50.0),
            _ => (600.0, 50.0),
        });
        let v = judge(4, &links, 3.0);
        assert!(v.hosts[2].slow_receive && !v.hosts[2].slow_send);
        let f = flags(&names(4), &links, &v, 3.0);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(
            f[0].starts_with("slow host h3: receives at most 10.0"),
            "{f:?}"
        );
        assert!(f[1].starts_with("slow link h1 -> h2: 50.0 MB/s"), "{f:?}");
    }

    #[test]
    fn far_means_the_factor_not_any_difference() {
        // Within 3x of each other: nothing is flagged, however uneven.
        let links = all_pairs(4, |a, _| (300.0 + 100.0 * a as f64, 40.0 + 20.0 * a as f64));
        let v = judge(4, &links, 3.0);
        assert!(flags(&names(4), &links, &v, 3.0).is_empty(), "{v:?}");
        // A host with 4x the latency of the others is.
        let links = all_pairs(4, |a, b| {
            (500.0, if a == 3 || b == 3 { 200.0 } else { 50.0 })
        });
        let v = judge(4, &links, 3.0);
        let f = flags(&names(4), &links, &v, 3.0);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].starts_with("slow host h4: latency at least 200.0 us"),
            "{f:?}"
        );
    }

    #[test]
    fn two_hosts_or_none_flag_nothing() {
        let links = all_pairs(2, |_, _| (10.0, 500.0));
        let v = judge(2, &links, 3.0);
        assert!(flags(&names(2), &links, &v, 3.0).is_empty());
        let v = judge(1, &[], 3.0);
        assert!(!v.hosts[0].slow());
        assert!(v.reference_mb_per_s.is_nan());
    }
}
