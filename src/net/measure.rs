//! The measurements over MPI: one rank speaks for each host, the hosts meet in the rounds of
//! a tournament, and each ordered pair runs a ping-pong (latency) and a windowed stream
//! (bandwidth), as OSU's osu_latency and osu_bw do for one pair.

use std::time::Duration;

use mpi::request::Request;
use mpi::topology::Process;
use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::*;

use super::options::NetOptions;
use super::report::Link;
use super::rounds::rounds;
use crate::util::stats::median;

const TAG_PING: i32 = 11;
const TAG_GO: i32 = 12;
const TAG_DATA: i32 = 13;
const TAG_ACK: i32 = 14;
/// Bytes of a host name on the wire (Linux allows 64).
const NAME_BYTES: usize = 256;
/// Numbers per link on the wire (see `to_wire`).
const LINK_FIELDS: usize = 7;

/// The hosts of the job, in the order of their lowest rank.
#[derive(Clone, Debug, PartialEq)]
pub struct Hosts {
    pub names: Vec<String>,
    /// Ranks on each host.
    pub ranks: Vec<usize>,
    /// The rank that measures for each host: its lowest.
    pub leaders: Vec<usize>,
}

impl Hosts {
    /// Groups ranks by host name (`names[r]` is rank r's host).
    pub fn group(names: &[String]) -> Hosts {
        let mut h = Hosts {
            names: Vec::new(),
            ranks: Vec::new(),
            leaders: Vec::new(),
        };
        for (rank, name) in names.iter().enumerate() {
            match h.names.iter().position(|n| n == name) {
                Some(i) => h.ranks[i] += 1,
                None => {
                    h.names.push(name.clone());
                    h.ranks.push(1);
                    h.leaders.push(rank);
                }
            }
        }
        h
    }
}

/// What rank 0 holds after the rounds.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Every ordered pair, by (from, to).
    pub links: Vec<Link>,
    pub rounds: usize,
    /// From the first round's start to the last one's end, seconds.
    pub wall_s: f64,
}

/// Every rank's host name, on every rank (all ranks must agree on the groups).
pub fn host_names(world: &SimpleCommunicator, mine: &str) -> Vec<String> {
    let mut buf = [0u8; NAME_BYTES];
    let n = mine.len().min(NAME_BYTES);
    buf[..n].copy_from_slice(&mine.as_bytes()[..n]);
    let mut all = vec![0u8; NAME_BYTES * world.size() as usize];
    world.all_gather_into(&buf[..], &mut all[..]);
    all.chunks(NAME_BYTES)
        .map(|c| {
            let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
            String::from_utf8_lossy(&c[..end]).into_owned()
        })
        .collect()
}

/// Runs the rounds on the hosts' leaders while every other rank waits; returns the links on
/// rank 0, `None` elsewhere. Collective over `world`.
pub fn measure(world: &SimpleCommunicator, hosts: &Hosts, opts: &NetOptions) -> Option<Measured> {
    let rank = world.rank() as usize;
    let color = if hosts.leaders.contains(&rank) {
        Color::with_value(0)
    } else {
        Color::undefined()
    };
    // Key = world rank: the leaders' ranks in `leaders` are the hosts' indices.
    let result = world
        .split_by_color_with_key(color, world.rank())
        .and_then(|leaders| run_rounds(&leaders, opts));
    wait_politely(world.immediate_barrier());
    result
}

/// The leaders' part: every round's pairs at once, both directions in turn, then gather.
fn run_rounds(comm: &SimpleCommunicator, opts: &NetOptions) -> Option<Measured> {
    let me = comm.rank() as usize;
    let schedule = rounds(comm.size() as usize);
    let mut mine = Vec::new();
    wait_politely(comm.immediate_barrier());
    let t0 = mpi::time();
    for (round, pairs) in schedule.iter().enumerate() {
        let pair = pairs.iter().find(|&&(a, b)| a == me || b == me);
        for first_sends in [true, false] {
            if let Some(&(a, b)) = pair {
                let peer = if a == me { b } else { a };
                let sending = (a == me) == first_sends;
                let p = comm.process_at_rank(peer as i32);
                if let Some(l) = measure_pair(&p, sending, opts) {
                    mine.push(Link {
                        from: me,
                        to: peer,
                        round,
                        ..l
                    });
                }
            }
            // A round ends when its slowest pair does: no pair overlaps the next round's.
            wait_politely(comm.immediate_barrier());
        }
    }
    let wall_s = mpi::time() - t0;
    gather(comm, &mine).map(|links| Measured {
        links,
        rounds: schedule.len(),
        wall_s,
    })
}

/// One direction of one pair: the sender times and returns the link (with `from`/`to` unset).
fn measure_pair(p: &Process, sending: bool, opts: &NetOptions) -> Option<Link> {
    let halves = ping_pong(p, sending, opts);
    let stream = stream(p, sending, opts);
    let (halves, (bytes, secs)) = (halves?, stream?);
    let median = median(&halves).unwrap_or(f64::NAN);
    let min = halves.iter().copied().fold(f64::INFINITY, f64::min);
    Some(Link {
        latency_us: median * 1e6,
        latency_min_us: min * 1e6,
        bandwidth_mb_per_s: bytes as f64 / secs / 1e6,
        bandwidth_bytes: bytes,
        bandwidth_s: secs,
        ..Link::default()
    })
}

/// Small messages there and back; the sender returns each timed round trip's half, seconds.
fn ping_pong(p: &Process, sending: bool, opts: &NetOptions) -> Option<Vec<f64>> {
    let mut buf = vec![0u8; opts.latency_bytes];
    let mut halves = Vec::with_capacity(opts.latency_repeats);
    for i in 0..opts.latency_warmup + opts.latency_repeats {
        if sending {
            let t = mpi::time();
            p.send_with_tag(&buf[..], TAG_PING);
            p.receive_into_with_tag(&mut buf[..], TAG_PING);
            if i >= opts.latency_warmup {
                halves.push((mpi::time() - t) / 2.0);
            }
        } else {
            p.receive_into_with_tag(&mut buf[..], TAG_PING);
            p.send_with_tag(&buf[..], TAG_PING);
        }
    }
    sending.then_some(halves)
}

/// Large messages one way, a window at a time, each window acknowledged, until
/// `bandwidth_s` has passed; the sender returns (bytes, seconds) of the timed windows.
fn stream(p: &Process, sending: bool, opts: &NetOptions) -> Option<(u64, f64)> {
    let size = opts.bandwidth_bytes;
    let window = opts.bandwidth_window;
    let mut ack = 0u8;
    if !sending {
        let mut bufs = vec![0u8; size * window];
        for _ in 0..opts.bandwidth_warmup {
            p.receive_into_with_tag(&mut bufs[..size], TAG_DATA);
        }
        p.send_with_tag(&ack, TAG_ACK);
        // The sender says before each window whether one follows: it alone keeps the time.
        while p.receive_with_tag::<u8>(TAG_GO).0 == 1 {
            mpi::request::scope(|s| {
                let reqs: Vec<_> = bufs
                    .chunks_mut(size)
                    .map(|c| p.immediate_receive_into_with_tag(s, c, TAG_DATA))
                    .collect();
                reqs.into_iter().for_each(|r| {
                    r.wait();
                });
            });
            p.send_with_tag(&ack, TAG_ACK);
        }
        return None;
    }
    let msg = vec![0u8; size];
    for _ in 0..opts.bandwidth_warmup {
        p.send_with_tag(&msg[..], TAG_DATA);
    }
    p.receive_into_with_tag(&mut ack, TAG_ACK);
    let t0 = mpi::time();
    let mut windows = 0u64;
    loop {
        p.send_with_tag(&1u8, TAG_GO);
        mpi::request::scope(|s| {
            let reqs: Vec<_> = (0..window)
                .map(|_| p.immediate_send_with_tag(s, &msg[..], TAG_DATA))
                .collect();
            reqs.into_iter().for_each(|r| {
                r.wait();
            });
        });
        p.receive_into_with_tag(&mut ack, TAG_ACK);
        windows += 1;
        if mpi::time() - t0 >= opts.bandwidth_s {
            break;
        }
    }
    let secs = mpi::time() - t0;
    p.send_with_tag(&0u8, TAG_GO);
    Some((windows * (window * size) as u64, secs))
}

/// Every leader's links on leader 0 (world rank 0), sorted by (from, to).
fn gather(comm: &SimpleCommunicator, mine: &[Link]) -> Option<Vec<Link>> {
    let send: Vec<f64> = mine.iter().flat_map(to_wire).collect();
    let root = comm.process_at_rank(0);
    if comm.rank() != 0 {
        root.gather_into(&send[..]);
        return None;
    }
    let mut all = vec![0.0f64; send.len() * comm.size() as usize];
    root.gather_into_root(&send[..], &mut all[..]);
    let mut links: Vec<Link> = all.chunks(LINK_FIELDS).map(from_wire).collect();
    links.sort_by_key(|l| (l.from, l.to));
    Some(links)
}

/// A link as plain numbers (every leader sends n - 1 of them: equal counts for Gather).
fn to_wire(l: &Link) -> [f64; LINK_FIELDS] {
    [
        l.from as f64,
        l.to as f64,
        l.round as f64,
        l.latency_us,
        l.latency_min_us,
        l.bandwidth_bytes as f64,
        l.bandwidth_s,
    ]
}

fn from_wire(w: &[f64]) -> Link {
    let (bytes, secs) = (w[5] as u64, w[6]);
    Link {
        from: w[0] as usize,
        to: w[1] as usize,
        round: w[2] as usize,
        latency_us: w[3],
        latency_min_us: w[4],
        bandwidth_mb_per_s: bytes as f64 / secs / 1e6,
        bandwidth_bytes: bytes,
        bandwidth_s: secs,
    }
}

/// Waits for a non-blocking collective without spinning on a core: ranks that only wait must
/// not slow down the measurements sharing their host.
fn wait_politely(mut req: Request<'static, ()>) {
    loop {
        match req.test() {
            Ok(_) => return,
            Err(r) => req = r,
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_grouped_by_host_in_order_of_their_lowest_rank() {
        let names: Vec<String> = ["b", "a", "b", "c", "a"].map(String::from).to_vec();
        let h = Hosts::group(&names);
        assert_eq!(h.names, ["b", "a", "c"]);
        assert_eq!(h.ranks, [2, 2, 1]);
        assert_eq!(h.leaders, [0, 1, 3]);
    }

    #[test]
    fn links_survive_the_wire() {
        let l = Link {
            from: 3,
            to: 1,
            round: 2,
            latency_us: 42.5,
            latency_min_us: 40.0,
            bandwidth_bytes: 8 << 20,
            bandwidth_s: 0.25,
            bandwidth_mb_per_s: (8 << 20) as f64 / 0.25 / 1e6,
        };
        assert_eq!(from_wire(&to_wire(&l)), l);
    }
}
